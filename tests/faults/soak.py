"""The soak: SIGKILL every durable writer at random moments for N minutes, checking after each kill.

``python -m tests.faults.soak --minutes 10 [--seed 1] [--work DIR]`` (``make soak``) loops over the
writers of :mod:`tests.faults.writers` (import, edits, training, registry, takes), killing one at a
time, and ends with one clean start of each (training: resume and remove the temp folders). It
prints a table the README quotes, then exits 1 if anything was lost, broken or left behind::

    fault-injection soak: 10.0 min, seed 1, load 2.1 1.9 1.7
    writer     kills  facts checked  data lost  integrity failures  orphans
    import        71          1,234          0                   0        0
    ...
    total        412         20,345          0                   0        0

``facts checked``: committed facts verified after the kills (imports, edits, saved checkpoints,
registered models, takes); ``data lost``: facts reported committed and missing afterwards.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults.harness import WriterError
from tests.faults.writers import WRITERS, Outcome, Writer, remove


@dataclass
class Tally:
    kills: int = 0
    facts: int = 0
    lost: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    orphans: set[str] = field(default_factory=set)

    def add(self, out: Outcome) -> None:
        self.kills += out.killed
        self.facts += out.facts
        self.lost += out.lost
        self.failures += out.failures
        self.orphans |= set(out.orphans)


def soak(work: Path, seed: int, seconds: float = 0.0, kills: int = 0, names: tuple[str, ...] = (),
         log=print) -> dict[str, Tally]:
    """Kill the writers in turn until ``seconds`` have passed (or each was killed ``kills`` times),
    then give each a clean start. Returns a :class:`Tally` per writer name."""
    rng = random.Random(seed)
    writers: list[Writer] = [w(work / w.name) for w in WRITERS if not names or w.name in names]
    tallies = {w.name: Tally() for w in writers}
    t_end = time.monotonic() + seconds
    rounds = 0
    while (kills and rounds < kills) or (seconds and time.monotonic() < t_end):
        for w in writers:
            try:
                out = w.kill_once(rng)
            except WriterError as exc:
                out = Outcome(failures=[f"the writer failed by itself: {exc}"])
            new_orphans = sorted(set(out.orphans) - tallies[w.name].orphans)
            tallies[w.name].add(out)
            if out.lost or out.failures or new_orphans:
                log(f"{w.name} run {w.runs}: lost {out.lost} failures {out.failures} new orphans {new_orphans}")
            if seconds and time.monotonic() >= t_end:
                break
        rounds += 1
    for w in writers:
        try:
            tallies[w.name].add(w.finish())
        except WriterError as exc:
            tallies[w.name].failures.append(f"the last clean start failed: {exc}")
    return tallies


def table(tallies: dict[str, Tally], minutes: float, seed: int) -> str:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    rows = [f"fault-injection soak: {minutes:.1f} min, seed {seed}, load {load}",
            f"{'writer':<10} {'kills':>6} {'facts checked':>14} {'data lost':>10} {'integrity failures':>19} "
            f"{'orphans':>8}"]
    total = Tally()
    for name, t in tallies.items():
        rows.append(f"{name:<10} {t.kills:>6,} {t.facts:>14,} {len(t.lost):>10,} {len(t.failures):>19,} "
                    f"{len(t.orphans):>8,}")
        total.kills += t.kills
        total.facts += t.facts
        total.lost += t.lost
        total.failures += t.failures
        total.orphans |= {f"{name}:{o}" for o in t.orphans}
    rows.append(f"{'total':<10} {total.kills:>6,} {total.facts:>14,} {len(total.lost):>10,} "
                f"{len(total.failures):>19,} {len(total.orphans):>8,}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, help="work folder (default: a temporary one, removed at the end)")
    ap.add_argument("--only", nargs="*", default=(), help="writer names (default: all)")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="sayso-soak-"))
    t0 = time.monotonic()
    try:
        tallies = soak(work, args.seed, seconds=args.minutes * 60, names=tuple(args.only))
    finally:
        if args.work is None:
            remove(work)
    print(table(tallies, (time.monotonic() - t0) / 60, args.seed))
    bad = [(n, t) for n, t in tallies.items() if t.lost or t.failures or t.orphans]
    for name, t in bad:
        for what in t.lost[:5] + t.failures[:5] + sorted(t.orphans)[:5]:
            print(f"  {name}: {what}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
