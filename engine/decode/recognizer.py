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
learned from. Windows with no speech (no VAD speech in the recording, or
quieter than :data:`SILENCE_DBFS`) are skipped before the encoder, so hours of
silence cost seconds. :meth:`SaysoRecognizer.transcribe_file` reads a long
file twice in blocks (:class:`~engine.audio.io.BlockReader`): once for the VAD,
once for the windows, so memory holds one window, not the recording.

With a vocabulary, every phrase is a candidate of every window: candidates are
scored :data:`SCORE_CHUNK` at a time (memory bounded whatever the vocabulary's
size), the attention decoder best CTC score first, stopping once no remaining
candidate can win (``log p_att ≤ 0``) or after the :data:`RESCORE_TOP` best by
CTC (exact up to that many phrases; beyond, two-pass rescoring).
"""
from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from engine.audio.endpoint import EndpointConfig
from engine.audio.features import LogMel
from engine.audio.io import SAMPLE_RATE, BlockReader, check_audio, load_audio
from engine.audio.vad import speech_regions, speech_spans, speech_units, split_windows, window_cut
from engine.decode.alignment import (
    TokenTiming,
    align,
    words_from_tokens,
)
from engine.decode.confidence import UNCALIBRATED, Calibration, load_calibration, utterance_confidence
from engine.decode.ctc import greedy, prefix_beam_search
from engine.decode.protocol import Recognition, Segment, TranscriptScore
from engine.decode.settings import check_decode_settings
from engine.decode.vocabulary import LexiconSearch, Vocabulary
from engine.model.audio_encoder import ENCODER_FRAME_S
from engine.model.cross_modal import CrossModalModel, pad_tokens
from engine.resources import BUNDLED_MODEL
from engine.text.tokenizer import BLANK, SOS_EOS, CharTokenizer
from engine.train.checkpoint import load_checkpoint

if TYPE_CHECKING:
    from engine.decode.streaming import StreamingRecognizer

SPLIT_MIN_S = 2.0
"""Recordings up to this long (seconds) are decoded as one utterance."""
UNIT_PAD_S = 0.25
"""Seconds of context kept around each stretch of speech in a long recording."""
SILENCE_DBFS = -65.0
"""Windows quieter than this (RMS, dBFS) are taken as silence and not decoded."""
SCORE_CHUNK = 128
"""Candidate transcripts scored in one batch (the encoder output is expanded to this many at most)."""
RESCORE_TOP = SCORE_CHUNK
"""With more candidates than this, only the this-many best by CTC are rescored by the attention
decoder (two-pass CTC + attention rescoring, as in WeNet, Yao et al. 2021): a vocabulary of thousands
of phrases costs one CTC pass over all and one decoder batch. Up to this many, scoring is exact."""


class SaysoRecognizer:
    """A loaded cross-modal model with its decoding settings; implements
    :class:`engine.decode.protocol.Recognizer`.

    >>> rec = SaysoRecognizer.from_checkpoint(BUNDLED_MODEL)      # doctest: +SKIP
    >>> rec.transcribe_file("resources/samples/sc_yes.wav").text  # doctest: +SKIP
    'yes'
    """

    def __init__(self, model: CrossModalModel, tokenizer: CharTokenizer, name: str = "model",
                 ctc_weight: float = 0.5, beam_size: int = 8, window_s: float = 20.0,
                 calibration: Calibration = UNCALIBRATED) -> None:
        """Args:
            calibration: maps raw word scores to confidences (:mod:`engine.decode.confidence`).

        Raises ValueError: a decoding setting out of range (:func:`~engine.decode.settings.check_decode_settings`)."""
        check_decode_settings({"ctc_weight": ctc_weight, "beam_size": beam_size, "window_s": window_s})
        self.model, self.tokenizer, self.name = model.eval(), tokenizer, name
        self.calibration = calibration
        self.ctc_weight, self.beam_size, self.window_s = ctc_weight, beam_size, window_s
        self.frontend = LogMel()
        self._lexicons: dict[tuple[str, ...], tuple[LexiconSearch, list[list[int]]]] = {}

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
        name = meta.get("name", Path(path).name)
        kwargs.setdefault("calibration", load_calibration(path, name, meta))
        return cls(model, tokenizer, name=name, **kwargs)

    def transcribe_file(self, path: str | os.PathLike, vocabulary: Vocabulary | None = None, attention: bool = True) -> Recognition:
        """Read and transcribe an audio file (see :meth:`transcribe`).

        A file longer than :data:`SPLIT_MIN_S` is read in blocks twice (VAD, then
        window by window) and never held whole: memory holds one window and the
        results, whatever the duration (up to :data:`~engine.audio.io.MAX_SECONDS`).
        A 16 kHz mono file gives what :meth:`transcribe` gives on its samples.

        Raises:
            engine.audio.errors.AudioError: unreadable, empty, too short or too long.
            engine.decode.vocabulary.VocabularyError: a phrase longer than the model takes.
        """
        t0 = time.perf_counter()
        reader = BlockReader(path)
        if reader.samples <= SPLIT_MIN_S * SAMPLE_RATE:
            return self.transcribe(load_audio(path), vocabulary, attention)
        self._vocabulary_search(vocabulary)
        n_samples = 0

        def pieces() -> Iterator[np.ndarray]:
            nonlocal n_samples
            for piece in reader:
                n_samples += len(piece)
                yield piece

        regions = speech_regions(pieces())  # first pass: the VAD (and the length)
        spans = speech_spans(regions, n_samples, UNIT_PAD_S)
        units = self._file_units(reader, spans or [(0, n_samples)], has_speech=bool(spans))
        return self._recognize(units, n_samples, vocabulary, attention, t0)

    @torch.inference_mode()
    def transcribe(self, audio: np.ndarray, vocabulary: Vocabulary | None = None, attention: bool = True) -> Recognition:
        """Transcribe ``(samples,)`` float32 audio at 16 kHz.

        Args:
            audio: mono samples in [-1, 1].
            vocabulary: constrain the result to these words and phrases.
            attention: also compute the cross-attention maps.

        Raises:
            engine.audio.errors.AudioError: empty or shorter than 0.1 s.
            engine.decode.vocabulary.VocabularyError: a phrase longer than the model takes
                (``max_text_len`` tokens).
        """
        t0 = time.perf_counter()
        audio = check_audio(audio)
        self._vocabulary_search(vocabulary)
        units = ((a, b, speech, audio[a:b]) for a, b, speech in self.segment(audio))
        return self._recognize(units, len(audio), vocabulary, attention, t0)

    @torch.inference_mode()
    def _recognize(self, units: Iterable[tuple[int, int, bool, np.ndarray]], n_samples: int,
                   vocabulary: Vocabulary | None, attention: bool, t0: float) -> Recognition:
        """Decode ``(start, stop, has_speech, samples)`` units in order into one :class:`Recognition`.

        Units without speech (``has_speech`` False or quieter than :data:`SILENCE_DBFS`) skip the
        encoder and add only an empty segment; if no unit has speech, the first is decoded as
        silence so the confidence, embedding and attention stay defined.
        """
        n_frames = int(np.ceil(n_samples / SAMPLE_RATE / ENCODER_FRAME_S)) + 1
        texts, tokens, words, segments, att_blocks, att_tokens, confs = [], [], [], [], [], [], []
        audio_emb, first_silent = None, None

        def add(r: dict, start: int, stop: int, segment: Segment) -> None:
            nonlocal audio_emb
            offset = start / SAMPLE_RATE
            if r["text"]:
                texts.append(r["text"])
                if tokens:
                    tokens.append(TokenTiming(" ", tokens[-1].end, r["tokens"][0].start if r["tokens"] else offset, 1.0))
                tokens.extend(r["tokens"])
                words.extend(r["words"])
            confs.append((r["confidence"], len(r["text"]) + 1))
            segment.text = r["text"]
            emb = r["audio_embedding"] * (stop - start)
            audio_emb = emb if audio_emb is None else audio_emb + emb
            if attention:
                att_blocks.append((int(round(offset / ENCODER_FRAME_S)), r["attention"]))
                att_tokens.extend(r["attention_tokens"])

        for start, stop, has_speech, window in units:
            segments.append(Segment(start / SAMPLE_RATE, stop / SAMPLE_RATE, ""))
            if not has_speech or rms_dbfs(window) < SILENCE_DBFS:
                if audio_emb is None and first_silent is None:
                    first_silent = (start, stop, np.array(window, dtype=np.float32), segments[-1])
                continue
            add(self._decode_window(window, vocabulary, attention, start / SAMPLE_RATE), start, stop, segments[-1])
        if audio_emb is None:  # nothing but silence
            start, stop, window, segment = first_silent
            add(self._decode_window(window, vocabulary, attention, start / SAMPLE_RATE, silent=True),
                start, stop, segment)
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
        audio_emb /= np.linalg.norm(audio_emb) + 1e-9
        raw = float(np.exp(sum(np.log(max(c, 1e-9)) * n for c, n in confs) / sum(n for _, n in confs)))
        return Recognition(
            text=text, confidence=utterance_confidence(words, self.calibration(raw) if text else 0.0), tokens=tokens, words=words,
            attention=att,
            attention_tokens=att_tokens, audio_embedding=audio_emb, text_embedding=self.embed_text(text),
            duration=n_samples / SAMPLE_RATE, decode_seconds=time.perf_counter() - t0, model=self.name,
            segments=segments, frame_shift=ENCODER_FRAME_S,
        )

    def _file_units(self, reader: BlockReader, spans: list[tuple[int, int]],
                    has_speech: bool) -> Iterator[tuple[int, int, bool, np.ndarray]]:
        """The units :meth:`segment` would give for the spans (:func:`~engine.audio.vad.speech_spans`)
        of a file, with their samples, read in one pass holding one window plus one block."""
        win = int(self.window_s * SAMPLE_RATE)
        cursor = _Cursor(reader)
        for a, b in spans:
            start = a
            while start < b:
                stop = b
                if b - start > win:  # split_windows, one window at a time
                    cut = start + window_cut(cursor.get(start, start + win), self.window_s)
                    stop = b if b - cut < SAMPLE_RATE * 0.1 else cut  # a sliver at the end joins this window
                yield start, stop, has_speech, cursor.get(start, stop)
                start = stop

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

    def _vocabulary_search(self, vocabulary: Vocabulary | None) -> tuple[LexiconSearch, list[list[int]]] | None:
        """The lexicon search over ``vocabulary``'s words and its phrases' token ids (built once per
        vocabulary), after checking every phrase fits the model (``max_text_len`` tokens).

        Raises:
            VocabularyError: a phrase longer than the model takes (before the lexicon is built).
        """
        if vocabulary is None:
            return None
        key = tuple(vocabulary.phrases)
        if key not in self._lexicons:
            vocabulary.check_lengths(self.model.cfg.max_text_len, lambda p: len(self.tokenizer.encode(p)))
            ids = [self.tokenizer.encode(p) for p in vocabulary.phrases]
            self._lexicons = {key: (LexiconSearch(vocabulary, self.tokenizer), ids)}
        return self._lexicons[key]

    def _decode_window(self, audio: np.ndarray, vocabulary: Vocabulary | None, attention: bool, offset: float,
                       silent: bool = False) -> dict:
        feats, lengths = self.frontend(torch.from_numpy(np.ascontiguousarray(audio)))
        enc = self.model.encode(feats, lengths)
        log_probs = enc.ctc_log_probs[0, : int(enc.lengths[0])]  # (frames, vocab)

        if silent or rms_dbfs(audio) < SILENCE_DBFS:
            candidates = [[]]  # no speech found, or (near-)digital silence: nothing was said
        elif vocabulary is None:
            candidates = [list(ids) for ids, _ in prefix_beam_search(log_probs, self.beam_size)]
            ids, _ = greedy(log_probs)
            if ids not in candidates:
                candidates.append(ids)
        else:
            search, phrase_ids = self._vocabulary_search(vocabulary)
            known = set(vocabulary.phrases)
            extra = [t for t in dict.fromkeys(search(log_probs)) if t not in known]
            candidates = phrase_ids + [self.tokenizer.encode(t) for t in extra] + [[]]  # [] : nothing was said

        best, _ = self._best_candidate(enc, candidates)
        ids = candidates[best]
        text = self.tokenizer.decode(ids).strip()
        ids = self.tokenizer.encode(text)
        target = torch.tensor([ids or [BLANK]])[:, : len(ids)]
        logits, maps = self.model.decode_teacher_forced(enc, target, torch.tensor([len(ids)]),
                                                        return_attention=attention)
        token_logp = torch.log_softmax(logits[0].float(), -1)[torch.arange(len(ids) + 1),
                                                             torch.tensor(ids + [SOS_EOS])].numpy()
        tokens = align(log_probs, ids, self.tokenizer, audio, ENCODER_FRAME_S, offset)
        result = {
            "text": text,
            "confidence": float(np.exp(token_logp.mean())),  # raw: of every token and <eos>
            "tokens": tokens,
            "words": self._scored_words(tokens, ids, token_logp),
            "audio_embedding": self.model.audio_embedding(enc)[0].numpy(),
        }
        if attention:
            result["attention"] = maps[:, 0].numpy()  # (layers, heads, tokens + 1, frames)
            result["attention_tokens"] = [self.tokenizer.symbols[i] for i in ids] + ["<eos>"]
        return result

    def _scored_words(self, tokens: list, ids: list[int], token_logp: np.ndarray) -> list:
        """The words of the aligned ``tokens`` with calibrated confidences; a word's raw score is the
        geometric mean probability of its characters and the separator after it (space or <eos>)
        from ``token_logp`` ``(len(ids) + 1,)`` (see :mod:`engine.decode.confidence`)."""
        (space,) = self.tokenizer.encode(" ")
        raw, cur = [], []
        for i, t in enumerate(ids + [SOS_EOS]):
            if t in (space, SOS_EOS):
                if cur:
                    raw.append(float(np.exp(np.mean(cur + [token_logp[i]]))))
                cur = []
            else:
                cur.append(float(token_logp[i]))
        words = words_from_tokens(tokens)
        if len(raw) != len(words):  # no alignment (too few frames): one score for all
            raw = [float(np.exp(token_logp.mean()))] * len(words)
        return [replace(w, confidence=self.calibration(r)) for w, r in zip(words, raw)]

    def _best_candidate(self, enc, candidates: list[list[int]]) -> tuple[int, float]:
        """The index of the candidate with the highest ``w·log p_ctc + (1−w)·log p_att`` (the first
        one on a tie), and its attention log-probability.

        In memory bounded by :data:`SCORE_CHUNK` whatever the number of candidates: CTC
        scores are computed a chunk at a time, then the attention decoder scores candidates in
        chunks, best CTC score first, until no remaining one can win (``log p_att ≤ 0``, so a
        candidate's joint score is at most ``w·log p_ctc``) or :data:`RESCORE_TOP` were scored
        (exact up to that many candidates).
        """
        w = self.ctc_weight
        ctc = torch.cat([self._chunk_scores(enc, candidates[i: i + SCORE_CHUNK], ctc=True)
                         for i in range(0, len(candidates), SCORE_CHUNK)])
        order = torch.argsort(ctc, descending=True, stable=True).tolist()
        best, best_score, best_att = -1, -float("inf"), 0.0
        for i in range(0, min(len(order), RESCORE_TOP), SCORE_CHUNK):
            idx = order[i: min(i + SCORE_CHUNK, RESCORE_TOP)]
            if best >= 0 and w * float(ctc[idx[0]]) < best_score:
                break  # no candidate left can reach the best joint score
            att = self._chunk_scores(enc, [candidates[j] for j in idx], ctc=False)
            joint = (w * ctc[idx] + (1 - w) * att).tolist()
            for j, score, a in zip(idx, joint, att.tolist()):
                if score > best_score or (score == best_score and j < best):
                    best, best_score, best_att = j, score, a
        return best, best_att

    def _chunk_scores(self, enc, candidates: list[list[int]], ctc: bool) -> torch.Tensor:
        """``(len(candidates),)`` CTC log-likelihoods (``-inf`` as −10⁴) or attention log-likelihoods
        of up to :data:`SCORE_CHUNK` candidates in one batch."""
        targets, lengths = pad_tokens(candidates)
        enc_n = enc.expand(len(candidates))
        if ctc:
            return torch.nan_to_num(self.model.ctc_log_likelihood(enc_n, targets, lengths), neginf=-1e4)
        return self.model.attention_log_likelihood(enc_n, targets, lengths)


class _Cursor:
    """Samples ``[a, b)`` of audio arriving in pieces, for ``a`` that never decreases: holds the
    samples from the last ``a`` on (one window plus one piece), never the whole stream."""

    def __init__(self, pieces: Iterable[np.ndarray]) -> None:
        self._pieces, self._buf, self._start = iter(pieces), np.zeros(0, np.float32), 0

    def get(self, a: int, b: int) -> np.ndarray:
        """``(b − a,)`` float32 (shorter where the stream ends before ``b``)."""
        self._drop(a)
        while self._start + len(self._buf) < b:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buf = np.concatenate([self._buf, piece])
            self._drop(a)
        return self._buf[a - self._start: b - self._start]

    def _drop(self, a: int) -> None:
        n = min(max(0, a - self._start), len(self._buf))
        if n:
            self._buf, self._start = self._buf[n:], self._start + n


def rms_dbfs(audio: np.ndarray) -> float:
    """RMS level of ``(samples,)`` audio in dBFS (-inf for all zeros)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return 20 * np.log10(rms) if rms > 0 else -np.inf
