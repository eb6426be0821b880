"""Peak memory and time of `sayso transcribe --vocabulary V.txt` as the vocabulary grows (issue 14).

Usage: python benchmarks/vocabulary_scale.py [--sizes 2000,5000,20000] [--clip resources/samples/sc_yes_03401e93.wav]

Each vocabulary is made of real words: the AN4 transcripts (../shared/data/an4/train.tsv), then
every pair and triple of Speech Commands words and spoken digits, up to the size. Each size runs
the real CLI in a fresh process (``python -m engine.cli transcribe --json --threads 2``) and the
script prints its peak resident memory (``ru_maxrss`` from ``os.wait4``), wall time (start-up and
model load included), the transcript and the machine's load average.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.recipes.datasets import COMMANDS, DIGITS  # noqa: E402

DATA = Path(os.environ.get("SAYSO_DATA", ROOT.parent / "shared" / "data"))


def phrases(n: int) -> list[str]:
    """``n`` distinct phrases of real words."""
    with open(DATA / "an4" / "train.tsv", encoding="utf-8") as fh:
        out = list(dict.fromkeys(r["transcript"] for r in csv.DictReader(fh, delimiter="\t")))
    words = COMMANDS + DIGITS
    for k in (1, 2, 3, 4):
        out += [" ".join(c) for c in itertools.product(words, repeat=k)]
    out = list(dict.fromkeys(out))
    if len(out) < n:
        sys.exit(f"only {len(out)} phrases available")
    return out[:n]


def run(vocab: Path, clip: Path) -> tuple[float, float, dict]:
    cmd = [sys.executable, "-m", "engine.cli", "transcribe", "--json", "--threads", "2",
           "--vocabulary", str(vocab), str(clip)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            return usage.ru_maxrss / 1024, wall, {"error": err.read().strip()[-300:]}
        return usage.ru_maxrss / 1024, wall, json.loads(out.read().strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="2000,5000,20000", help="vocabulary sizes, comma-separated")
    p.add_argument("--clip", type=Path, default=ROOT / "resources" / "samples" / "sc_yes_03401e93.wav")
    args = p.parse_args()
    print(f"clip: {args.clip.name}")
    print(f"{'phrases':>8} {'peak MB':>8} {'wall s':>7}  text / error              load avg (1/5/15 min) before -> after")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            vocab = Path(tmp) / f"vocab_{n}.txt"
            vocab.write_text("\n".join(phrases(n)) + "\n", encoding="utf-8")
            before = os.getloadavg()
            peak, wall, result = run(vocab, args.clip)
            after = os.getloadavg()
            what = repr(result.get("text")) if "error" not in result else result["error"]
            print(f"{n:8d} {peak:8.0f} {wall:7.1f}  {what:25}  "
                  f"{'/'.join(f'{x:.1f}' for x in before)} -> {'/'.join(f'{x:.1f}' for x in after)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
