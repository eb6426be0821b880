"""Whisper as the studio serves it: RTF on a 60 s recording and on 1 s clips, the recognition
worker's peak memory, and GUI stalls while Whisper decodes.

Usage: python benchmarks/whisper_studio.py [--model whisper-base] [--threads 2] [--clips 20]

* **RTF** through the studio's own worker process
  (:class:`engine.workers.recognition.RecognitionWorker`, model loaded and warmed up): decode
  seconds (the recognition's ``decode_seconds``) over audio seconds, for 60 s of real read speech
  (LibriSpeech clips from ../shared/data/librispeech_unlabeled joined with 0.5 s pauses; one
  request) and for 1 s clips (held-out Speech Commands speakers; one request each; Whisper pads
  every window to 30 s, so short clips cost most). Also the wall time of each request as the
  studio waits for it.
* **Peak memory** of that worker process (``VmHWM`` in /proc, MB) after both.
* **GUI stalls** while Whisper decodes: the studio's main window (offscreen Qt) with the same model
  transcribes the 60 s file and then the clips one after another (its Transcribe command); a 10 ms
  ``QTimer`` on the GUI thread records how late each tick comes (p50/p99/max beyond 10 ms).
  Target (issue 13): p99 ≤ 50 ms.

Prints the machine's load average beside the figures (2 shared cores: a busy machine slows
everything).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from engine.audio.io import SAMPLE_RATE, load_audio, write_audio  # noqa: E402
from engine.recipes.datasets import real_splits, shared_data_dir  # noqa: E402
from engine.registry.index import ModelRegistry  # noqa: E402
from engine.workers.recognition import RecognitionWorker, TranscribeResult  # noqa: E402

TICK_MS = 10


def read_speech(seconds: float) -> np.ndarray:
    """``seconds`` of real read speech: LibriSpeech clips (sorted by path) joined with 0.5 s pauses."""
    clips = sorted((shared_data_dir() / "librispeech_unlabeled").rglob("*.flac"))
    pause = np.zeros(SAMPLE_RATE // 2, np.float32)
    parts, total = [], 0
    for path in clips:
        audio = load_audio(path)
        parts += [audio, pause]
        total += len(audio) + len(pause)
        if total >= seconds * SAMPLE_RATE:
            break
    return np.concatenate(parts)[: int(seconds * SAMPLE_RATE)]


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_figures(path: Path, long: np.ndarray, clips: list[np.ndarray], threads: int) -> None:
    worker = RecognitionWorker(path, threads=threads)
    t0 = time.perf_counter()
    worker.start()
    first = worker.wait(worker.submit(clips[0], attention=False), timeout=600)  # loads and warms up
    assert isinstance(first, TranscribeResult), first
    print(f"worker start, model load and first clip: {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    answer = worker.wait(worker.submit(long, attention=False), timeout=1200)
    wall = time.perf_counter() - t0
    assert isinstance(answer, TranscribeResult), answer
    rec = answer.recognition
    print(f"60 s recording: decode RTF {rec.decode_seconds / rec.duration:.3f} ({rec.decode_seconds:.1f} s), "
          f"wall {wall:.1f} s, {len(rec.segments)} segments, {len(rec.text.split())} words")
    decode, seconds, walls = 0.0, 0.0, []
    for clip in clips:
        t0 = time.perf_counter()
        answer = worker.wait(worker.submit(clip, attention=False), timeout=600)
        walls.append(time.perf_counter() - t0)
        decode += answer.recognition.decode_seconds
        seconds += answer.recognition.duration
    print(f"{len(clips)} clips of ~1 s: decode RTF {decode / seconds:.3f}, per clip "
          f"{1000 * decode / len(clips):.0f} ms (wall p50 {1000 * np.median(walls):.0f} ms, "
          f"p95 {1000 * np.percentile(walls, 95):.0f} ms)")
    print(f"recognition worker peak memory (VmHWM): {vm_hwm_mb(worker.pid):.0f} MB")
    worker.close()


def gui_stalls(path: Path, long_path: Path, clip_paths: list[Path]) -> None:
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(path, preload_model=True)
    window.resize(1400, 900)
    window.show()
    gaps: list[float] = []
    clock, timer = QElapsedTimer(), QTimer()
    timer.setInterval(TICK_MS)

    def tick() -> None:
        gaps.append(clock.nsecsElapsed() / 1e6)
        clock.restart()

    timer.timeout.connect(tick)

    def pump(until) -> None:
        while not until():
            app.processEvents()
            time.sleep(0.001)

    def transcribe(file: Path) -> None:
        assert window.open_file(file), file
        done = []
        window.recognizer.finished.connect(lambda _r: done.append(1))
        window.recognizer.failed.connect(lambda m: done.append(m))
        window.commands.transcribe.trigger()
        pump(lambda: bool(done))
        window.recognizer.finished.disconnect()
        window.recognizer.failed.disconnect()

    pump(lambda: window.recognizer.worker.is_alive())
    transcribe(clip_paths[0])  # the model is loaded and warm
    clock.start()
    timer.start()
    t0 = time.perf_counter()
    for file in [long_path, *clip_paths]:
        transcribe(file)
    timer.stop()
    stalls = np.maximum(0.0, np.asarray(gaps[1:]) - TICK_MS)
    print(f"GUI thread while Whisper transcribes (60 s file + {len(clip_paths)} clips, {time.perf_counter() - t0:.0f} s): "
          f"stall p50 {np.percentile(stalls, 50):.1f} ms · p99 {np.percentile(stalls, 99):.1f} ms · "
          f"max {stalls.max():.1f} ms ({len(stalls)} ticks)")
    window.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="whisper-base", help="a registry id or a model folder")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--clips", type=int, default=20)
    p.add_argument("--no-gui", action="store_true", help="skip the GUI-stall part")
    args = p.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="sayso-bench-whisper-")
    folder = Path(tmp.name)
    entry = ModelRegistry().prepare(ModelRegistry().resolve(args.model))
    os.environ["XDG_DATA_HOME"] = str(folder / "data")  # the window's takes and settings: not the user's
    os.environ["XDG_CONFIG_HOME"] = str(folder / "config")
    held_out = real_splits().test["sc-heldout"]
    step = max(1, len(held_out) // args.clips)
    clip_utts = held_out[::step][: args.clips]
    clips = [load_audio(u.audio_path) for u in clip_utts]
    long = read_speech(60.0)
    long_path = write_audio(folder / "read-60s.wav", long)
    clip_paths = [write_audio(folder / f"clip{i:02d}.wav", c) for i, c in enumerate(clips)]
    print(f"model {entry.id} ({entry.path}); {args.threads} threads; load average {os.getloadavg()[0]:.1f}")
    worker_figures(entry.path, long, clips, args.threads)
    if not args.no_gui:
        gui_stalls(entry.path, long_path, clip_paths)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
