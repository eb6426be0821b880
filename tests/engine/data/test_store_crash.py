"""A real crash: a process importing many rows into a project is killed with
SIGKILL mid-transaction; the project must pass ``PRAGMA integrity_check`` and
hold either all of that import or none of it (here: none, as it was cut short)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from engine.data.store import Project, UtteranceFilter
from engine.data.utterance import Utterance
from tests.engine.data.store_helpers import DIGIT, NO, YES
from tests.helpers import ROOT

ROWS = 150_000
KILL_AFTER = 20_000

IMPORT_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from engine.data.utterance import Utterance
    from engine.data.store import Project
    folder, clip, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    project = Project.open(folder)
    items = [Utterance(clip, f"bulk {i}", (i % 90) / 100, (i % 90) / 100 + 0.05,
                        speaker=f"speaker {i % 50}", split="train", tags=("bulk",)) for i in range(n)]
    def progress(done, total):
        if done % 1000 == 0:
            print(done, flush=True)
    project.import_items(items, "bulk.jsonl", progress=progress)
    print("committed", flush=True)
    project.close()
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_9_mid_import_leaves_an_intact_project_without_the_import(tmp_path):
    folder = tmp_path / "p"
    with Project.create(folder) as project:
        report = project.import_items([Utterance(YES, "yes"), Utterance(DIGIT, "seven")], "first.txt")
        assert report.added == 2
        uid = project.add_utterance(project.recordings()[0].id, 0.0, 0.5, "edited before the crash")
        before = [r for r in project.fetch(limit=100)]

    proc = subprocess.Popen([sys.executable, "-c", IMPORT_SCRIPT, str(folder), str(NO), str(ROWS)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = 0
    try:
        deadline = time.monotonic() + 300
        while done < KILL_AFTER:
            line = proc.stdout.readline()
            assert line, f"the import process ended early: {proc.stderr.read()}"
            assert line.strip() != "committed", "the import finished before it could be killed"
            done = int(line)
            assert time.monotonic() < deadline, "the import is too slow"
        wal = folder / "project.sqlite-wal"
        wal_bytes = wal.stat().st_size if wal.exists() else 0
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert KILL_AFTER <= done < ROWS
    # the uncommitted import had already spilled pages into the WAL: the crash really was mid-write
    assert wal_bytes > 1_000_000

    with Project.open(folder) as project:
        conn = project._db()
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # all or nothing: the cut-short import left no row at all
        assert project.count(UtteranceFilter(tag="bulk")) == 0
        assert project.count(UtteranceFilter(text="bulk")) == 0
        assert conn.execute("SELECT count(*) FROM speakers").fetchone()[0] == 0
        assert [r.path for r in project.recordings()] == ["audio/sc_yes_03401e93.wav", "audio/fsdd_7_nicolas_0.wav"]
        # what was committed before is intact, undo history included
        assert project.fetch(limit=100) == before
        assert project.undo() == f"add utterance {uid}"
        # the audio the killed import had copied is the only trace, and is reported as unused
        assert [p.name for p in project.unreferenced_audio()] == [NO.name]
        # and the project keeps working
        assert project.import_items([Utterance(NO, "no")], "again.txt").added == 1
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
