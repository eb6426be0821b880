"""CTC forced alignment: token and word boundaries in seconds.

Uses ``torchaudio.functional.forced_align`` (Viterbi over the CTC trellis,
Graves et al. 2006) on the recognizer's own CTC output.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torchaudio.functional as AF

from engine.text.tokenizer import BLANK, CharTokenizer


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
        frame_shift: seconds per frame (0.04 for the encoder).
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
