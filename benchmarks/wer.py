"""WER/CER of a model on held-out speakers and voices, open and vocabulary-constrained.

Usage: python benchmarks/wer.py [--model DIR] [--json OUT]

Sets (see engine.recipes.base.heldout_sets): the held-out FSDD speakers
nicolas and jason (10 digits, and open), the held-out Speech Commands speakers
(10 commands, 10 digits, and all words), the 10 held-out AN4 speakers (AN4
vocabulary, and open), and held-out synthetic voices. Prints one row per set.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.recipes.base import evaluate_all  # noqa: E402
from engine.resources import BUNDLED_MODEL  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=BUNDLED_MODEL)
    p.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = p.parse_args()
    t0 = time.time()
    figures = evaluate_all(args.model)
    print(f"\nmodel: {args.model}")
    print(f"{'set':38s} {'WER':>7s} {'CER':>7s} {'RTF':>6s} {'utts':>5s} {'speakers':>8s}")
    for name, f in figures.items():
        print(f"{name:38s} {100 * f['wer']:6.2f}% {100 * f['cer']:6.2f}% {f['rtf']:6.3f} {f['utterances']:5d} {f['speakers']:8d}")
    print(f"({time.time() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
