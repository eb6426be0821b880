"""Whisper (faster-whisper / CTranslate2, int8 on the CPU) as a :class:`engine.decode.protocol.Recognizer`.

**Open speech.** faster-whisper's own pipeline: Silero VAD drops the pauses,
the speech is decoded in Whisper's 30 s windows (beam search), and words get
times from the cross-attention alignment heads (dynamic time warping, as
``word_timestamps=True``). With a vocabulary too long for a phrase choice,
its phrases are given as ``hotwords`` (a prompt that biases decoding).

**Long files** (longer than ``block_s``, default :data:`BLOCK_S`) are never held whole: they
are read by :class:`engine.audio.io.BlockReader` and decoded a block of about ``block_s`` at a
time, each block cut in the longest pause of its last :data:`CUT_TAIL_S` (Silero VAD) so that
no word is cut in two; the rest of the block starts the next one, whose decoding is prompted
with the previous block's last segment (as Whisper conditions each 30 s window on the one
before). Segment and word times are shifted by each block's offset in the file.

**A list of phrases** (up to :data:`MAX_PHRASES`, audio up to 30 s): each
phrase is scored by Whisper's teacher-forced log-likelihood given the audio,
``log p(" Phrase." | audio) = Σ log p(token)``, from CTranslate2's ``align``
(the decoder's token probabilities, one encoder pass shared by all phrases)
and the best phrase wins. The phrase is written as Whisper writes an isolated
utterance (capitalized, with a full stop), which scored best on held-out FSDD
digits (93 % vs 83 % lowercase, tiny.en). The audio gets :data:`PAD_S` of
silence on each side (tightly trimmed clips lose their first phoneme
otherwise), and the decoder attends only to the encoder frames of the audio
(same choices, a third of the cost). No speech (Silero VAD) gives an empty result.

**Confidence** (:mod:`engine.decode.confidence`): a word's raw score is
Whisper's word probability (the mean of its tokens' probabilities), mapped by
the model's calibration table to the share of words right at that score on
held-out speakers; a transcript's confidence is the mean of its words'; 0.0
when nothing was heard. A transcript without word times has the calibrated
geometric mean of its decoded tokens' probabilities
(``exp(Σ_segments avg_logprob·(n+1) / Σ(n+1))``).

Imports faster-whisper (CTranslate2, onnxruntime); neither torch nor Qt (a test keeps it so: torch alone is 540 MB).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.vad import VadOptions, get_speech_timestamps

from engine.audio.io import SAMPLE_RATE, BlockReader, check_audio, load_audio
from engine.decode.alignment import WordTiming
from engine.decode.confidence import UNCALIBRATED, Calibration, calibrate_words, load_calibration, utterance_confidence
from engine.decode.protocol import Recognition, Segment, TranscriptScore
from engine.decode.vocabulary import Vocabulary
from engine.text.normalize import normalize_text
from engine.whisper.folder import WHISPER_FAMILY, WhisperFolderError, check_folder

if TYPE_CHECKING:
    from engine.audio.endpoint import EndpointConfig
    from engine.whisper.stream import WhisperStream

__all__ = ["BLOCK_S", "MAX_PHRASES", "PAD_S", "WhisperRecognizer", "WhisperSegment"]

MAX_PHRASES = 64
"""Vocabularies up to this many phrases are a choice among them; longer ones bias open decoding."""
PAD_S = 0.5
"""Seconds of silence added on each side of the audio before a phrase choice."""
WINDOW_S = 30
"""Whisper's input window (seconds)."""
MARGIN_FRAMES = 50
"""Encoder frames (20 ms each) past the end of the audio that the decoder still attends to."""
BATCH = 8
"""Phrases scored per decoder call."""
BLOCK_S = 300.0
"""Files longer than this (seconds) are decoded in blocks of about this length (see the module docstring)."""
CUT_TAIL_S = 30.0
"""A block is cut in the longest pause of its last this-many seconds (at most half the block)."""
MIN_PAUSE_S = 0.2
"""A shorter gap between speech is no pause to cut at; a block with none is cut at its end."""
_CUT_VAD = VadOptions(min_silence_duration_ms=300, speech_pad_ms=100)
"""Silero VAD settings that find the pauses between sentences and phrases."""


@dataclass
class WhisperSegment(Segment):
    """A :class:`~engine.decode.protocol.Segment` that also keeps Whisper's own text (``raw``:
    cased, punctuated, numbers as digits), e.g. for subtitles."""

    raw: str = ""


