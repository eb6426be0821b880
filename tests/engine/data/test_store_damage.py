"""The store checks itself: a damaged file is refused on open, "Check project" lists
the damage and the rescue copies what is readable; read-only projects; a 0-byte
file; the undo history shared by every process editing one project."""
from __future__ import annotations

import hashlib
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.data.manifest import ManifestError, read_manifest
from engine.data.rescue import rescue
from engine.data.store import PROJECT_FILE, Project, ProjectError, Utterance
from tests.engine.data.store_helpers import DIGIT, YES, new_project, state
from tests.helpers import ROOT

N_UTTERANCES = 3000


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and "Traceback" not in msg and "sqlite3." not in msg, msg
    return msg


def make_project(folder: Path) -> list[tuple]:
    """A closed, checkpointed project with many utterances (so the file has many pages); returns its rows."""
    project, (yes, no) = new_project(folder)
    spans = [(i * 0.0003, i * 0.0003 + 0.05) for i in range(N_UTTERANCES)]
    labels = [(f"utterance number {i} says something long enough to fill pages", 0.5) for i in range(N_UTTERANCES)]
    project.add_segments(yes, spans, speaker="ann", labels=labels)
    project.add_utterance(no, 0.1, 0.9, "no", status="verified", speaker="bob", split="test", tags=["clean"])
    rows = state(project)
    project.close()
    conn = sqlite3.connect(folder / PROJECT_FILE)
    assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    conn.close()
    return rows


