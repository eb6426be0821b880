"""Real-time factor and peak memory of `sayso transcribe` on 2 CPU threads.

Usage: python benchmarks/transcribe_rtf.py [--model DIR] [--seconds 60]

Builds a long recording by joining the real sample clips in resources/samples
with 0.4 s pauses, then:
- runs `sayso transcribe --json` in a fresh process (as a user would) and
  reports its wall time, RTF including start-up, and peak resident memory;
- reports the decode-only RTF that the CLI's JSON gives (model already loaded),
  for short clips and for the long recording.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.audio.io import SAMPLE_RATE, load_audio, write_audio  # noqa: E402
from engine.resources import BUNDLED_MODEL, SAMPLES  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=BUNDLED_MODEL)
    p.add_argument("--seconds", type=float, default=60.0)
    args = p.parse_args()
    clips = [load_audio(f) for f in sorted(SAMPLES.glob("*.wav"))]
    pause = np.zeros(int(0.4 * SAMPLE_RATE), np.float32)
    parts, total = [], 0
    while total < args.seconds * SAMPLE_RATE:
        for c in clips:
            parts += [c, pause]
            total += len(c) + len(pause)
    long = np.concatenate(parts)[: int(args.seconds * SAMPLE_RATE)]
    with tempfile.TemporaryDirectory() as tmp:
        long_path = write_audio(Path(tmp) / "long.wav", long)
        short_paths = sorted(SAMPLES.glob("*.wav"))
        cmd = [sys.executable, "-m", "engine.cli", "transcribe", "--json", "--threads", "2", "--model", str(args.model)]
        t0 = time.perf_counter()
        out = subprocess.run(cmd + [str(long_path)], capture_output=True, text=True, cwd=ROOT, check=True)
        wall = time.perf_counter() - t0
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        long_json = json.loads(out.stdout.splitlines()[-1])
        out = subprocess.run(cmd + [str(s) for s in short_paths], capture_output=True, text=True, cwd=ROOT, check=True)
        short = [json.loads(line) for line in out.stdout.splitlines()]
    short_rtf = sum(s["rtf"] * s["duration"] for s in short) / sum(s["duration"] for s in short)
    print(f"model: {args.model}")
    print(f"long recording: {long_json['duration']:.1f} s, {len(long_json['segments'])} windows")
    print(f"  decode-only RTF (2 threads):        {long_json['rtf']:.4f}")
    print(f"  `sayso transcribe` wall time:       {wall:.2f} s (RTF incl. start-up {wall / long_json['duration']:.4f})")
    print(f"  peak resident memory:               {peak_mb:.0f} MB")
    warm = short[1:]  # the first clip in a process pays one-off start-up costs (allocator, kernels)
    warm_rtf = sum(s["rtf"] * s["duration"] for s in warm) / sum(s["duration"] for s in warm)
    print(f"short clips ({len(short)}, {sum(s['duration'] for s in short):.1f} s): decode-only RTF {short_rtf:.4f} "
          f"(after the first clip: {warm_rtf:.4f}; first clip: {short[0]['rtf']:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
