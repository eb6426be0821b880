"""CTC forced alignment: character and word boundaries in seconds.

Uses ``torchaudio.functional.forced_align`` (Viterbi over the CTC trellis,
Graves et al. 2006) on the recognizer's own CTC output, then moves the
peaky CTC spikes onto the speech they belong to
(:mod:`engine.decode.boundaries`): raw spikes put the first word at 0 s and
end words early; :func:`align` gives boundaries within a few tens of
milliseconds of the true ones (``tests/engine/decode/test_alignment.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.audio.io import SAMPLE_RATE
from engine.decode.boundaries import refine_spans, speech_frames, speech_runs
from engine.text.tokenizer import BLANK, CharTokenizer

if TYPE_CHECKING:
    import torch  # imported where aligned, so WordTiming alone does not load torch (540 MB)

SILENT_CHAR_LOG_PROB = -30.0
"""Log-probability a character gets on a frame without speech in :func:`align` (practically never chosen)."""


@dataclass
class TokenTiming:
    """One character: ``start``/``end`` in seconds, ``confidence`` = mean CTC posterior over its frames."""

    token: str
    start: float
    end: float
    confidence: float


@dataclass
class WordTiming:
    """One word: ``start``/``end`` in seconds, ``confidence`` = mean of its characters'."""

    word: str
    start: float
    end: float
    confidence: float


def align_tokens(log_probs: torch.Tensor, ids: list[int], tokenizer: CharTokenizer, frame_shift: float,
                 offset: float = 0.0) -> list[TokenTiming]:
    """Align ``ids`` to ``(frames, vocab)`` CTC log-probs.

    Args:
        log_probs: ``(frames, vocab)``.
        ids: the transcript's token ids.
        frame_shift: seconds per frame (:data:`~engine.model.audio_encoder.ENCODER_FRAME_S`).
        offset: seconds added to every time (a window's start).

    Returns:
        One :class:`TokenTiming` per id; empty if ``ids`` is empty or cannot
        fit in the frames (CTC needs a frame per token plus one between repeats).
    """
    if not ids:
        return []
    need = len(ids) + sum(a == b for a, b in zip(ids, ids[1:]))
    if need > log_probs.shape[0]:
        return []
    import torch
    import torchaudio.functional as AF

    labels, scores = AF.forced_align(log_probs.unsqueeze(0).float(), torch.tensor([ids], dtype=torch.int32), blank=BLANK)
    spans = AF.merge_tokens(labels[0], scores[0].exp(), blank=BLANK)  # one TokenSpan per id, frames [start, end)
    return [TokenTiming(tokenizer.symbols[sp.token], offset + sp.start * frame_shift, offset + sp.end * frame_shift, float(sp.score))
            for sp in spans]


def words_from_tokens(tokens: list[TokenTiming]) -> list[WordTiming]:
    """Group characters into words at spaces."""
    words, cur = [], []
    for tok in tokens + [TokenTiming(" ", 0, 0, 0)]:
        if tok.token == " ":
            if cur:
                words.append(WordTiming("".join(c.token for c in cur), cur[0].start, cur[-1].end,
                                        sum(c.confidence for c in cur) / len(cur)))
            cur = []
        else:
            cur.append(tok)
    return words


def refine_tokens(tokens: list[TokenTiming], audio: np.ndarray, offset: float = 0.0) -> list[TokenTiming]:
    """Move CTC character timings onto the speech of ``audio`` (see :mod:`engine.decode.boundaries`).

    Args:
        tokens: :func:`align_tokens` output for this audio (spaces included).
        audio: ``(samples,)`` float32 16 kHz, the audio the tokens were aligned on.
        offset: seconds added to every time (as given to :func:`align_tokens`).

    Returns:
        New timings: each word starts at its first character and ends at its
        last; characters of a word tile it in their CTC order; a space spans
        the pause between its words. Confidences are kept.
    """
    words = _groups(tokens)
    if not words:
        return list(tokens)
    spikes = [[(tokens[i].start - offset, tokens[i].end - offset) for i in g] for g in words]
    spans = [(chars[0][0], chars[-1][1]) for chars in spikes]
    refined = refine_spans(spikes, speech_runs(audio), len(audio) / SAMPLE_RATE)
    out = list(tokens)
    for g, (s, e), (a, b) in zip(words, spans, refined):
        scale = (b - a) / (e - s) if e > s else 0.0
        starts = [a + (tokens[i].start - offset - s) * scale for i in g]
        starts[0] = a
        for j, i in enumerate(g):
            end = starts[j + 1] if j + 1 < len(g) else b
            out[i] = TokenTiming(tokens[i].token, float(offset + starts[j]), float(offset + max(end, starts[j])),
                                 tokens[i].confidence)
    for i, tok in enumerate(out):  # a space spans the pause between its neighbours
        if tok.token == " ":
            start = out[i - 1].end if i > 0 else tok.start
            end = out[i + 1].start if i + 1 < len(out) else tok.end
            out[i] = TokenTiming(" ", float(start), float(max(start, end)), tok.confidence)
    return out


def align(log_probs: torch.Tensor, ids: list[int], tokenizer: CharTokenizer, audio: np.ndarray,
          frame_shift: float, offset: float = 0.0) -> list[TokenTiming]:
    """Character timings in seconds of ``ids`` on ``audio``.

    The Viterbi alignment may put characters only on frames with speech
    (:func:`engine.decode.boundaries.speech_frames`; pauses may hold blanks
    and spaces), then :func:`refine_tokens` moves word edges onto the speech.
    Without any speech frames the plain alignment is refined.
    """
    import torch

    mask = speech_frames(speech_runs(audio), log_probs.shape[0], frame_shift)
    lp = log_probs
    if mask.any():
        lp = log_probs.clone()
        silent = torch.from_numpy(~mask)
        keep = torch.zeros(lp.shape[1], dtype=torch.bool)
        keep[[BLANK, tokenizer.space_id]] = True
        lp[silent.nonzero()[:, 0][:, None], (~keep).nonzero()[:, 0][None, :]] = SILENT_CHAR_LOG_PROB
    tokens = align_tokens(lp, ids, tokenizer, frame_shift, offset)
    if not tokens:
        tokens = align_tokens(log_probs, ids, tokenizer, frame_shift, offset)
    return refine_tokens(tokens, audio, offset)


def _groups(tokens: list[TokenTiming]) -> list[list[int]]:
    """Indices of each word's characters."""
    groups, cur = [], []
    for i, tok in enumerate(tokens):
        if tok.token == " ":
            if cur:
                groups.append(cur)
            cur = []
        else:
            cur.append(i)
    if cur:
        groups.append(cur)
    return groups
