"""Peak memory of `sayso transcribe` on long and wide files (issue 14: memory bounded by design).

Usage: python benchmarks/long_file_memory.py [--models sayso-base,whisper-base] [--hours 3]
       [--pause-s 20] [--only wide|long] [--keep DIR]

Builds two files from real read speech (LibriSpeech clean utterances in ../shared/data, each
followed by a pause of digital silence), written block by block so this script never holds them:
- wide: 5 minutes, 8 channels at 96 kHz (16-bit PCM, 461 MB), 1 s pauses;
- long: ``--hours`` of 16 kHz mono with ``--pause-s`` of silence after each utterance (the default
  20 s makes about a third of it speech, so Whisper's VAD has real work and a run stays minutes).

Each model then transcribes each file with the real CLI in a fresh process
(``python -m engine.cli transcribe --json --threads 2``), and the script prints the process's
peak resident memory (``ru_maxrss`` from ``os.wait4``), wall time, RTF (wall / audio duration,
start-up and model load included), the decode-only RTF from the JSON, the words found and the
machine's load average.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.audio.io import SAMPLE_RATE, resample  # noqa: E402

DATA = Path(os.environ.get("SAYSO_DATA", ROOT.parent / "shared" / "data"))


def utterances() -> list[np.ndarray]:
    """LibriSpeech clean utterances (16 kHz float32), about 12 s each."""
    files = sorted((DATA / "librispeech_unlabeled" / "librispeech_train-clean-100").glob("*.flac"))
    if not files:
        sys.exit(f"no LibriSpeech clips under {DATA}")
    return [sf.read(str(f), dtype="float32")[0] for f in files[:40]]


def write_speech(path: Path, seconds: float, pause_s: float, rate: int = SAMPLE_RATE, channels: int = 1) -> float:
    """Write ``seconds`` of utterances each followed by ``pause_s`` of silence, one utterance at a
    time (resampled to ``rate``, on ``channels`` channels with different gains). Returns the speech seconds."""
    clips, total, speech, k = utterances(), int(seconds * rate), 0.0, 0
    gains = np.linspace(0.9, 0.5, channels, dtype=np.float32)
    with sf.SoundFile(str(path), "w", rate, channels, subtype="PCM_16") as fh:
        written = 0
        while written < total:
            clip = resample(clips[k % len(clips)], SAMPLE_RATE, rate)
            k += 1
            part = np.concatenate([clip, np.zeros(int(pause_s * rate), np.float32)])[: total - written]
            fh.write(part[:, None] * gains[None, :])
            written += len(part)
            speech += min(len(clip), len(part)) / rate
    return speech


def transcribe(model: str, path: Path) -> dict:
    """Run the CLI on ``path``; its peak RSS (MB), wall time (s) and JSON output."""
    cmd = [sys.executable, "-m", "engine.cli", "transcribe", "--json", "--threads", "2", "--model", model, str(path)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.read()[-2000:]}")
        result = json.loads(out.read().strip().splitlines()[-1])
    return {"peak_mb": usage.ru_maxrss / 1024, "wall": wall, "json": result}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="sayso-base,whisper-base", help="registry ids or model folders, comma-separated")
    p.add_argument("--hours", type=float, default=3.0, help="length of the long mono file")
    p.add_argument("--pause-s", type=float, default=20.0, help="silence after each utterance of the long file")
    p.add_argument("--only", choices=["wide", "long"], help="build and run one file only")
    p.add_argument("--keep", type=Path, help="build the files in this folder and keep them (reused if present)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        if args.only in (None, "wide"):
            files["wide"] = (folder / "wide_8ch_96k_5min.wav", dict(seconds=300, pause_s=1.0, rate=96_000, channels=8))
        if args.only in (None, "long"):
            files["long"] = (folder / f"long_mono_16k_{args.hours:g}h_pause{args.pause_s:g}.wav",
                             dict(seconds=args.hours * 3600, pause_s=args.pause_s))
        for name, (path, spec) in files.items():
            t0 = time.perf_counter()
            if not path.exists():
                speech = write_speech(path, **spec)
                print(f"{name}: wrote {path.name} ({path.stat().st_size / 1e6:.0f} MB, {speech / 60:.0f} min of "
                      f"speech) in {time.perf_counter() - t0:.0f} s")
            info = sf.info(str(path))
            print(f"{name}: {info.duration / 60:.1f} min, {info.channels} ch, {info.samplerate} Hz "
                  f"({info.duration * info.samplerate * info.channels * 4 / 1e9:.2f} GB as float32)")
        print(f"{'file':6} {'model':14} {'peak MB':>8} {'wall s':>8} {'RTF':>7} {'decode RTF':>10} "
              f"{'words':>7}  load avg (1/5/15 min) before -> after")
        for model in args.models.split(","):
            for name, (path, _) in files.items():
                before = os.getloadavg()
                r = transcribe(model, path)
                after = os.getloadavg()
                j = r["json"]
                print(f"{name:6} {model:14} {r['peak_mb']:8.0f} {r['wall']:8.1f} {r['wall'] / j['duration']:7.4f} "
                      f"{j['rtf']:10.4f} {len(j['words']):7d}  "
                      f"{'/'.join(f'{x:.1f}' for x in before)} -> {'/'.join(f'{x:.1f}' for x in after)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
