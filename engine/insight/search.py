"""Cross-modal search in the shared embedding space: text → recordings, recording → transcripts, zero-shot labels.

All embeddings are L2-normalized, so the cosine similarity of a query
``(embed_dim,)`` with ``n`` rows ``(n, embed_dim)`` is one matrix–vector
product; the top ``k`` are found with ``argpartition`` (O(n)) and only
those are sorted. At 20k utterances a query costs well under a millisecond
(``benchmarks/embedding_search.py``).

Zero-shot classification (as in CLIP, Radford et al. 2021): a recording is
given the phrase whose text embedding is nearest its audio embedding.

This module imports no Qt and no torch.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Ranking", "classify", "rank"]


@dataclass(frozen=True)
class Ranking:
    """The best rows, best first: ``indices`` ``(k,)`` int64 into the searched matrix, ``scores`` ``(k,)`` cosine."""

    indices: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)


def rank(query: np.ndarray, matrix: np.ndarray, k: int | None = None) -> Ranking:
    """The ``k`` rows of ``matrix`` ``(n, embed_dim)`` most similar to ``query`` ``(embed_dim,)``.

    Ties keep row order. ``k=None`` ranks every row.

    Raises:
        ValueError: the dimensions differ, or ``k`` is negative.
    """
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != query.shape[0]:
        raise ValueError(f"cannot rank a ({query.shape[0]},) query against rows of shape {matrix.shape}")
    n = matrix.shape[0]
    k = n if k is None else int(k)
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    k = min(k, n)
    if k == 0:
        return Ranking(np.zeros(0, np.int64), np.zeros(0, np.float32))
    scores = matrix @ query
    if k < n:
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]
    else:
        top = np.argsort(-scores, kind="stable")
    return Ranking(top.astype(np.int64), scores[top])


def classify(audio: np.ndarray, phrase_embeddings: np.ndarray, phrases: Sequence[str]) -> list[tuple[str, float]]:
    """Zero-shot: every phrase with its cosine similarity to ``audio`` ``(embed_dim,)``, nearest first.

    ``phrase_embeddings`` is ``(len(phrases), embed_dim)``.

    Raises:
        ValueError: the counts or dimensions differ.
    """
    if len(phrases) != len(phrase_embeddings):
        raise ValueError(f"{len(phrases)} phrases but {len(phrase_embeddings)} embeddings")
    r = rank(audio, phrase_embeddings)
    return [(phrases[i], float(s)) for i, s in zip(r.indices, r.scores)]
