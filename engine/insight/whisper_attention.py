"""Looking inside a Whisper model: where it listened for each token, and when each word was said.

The Whisper family transcribes through CTranslate2, which shows no attention. For Insight the same
folder's weights are loaded once more in torch (:func:`engine.whisper.torch_model.load_torch_whisper`,
lazily, in the recognition worker, on the first inspection) and :func:`inspect` runs one
teacher-forced pass over the transcript (Whisper's own, from CTranslate2, when none is given). It
returns the same :class:`~engine.insight.attention.Inspection` as the Sayso model's inspection, so
the Insight page draws both alike:

- ``cross_attention``: the decoder's cross-attention ``(layers, heads, tokens + 1, frames)``,
  the 30 s window cropped to the audio's frames (20 ms each); row ``i`` is the position that
  predicts token ``i``, the last row the one that predicts end-of-text (``"<eos>"``);
- ``alignment_heads``: the ``(layer, head)`` pairs whose attention follows the speech (the
  model's ``alignment_heads``), marked in the page's head picker;
- ``self_attention``: the encoder's self-attention ``(layers, heads, frames, frames)``, cropped
  the same way;
- ``words`` and ``tokens``: times from the alignment heads as Whisper's word timing computes them
  (openai-whisper ``timing.py``, faster-whisper ``word_timestamps``): each alignment head's
  attention renormalized over the audio, standardized per frame and median-filtered
  (:meth:`~engine.whisper.torch_model.CrossAttention.alignment`), averaged, then dynamic time
  warping (``transformers``' own, as its Whisper uses) from tokens to frames; a token starts
  where the path first reaches its row, a word spans from its first token's start to the next
  word's start (faster-whisper's tokenizer splits the words).

Needs torch and ``transformers`` (``sayso[whisper-torch]``); without them :func:`inspect` raises a
:class:`WhisperInsightError` whose message is one line saying so. No Qt here.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.audio.errors import AudioError
from engine.audio.io import SAMPLE_RATE, check_audio
from engine.checkpoint_layout import CheckpointError
from engine.decode.alignment import TokenTiming, WordTiming
from engine.insight.attention import Inspection
from engine.text.normalize import normalize_text
from engine.whisper.runtime import torch_missing

__all__ = ["WhisperInsightError", "WhisperLens", "inspect", "lens_for", "whisper_text", "word_timings"]

WINDOW_S = 30.0
"""Whisper's window: the longest audio one inspection takes (seconds)."""
EOS = "<eos>"
"""The label of the end-of-text row (as the Sayso model's inspection writes it)."""


class WhisperInsightError(CheckpointError):
    """Whisper cannot be looked inside here (torch or ``transformers`` missing, or the folder unknown)."""


def whisper_text(transcript: str) -> str:
    """A transcript as Whisper writes an utterance: ``"three one four"`` → ``" Three one four."``; text
    already cased or punctuated (a project's ``"Three, one, four."``) is kept as it is."""
    text = " ".join(transcript.split())
    if not text:
        return ""
    if text == text.lower() and text[-1].isalnum():
        text = f"{text[:1].upper()}{text[1:]}."
    return " " + text


