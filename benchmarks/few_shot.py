"""Few-shot personalization on a held-out real speaker: accuracy after k takes per word, and fine-tune time.

Usage: python benchmarks/few_shot.py [--model DIR] [--speaker nicolas|jason] [--k 1 3 5] [--steps 60]
       [--top-layers 8] [--lr 3e-4] [--batch-base 10] [--threads 2] [--seeds 3] [--forgetting 150]

The speaker is one of FSDD's held-out speakers, whom the base models never heard:
*nicolas* (default; an 8 kHz recording with a strong French accent; the v1 base
model's 10-digit WER on him is 26 %) or *jason* (untrimmed 3 s takes cut to their
digit by the VAD; many digits clipped by the take's start). For each k, takes 0..k-1 of every digit are the person's
recordings; the model is fine-tuned on them (:func:`engine.train.personalize.personalize`,
with base rehearsal data from Speech Commands training speakers and the
other FSDD speakers), then every other take of his (10·(50−k) clips) is
recognized with the 10 digits as vocabulary. Each k is run ``--seeds`` times
with other takes chosen, and the mean is printed after the draws. Also
printed: accuracy on the held-out Speech Commands commands before and after
(forgetting).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.audio.io import load_segment  # noqa: E402
from engine.decode.recognizer import SaysoRecognizer  # noqa: E402
from engine.decode.vocabulary import Vocabulary  # noqa: E402
from engine.recipes.datasets import COMMANDS, DIGITS, FSDD_HELDOUT_SPEAKERS, background_noises, real_splits  # noqa: E402
from engine.resources import BUNDLED_MODEL  # noqa: E402
from engine.train.personalize import PersonalizeConfig, personalize  # noqa: E402


def take_index(u) -> int:
    return int(u.audio_path.stem.split("_")[2])


def accuracy(rec: SaysoRecognizer, utts, vocab: Vocabulary) -> float:
    """Share of ``utts`` recognized exactly; each is read from its start to its end (jason's are spans of a take)."""
    return float(np.mean([rec.transcribe(load_segment(u.audio_path, u.start, u.end), vocab, attention=False).text
                          == u.text for u in utts]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=BUNDLED_MODEL)
    p.add_argument("--speaker", choices=FSDD_HELDOUT_SPEAKERS, default=FSDD_HELDOUT_SPEAKERS[0])
    p.add_argument("--k", type=int, nargs="+", default=[1, 3, 5])
    p.add_argument("--steps", type=int, default=60)
    defaults = PersonalizeConfig()  # the studio's recipe
    p.add_argument("--top-layers", type=int, default=defaults.top_layers)
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--batch-base", type=int, default=10, help="base utterances mixed into each step")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ctc-weight", type=float, default=None, help="decode the adapted model with this CTC weight")
    p.add_argument("--seeds", type=int, default=3, help="repeat with other takes chosen (k takes starting at seed·k)")
    p.add_argument("--forgetting", type=int, default=150, help="held-out command clips to check forgetting on (0: skip)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    splits = real_splits()
    speaker = splits.test["fsdd-heldout" if args.speaker == FSDD_HELDOUT_SPEAKERS[0] else f"fsdd-heldout-{args.speaker}"]
    base = [u for u in splits.train if u.speaker.startswith("sc-") or u.speaker.startswith("fsdd-")]
    base = random.Random(0).sample(base, 400)
    commands = [u for u in splits.test["sc-heldout"] if u.text in COMMANDS]
    commands = random.Random(1).sample(commands, min(args.forgetting, len(commands)))
    digits, cmd_vocab = Vocabulary(DIGITS), Vocabulary(COMMANDS)
    noises = background_noises()

    rec = SaysoRecognizer.from_checkpoint(args.model)
    print(f"model: {args.model} · speaker fsdd-{args.speaker} (held out of training) · {args.threads} threads")
    before = accuracy(rec, speaker, digits)
    print(f"before: {100 * before:.1f}% of his {len(speaker)} digits right (10-digit vocabulary)")
    if commands:
        print(f"before: {100 * accuracy(rec, commands, cmd_vocab):.1f}% of {len(commands)} held-out SC commands right")
    cfg = PersonalizeConfig(steps=args.steps, top_layers=args.top_layers, lr=args.lr, threads=args.threads,
                            batch_base=args.batch_base)
    for k in args.k:
        accs, forgets, walls = [], [], []
        for seed in range(args.seeds):
            chosen = set(range(seed * k, seed * k + k))
            takes = [u for u in speaker if take_index(u) in chosen]
            rest = [u for u in speaker if take_index(u) not in chosen]
            t0 = time.perf_counter()
            model, tokenizer, meta, report = personalize(args.model, takes, base, cfg, noises)
            wall = time.perf_counter() - t0
            decode = {**meta.get("decode", {}), **({} if args.ctc_weight is None else {"ctc_weight": args.ctc_weight})}
            adapted = SaysoRecognizer(model, tokenizer, name="personal", **decode)
            acc = accuracy(adapted, rest, digits)
            accs.append(acc)
            walls.append(wall)
            forgets.append(accuracy(adapted, commands, cmd_vocab) if commands else float("nan"))
            forget = f" · SC commands {100 * forgets[-1]:.1f}%" if commands else ""
            print(f"k={k} (takes {sorted(chosen)}): {100 * acc:.1f}% of {len(rest)} other takes right · "
                  f"fine-tune {wall:.1f} s ({report.steps} steps, {report.trainable / 1e6:.2f}M of "
                  f"{report.total / 1e6:.2f}M parameters trained, loss {report.first_loss:.1f} → "
                  f"{report.last_loss:.1f}){forget}", flush=True)
        print(f"k={k} mean of {len(accs)} draws: {100 * np.mean(accs):.1f}% right (range {100 * min(accs):.1f}–"
              f"{100 * max(accs):.1f}) · fine-tune {np.mean(walls):.1f} s (max {max(walls):.1f})"
              + (f" · SC commands {100 * np.mean(forgets):.1f}%" if commands else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
