"""Confidence calibration: fit each model's table on held-out speakers and check it on others.

Usage: python benchmarks/confidence.py [--models sayso-base sayso-base-v2 whisper-base whisper-tiny.en]
                                       [--limit 80] [--write]

For each model, every word it outputs on the held-out sets gets its raw score
(no calibration) and whether it was right (jiwer alignment with the reference).
Sets (speakers no model here was trained on; see engine.recipes.base.heldout_sets
and benchmarks/whisper_wer.py): FSDD *nicolas* (open and 10 digits), the
held-out Speech Commands speakers (10 commands open and constrained, all words
open), and the 10 held-out AN4 speakers (open sentences); at most ``--limit``
utterances per set. The speakers are split in two halves by a hash of their id;
a table fitted on one half is checked on the other and vice versa, and the
expected calibration error (ECE, 10 bins) is reported raw vs calibrated
(speaker-disjoint 2-fold cross-validation). The shipped table is fitted on all
the words, with that cross-validated ECE. ``--write`` stores it: in a bundled Sayso
checkpoint's config.json (``meta["calibration"]``) or in
resources/calibration/<model>.json for the packaged Whisper models.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine.audio.io import load_segment  # noqa: E402
from engine.decode.confidence import (  # noqa: E402
    UNCALIBRATED,
    fit_calibration,
    reliability,
    word_hits,
)
from engine.recipes.datasets import speaker_bucket  # noqa: E402
from engine.resources import CALIBRATIONS  # noqa: E402
from engine.text.normalize import normalize_text  # noqa: E402

CALIBRATION_SETS = ("fsdd-heldout (open)", "fsdd-heldout (10 digits)", "sc-commands-heldout (open)",
                    "sc-commands-heldout (10 commands)", "sc-all-heldout (open)")
"""The held-out sets of engine.recipes.base.heldout_sets the shipped tables were fitted on (plus AN4 below)."""


def evaluation_sets(limit: int) -> dict[str, list[tuple[str, str, str, object]]]:
    """Set name → ``((audio path, start, end), reference, speaker, vocabulary or None)`` rows."""
    from whisper_wer import AN4_HELDOUT_SPEAKERS, an4_clips

    from engine.recipes.base import heldout_sets

    out = {}
    for name, (utts, vocab) in heldout_sets().items():
        if name not in CALIBRATION_SETS:
            continue
        rows = sorted(utts, key=lambda u: speaker_bucket(f"{u.audio_path}:{u.start}"))[:limit]  # spread over speakers
        out[name] = [((str(u.audio_path), u.start, u.end), u.text, u.speaker, vocab) for u in rows]
    an4 = an4_clips(per_speaker=max(1, limit // 20))
    out["an4-heldout (open sentences)"] = [
        ((path, None, None), normalize_text(ref), next(s for s in AN4_HELDOUT_SPEAKERS if f"/{s}/" in path or f"-{s}-" in path),
         None) for path, ref in an4][:limit]
    return out


def fit_half(speaker: str) -> bool:
    """Half of the speakers, by a hash salted apart from the one that chose the held-out speakers
    (those all have low :func:`speaker_bucket` values)."""
    return speaker_bucket(f"calibration:{speaker}") < 0.5


def load(name: str):
    if name.startswith("whisper"):
        from engine.whisper.recognizer import WhisperRecognizer
        from engine.whisper.sources import assemble

        return WhisperRecognizer.from_checkpoint(assemble(name), threads=2, calibration=UNCALIBRATED)
    import torch

    from engine.decode.recognizer import SaysoRecognizer

    torch.set_num_threads(2)
    return SaysoRecognizer.from_checkpoint(sayso_folder(name), calibration=UNCALIBRATED)


def sayso_folder(name: str) -> Path:
    """The folder of a Sayso model shipped with Sayso (``sayso-base``, ``sayso-base-v2``)."""
    from engine.registry.index import ModelRegistry

    return ModelRegistry().get(name).path


def scored_words(rec, sets) -> list[tuple[float, bool, str]]:
    """``(raw score, right, speaker)`` of every word the recognizer output."""
    out = []
    for rows in sets.values():
        for path, ref, speaker, vocab in rows:
            r = rec.transcribe(load_segment(*path), vocab, attention=False)
            hyp = " ".join(w.word for w in r.words)
            out += [(w.confidence, hit, speaker) for w, hit in zip(r.words, word_hits(ref, hyp))]
    return out


def write(name: str, table) -> Path:
    from engine.atomic import atomic_write

    if name.startswith("whisper"):
        path = CALIBRATIONS / f"{name}.json"
        with atomic_write(path) as fh:
            fh.write(json.dumps(table.to_json(), indent=1) + "\n")
        return path
    path = sayso_folder(name) / "config.json"
    config = json.loads(path.read_text())
    config["meta"]["calibration"] = table.to_json()
    with atomic_write(path) as fh:
        json.dump(config, fh, indent=2)
    return path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["sayso-base", "sayso-base-v2", "whisper-base", "whisper-tiny.en"])
    p.add_argument("--limit", type=int, default=80, help="utterances per set")
    p.add_argument("--write", action="store_true", help="store the fitted tables (see the module docstring)")
    args = p.parse_args()
    sets = evaluation_sets(args.limit)
    print(f"sets: {', '.join(f'{k} ({len(v)})' for k, v in sets.items())}; load {os.getloadavg()[0]:.1f}")
    for name in args.models:
        t0 = time.time()
        words = scored_words(load(name), sets)
        halves = [[(c, y) for c, y, s in words if fit_half(s) == h] for h in (True, False)]
        speakers = [sorted({s for _, _, s in words if fit_half(s) == h}) for h in (True, False)]
        print(f"\n{name}: {len(words)} words ({sum(y for _, y, _ in words)} right) of "
              f"{len(speakers[0]) + len(speakers[1])} held-out speakers; {time.time() - t0:.0f} s")
        raw_ece, cal_ece = 0.0, 0.0
        for k, (fit, check) in enumerate((halves, halves[::-1])):
            table = fit_calibration([c for c, _ in fit], [y for _, y in fit], "one half")
            raw = reliability([c for c, _ in check], [y for _, y in check])
            cal = reliability([table(c) for c, _ in check], [y for _, y in check])
            raw_ece += raw.ece * len(check) / len(words)
            cal_ece += cal.ece * len(check) / len(words)
            print(f"  fit on {len(fit)} words of {len(speakers[k])} speakers, checked on {len(check)} words of "
                  f"{len(speakers[1 - k])} others: ECE raw {100 * raw.ece:.1f} % → calibrated {100 * cal.ece:.1f} %")
        print(f"  cross-validated ECE (speaker-disjoint, 2 folds): raw {100 * raw_ece:.1f} % → "
              f"calibrated {100 * cal_ece:.1f} %")
        table = fit_calibration([c for c, _, _ in words], [y for _, y, _ in words],
                                f"{len(words)} words of {len(speakers[0]) + len(speakers[1])} held-out speakers "
                                f"(benchmarks/confidence.py --limit {args.limit})")
        table = type(table)(table.raw, table.confidence, table.fitted_on, table.words, round(cal_ece, 4))
        cal = reliability([table(c) for c, _, _ in words], [y for _, y, _ in words])
        print(f"  the shipped table, fitted on all of them: {len(table.raw)} breakpoints")
        print(f"  {'confidence':>12s} {'words':>6s} {'mean conf':>9s} {'share right':>11s}  (in-sample)")
        for lo, hi, n, mc, acc in cal.bins:
            print(f"  {lo:5.1f}–{hi:4.1f}  {n:6d} {mc:9.2f} {acc:11.2f}")
        if args.write:
            print(f"  wrote {write(name, table)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
