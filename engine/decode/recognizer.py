"""Offline recognition with the cross-modal model: the Sayso family's :class:`~engine.decode.protocol.Recognizer`.

Decoding (Watanabe et al. 2017, joint CTC/attention): candidates come from a
CTC prefix beam search (open vocabulary) or, with a :class:`Vocabulary`, from
the listed phrases plus a lexicon-constrained beam search. Every candidate is
then scored as ``w·log p_ctc(y|x) + (1−w)·log p_att(y|x)`` (exact CTC forward
score and teacher-forced attention decoder score) and the best one wins.

Audio is cut in the middle of pauses between spoken words or phrases (WebRTC
VAD), and stretches longer than ``window_s`` at their quietest point near each
window end; each piece is decoded on its own, so a long file never enters the
model whole and isolated commands are decoded as the isolated words the model
learned from.
"""
from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from engine.audio.endpoint import EndpointConfig
from engine.audio.features import LogMel
from engine.audio.io import SAMPLE_RATE, check_audio, load_audio
from engine.audio.vad import speech_units, split_windows
from engine.decode.alignment import (
    TokenTiming,
    align,
    words_from_tokens,
)
from engine.decode.ctc import greedy, prefix_beam_search
from engine.decode.protocol import Recognition, Segment, TranscriptScore
from engine.decode.settings import check_decode_settings
from engine.decode.vocabulary import LexiconSearch, Vocabulary
from engine.model.audio_encoder import ENCODER_FRAME_S
from engine.model.cross_modal import CrossModalModel, pad_tokens
from engine.resources import BUNDLED_MODEL
from engine.text.tokenizer import BLANK, CharTokenizer
from engine.train.checkpoint import load_checkpoint

if TYPE_CHECKING:
    from engine.decode.streaming import StreamingRecognizer

SPLIT_MIN_S = 2.0
"""Recordings up to this long (seconds) are decoded as one utterance."""
UNIT_PAD_S = 0.25
"""Seconds of context kept around each stretch of speech in a long recording."""
SILENCE_DBFS = -65.0
"""Windows quieter than this (RMS, dBFS) are taken as silence and not decoded."""


