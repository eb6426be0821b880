"""Training throughput on this machine, one process against two under torchrun (DDP, gloo).

Usage: python benchmarks/training.py [--clips 400] [--epochs 2] [--threads 2] [--skip-ddp]

Trains the base model's architecture (5.3M parameters, from scratch, with the
recipe's augmentation) on real Speech Commands clips of training speakers
(``engine.recipes.datasets.real_splits``), through the same command a user
runs: ``python -m engine.cli train --config job.toml``; then the same job
under ``torchrun --standalone --nproc_per_node=2`` (each process 1 thread,
``threads/2``, so both runs use the same cores; each process gets half the
utterances per epoch and its own ``batch_seconds`` batches, so the global
batch doubles). Prints, per run: seconds per epoch (the trainer's own timing,
validation included), training utterances per second, audio seconds per
second, and the train loss after each epoch.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.data.manifest import write_manifest  # noqa: E402
from engine.recipes.datasets import real_splits  # noqa: E402

JOB = """
train = "train.jsonl"
dev = "dev.jsonl"
out = "{out}"
epochs = {epochs}
lr = 1.5e-3
warmup_steps = 50
batch_seconds = {batch_seconds}
threads = {threads}
augment = true
seed = 0
device = "cpu"
"""


def run(cmd: list[str], folder: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=folder, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{' '.join(cmd[:5])}… failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def report(name: str, folder: Path, out: str, clips: int, audio_seconds: float, wall: float) -> None:
    history = json.loads((folder / out / "last" / "trainer.json").read_text())["history"]
    per_epoch = [h["seconds"] for h in history]
    mean = sum(per_epoch) / len(per_epoch)
    losses = ", ".join(f"{h['train_loss']:.3f}" for h in history)
    print(f"{name}: {mean:.1f} s per epoch (validation included) · {clips / mean:.1f} utterances/s · "
          f"{audio_seconds / mean:.0f} audio s/s · train loss by epoch {losses} · wall {wall:.0f} s "
          "(start-up included)",
          flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=400, help="training utterances")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=2, help="CPU threads in all (split between DDP processes)")
    p.add_argument("--batch-seconds", type=float, default=40.0)
    p.add_argument("--skip-ddp", action="store_true")
    args = p.parse_args()

    splits = real_splits()
    sc = [u for u in splits.train if u.speaker.startswith("sc-")]
    train = random.Random(0).sample(sc, args.clips)
    dev = random.Random(1).sample([u for u in splits.dev if u.speaker.startswith("sc-")], 40)
    audio_seconds = sum(u.duration for u in train)
    print(f"{len(train)} training clips ({audio_seconds / 60:.1f} min of Speech Commands, training speakers), "
          f"{len(dev)} dev clips; base architecture from scratch; {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="sayso-bench-train-") as tmp:
        folder = Path(tmp)
        write_manifest(folder / "train.jsonl", train)
        write_manifest(folder / "dev.jsonl", dev)
        (folder / "one.toml").write_text(JOB.format(out="one", epochs=args.epochs, batch_seconds=args.batch_seconds,
                                                    threads=args.threads))
        wall = run([sys.executable, "-m", "engine.cli", "train", "--config", "one.toml"], folder)
        report(f"1 process × {args.threads} threads", folder, "one", len(train), audio_seconds, wall)
        if not args.skip_ddp:
            per = max(1, args.threads // 2)
            (folder / "ddp.toml").write_text(JOB.format(out="ddp", epochs=args.epochs,
                                                        batch_seconds=args.batch_seconds, threads=per))
            wall = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                        "-m", "engine.cli", "train", "--config", "ddp.toml"], folder)
            report(f"2 processes × {per} thread (DDP, gloo)", folder, "ddp", len(train), audio_seconds, wall)
    return 0


if __name__ == "__main__":
    sys.exit(main())
