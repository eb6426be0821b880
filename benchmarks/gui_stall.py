"""GUI main-thread stalls while a training job runs: how late a 10 ms timer fires, p50/p99/max.

Usage: python benchmarks/gui_stall.py [--clips 300] [--epochs 3] [--preset finetune|train|personalize]

Opens the studio's main window (offscreen Qt unless ``QT_QPA_PLATFORM`` is
set) with the Train tab showing, points the training panel at manifests of
real Speech Commands clips (training speakers), and presses Start: the job
runs in its worker process (2 threads) while the GUI thread draws its
progress, curves and log. A 10 ms ``QTimer`` on the GUI thread records
how late each tick comes; a stall is the time between ticks beyond 10 ms.
The same is measured for 5 s with nothing running, as the floor. The
target (issue 5) is a p99 stall ≤ 50 ms.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TICK_MS = 10


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=300)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--preset", default="finetune", choices=["personalize", "finetune", "train"])
    args = p.parse_args()

    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from engine.data.manifest import write_manifest
    from engine.recipes.datasets import real_splits

    tmp = tempfile.TemporaryDirectory(prefix="sayso-bench-stall-")
    folder = Path(tmp.name)
    os.environ["XDG_DATA_HOME"] = str(folder / "data")  # the window's takes and registry: not the user's
    os.environ["XDG_CONFIG_HOME"] = str(folder / "config")
    splits = real_splits()
    sc = [u for u in splits.train if u.speaker.startswith("sc-")]
    write_manifest(folder / "train.jsonl", random.Random(0).sample(sc, args.clips))
    write_manifest(folder / "dev.jsonl", random.Random(1).sample([u for u in splits.dev if u.speaker.startswith("sc-")], 30))

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from PySide6.QtWidgets import QMessageBox

    from app.main_window import MainWindow
    from engine.resources import BUNDLED_MODEL

    # "Use the new model now?" would wait for a click at the end: answer No (nobody is watching)
    QMessageBox.question = staticmethod(lambda *a, **k: QMessageBox.StandardButton.No)
    window = MainWindow(BUNDLED_MODEL)
    window.resize(1400, 900)
    window.show()
    window.tabs.setCurrentIndex(next(i for i in range(window.tabs.count()) if window.tabs.tabText(i) == "Train"))
    panel = window.training
    panel.form.models_root = folder / "models"
    panel.data_choice.set_manifests(folder / "train.jsonl", folder / "dev.jsonl")
    panel.form.set_preset(args.preset)
    panel.form.length_spin.setValue(args.epochs if args.preset != "personalize" else 40)

    gaps: list[float] = []
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setInterval(TICK_MS)

    stamps: list[float] = []

    def tick() -> None:
        gaps.append(clock.nsecsElapsed() / 1e6)
        stamps.append(time.perf_counter())
        clock.restart()

    timer.timeout.connect(tick)

    def measure(seconds: float | None, until=None) -> np.ndarray:
        gaps.clear()
        stamps.clear()
        clock.start()
        timer.start()
        t0 = time.perf_counter()
        while (seconds is not None and time.perf_counter() - t0 < seconds) or (until is not None and not until()):
            app.processEvents()
            time.sleep(0.001)
        timer.stop()
        return np.maximum(0.0, np.asarray(gaps[1:]) - TICK_MS)

    def show(name: str, stalls: np.ndarray, seconds: float) -> None:
        worst = np.argsort(stalls)[::-1][:3]
        when = ", ".join(f"{stalls[i]:.0f} ms at {stamps[i + 1] - stamps[0]:.1f} s" for i in worst)
        print(f"{name}: {len(stalls)} ticks over {seconds:.0f} s · stall p50 {np.percentile(stalls, 50):.1f} ms · "
              f"p99 {np.percentile(stalls, 99):.1f} ms · max {stalls.max():.1f} ms (largest: {when})", flush=True)

    idle = measure(5.0)
    show("idle window", idle, 5.0)
    if not panel.start():
        print(f"the job did not start: {panel.display.message_label.text()}")
        return 1
    t0 = time.perf_counter()
    busy = measure(None, until=lambda: not panel.busy)
    wall = time.perf_counter() - t0
    show(f"while {panel.form.preset.title.lower()} runs ({args.clips} clips, the Train tab drawing progress and curves)",
         busy, wall)
    print(f"job ended: {panel.display.message_label.text() or panel.display.eta_label.text()}")
    window.close()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
