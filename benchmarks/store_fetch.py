"""Speed of the project store's lazy-table queries on 100k utterances.

Usage: python benchmarks/store_fetch.py [--rows 100000] [--page 100] [--repeat 5] [--keep DIR]

Builds a project (in a temporary folder unless --keep) whose utterances are
random stretches of the real sample clips in resources/samples, imported with
``Project.import_items`` in one transaction (speakers, splits, statuses,
tags); then scores every other row with a random confidence and mislabel
score (raw SQL, as a scoring job would). It then times, as the table view
calls them:

- ``count(filter)`` for no filter and each kind of filter;
- ``fetch(filter, order_by, offset, page)`` at the first, middle and last
  page for every sort key of ``ORDER_BY`` (ascending and descending), with
  and without filters and ``low_confidence_first``; "cold" times empty the
  store's cache of sorted ids first (the cost right after an edit), "warm"
  is the last page again (scrolling);
- a single edit (``update_utterance``), ``undo`` and ``redo``.

Each time is the median of --repeat runs, in milliseconds. The query plan of
each sort shows which index SQLite walks. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.data import query  # noqa: E402
from engine.data.store import ORDER_BY, Project, UtteranceFilter  # noqa: E402
from engine.data.utterance import Utterance  # noqa: E402
from engine.resources import SAMPLES  # noqa: E402

WORDS = "yes no up down left right go stop one two three seven hello world again later".split()


def ms(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def build(folder: Path, rows: int) -> Project:
    rng = random.Random(0)
    clips = sorted(SAMPLES.glob("*.wav"))
    project = Project.create(folder)
    durations = {c: project.add_recording(c).duration for c in clips}
    items = []
    for i in range(rows):
        clip = clips[i % len(clips)]
        start = round(rng.uniform(0, durations[clip] * 0.7), 3)
        end = round(rng.uniform(start + 0.05, durations[clip]), 3)
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))) if rng.random() < 0.8 else ""
        items.append(Utterance(clip, text, start, end, speaker=f"speaker{rng.randrange(40)}",
                                split=rng.choice(("train", "train", "train", "dev", "test", None)),
                                tags=("noisy",) if rng.random() < 0.05 else ()))
    t0 = time.perf_counter()
    report = project.import_items(items, "benchmark")
    print(f"import_items: {report.added} utterances in {time.perf_counter() - t0:.2f} s "
          f"({len(report.rejects)} rejected)")
    conn = project._db()
    conn.execute("BEGIN")
    conn.executemany("UPDATE utterances SET confidence = ?, mislabel_score = ?, status = ? WHERE id = ?",
                     [(rng.random(), rng.random(), rng.choice(("draft", "verified", "unlabeled")), i)
                      for i in range(1, rows + 1, 2)])
    conn.execute("COMMIT")
    return project


def plan(project: Project, f: UtteranceFilter | None, order_by: str, descending: bool) -> str:
    """How fetch gets a page: the index walk of LIMIT/OFFSET, or one sort of all matches (then cached)."""
    w, params = query.where(f)
    if query.walks_index(f, order_by, descending):
        how, sql = "page", f"SELECT u.id FROM utterances u {w} {query.order(f, order_by, descending)} LIMIT 100"
    else:
        how, sql = "sort+cache", f"SELECT u.id FROM utterances u {w} {query.order(f, order_by, descending, True)}"
    steps = [r[3] for r in project._db().execute("EXPLAIN QUERY PLAN " + sql, params)]
    return f"{how}: " + "; ".join(s for s in steps if not s.startswith(("SCALAR", "SEARCH speakers")))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--page", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--keep", type=Path, help="build the project here and keep it")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp) / "bench"
        project = Project.open(folder) if (folder / "project.sqlite").exists() else build(folder, args.rows)
        n = project.count()
        print(f"{n} utterances, page of {args.page}, median of {args.repeat} runs\n")
        filters = {
            "none": None,
            "status=verified": UtteranceFilter(status="verified"),
            "speaker=speaker7": UtteranceFilter(speaker="speaker7"),
            "split=dev": UtteranceFilter(split="dev"),
            "tag=noisy": UtteranceFilter(tag="noisy"),
            "text='hello wor'": UtteranceFilter(text="hello wor"),
            "text='HÉLLO' (unicode)": UtteranceFilter(text="HÉLLO"),
            "low_confidence_first": UtteranceFilter(low_confidence_first=True),
        }
        print(f"{'count(filter)':<28}{'rows':>8}{'ms':>9}")
        for name, f in filters.items():
            t, c = ms(lambda: project.count(f), args.repeat)
            print(f"{name:<28}{c:>8}{t:>9.2f}")

        print("\nfetch (ms): 'cold' clears the store's sorted-id cache before each run, 'warm' does not")
        print(f"{'order_by':<20}{'filter':<24}{'first':>8}{'middle':>8}{'last':>8}{'warm':>8}   how")
        worst = 0.0
        for order_by in ORDER_BY:
            for descending in (False, True):
                for fname in ("none", "status=verified", "text='hello wor'", "low_confidence_first"):
                    f = filters[fname]
                    total = project.count(f)
                    cells = []
                    for offset in (0, max(0, total // 2), max(0, total - args.page)):
                        def cold():
                            project._id_cache.clear()
                            return project.fetch(f, order_by, offset, args.page, descending)
                        t, rows = ms(cold, args.repeat)
                        assert len(rows) == min(args.page, total - offset)
                        cells.append(t)
                        worst = max(worst, t)
                    t, _ = ms(lambda: project.fetch(f, order_by, offset, args.page, descending), args.repeat)
                    cells.append(t)
                    label = order_by + (" desc" if descending else "")
                    print(f"{label:<20}{fname:<24}" + "".join(f"{c:>8.2f}" for c in cells)
                          + "   " + plan(project, f, order_by, descending))
        print(f"\nslowest cold page: {worst:.2f} ms")

        uid = n // 2
        t_edit, _ = ms(lambda: project.update_utterance(uid, transcript=f"edit {time.time()}"), args.repeat)
        t_undo, _ = ms(project.undo, args.repeat)
        t_redo, _ = ms(project.redo, args.repeat)
        print(f"update_utterance {t_edit:.2f} ms, undo {t_undo:.2f} ms, redo {t_redo:.2f} ms "
              "(each one fsync-ed transaction)")
        project.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
