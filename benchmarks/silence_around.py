"""How a model's WER changes with silence around the words, as a take recorded in the studio has.

Usage: python benchmarks/silence_around.py [--models DIR ...] [--pad 0.5] [--every 2] [--threads 2]

Corpus clips are trimmed (FSDD) or hold about half a second of speech in one second
(Speech Commands); a person's take has more silence around the words, and the model
normalizes its features per utterance. Each held-out set of ``benchmarks/wer.py``
that holds single words (FSDD *nicolas* and *jason*, Speech Commands 10 commands and
10 digits, every ``--every``-th clip, vocabulary-constrained) is decoded as it is, with
``--pad`` seconds of digital silence (zeros) before and after, and with the same
amount of room tone (white noise at ``--tone-dbfs`` dBFS). Prints WER per set and condition.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.audio.io import SAMPLE_RATE  # noqa: E402
from engine.resources import BUNDLED_MODEL, BUNDLED_MODELS  # noqa: E402

SETS = ("fsdd-heldout (10 digits)", "fsdd-heldout jason (10 digits)", "sc-commands-heldout (10 commands)",
        "sc-digits-heldout (10 digits)")


class Padded:
    """A recognizer that hears ``pad`` seconds of silence (``level`` 0) or room tone (RMS ``level``) around each clip."""

    def __init__(self, recognizer, pad: float, level: float, seed: int = 0) -> None:
        self.recognizer, self.pad, self.level = recognizer, pad, level
        self.rng = np.random.default_rng(seed)

    def transcribe(self, audio, vocabulary=None, attention=False):
        n = int(self.pad * SAMPLE_RATE)
        if n:
            edge = lambda: (self.level * self.rng.standard_normal(n)).astype(np.float32)  # noqa: E731
            audio = np.concatenate([edge(), audio, edge()])
        return self.recognizer.transcribe(audio, vocabulary, attention=attention)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=Path, nargs="+", default=[BUNDLED_MODEL, BUNDLED_MODELS / "base-v2"])
    p.add_argument("--pad", type=float, default=0.5, help="seconds before and after each clip")
    p.add_argument("--tone-dbfs", type=float, default=-60.0)
    p.add_argument("--every", type=int, default=2, help="every n-th clip of each set")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    import torch

    from engine.decode.evaluate import evaluate
    from engine.decode.recognizer import SaysoRecognizer
    from engine.recipes.base import heldout_sets

    torch.set_num_threads(args.threads)
    sets = {name: (utts[::args.every], vocab) for name, (utts, vocab) in heldout_sets(None).items() if name in SETS}
    tone = 10 ** (args.tone_dbfs / 20)
    conditions = {"as is": (0.0, 0.0), f"+{args.pad:g} s silence": (args.pad, 0.0),
                  f"+{args.pad:g} s room tone": (args.pad, tone)}
    t0 = time.time()
    for model in args.models:
        rec = SaysoRecognizer.from_checkpoint(model)
        print(f"\nmodel: {model}")
        print(f"{'set':36s} {'clips':>5s} " + " ".join(f"{c:>22s}" for c in conditions))
        for name, (utts, vocab) in sets.items():
            wers = [evaluate(Padded(rec, pad, level), utts, vocab).wer for pad, level in conditions.values()]
            print(f"{name:36s} {len(utts):5d} " + " ".join(f"{100 * w:21.1f}%" for w in wers), flush=True)
    print(f"({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
