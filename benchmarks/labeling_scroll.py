"""How the labeling view scrolls a 100k-utterance project (offscreen).

Usage: python benchmarks/labeling_scroll.py [--rows 100000] [--pages 50] [--project DIR]

Builds a project of ``--rows`` utterances of the real sample clips (one
``Project.import_items`` transaction; or opens ``--project DIR`` if it holds
one, and keeps a new one there otherwise), opens
:class:`app.labeling.view.LabelingView` on it with the offscreen Qt platform,
and prints, in milliseconds:

- opening the view (count, first page, first paint, the editor loading the
  first utterance's audio);
- jumping to the end: the scroll bar to the bottom and a repaint, and
  Ctrl+End in the table (selects the last utterance: editor included);
- paging: ``--pages`` PageDown presses from the middle of the table, each
  repainted (median and worst), and the model's page fetch alone at random
  offsets (median and worst), in id order, sorted by transcript (the first
  such page sorts all ids once; the store then keeps them), and with a text
  filter;
- how many page queries the whole run made and how many rows are in memory.

Settings go to a temporary folder (never the user's). Nothing is asserted.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.resources import SAMPLES  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

WORDS = "yes no up down left right go stop one two three seven hello world again later".split()


def build(folder: Path, rows: int):
    from engine.data.store import Project
    from engine.data.utterance import Utterance

    rng = random.Random(0)
    clips = sorted(SAMPLES.glob("sc_*.wav"))  # 1 s each
    project = Project.create(folder)
    items = []
    for i in range(rows):
        start = round(rng.uniform(0.0, 0.5), 3)
        end = round(rng.uniform(start + 0.1, 1.0), 3)
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))) if rng.random() < 0.7 else ""
        items.append(Utterance(clips[i % len(clips)], text, start, end, speaker=f"speaker{rng.randrange(20)}",
                                split=rng.choice(("train", "train", "dev", "test", None))))
    t0 = time.perf_counter()
    report = project.import_items(items, "benchmark")
    print(f"built: {report.added} utterances in {time.perf_counter() - t0:.1f} s")
    return project


def ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def page_fetch_times(model, pages: int, rng: random.Random) -> list[float]:
    times = []
    last = max(0, (model.rowCount() - 1) // model.page_size)
    for _ in range(pages):
        model._pages.clear()
        row = rng.randint(0, last) * model.page_size
        t0 = time.perf_counter()
        model.utterance(row)
        times.append(ms(t0))
    return times


def summary(times: list[float]) -> str:
    return f"median {statistics.median(times):7.2f} ms, worst {max(times):7.2f} ms (n={len(times)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--project", type=Path, default=None, help="reuse (or keep) the project here")
    args = parser.parse_args()

    settings_dir = tempfile.mkdtemp(prefix="sayso-bench-settings-")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
    app = QApplication.instance() or QApplication(sys.argv)

    from app.labeling.table_model import Column
    from app.labeling.view import LabelingView
    from app.playback.controller import PlaybackController
    from app.settings import StudioSettings
    from engine.data.query import UtteranceFilter
    from engine.data.store import PROJECT_FILE, Project

    tmp = None
    if args.project is not None and (args.project / PROJECT_FILE).exists():
        project = Project.open(args.project)
        print(f"opened {args.project}: {project.count()} utterances")
    else:
        if args.project is None:
            tmp = tempfile.TemporaryDirectory(prefix="sayso-bench-")
            folder = Path(tmp.name) / "project"
        else:
            folder = args.project
        project = build(folder, args.rows)

    t0 = time.perf_counter()
    view = LabelingView(project, PlaybackController(), StudioSettings())
    view.resize(1280, 860)
    view.show()
    app.processEvents()
    view.grab()
    print(f"open the view (count, first page, audio, first paint): {ms(t0):8.1f} ms")
    model, table = view.model, view.table
    rows = model.rowCount()

    t0 = time.perf_counter()
    table.scrollToBottom()
    table.grab()
    bottom = table.rowAt(table.viewport().height() - 2)
    print(f"scroll bar to the end + repaint:                      {ms(t0):8.1f} ms (last row shown: {bottom + 1:,} "
          f"of {rows:,})")

    table.setFocus()
    t0 = time.perf_counter()
    QTest.keyClick(table, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    table.grab()
    current = view.current.id if view.current is not None else None
    print(f"Ctrl+End (select the last utterance, editor loads):   {ms(t0):8.1f} ms (utterance {current})")

    view.select_row(rows // 2)
    table.setFocus()
    page_times = []
    for _ in range(args.pages):
        t0 = time.perf_counter()
        QTest.keyClick(table, Qt.Key.Key_PageDown)
        table.grab()
        page_times.append(ms(t0))
    print(f"PageDown + repaint (editor follows):  {summary(page_times)}")

    rng = random.Random(1)
    print(f"page fetch, id order:                 {summary(page_fetch_times(model, args.pages, rng))}")
    view.sort_by(int(Column.TRANSCRIPT), Qt.SortOrder.DescendingOrder)
    print(f"page fetch, by transcript (desc):     {summary(page_fetch_times(model, args.pages, rng))}")
    view.sort_by(int(Column.ID))
    view.set_filter(UtteranceFilter(text="hello"))
    print(f"page fetch, text filter ({model.rowCount():,} rows): {summary(page_fetch_times(model, args.pages, rng))}")
    t0 = time.perf_counter()
    view.set_filter(UtteranceFilter(text="hello", low_confidence_first=True))
    view.set_filter(None)
    print(f"filter on + off (recount, reselect):  {ms(t0):8.1f} ms")
    print(f"page queries in all: {model.pages_fetched}; rows in memory now: {model.cached_rows():,} "
          f"(page size {model.page_size}, at most {model.max_pages} pages)")

    view.close()
    project.close()
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