def damage(db: Path, offset: int | None = None, seed: int = 14) -> None:
    """4 KB of random bytes written at ``offset``, by default in the middle of the file (as the
    probe of issue 14 did: it hits an index page here, so every row can still be read)."""
    size = db.stat().st_size
    assert size > 100 * 4096
    with open(db, "r+b") as fh:
        fh.seek(size // 2 if offset is None else offset)
        fh.write(random.Random(seed).randbytes(4096))


def utterance_leaf(db: Path) -> int:
    """The byte offset of a leaf page of the utterances table in the middle of the id range."""
    conn = sqlite3.connect(db)
    page_size, root = conn.execute("PRAGMA page_size").fetchone()[0], conn.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'utterances'").fetchone()[0]
    conn.close()
    data = db.read_bytes()
    page = data[(root - 1) * page_size:root * page_size]
    assert page[0] == 0x05  # an interior table page: its cells start with a child page number
    cells = int.from_bytes(page[3:5], "big")
    pointer = int.from_bytes(page[12 + 2 * (cells // 2):14 + 2 * (cells // 2)], "big")
    child = int.from_bytes(page[pointer:pointer + 4], "big")
    assert data[(child - 1) * page_size] == 0x0D  # a leaf table page
    return (child - 1) * page_size


@pytest.mark.parametrize("where", ["middle of the file", "a page of utterances"])
def test_a_damaged_project_is_refused_checked_and_rescued(tmp_path, where):
    src = tmp_path / "damaged"
    rows = make_project(src)
    damage(src / PROJECT_FILE, None if where == "middle of the file" else utterance_leaf(src / PROJECT_FILE))
    before = hashlib.sha256((src / PROJECT_FILE).read_bytes()).hexdigest()

    with pytest.raises(ProjectError) as exc:
        Project.open(src)
    msg = one_line(exc)
    assert "is damaged" in msg and "Check project" in msg and "new project" in msg

    with Project.open(src, check=False, read_only=True) as project:
        problems = project.check()
    assert problems and all(p and "\n" not in p for p in problems)

    report = rescue(src, tmp_path / "rescued")
    assert hashlib.sha256((src / PROJECT_FILE).read_bytes()).hexdigest() == before  # the source is untouched
    with Project.open(tmp_path / "rescued") as rescued:  # passes quick_check
        assert rescued.check() == []
        got = state(rescued)
        assert len(rescued.recordings()) == report.recordings == 2
    assert report.utterances == len(got) >= 0.9 * len(rows)
    by_id = {r[0]: r for r in rows}
    assert all(r == by_id[r[0]] for r in got)  # every rescued row is exactly the original
    if where == "a page of utterances":  # the rows of that page are lost, all others rescued
        assert len(rows) - 100 < len(got) < len(rows)
        assert len(report.lost) == 1 and report.lost[0].startswith("utterances with ids ")
        assert "could not be read" in report.lost[0]
    else:
        assert len(got) == len(rows) and report.lost == []
    # the rescued project is a normal, writable project
    with Project.open(tmp_path / "rescued") as rescued:
        assert rescued.update_utterance(got[-1][0], transcript="fixed").text == "fixed"
        assert rescued.undo() is not None


def test_an_undamaged_project_is_rescued_whole(tmp_path):
    rows = make_project(tmp_path / "p")
    with Project.open(tmp_path / "p") as project:
        assert project.check() == []
    report = rescue(tmp_path / "p", tmp_path / "copy")
    assert (report.recordings, report.utterances, report.lost) == (2, len(rows), [])
    with Project.open(tmp_path / "copy") as copy:
        assert state(copy) == rows


def test_a_zero_byte_project_file_is_refused_not_made_new(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / PROJECT_FILE).touch()
    with pytest.raises(ProjectError) as exc:
        Project.open(folder)
    assert "empty (0 bytes)" in one_line(exc)
    assert (folder / PROJECT_FILE).stat().st_size == 0  # nothing was written into it


# ------------------------------------------------------------------ read-only


def every_write(project: Project, uid: int, rec: int) -> dict:
    return {
        "add_speaker": lambda: project.add_speaker("carl"),
        "add_recording": lambda: project.add_recording(DIGIT),
        "add_utterance": lambda: project.add_utterance(rec, 0.0, 0.5),
        "add_segments": lambda: project.add_segments(rec, [(0.0, 0.5)]),
        "update_utterance": lambda: project.update_utterance(uid, transcript="x"),
        "split_utterance": lambda: project.split_utterance(uid, 0.5),
        "merge_with_next": lambda: project.merge_with_next(uid),
        "delete_utterance": lambda: project.delete_utterance(uid),
        "undo": project.undo,
        "redo": project.redo,
        "apply_model_labels": lambda: project.apply_model_labels([(uid, "y", 0.5)]),
        "set_mislabel_scores": lambda: project.set_mislabel_scores([(uid, 0.5)]),
        "set_word_timings": lambda: project.set_word_timings(uid, [], ""),
        "import_items": lambda: project.import_items([Utterance(YES, "yes")], "list"),
    }


def test_a_project_opened_read_only_reads_and_refuses_every_write(tmp_path):
    folder = tmp_path / "p"
    project, (yes, _) = new_project(folder)
    uid = project.add_utterance(yes, 0.1, 0.9, "yes", speaker="ann", tags=["t"])
    project.add_utterance(yes, 0.9, 1.0, "more")
    rows = state(project)
    project.close()
    assert not list(folder.glob(PROJECT_FILE + "-*"))  # a clean close removes -wal and -shm
    digest = hashlib.sha256((folder / PROJECT_FILE).read_bytes()).hexdigest()

    with Project.open(folder, read_only=True) as ro:
        assert ro.read_only
        assert state(ro) == rows and ro.count() == 2 and ro.speakers() == ["ann"]
        assert len(ro.recordings()) == 2 and ro.check() == [] and ro.can_undo
        for name, write in every_write(ro, uid, yes).items():
            with pytest.raises(ProjectError) as exc:
                write()
            assert "the project is read-only" in one_line(exc), name
        assert state(ro) == rows
        assert len(list(ro.audio_dir.iterdir())) == 2  # the two clips, nothing added
    assert hashlib.sha256((folder / PROJECT_FILE).read_bytes()).hexdigest() == digest
    with Project.open(folder) as rw:
        assert not rw.read_only


def test_a_read_only_project_in_an_older_format_says_it_cannot_be_upgraded(tmp_path):
    from tests.engine.data.test_schema import make_v1

    make_v1(tmp_path / "old")
    with pytest.raises(ProjectError) as exc:
        Project.open(tmp_path / "old", read_only=True)
    assert "read-only" in one_line(exc) and "older project format (1)" in str(exc.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions, so chmod a-w cannot make "
                    "the project read-only for it; see the setpriv test below and the read_only=True test")
def test_a_write_protected_project_opens_read_only(tmp_path):
    folder = tmp_path / "p"
    project, (yes, _) = new_project(folder)
    project.add_utterance(yes, 0.1, 0.9, "yes")
    rows = state(project)
    project.close()
    os.chmod(folder / PROJECT_FILE, 0o444)
    os.chmod(folder, 0o555)
    try:
        with Project.open(folder) as ro:
            assert ro.read_only and state(ro) == rows
            with pytest.raises(ProjectError, match="the project is read-only"):
                ro.update_utterance(rows[0][0], transcript="x")
    finally:
        os.chmod(folder, 0o755)


def test_a_write_protected_project_file_is_read_by_another_user(tmp_path):
    """A read-only folder after a clean close has no -shm file and cannot get one:
    ``mode=ro`` fails there and the ``immutable`` fallback reads it. Run as an
    unprivileged user (``nobody``) so the permissions bite even when the tests run as root.
    """
    if os.geteuid() != 0:
        pytest.skip("needs root to run a child process as nobody (the test above covers non-root)")
    setpriv, python = shutil.which("setpriv"), "/usr/bin/python3"
    if setpriv is None or not os.path.exists(python):
        pytest.skip("needs setpriv and a system python3 that user nobody can run")
    base = Path(os.environ.get("TMPDIR", "/tmp")) / f"sayso-ro-{os.getpid()}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(mode=0o755)
    os.chmod(base, 0o755)
    try:
        folder = base / "p"
        project, (yes,) = new_project(folder, clips=(YES,))
        project.add_utterance(yes, 0.1, 0.9, "yes")
        project.close()
        assert not list(folder.glob(PROJECT_FILE + "-*"))
        os.chmod(folder / PROJECT_FILE, 0o444)
        os.chmod(folder, 0o555)
        code = textwrap.dedent(f"""
            import sqlite3, sys
            sys.path.insert(0, {str(ROOT)!r})
            from engine.data.schema import connect
            try:
                sqlite3.connect("file:{folder / PROJECT_FILE}?mode=ro", uri=True).execute(
                    "SELECT count(*) FROM sqlite_master")
                print("mode=ro worked")
            except sqlite3.Error as exc:
                print("mode=ro failed:", exc)
            conn = connect({str(folder / PROJECT_FILE)!r}, read_only=True)
            print(conn.execute("SELECT transcript FROM utterances").fetchall())
            try:
                conn.execute("UPDATE utterances SET transcript = 'x'")
            except sqlite3.Error as exc:
                print("write refused:", exc)
        """)
        out = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c", code],
                             capture_output=True, text=True, cwd="/")
        if "Permission denied" in out.stderr or "No module named" in out.stderr:
            pytest.skip(f"user nobody cannot run the engine's schema module here: {out.stderr.strip()[-200:]}")
        assert out.returncode == 0, out.stderr
        assert "mode=ro failed" in out.stdout  # the case the fallback exists for
        assert "[('yes',)]" in out.stdout and "write refused" in out.stdout
        assert not list(folder.glob(PROJECT_FILE + "-*"))
    finally:
        for p in (base / "p", base):
            if p.exists():
                os.chmod(p, 0o755)
        shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------ one shared undo history


def test_undo_is_shared_by_every_process_editing_the_project(tmp_path):
    """Documented in engine.data.store: the history lives in the file, so an undo in one
    process reverts the newest edit, also one made by another process."""
    project, (yes, _) = new_project(tmp_path / "p")
    uid = project.add_utterance(yes, 0.1, 0.9, "first")
    project.close()
    code = ("import sys; from engine.data.store import Project; "
            f"p = Project.open(sys.argv[1]); p.update_utterance({uid}, transcript='other process'); p.close()")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "p")], cwd=ROOT, check=True)
    with Project.open(tmp_path / "p") as here:
        assert here.utterance(uid).text == "other process"
        assert here.undo() == f"edit transcript of utterance {uid}"  # the other process's edit
        assert here.utterance(uid).text == "first"
        assert here.redo() == f"edit transcript of utterance {uid}"
        assert here.utterance(uid).text == "other process"


# ------------------------------------------------------------------ manifests


def test_a_manifest_text_that_is_not_a_string_is_rejected_with_a_reason(tmp_path):
    from engine.data.formats import nemo

    shutil.copy(YES, tmp_path / "yes.wav")
    path = tmp_path / "m.json"
    path.write_text('{"audio_filepath": "yes.wav", "text": 123, "duration": 1.0}\n'
                    '{"audio_filepath": "yes.wav", "text": "yes", "duration": 1.0, "speaker": 7}\n')
    items, rejects = nemo.read(path)
    assert [i.text for i in items] == ["yes"] and items[0].speaker == "7"  # numeric speaker ids stay fine
    assert len(rejects) == 1 and "'text' must be a string, got int" in str(rejects[0])
    with pytest.raises(ManifestError, match="line 1: 'text' must be a string, got int"):
        read_manifest(path)