class SaysoRecognizer:
    """A loaded cross-modal model with its decoding settings; implements
    :class:`engine.decode.protocol.Recognizer`.

    >>> rec = SaysoRecognizer.from_checkpoint(BUNDLED_MODEL)      # doctest: +SKIP
    >>> rec.transcribe_file("resources/samples/sc_yes.wav").text  # doctest: +SKIP
    'yes'
    """

    def __init__(self, model: CrossModalModel, tokenizer: CharTokenizer, name: str = "model",
                 ctc_weight: float = 0.5, beam_size: int = 8, window_s: float = 20.0) -> None:
        """Raises ValueError: a decoding setting out of range (:func:`~engine.decode.settings.check_decode_settings`)."""
        check_decode_settings({"ctc_weight": ctc_weight, "beam_size": beam_size, "window_s": window_s})
        self.model, self.tokenizer, self.name = model.eval(), tokenizer, name
        self.ctc_weight, self.beam_size, self.window_s = ctc_weight, beam_size, window_s
        self.frontend = LogMel()
        self._lexicons: dict[tuple[str, ...], LexiconSearch] = {}

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike = BUNDLED_MODEL, threads: int | None = None,
                        **kwargs) -> SaysoRecognizer:
        """Load a checkpoint folder.

        Args:
            threads: torch's CPU threads (``torch.set_num_threads``, process-wide); None leaves them as they are.
            kwargs: decoding settings (``ctc_weight``, ``beam_size``, ``window_s``) over the checkpoint's own.

        Raises:
            engine.train.checkpoint.CheckpointError: missing or unreadable checkpoint.
        """
        if threads is not None:
            torch.set_num_threads(threads)
        model, tokenizer, meta = load_checkpoint(path)
        kwargs = {**meta.get("decode", {}), **kwargs}  # decoding settings tuned by the recipe, if any
        return cls(model, tokenizer, name=meta.get("name", Path(path).name), **kwargs)

    def transcribe_file(self, path: str | os.PathLike, vocabulary: Vocabulary | None = None, attention: bool = True) -> Recognition:
        """Read and transcribe an audio file (see :meth:`transcribe`).

        Raises:
            engine.audio.errors.AudioError: unreadable, empty, too short or too long.
        """
        return self.transcribe(load_audio(path), vocabulary, attention)

    @torch.inference_mode()
    def transcribe(self, audio: np.ndarray, vocabulary: Vocabulary | None = None, attention: bool = True) -> Recognition:
        """Transcribe ``(samples,)`` float32 audio at 16 kHz.

        Args:
            audio: mono samples in [-1, 1].
            vocabulary: constrain the result to these words and phrases.
            attention: also compute the cross-attention maps.

        Raises:
            engine.audio.errors.AudioError: empty or shorter than 0.1 s.
        """
        t0 = time.perf_counter()
        audio = check_audio(audio)
        n_frames = int(np.ceil(len(audio) / SAMPLE_RATE / ENCODER_FRAME_S)) + 1
        texts, tokens, segments, att_blocks, att_tokens, audio_embs, confs = [], [], [], [], [], [], []
        for start, stop, has_speech in self.segment(audio):
            offset = start / SAMPLE_RATE
            r = self._decode_window(audio[start:stop], vocabulary, attention, offset, has_speech)
            if r["text"]:
                texts.append(r["text"])
                if tokens:
                    tokens.append(TokenTiming(" ", tokens[-1].end, r["tokens"][0].start if r["tokens"] else offset, 1.0))
                tokens.extend(r["tokens"])
            confs.append((r["confidence"], len(r["text"]) + 1))
            segments.append(Segment(offset, stop / SAMPLE_RATE, r["text"]))
            audio_embs.append(r["audio_embedding"] * (stop - start))
            if attention:
                att_blocks.append((int(round(offset / ENCODER_FRAME_S)), r["attention"]))
                att_tokens.extend(r["attention_tokens"])
        text = " ".join(texts)
        att = None
        if attention:
            layers, heads = att_blocks[0][1].shape[:2]
            att = np.zeros((layers, heads, len(att_tokens), n_frames), dtype=np.float32)
            row = 0
            for col, block in att_blocks:
                n_tok, n_fr = block.shape[2], min(block.shape[3], n_frames - col)
                att[:, :, row: row + n_tok, col: col + n_fr] = block[..., :n_fr]
                row += n_tok
        audio_emb = np.sum(audio_embs, axis=0)
        audio_emb /= np.linalg.norm(audio_emb) + 1e-9
        conf = float(np.exp(sum(np.log(max(c, 1e-9)) * n for c, n in confs) / sum(n for _, n in confs)))
        return Recognition(
            text=text, confidence=conf, tokens=tokens, words=words_from_tokens(tokens), attention=att,
            attention_tokens=att_tokens, audio_embedding=audio_emb, text_embedding=self.embed_text(text),
            duration=len(audio) / SAMPLE_RATE, decode_seconds=time.perf_counter() - t0, model=self.name,
            segments=segments, frame_shift=ENCODER_FRAME_S,
        )

    def segment(self, audio: np.ndarray) -> list[tuple[int, int, bool]]:
        """Decoding units as ``(start, stop, has_speech)`` in samples.

        A recording up to :data:`SPLIT_MIN_S` long (one command, one phrase) is
        one unit, always decoded. A longer one is split into its stretches of
        speech (WebRTC VAD) with :data:`UNIT_PAD_S` of context on each side,
        never past the middle of a pause; stretches longer than ``window_s``
        are cut into windows at their quietest points. Pauses are not decoded,
        so the model hears speech much as it did in training, and a recording
        with no speech at all yields units marked ``has_speech=False``.
        """
        if len(audio) <= SPLIT_MIN_S * SAMPLE_RATE:
            return [(a, b, True) for a, b in split_windows(audio, self.window_s)]
        return speech_units(audio, UNIT_PAD_S, self.window_s)

    @torch.inference_mode()
    def score(self, audio: np.ndarray, transcript: str) -> TranscriptScore:
        """How well ``transcript`` fits ``(samples,)`` float32 16 kHz audio, from one encoder pass:
        the CTC log-likelihood per token ``log p_CTC(y | x) / (|y| + 1)`` (forward algorithm,
        floored at −10⁴ before dividing) and the audio–text embedding similarity.

        Raises:
            engine.audio.errors.AudioError: empty or shorter than 0.1 s.
        """
        audio = check_audio(audio)
        feats, lengths = self.frontend(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)))
        enc = self.model.encode(feats, lengths)
        audio_emb = self.model.audio_embedding(enc)[0].numpy()
        text_emb = self.embed_text(transcript)
        ids = self.tokenizer.encode(transcript)
        T = int(enc.lengths[0])
        nll = F.ctc_loss(enc.ctc_log_probs[0, :T].unsqueeze(1), torch.tensor([ids or [BLANK]])[:, : len(ids)],
                         torch.tensor([T]), torch.tensor([len(ids)]), blank=BLANK, reduction="sum",
                         zero_infinity=False)
        return TranscriptScore(likelihood=-min(float(nll), 1e4) / (len(ids) + 1),
                               similarity=float(np.dot(audio_emb, text_emb)),
                               audio_embedding=audio_emb, text_embedding=text_emb)

    def stream(self, endpoint: EndpointConfig | None = None, vocabulary: Vocabulary | None = None,
               **options) -> StreamingRecognizer:
        """A live session (:class:`engine.decode.streaming.StreamingRecognizer`) over this model.

        Args:
            endpoint: how utterances are cut (VAD settings; None: the defaults).
            vocabulary: constrain the finals; partials stay open-vocabulary greedy CTC.
            options: ``partial_interval_s``, ``early_end_s``, ``eos_threshold`` of the session.
        """
        from engine.decode.streaming import StreamingRecognizer

        return StreamingRecognizer(self, endpoint, vocabulary, **options)

    @torch.inference_mode()
    def embed_text(self, text: str) -> np.ndarray:
        """``(embed_dim,)`` L2-normalized text embedding of a normalized transcript.

        The text encoder reads at most ``max_text_len`` characters (256, its
        position table). A longer text (the transcript of a long recording) is
        cut at spaces into pieces of at most that many characters; each piece is
        embedded and the embeddings are summed weighted by their lengths, then
        normalized, as :meth:`transcribe` sums the audio embeddings of a long
        recording's windows. So the audio–text similarity of any transcript is
        defined, and long text is compared with long audio like with like.
        """
        ids = self.tokenizer.encode(text) or [self.tokenizer.space_id]
        limit = self.model.cfg.max_text_len
        if len(ids) <= limit:
            emb = self.model.text_embedding(torch.tensor([ids]), torch.tensor([len(ids)]))
            return emb[0].numpy()
        pieces = [self.tokenizer.encode(p) for p in textwrap.wrap(text, limit, break_on_hyphens=False)]
        tokens, lengths = pad_tokens(pieces)
        embs = self.model.text_embedding(tokens, lengths).numpy()
        emb = (embs * lengths.numpy()[:, None]).sum(axis=0)
        return (emb / (np.linalg.norm(emb) + 1e-9)).astype(np.float32)

    def _decode_window(self, audio: np.ndarray, vocabulary: Vocabulary | None, attention: bool, offset: float,
                       has_speech: bool = True) -> dict:
        feats, lengths = self.frontend(torch.from_numpy(np.ascontiguousarray(audio)))
        enc = self.model.encode(feats, lengths)
        log_probs = enc.ctc_log_probs[0, : int(enc.lengths[0])]  # (frames, vocab)

        if not has_speech or rms_dbfs(audio) < SILENCE_DBFS:
            candidates = [[]]  # no speech found, or (near-)digital silence: nothing was said
        elif vocabulary is None:
            candidates = [list(ids) for ids, _ in prefix_beam_search(log_probs, self.beam_size)]
            ids, _ = greedy(log_probs)
            if ids not in candidates:
                candidates.append(ids)
        else:
            key = tuple(vocabulary.phrases)
            if key not in self._lexicons:
                self._lexicons = {key: LexiconSearch(vocabulary, self.tokenizer)}
            texts = list(dict.fromkeys(vocabulary.phrases + self._lexicons[key](log_probs)))
            candidates = [self.tokenizer.encode(t) for t in texts] + [[]]  # [] : nothing was said

        scores, att_lp = self._joint_scores(enc, candidates)
        best = int(torch.argmax(scores))
        ids = candidates[best]
        text = self.tokenizer.decode(ids).strip()
        ids = self.tokenizer.encode(text)
        result = {
            "text": text,
            "confidence": float(np.exp(att_lp[best] / (len(ids) + 1))),
            "tokens": align(log_probs, ids, self.tokenizer, audio, ENCODER_FRAME_S, offset),
            "audio_embedding": self.model.audio_embedding(enc)[0].numpy(),
        }
        if attention:
            target = torch.tensor([ids or [BLANK]])[:, : len(ids)]
            _, maps = self.model.decode_teacher_forced(enc, target, torch.tensor([len(ids)]), return_attention=True)
            result["attention"] = maps[:, 0].numpy()  # (layers, heads, tokens + 1, frames)
            result["attention_tokens"] = [self.tokenizer.symbols[i] for i in ids] + ["<eos>"]
        return result

    def _joint_scores(self, enc, candidates: list[list[int]]) -> tuple[torch.Tensor, list[float]]:
        """``w·log p_ctc + (1−w)·log p_att`` per candidate, and the attention log-probs alone."""
        targets, lengths = pad_tokens(candidates)
        enc_n = enc.expand(len(candidates))
        ctc = torch.nan_to_num(self.model.ctc_log_likelihood(enc_n, targets, lengths), neginf=-1e4)
        att = self.model.attention_log_likelihood(enc_n, targets, lengths)
        return self.ctc_weight * ctc + (1 - self.ctc_weight) * att, att.tolist()


def rms_dbfs(audio: np.ndarray) -> float:
    """RMS level of ``(samples,)`` audio in dBFS (-inf for all zeros)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return 20 * np.log10(rms) if rms > 0 else -np.inf