def word_timings(alignment: np.ndarray, tokens: list[int], probs: np.ndarray, tokenizer, duration: float,
                 frame_s: float, audio: np.ndarray | None = None) -> tuple[list[TokenTiming], list[WordTiming]]:
    """Token and word times from the alignment heads' ``(tokens + 1, frames)`` map (the last row is the
    end-of-text's), by dynamic time warping as Whisper's word timing does (the module docstring).

    Args:
        alignment: :meth:`~engine.whisper.torch_model.CrossAttention.alignment` of ``tokens + [eot]``.
        tokens: the transcript's token ids (without the end-of-text).
        probs: ``(tokens,)`` each token's probability (a word's confidence is its tokens' mean).
        tokenizer: a ``faster_whisper.tokenizer.Tokenizer`` (it splits the tokens into words).
        duration: seconds of audio (times are clipped to it).
        frame_s: seconds per frame.
        audio: the ``(samples,)`` 16 kHz audio: given, each word's edges are moved onto the speech
            holding it, as the Sayso model's are (:func:`engine.decode.boundaries.refine_spans`,
            anchored on the frame where each of the word's tokens attends most); None: Whisper's
            own times (the warping path: a word runs until the next one starts, pauses included). The
            anchors are on speech frames when the token's stretch of the path has any.

    Returns:
        ``(tokens, words)``: every token with its text (``" Three"``), and the normalized words
        (``"three"``; a word written as digits is spelled out, its words sharing its span; punctuation
        alone is no word).
    """
    from transformers.models.whisper.generation_whisper import _dynamic_time_warping

    if not tokens:
        return [], []
    text_idx, time_idx = _dynamic_time_warping(-alignment.astype(np.float64))
    jumps = np.pad(np.diff(text_idx), (1, 0), constant_values=1).astype(bool)
    first = time_idx[jumps]  # (tokens + 1,): the frame where each row's stretch of the path begins
    starts = np.clip(first * frame_s, 0.0, duration)
    pieces, word_tokens = tokenizer.split_to_word_tokens(list(tokens) + [tokenizer.eot])
    groups, at = [], 0  # (text, token indices) of each word with letters or digits
    for piece, ids in zip(pieces[:-1], word_tokens[:-1]):  # the last is the end-of-text
        if normalize_text(piece):
            groups.append((piece, list(range(at, at + len(ids)))))
        at += len(ids)
    spans = [(float(starts[g[0]]), float(starts[g[-1] + 1])) for _, g in groups]
    moved = spans
    if audio is not None and groups:
        from engine.decode.boundaries import refine_spans, speech_frames, speech_runs

        runs = speech_runs(audio)
        speech = speech_frames(runs, alignment.shape[1], frame_s)

        def peak(i: int) -> float:
            """Where token ``i`` attends most in its stretch of the path, on speech if the stretch has any
            (the first token's stretch starts at 0 s, where the heads also rest before the speech)."""
            lo, hi = int(first[i]), max(int(first[i + 1]), int(first[i]) + 1)
            row = alignment[i, lo:hi].astype(np.float64)
            if speech[lo:hi].any():
                row = np.where(speech[lo:hi], row, -np.inf)
            return (lo + int(np.argmax(row))) * frame_s

        anchors = [[(peak(i), peak(i) + frame_s) for i in g] for _, g in groups]
        moved = refine_spans(anchors, runs, duration)
    ends = [float(starts[i + 1]) for i in range(len(tokens))]
    token_starts = [float(x) for x in starts[:-1]]
    for (_, g), (s, e), (a, b) in zip(groups, spans, moved):  # a word's tokens keep their places within it
        scale = (b - a) / (e - s) if e > s else 0.0
        for i in g:
            token_starts[i], ends[i] = a + (token_starts[i] - s) * scale, a + (ends[i] - s) * scale
    token_times = [TokenTiming(tokenizer.decode([t]), float(token_starts[i]), float(max(ends[i], token_starts[i])),
                               float(probs[i]))
                   for i, t in enumerate(tokens)]
    words = []
    for (piece, g), (start, end) in zip(groups, moved):
        parts = normalize_text(piece).split()
        step = (end - start) / len(parts)
        confidence = float(np.mean(probs[g]))
        words += [WordTiming(p, float(start + k * step), float(start + (k + 1) * step), confidence)
                  for k, p in enumerate(parts)]
    return token_times, words


