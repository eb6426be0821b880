"""Frame rate of the embedding map at 20k points while hovering and while panning (offscreen).

Usage: QT_QPA_PLATFORM=offscreen python benchmarks/embedding_map_fps.py [--points 20000] [--frames 150]

The map (:class:`app.insight.embedding_map.EmbeddingMap`, 1200×800 px) holds
``--points`` audio points coloured by 35 transcripts plus their 35 text
points. The points are the PCA map of the real clips' embeddings cached by
``benchmarks/embedding_search.py`` (repeated with a small jitter to reach
the count); without that cache, 35 Gaussian clusters. Each frame is one
user step followed by a synchronous repaint of the view:

* hovering: the mouse moves to another point (nearest-point lookup, tooltip, ring);
* panning: the view moves by 1 % of its width (the whole scatter redraws);
* panning with the audio→text lines on (20k more line segments).

Prints frames per second (mean and 5th-percentile frame) for each.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def map_points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], str]:
    """``(audio_xy (n,2), text_xy (m,2), text_index (n,), texts, source)``."""
    from engine.insight.embedding import model_hash
    from engine.insight.projection import pca_2d
    from engine.paths import cache_dir
    from engine.resources import BUNDLED_MODEL

    rng = np.random.default_rng(seed)
    cache = cache_dir() / "bench-embeddings" / f"{model_hash(BUNDLED_MODEL)}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            audio, texts, text = z["audio"], z["text_keys"].tolist(), z["text"]
        xy = pca_2d(np.concatenate([audio, text]))
        axy, txy = xy[: len(audio)], xy[len(audio):]
        nearest = np.argmax(audio @ text.T, axis=1)  # colour by the nearest transcript (the cache has no labels)
        reps = -(-n // len(axy))
        spread = 0.01 * float(np.ptp(axy))
        axy = np.tile(axy, (reps, 1))[:n] + rng.normal(0, spread, (n, 2)).astype(np.float32)
        return axy, txy, np.tile(nearest, reps)[:n], texts, f"PCA of {len(audio)} real clips' embeddings, repeated"
    m = 35
    centres = rng.normal(0, 10, (m, 2)).astype(np.float32)
    idx = rng.integers(0, m, n)
    return (centres[idx] + rng.normal(0, 1, (n, 2)).astype(np.float32), centres, idx,
            [f"word{i}" for i in range(m)], "35 synthetic clusters (run benchmarks/embedding_search.py first for real ones)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=20_000)
    p.add_argument("--frames", type=int, default=150)
    args = p.parse_args()

    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from app.insight.embedding_map import EmbeddingMap

    app = QApplication.instance() or QApplication([])
    axy, txy, text_index, texts, source = map_points(args.points)
    view = EmbeddingMap()
    view.resize(1200, 800)
    view.show()
    view.set_points(axy, txy, text_index, texts, lambda i: f"{texts[text_index[i]]}\nutterance {i}")
    view.set_colours(text_index, texts, np.arange(len(texts)))
    for _ in range(5):
        app.processEvents()
        view.viewport().repaint()
    vb = view.getPlotItem().vb
    rng = np.random.default_rng(1)

    def frame_times(step) -> list[float]:
        times = []
        for k in range(args.frames):
            t0 = time.perf_counter()
            step(k)
            app.processEvents()
            view.viewport().repaint()
            times.append(time.perf_counter() - t0)
        return times

    def hover(_k: int) -> None:
        i = int(rng.integers(0, len(axy)))
        pos = view.mapFromScene(vb.mapViewToScene(QPointF(float(axy[i, 0]), float(axy[i, 1]))))
        event = QMouseEvent(QMouseEvent.Type.MouseMove, QPointF(pos), QPointF(view.viewport().mapToGlobal(pos)),
                            Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(view.viewport(), event)

    def pan(k: int) -> None:
        (x0, x1), _ = vb.viewRange()
        d = 0.01 * (x1 - x0) * (1 if (k // 25) % 2 == 0 else -1)
        vb.translateBy(x=d, y=0.5 * d)

    print(f"{args.points} points ({source}), {len(texts)} text points, view 1200x800, {args.frames} frames each")
    hovered_before = view._hover
    results = {"hovering": frame_times(hover)}
    assert view._hover != hovered_before or view._hover >= 0, "hover did not reach the map"
    results["panning"] = frame_times(pan)
    view.show_lines(True)
    results["panning, audio->text lines on"] = frame_times(pan)
    for name, times in results.items():
        t = np.asarray(times)
        print(f"  {name:32s} {1 / t.mean():6.1f} fps (5th percentile frame: {1 / np.percentile(t, 95):6.1f} fps)")
    view.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
