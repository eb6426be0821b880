"""2-D projections of embeddings for the map: PCA and t-SNE (scikit-learn).

* **PCA** (Pearson 1901; Hotelling 1933): the two directions of largest
  variance. Linear, fast (milliseconds at 20k points), global distances kept;
  the same points always give the same map.
* **t-SNE** (van der Maaten & Hinton 2008, "Visualizing Data using t-SNE",
  JMLR 9) with the Barnes-Hut approximation (van der Maaten 2014): neighbours
  stay neighbours, clusters separate, but distances between clusters and
  cluster sizes mean little. Seconds to minutes at 20k points; with a fixed
  seed the result is reproducible on one machine.

Audio and text points are projected **together** (one fit on the stacked
rows), so an utterance's audio point and its transcript's text point share
one plane and the line between them is meaningful.

This module imports no Qt.
"""
from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from typing import Literal

import numpy as np

__all__ = ["METHODS", "Method", "pca_2d", "project", "tsne_2d"]

Method = Literal["pca", "tsne"]
METHODS: dict[str, str] = {"pca": "PCA", "tsne": "t-SNE"}
"""Method key → name shown to users."""
TSNE_ITERATIONS = 750
"""Gradient-descent iterations of t-SNE (the first 250 with early exaggeration; sklearn's minimum is 250)."""
_ITERATION = re.compile(r"\[t-SNE\] Iteration (\d+)")


def _check(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float32)
    if points.ndim != 2:
        raise ValueError(f"points must be (n, dim), got shape {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("points contain NaN or infinite values")
    return points


def pca_2d(points: np.ndarray) -> np.ndarray:
    """``(n, dim)`` → ``(n, 2)`` float32 coordinates on the first two principal components.

    Signs are fixed (each component's largest loading positive, sklearn's
    ``svd_flip``), so the same points always give the same map. Fewer than
    two points (or one distinct point) give zeros.

    Raises:
        ValueError: ``points`` is not 2-D or holds NaN/inf.
    """
    from sklearn.decomposition import PCA

    points = _check(points)
    n = len(points)
    if n < 2 or points.shape[1] < 2 or np.allclose(points, points[0]):
        return np.zeros((n, 2), np.float32)
    return PCA(n_components=2, svd_solver="full").fit_transform(points.astype(np.float64)).astype(np.float32)


class _IterationWriter(io.TextIOBase):
    """sklearn's verbose t-SNE lines → ``on_iteration(i)``; raises InterruptedError when ``should_stop()``."""

    def __init__(self, on_iteration: Callable[[int], None], should_stop: Callable[[], bool]) -> None:
        self.on_iteration, self.should_stop = on_iteration, should_stop

    def write(self, text: str) -> int:
        if self.should_stop():
            raise InterruptedError("stopped")
        m = _ITERATION.search(text)
        if m:
            self.on_iteration(int(m.group(1)))
        return len(text)


def tsne_2d(points: np.ndarray, perplexity: float = 30.0, seed: int = 0, iterations: int = TSNE_ITERATIONS,
            progress: Callable[[int, int], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """``(n, dim)`` → ``(n, 2)`` float32 t-SNE coordinates (Barnes-Hut, PCA initialization, fixed ``seed``).

    The perplexity is lowered to ``(n - 1) / 3`` for small sets (sklearn
    needs it below ``n``). Fewer than 4 points fall back to :func:`pca_2d`.

    Args:
        progress: called with ``(iteration, iterations)`` every 50 iterations.
        should_stop: polled at the same points; True raises InterruptedError.

    Raises:
        ValueError: ``points`` is not 2-D or holds NaN/inf.
        InterruptedError: ``should_stop`` asked to stop.
    """
    from sklearn.manifold import TSNE

    points = _check(points)
    n = len(points)
    if n < 4:
        return pca_2d(points)
    iterations = max(250, int(iterations))
    progress = progress or (lambda done, total: None)
    should_stop = should_stop or (lambda: False)
    progress(0, iterations)
    tsne = TSNE(n_components=2, perplexity=min(perplexity, (n - 1) / 3), init="pca", learning_rate="auto",
                max_iter=iterations, random_state=seed, verbose=2, method="barnes_hut")
    writer = _IterationWriter(lambda i: progress(min(i, iterations), iterations), should_stop)
    with contextlib.redirect_stdout(writer):
        xy = tsne.fit_transform(points.astype(np.float64))
    progress(iterations, iterations)
    return xy.astype(np.float32)


def project(points: np.ndarray, method: Method, progress: Callable[[int, int], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """``(n, dim)`` → ``(n, 2)`` with ``method`` ``"pca"`` or ``"tsne"``.

    Raises:
        ValueError: an unknown method, or bad points (see :func:`pca_2d`).
        InterruptedError: ``should_stop`` asked to stop (t-SNE only).
    """
    if method == "pca":
        return pca_2d(points)
    if method == "tsne":
        return tsne_2d(points, progress=progress, should_stop=should_stop)
    raise ValueError(f"unknown projection {method!r}; choose one of {', '.join(METHODS)}")