@dataclass
class WhisperLens:
    """A Whisper folder's weights in torch, with the tokenizer that splits words (:meth:`load`)."""

    model: object  # engine.whisper.torch_model.TorchWhisper
    tokenizer: object  # faster_whisper.tokenizer.Tokenizer
    folder: Path

    @classmethod
    def load(cls, folder: str | Path, threads: int | None = None) -> WhisperLens:
        """Load a CTranslate2 (or Hugging Face) Whisper folder in torch.

        Raises:
            WhisperInsightError: torch or ``transformers`` is not installed (one line saying so).
            engine.whisper.folder.WhisperFolderError: the folder cannot be read.
        """
        missing = torch_missing()
        if missing:
            raise WhisperInsightError(missing)
        from faster_whisper.tokenizer import Tokenizer

        from engine.whisper.torch_model import load_torch_whisper

        tw = load_torch_whisper(folder, threads=threads)
        multilingual = tw.model.config.vocab_size >= 51865
        return cls(tw, Tokenizer(tw.tokenizer, multilingual, task="transcribe", language="en"), Path(folder))

    def inspect(self, audio: np.ndarray, transcript: str, recognized: bool = False, name: str = "whisper",
                encoder: bool = True, on_speech: bool = True) -> Inspection:
        """Cross-attention, encoder self-attention (``encoder``) and word times of ``transcript`` (as
        Whisper writes it, :func:`whisper_text`; empty: only the end-of-text row) on ``audio``; word
        edges on the speech (``on_speech``) or Whisper's own (:func:`word_timings`).

        Raises:
            AudioError: empty, shorter than 0.1 s or longer than 30 s.
        """
        t0 = time.perf_counter()
        audio = check_audio(audio)
        duration = len(audio) / SAMPLE_RATE
        if duration > WINDOW_S:
            raise AudioError(f"The utterance is {duration:.1f} s long; Whisper's attention can be shown for up to "
                             f"{WINDOW_S:.0f} s (one window). Split it into shorter utterances first.")
        written = whisper_text(transcript)
        ids = self.model.encode_text(written) if written else []
        look = self.model.look(audio, ids + [self.tokenizer.eot], encoder=encoder)
        cross = look.cross
        tokens, words = word_timings(cross.alignment(), ids, look.probs[: len(ids)], self.tokenizer, duration,
                                     cross.frame_s, audio if on_speech else None)
        empty = np.zeros((0, 0, 0, 0), np.float16)
        return Inspection(
            transcript=normalize_text(written), recognized=recognized, tokens=tokens, words=words,
            cross_attention=cross.weights, attention_tokens=cross.pieces[:-1] + [EOS],
            self_attention=look.encoder if look.encoder is not None else empty, frame_shift=cross.frame_s,
            duration=duration, seconds=time.perf_counter() - t0, model=name,
            alignment_heads=tuple(cross.alignment_heads))


_LENSES: dict[Path, WhisperLens] = {}


def lens_for(recognizer) -> WhisperLens:
    """The torch twin of a loaded :class:`~engine.whisper.recognizer.WhisperRecognizer` (loaded on first
    use and kept: one model at a time, so a worker that switches models does not hold two).

    Raises:
        WhisperInsightError: torch or ``transformers`` missing, or the recognizer has no folder.
    """
    folder = getattr(recognizer, "path", None)
    if folder is None:
        raise WhisperInsightError("This Whisper model was not loaded from a folder, so its attention cannot be shown.")
    folder = Path(folder)
    if folder not in _LENSES:
        _LENSES.clear()
        import torch

        _LENSES[folder] = WhisperLens.load(folder, threads=torch.get_num_threads())
    return _LENSES[folder]


def inspect(recognizer, audio: np.ndarray, transcript: str | None = None) -> Inspection:
    """What a Whisper model did with one utterance (the module docstring).

    Args:
        recognizer: a :class:`~engine.whisper.recognizer.WhisperRecognizer` (CTranslate2; it transcribes
            when no transcript is given, and names the folder whose weights torch loads).
        audio: ``(samples,)`` float32 16 kHz, at most 30 s.
        transcript: the text to look at; ``None`` or empty: Whisper's own transcription (its cased,
            punctuated text, as it wrote it).

    Raises:
        AudioError: empty, shorter than 0.1 s or longer than 30 s.
        WhisperInsightError: torch or ``transformers`` missing (one line).
    """
    t0 = time.perf_counter()
    audio = check_audio(audio)
    if len(audio) > WINDOW_S * SAMPLE_RATE:
        raise AudioError(f"The utterance is {len(audio) / SAMPLE_RATE:.1f} s long; Whisper's attention can be "
                         f"shown for up to {WINDOW_S:.0f} s (one window). Split it into shorter utterances first.")
    lens = lens_for(recognizer)
    text = (transcript or "").strip()
    recognized = not normalize_text(text)
    if recognized:
        rec = recognizer.transcribe(audio)
        text = " ".join(getattr(s, "raw", "") or s.text for s in rec.segments)
    result = lens.inspect(audio, text, recognized, recognizer.name)
    result.seconds = time.perf_counter() - t0
    return result