class WhisperRecognizer:
    """A loaded Whisper model.

    Args:
        model: a ``faster_whisper.WhisperModel``.
        name: shown to the user and stored in each :attr:`Recognition.model`.
        language: language code given to Whisper (English-only models ignore it).
        beam_size: beam width of open decoding.
        phrase_window_s: encoder window of a phrase choice (seconds, ≤ 30): Whisper is trained on
            30 s windows; 10 s costs a fifth and chose as well on held-out FSDD digits (tiny.en) and
            within 2 of 108 Speech Commands words (base) — see benchmarks/whisper_wer.py.
        block_s: :meth:`transcribe_file` decodes longer files in blocks of about this many seconds.

    >>> rec = WhisperRecognizer.from_checkpoint("~/.local/share/sayso/models/whisper-base")  # doctest: +SKIP
    >>> rec.transcribe_file("an4/wav/fash/an251-fash-b.flac").text                           # doctest: +SKIP
    'yes'
    """

    family = WHISPER_FAMILY
    """The model family (:data:`engine.whisper.folder.WHISPER_FAMILY`)."""

    def __init__(self, model: WhisperModel, name: str = "whisper", language: str = "en", beam_size: int = 5,
                 phrase_window_s: int = WINDOW_S, block_s: float = BLOCK_S,
                 calibration: Calibration = UNCALIBRATED) -> None:
        self.model, self.name, self.language, self.beam_size = model, name, language, beam_size
        self.calibration = calibration
        self.phrase_window_s, self.block_s = phrase_window_s, block_s
        self.tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                                   language=language)
        self._vad = VadOptions()
        self.path: Path | None = None
        """The folder it was loaded from (:meth:`from_checkpoint`): Insight loads the same weights in torch."""

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, threads: int = 2, compute_type: str = "int8",
                        **settings) -> WhisperRecognizer:
        """Load a CTranslate2 Whisper folder (:func:`engine.whisper.folder.check_folder`).

        Args:
            threads: CTranslate2 CPU threads (intra-op).
            compute_type: CTranslate2 weight type on the CPU (``int8``, ``int8_float32``, ``float32``).
            settings: ``name``, ``language``, ``beam_size``, ``phrase_window_s``, ``block_s``.

        Raises:
            engine.whisper.folder.WhisperFolderError: not a complete Whisper folder, or
                CTranslate2 cannot load it (a :class:`~engine.checkpoint_layout.CheckpointError`).
        """
        path = Path(path).expanduser()
        check_folder(path)
        try:
            model = WhisperModel(str(path), device="cpu", compute_type=compute_type, cpu_threads=threads)
        except (RuntimeError, ValueError, OSError) as exc:
            raise WhisperFolderError(f"{path}: CTranslate2 cannot load it ({exc}).") from None
        settings.setdefault("name", path.name)
        settings.setdefault("calibration", load_calibration(path, settings["name"]))
        recognizer = cls(model, **settings)
        recognizer.path = path
        return recognizer

    def transcribe_file(self, path: str | os.PathLike, vocabulary: Vocabulary | None = None,
                        attention: bool = True) -> Recognition:
        """Read an audio file (any rate and channels, mixed down and resampled to 16 kHz) and
        :meth:`transcribe` it; a file longer than ``block_s`` is read and decoded block by block
        (memory bounded by the block, not the file: see the module docstring).

        Raises:
            engine.audio.errors.AudioError: unreadable, corrupt, empty, too short or too long.
        """
        reader = BlockReader(path)
        if reader.duration <= self.block_s:
            return self.transcribe(load_audio(path), vocabulary, attention)
        return self._transcribe_blocks(reader, vocabulary)

    def transcribe(self, audio: np.ndarray, vocabulary: Vocabulary | None = None,
                   attention: bool = True) -> Recognition:
        """Transcribe ``(samples,)`` float32 16 kHz audio (see the module docstring).

        Args:
            vocabulary: up to :data:`MAX_PHRASES` phrases and 30 s of audio: the result is one
                of them (or empty if no speech); otherwise they bias open decoding.
            attention: ignored (this family returns no attention maps).

        Raises:
            engine.audio.errors.AudioError: empty or shorter than 0.1 s.
        """
        t0 = time.perf_counter()
        audio = check_audio(audio)
        duration = len(audio) / SAMPLE_RATE
        if vocabulary is not None and len(vocabulary.phrases) <= MAX_PHRASES \
                and duration <= self.phrase_window_s - 2 * PAD_S:
            text, confidence, words = self._choose(audio, vocabulary.phrases)
            segments = [WhisperSegment(0.0, duration, text, text)] if text else []
        else:
            segments, words, logp, n = self._open(audio, vocabulary)
            text, confidence = " ".join(s.text for s in segments), _geometric_mean(logp, n)
        words = calibrate_words(words, self.calibration)
        confidence = utterance_confidence(words, self.calibration(confidence) if text else 0.0)
        return Recognition(text=text, confidence=confidence, tokens=[], words=words, attention=None,
                           attention_tokens=[], audio_embedding=None, text_embedding=None, duration=duration,
                           decode_seconds=time.perf_counter() - t0, model=self.name, segments=segments)

    def score(self, audio: np.ndarray, transcript: str) -> TranscriptScore:
        """How well ``transcript`` fits the audio: Whisper's teacher-forced log-likelihood per token
        (mean of ``log p(token)`` over the transcript written as in :meth:`transcribe`'s phrase choice).

        Raises:
            engine.audio.errors.AudioError: empty or shorter than 0.1 s.
        """
        audio = check_audio(audio)
        encoded, frames = self._encode(audio[: (WINDOW_S - 1) * SAMPLE_RATE], WINDOW_S)
        tokens = self._phrase_tokens(transcript)
        if not tokens:
            return TranscriptScore(likelihood=0.0)
        (probs,) = self._token_probs(encoded, frames, [tokens])
        return TranscriptScore(likelihood=float(np.mean(np.log(np.maximum(probs, 1e-12)))))

    def audio_embedding(self, audio: np.ndarray) -> np.ndarray:
        """The point Insight's embedding map shows for a take: Whisper's encoder states over the audio.

        Args:
            audio: ``(samples,)`` float32 16 kHz mono; past ``WINDOW_S - 1`` seconds it is cut.

        Returns:
            ``(d_model,)`` float32 (384 for tiny, 512 for base): the encoder's last-layer states over the
            audio's own frames (20 ms each, the padding of the 30 s window left out) averaged and
            L2-normalized. Whisper has no text side: there is no text embedding to compare it with.
        """
        audio = np.asarray(audio, dtype=np.float32)[: (WINDOW_S - 1) * SAMPLE_RATE]
        encoded, frames = self._encode(audio, WINDOW_S)
        states = np.asarray(encoded)[0, : max(1, frames // 2)].astype(np.float32)
        pooled = states.mean(axis=0)
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12)

    def stream(self, endpoint: EndpointConfig | None = None, vocabulary: Vocabulary | None = None) -> WhisperStream:
        """A live session (:class:`engine.whisper.stream.WhisperStream`): LocalAgreement-2 partials while
        an utterance is spoken, and each utterance between two pauses transcribed whole when it ends."""
        from engine.whisper.stream import WhisperStream

        return WhisperStream(self, endpoint, vocabulary)

    # ----------------------------------------------------------------------- open speech

    def _open(self, audio: np.ndarray, vocabulary: Vocabulary | None, offset: float = 0.0,
              prompt: str | None = None) -> tuple[list[WhisperSegment], list[WordTiming], float, int]:
        """faster-whisper's pipeline on ``audio``: its segments and words (times + ``offset`` seconds),
        and the sum of its tokens' log-probabilities with their count (for the confidence)."""
        hotwords = ", ".join(vocabulary.phrases) if vocabulary is not None else None
        found, _info = self.model.transcribe(
            audio, language=self.language, beam_size=self.beam_size, word_timestamps=True,
            vad_filter=True, hotwords=hotwords, initial_prompt=prompt)
        segments, words, logp, n = [], [], 0.0, 0
        for seg in found:
            text = normalize_text(seg.text)
            if not text:
                continue
            segments.append(WhisperSegment(seg.start + offset, seg.end + offset, text, seg.text.strip()))
            logp += seg.avg_logprob * (len(seg.tokens) + 1)
            n += len(seg.tokens) + 1
            for w in seg.words or []:
                words.extend(_split_word(w.word, w.start + offset, w.end + offset, w.probability))
        return segments, words, logp, n

    # ----------------------------------------------------------------------- long files

    def _transcribe_blocks(self, reader: BlockReader, vocabulary: Vocabulary | None) -> Recognition:
        """Decode a long file block by block (the module docstring); one :class:`Recognition`."""
        t0 = time.perf_counter()
        size = int(self.block_s * SAMPLE_RATE)
        segments, words, logp, n = [], [], 0.0, 0
        pieces, have, offset = [], 0, 0  # the 16 kHz samples not decoded yet; offset: where they start

        def decode(audio: np.ndarray) -> None:
            nonlocal logp, n
            prompt = segments[-1].raw if segments else None
            s, w, lp, k = self._open(audio, vocabulary, offset / SAMPLE_RATE, prompt)
            segments.extend(s)
            words.extend(w)
            logp, n = logp + lp, n + k

        for piece in reader:
            pieces.append(piece)
            have += len(piece)
            if have >= size:
                block = np.concatenate(pieces)
                cut = self._pause_near_end(block[:size])
                decode(block[:cut])
                pieces, have, offset = [block[cut:]], len(block) - cut, offset + cut
                del block
        if have >= MIN_PAUSE_S * SAMPLE_RATE:
            decode(np.concatenate(pieces))
        words = calibrate_words(words, self.calibration)
        text = " ".join(s.text for s in segments)
        return Recognition(text=text, confidence=utterance_confidence(
                               words, self.calibration(_geometric_mean(logp, n)) if text else 0.0),
                           tokens=[], words=words, attention=None, attention_tokens=[], audio_embedding=None,
                           text_embedding=None, duration=(offset + have) / SAMPLE_RATE,
                           decode_seconds=time.perf_counter() - t0, model=self.name, segments=segments)

    def _pause_near_end(self, block: np.ndarray) -> int:
        """Where to cut ``block`` (a sample index): the middle of the longest pause in its tail (the
        later one of equals), or its end if the tail holds no pause of :data:`MIN_PAUSE_S`."""
        tail_start = len(block) - int(min(CUT_TAIL_S, self.block_s / 2) * SAMPLE_RATE)
        speech = get_speech_timestamps(block[tail_start:], _CUT_VAD)
        edges = [0] + [x for s in speech for x in (s["start"], s["end"])] + [len(block) - tail_start]
        gaps = [(b - a, (a + b) // 2) for a, b in zip(edges[::2], edges[1::2])]
        length, middle = max(gaps)
        return tail_start + middle if length >= MIN_PAUSE_S * SAMPLE_RATE else len(block)

    # ----------------------------------------------------------------------- phrase choice

    def _choose(self, audio: np.ndarray, phrases: list[str]) -> tuple[str, float, list[WordTiming]]:
        if not get_speech_timestamps(audio, self._vad):
            return "", 0.0, []
        pad = np.zeros(int(PAD_S * SAMPLE_RATE), np.float32)
        encoded, frames = self._encode(np.concatenate([pad, audio, pad]), self.phrase_window_s)
        candidates = [self._phrase_tokens(p) for p in phrases]
        probs = [p for i in range(0, len(candidates), BATCH)
                 for p in self._token_probs(encoded, frames, candidates[i: i + BATCH])]
        scores = [float(np.sum(np.log(np.maximum(p, 1e-12)))) for p in probs]
        best = int(np.argmax(scores))
        confidence = float(np.exp(scores[best] / len(candidates[best])))
        (aligned,) = self.model.find_alignment(self.tokenizer, [candidates[best]], encoded, frames)
        words = [t for w in aligned for t in _split_word(w["word"], w["start"] - PAD_S, w["end"] - PAD_S,
                                                         w["probability"])]
        duration = len(audio) / SAMPLE_RATE
        words = [WordTiming(w.word, min(max(w.start, 0.0), duration), min(max(w.end, 0.0), duration), w.confidence)
                 for w in words]  # times of the padded audio, shifted back and clipped
        return phrases[best], confidence, words

    def _phrase_tokens(self, phrase: str) -> list[int]:
        """Token ids of a normalized phrase as Whisper writes an utterance: `` Phrase.``."""
        phrase = phrase.strip()
        return self.tokenizer.encode(f" {phrase[:1].upper()}{phrase[1:]}.") if phrase else []

    def _encode(self, audio: np.ndarray, window_s: int) -> tuple[ctranslate2.StorageView, int]:
        """Encoder states of the audio padded to a ``window_s`` window, cut to the audio's frames plus
        a margin; and the audio's mel frames (100 a second)."""
        features = self.model.feature_extractor(audio)
        frames = min(features.shape[-1], window_s * 100)
        encoded = np.asarray(self.model.encode(pad_or_trim(features, window_s * 100)))
        keep = min(encoded.shape[1], frames // 2 + MARGIN_FRAMES)
        return ctranslate2.StorageView.from_array(np.ascontiguousarray(encoded[:, :keep])), frames

    def _token_probs(self, encoded: ctranslate2.StorageView, frames: int, batch: list[list[int]]) -> list[np.ndarray]:
        """Teacher-forced probability of each token of each sequence in ``batch`` (one decoder call)."""
        states = np.asarray(encoded)
        repeated = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(states, len(batch), 0)))
        results = self.model.model.align(repeated, self.tokenizer.sot_sequence, batch,
                                         min(frames, 2 * states.shape[1]))
        return [np.asarray(r.text_token_probs, dtype=np.float64) for r in results]


def _geometric_mean(logp: float, n: int) -> float:
    """A transcript's confidence from its tokens' summed log-probability and count (0.0 for none)."""
    return float(np.exp(logp / n)) if n else 0.0


def _split_word(word: str, start: float, end: float, probability: float) -> list[WordTiming]:
    """Whisper's word (``" U-M-N-Y-H-6."``) as normalized words sharing its time span equally."""
    parts = normalize_text(word).split()
    step = (end - start) / max(len(parts), 1)
    return [WordTiming(p, float(start + k * step), float(start + (k + 1) * step), float(probability))
            for k, p in enumerate(parts)]
