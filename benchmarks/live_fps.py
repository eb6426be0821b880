"""Redraw rate of the live views (scrolling waveform + live log-mel spectrogram) while recording.

Usage: python benchmarks/live_fps.py [--seconds 10] [--with-training] [--onscreen]

Opens a real window holding a :class:`WaveformView` in follow mode and a
:class:`LiveSpectrogramView` (8 s each), driven by :class:`LiveFeed`, on the
offscreen Qt platform unless ``--onscreen`` (or ``QT_QPA_PLATFORM`` is set).
Real speech (Speech Commands clips from ../shared/data, else
resources/samples) is fed in real time the way the recorder does: every
15 ms, all samples due since the previous chunk. Reports, one figure per
line: redraws per second (mean and 5th percentile of the per-second rates),
the time per redraw in ms (the views taking the new data plus Qt painting
both plots, mean and p95), paints per second of each plot, and peak RSS.

``--with-training`` runs the measurement a second time while another
process does 2-thread torch matmuls non-stop, as a training job would.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.resources import SAMPLES  # noqa: E402

CHUNK_MS = 15
TRAINING_CODE = """
import torch
torch.set_num_threads(2)
a = torch.randn(1024, 1024)
print("ready", flush=True)
while True:
    b = a @ a
"""


def speech(seconds: float) -> tuple[np.ndarray, str]:
    """Real speech clips joined to at least ``seconds`` s, and where they came from."""
    from engine.audio.io import SAMPLE_RATE, load_audio

    data = Path(os.environ.get("SAYSO_DATA", ROOT.parent / "shared" / "data")) / "speech_commands"
    words = sorted(d for d in data.iterdir() if d.is_dir() and not d.name.startswith("_")) if data.is_dir() else []
    clips = [sorted(d.glob("*.wav"))[0] for d in words if any(d.glob("*.wav"))]
    source = str(data)
    if not clips:
        clips = sorted(SAMPLES.glob("*.wav"))
        source = str(SAMPLES)
    parts, total, i = [], 0, 0
    while total < seconds * SAMPLE_RATE:
        clip = load_audio(clips[i % len(clips)])
        parts.append(clip)
        total += len(clip)
        i += 1
    return np.concatenate(parts)[: int(seconds * SAMPLE_RATE)], source


def measure(app, audio: np.ndarray, seconds: float) -> dict:
    """Feed ``audio`` in real time to fresh live views for ``seconds``; figures of the run."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    from app.widgets.live_feed import LiveFeed
    from app.widgets.live_spectrogram import LiveSpectrogramView
    from app.widgets.waveform_view import WaveformView
    from engine.audio.io import SAMPLE_RATE

    paints: list[tuple[float, float, str]] = []  # (start, seconds, view)

    def timed(cls, name):
        class Timed(cls):
            def paintEvent(self, ev):
                t0 = time.perf_counter()
                super().paintEvent(ev)
                paints.append((t0, time.perf_counter() - t0, name))
        return Timed

    window = QWidget()
    window.setWindowTitle("live views benchmark")
    layout = QVBoxLayout(window)
    wave = timed(WaveformView, "waveform")()
    spec = timed(LiveSpectrogramView, "spectrogram")()
    wave.set_follow(spec.span_s)
    spec.setXLink(wave)  # as stacked in the studio: one time axis
    layout.addWidget(wave)
    layout.addWidget(spec)
    window.resize(1100, 560)
    window.show()
    feed = LiveFeed(wave, spec)
    feed.start()
    for _ in range(20):  # let the window get exposed and laid out
        app.processEvents()
        time.sleep(0.01)
    paints.clear()

    state = {"fed": 0, "t0": time.perf_counter()}

    def chunk() -> None:
        due = min(len(audio), int((time.perf_counter() - state["t0"]) * SAMPLE_RATE))
        if due > state["fed"]:
            feed.push(audio[state["fed"]: due])
            state["fed"] = due
        if due >= len(audio):
            app.quit()

    driver = QTimer()
    driver.setTimerType(Qt.TimerType.PreciseTimer)
    driver.setInterval(CHUNK_MS)
    driver.timeout.connect(chunk)
    driver.start()
    QTimer.singleShot(int(seconds * 1000) + 2000, app.quit)  # safety net
    app.exec()
    driver.stop()
    t_end = time.perf_counter()
    feed.finish()
    log = list(feed.draw_log)
    window.close()
    app.processEvents()

    t0 = state["t0"]
    starts = np.array([t for t, _ in log])
    whole = int(t_end - t0)
    per_second = np.array([np.sum((starts >= t0 + s) & (starts < t0 + s + 1)) for s in range(whole)], dtype=float)
    # a redraw's cost: the views taking the data, plus the paints that follow before the next redraw
    paint_t = np.array([p[0] for p in paints])
    paint_d = np.array([p[1] for p in paints])
    bounds = np.append(starts, np.inf)
    totals = []
    for i, (t, took) in enumerate(log):
        sel = (paint_t >= t) & (paint_t < bounds[i + 1])
        totals.append(took + paint_d[sel].sum())
    totals_ms = np.array(totals) * 1000
    update_ms = np.array([d for _, d in log]) * 1000
    duration = t_end - t0
    return {
        "seconds fed": state["fed"] / SAMPLE_RATE,
        "redraws": len(log),
        "redraw fps (mean of per-second rates)": per_second.mean(),
        "redraw fps (5th percentile of per-second rates)": np.percentile(per_second, 5),
        "time per redraw, ms (mean)": totals_ms.mean(),
        "time per redraw, ms (p95)": np.percentile(totals_ms, 95),
        "  of which the views taking new data, ms (mean)": update_ms.mean(),
        "waveform paints per second": sum(p[2] == "waveform" for p in paints) / duration,
        "spectrogram paints per second": sum(p[2] == "spectrogram" for p in paints) / duration,
        "waveform points drawn at the end": len(wave.curve.getData()[1]),
        "spectrogram buffer columns": spec.buffer.shape[0],
    }


def report(title: str, figures: dict) -> None:
    for key, value in figures.items():
        text = f"{value:.2f}" if isinstance(value, float) else str(value)
        print(f"{title}: {key}: {text}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0, help="speech fed per run (real time)")
    p.add_argument("--with-training", action="store_true",
                   help="also measure while another process runs 2-thread torch matmuls")
    p.add_argument("--onscreen", action="store_true", help="use the desktop's Qt platform, not offscreen")
    args = p.parse_args()
    if not args.onscreen:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    audio, source = speech(args.seconds)
    print(f"Qt platform: {app.platformName()}")
    print(f"CPU cores: {os.cpu_count()}")
    print(f"load average (1 min) before: {os.getloadavg()[0]:.2f}")
    print(f"speech: {len(audio) / 16000:.1f} s from {source}, fed every {CHUNK_MS} ms")
    report("baseline", measure(app, audio, args.seconds))  # whatever else already runs on the machine
    if args.with_training:
        proc = subprocess.Popen([sys.executable, "-c", TRAINING_CODE], stdout=subprocess.PIPE, text=True)
        try:
            proc.stdout.readline()  # torch imported, matmuls starting
            time.sleep(1.0)
            report("with training process", measure(app, audio, args.seconds))
            print(f"load average (1 min) after: {os.getloadavg()[0]:.2f}")
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"peak RSS, MB: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
