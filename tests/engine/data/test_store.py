"""The project store on real SQLite files and real audio: recordings, utterance
edits, constraint errors, split/merge, and the table view's queries."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys

import pytest

from engine.data.recordings import sha256_file
from engine.data.store import ORDER_BY, Project, ProjectError, UtteranceFilter
from tests.engine.data.store_helpers import CLIPS, DIGIT, NO, YES, new_project, state
from tests.helpers import ROOT


def test_the_store_imports_no_qt():
    code = ("import sys, engine.data.store, engine.data.records; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'app')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ recordings


def test_add_recording_copies_atomically_with_a_checksum(tmp_path):
    project = Project.create(tmp_path / "p")
    rec = project.add_recording(DIGIT)
    assert rec.path == "audio/fsdd_7_nicolas_0.wav"
    assert rec.file == (tmp_path / "p" / "audio" / DIGIT.name).absolute()
    assert rec.file.read_bytes() == DIGIT.read_bytes()
    assert (rec.sample_rate, rec.channels) == (8000, 1)
    assert rec.duration == pytest.approx(0.372375)
    assert rec.sha256 == sha256_file(DIGIT) and len(rec.sha256) == 64
    assert not [p for p in project.audio_dir.iterdir() if p.name.startswith(".")]  # no temp left
    # the same bytes again: the same recording, no second copy
    assert project.add_recording(DIGIT) == rec
    assert len(list(project.audio_dir.iterdir())) == 1
    assert project.recordings() == [rec]


def test_same_name_different_audio_gets_a_free_name(tmp_path):
    project = Project.create(tmp_path / "p")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(YES, tmp_path / "a" / "take.wav")
    shutil.copy(NO, tmp_path / "b" / "take.wav")
    r1 = project.add_recording(tmp_path / "a" / "take.wav")
    r2 = project.add_recording(tmp_path / "b" / "take.wav")
    assert (r1.path, r2.path) == ("audio/take.wav", "audio/take-2.wav")
    assert r2.file.read_bytes() == NO.read_bytes()


def test_files_inside_the_project_are_referenced_in_place(tmp_path):
    project = Project.create(tmp_path / "p")
    inside = tmp_path / "p" / "raw" / "yes.wav"
    inside.parent.mkdir()
    shutil.copy(YES, inside)
    rec = project.add_recording(inside)
    assert rec.path == "raw/yes.wav"
    assert list(project.audio_dir.iterdir()) == []
    assert project.add_recording(inside).id == rec.id
    # copy=False outside the project: referenced by absolute path
    outside = project.add_recording(NO, copy=False)
    assert outside.path == str(NO.absolute()) and outside.file == NO.absolute()
    assert list(project.audio_dir.iterdir()) == []
    # the project folder can be moved: relative paths follow it
    project.close()
    shutil.move(tmp_path / "p", tmp_path / "moved")
    with Project.open(tmp_path / "moved") as moved:
        assert moved.recording(rec.id).file == (tmp_path / "moved" / "raw" / "yes.wav").absolute()
        assert moved.recording(rec.id).file.is_file()


def test_unreadable_audio_raises_the_audio_error_message(tmp_path):
    project = Project.create(tmp_path / "p")
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    with pytest.raises(ProjectError, match=r"notes.wav: not a readable audio file .*WAV, FLAC and OGG"):
        project.add_recording(bad)
    with pytest.raises(ProjectError, match="no such file"):
        project.add_recording(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    import numpy as np
    import soundfile as sf
    sf.write(empty, np.zeros(0, np.float32), 16000)
    with pytest.raises(ProjectError, match="holds no audio"):
        project.add_recording(empty)
    assert project.recordings() == [] and list(project.audio_dir.iterdir()) == []


def test_a_copy_that_fails_leaves_nothing(tmp_path, monkeypatch):
    import errno

    from engine.data import recordings

    project = Project.create(tmp_path / "p")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(recordings, "_link_free_name", full)
    with pytest.raises(ProjectError, match="could not be copied into the project .*disk is full"):
        project.add_recording(YES)
    assert project.recordings() == [] and list(project.audio_dir.iterdir()) == []


def test_unreferenced_audio_lists_strays(tmp_path):
    project, _ = new_project(tmp_path / "p")
    stray = project.audio_dir / "stray.wav"
    shutil.copy(DIGIT, stray)
    assert project.unreferenced_audio() == [stray.absolute()]


# ------------------------------------------------------------------ speakers and utterances


def test_add_speaker_is_idempotent(tmp_path):
    project = Project.create(tmp_path / "p")
    a = project.add_speaker("Ann")
    assert project.add_speaker(" Ann ") == a
    assert project.add_speaker("Bob") != a
    assert project.speakers() == ["Ann", "Bob"]
    with pytest.raises(ProjectError, match="speaker name cannot be empty"):
        project.add_speaker("  ")


def test_add_update_delete_an_utterance(tmp_path):
    project, (yes, _) = new_project(tmp_path / "p")
    uid = project.add_utterance(yes, 0.1, 0.9, "yes", status="draft", speaker="ann", split="train",
                                tags=["clean", " clean", "studio"])
    row = project.utterance(uid)
    assert (row.recording_id, row.start, row.end, row.text, row.status, row.speaker, row.split,
            row.tags, row.confidence, row.mislabel_score) == \
        (yes, 0.1, 0.9, "yes", "draft", "ann", "train", ("clean", "studio"), None, None)
    assert row.duration == pytest.approx(0.8)
    new = project.update_utterance(uid, transcript="Yes.", status="verified", speaker="bob", split=None,
                                   tags=("x",), confidence=0.75, mislabel_score=0.1)
    assert (new.text, new.status, new.speaker, new.split, new.tags, new.confidence,
            new.mislabel_score) == ("Yes.", "verified", "bob", None, ("x",), 0.75, 0.1)
    assert new.updated >= row.updated
    assert project.update_utterance(uid, speaker=None).speaker is None
    # ends up to END_TOLERANCE after the recording are clamped to it
    assert project.update_utterance(uid, end=1.03).end == 1.0
    project.delete_utterance(uid)
    with pytest.raises(ProjectError, match=f"no utterance {uid}"):
        project.utterance(uid)
    with pytest.raises(ProjectError, match=f"Cannot edit utterance {uid}: it is not in this project"):
        project.update_utterance(uid, transcript="x")
    with pytest.raises(ProjectError, match=f"utterance {uid} is not in this project"):
        project.delete_utterance(uid)
    with pytest.raises(TypeError, match="unknown field"):
        project.update_utterance(uid, colour="red")


@pytest.mark.parametrize("fields, message", [
    ({"start": -0.5}, r"must start at 0 s or later and end after it starts \(got start -0.5\)"),
    ({"start": 0.95}, r"must start at 0 s or later and end after it starts"),
    ({"end": 0.2}, r"end after it starts \(got end 0.2\)"),
    ({"status": "done"}, r"status must be unlabeled, draft or verified \(got status 'done'\)"),
    ({"status": None}, r"status cannot be empty"),
    ({"split": "validation"}, r"split must be train, dev, test or none \(got split 'validation'\)"),
    ({"confidence": 1.5}, r"confidence must be between 0 and 1"),
    ({"confidence": -0.1}, r"confidence must be between 0 and 1"),
    ({"tags": ["ok", " "]}, r"a tag cannot be empty"),
    ({"end": 3.0}, r"it would end at 3.00 s, after the end of its recording \(1.00 s\)"),
    ({"start": "soon"}, r"the start must be a number of seconds, not 'soon'"),
    ({"end": float("nan")}, r"the end must be a finite number of seconds"),
])
def test_rule_violations_are_project_errors_and_change_nothing(tmp_path, fields, message):
    project, (yes, _) = new_project(tmp_path / "p")
    uid = project.add_utterance(yes, 0.25, 0.5, "yes", tags=["a"])
    before = state(project)
    with pytest.raises(ProjectError, match=f"^Cannot edit utterance {uid}: .*{message}"):
        project.update_utterance(uid, **fields)
    assert state(project) == before
    assert project.undo() == f"add utterance {uid}"  # the failed edit left no history entry
    assert not project.can_undo


def test_add_utterance_errors(tmp_path):
    project, (yes, _) = new_project(tmp_path / "p")
    with pytest.raises(ProjectError, match="^Cannot add an utterance to recording 99: there is no recording 99"):
        project.add_utterance(99, 0.0, 0.5)
    with pytest.raises(ProjectError, match=r"end after it starts \(got start 0.5, end 0.5\)"):
        project.add_utterance(yes, 0.5, 0.5)
    with pytest.raises(ProjectError, match="status must be"):
        project.add_utterance(yes, 0.0, 0.5, status="finished")
    with pytest.raises(ProjectError, match="split must be"):
        project.add_utterance(yes, 0.0, 0.5, split="holdout")
    assert project.count() == 0 and not project.can_undo


def test_the_database_itself_enforces_keys_and_checks(tmp_path):
    """The rules hold for any writer of the file, not only through Project."""
    project, (yes, no) = new_project(tmp_path / "p")
    a = project.add_utterance(yes, 0.0, 0.5, tags=["t"])
    b = project.add_utterance(no, 0.0, 0.5, speaker="ann")
    conn = project._db()
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute("INSERT INTO utterances (recording_id, start, \"end\", updated) VALUES (99, 0, 1, 0)")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute("UPDATE utterances SET speaker_id = 99 WHERE id = ?", (a,))
    with pytest.raises(sqlite3.IntegrityError, match="utterance_times"):
        conn.execute("UPDATE utterances SET start = 2, \"end\" = 1 WHERE id = ?", (a,))
    with pytest.raises(sqlite3.IntegrityError, match="utterance_status"):
        conn.execute("UPDATE utterances SET status = 'maybe' WHERE id = ?", (a,))
    # ON DELETE CASCADE: a recording takes its utterances and their tags along
    conn.execute("DELETE FROM recordings WHERE id = ?", (yes,))
    assert [r.id for r in project.fetch()] == [b]
    assert conn.execute("SELECT count(*) FROM utterance_tags").fetchone()[0] == 0
    # ON DELETE SET NULL: a speaker's utterances keep existing
    conn.execute("DELETE FROM speakers")
    assert project.utterance(b).speaker is None
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


# ------------------------------------------------------------------ split and merge


def test_split_then_merge(tmp_path):
    project, (yes, _) = new_project(tmp_path / "p")
    uid = project.add_utterance(yes, 0.1, 0.9, "yes please", status="verified", speaker="ann",
                                split="dev", tags=["x"])
    project.update_utterance(uid, confidence=0.9)
    a, b = project.split_utterance(uid, 0.4)
    assert a == uid and b > uid
    ra, rb = project.utterance(a), project.utterance(b)
    assert (ra.start, ra.end, ra.text, ra.status, ra.confidence) == (0.1, 0.4, "yes please", "draft", None)
    assert (rb.start, rb.end, rb.text, rb.status, rb.speaker, rb.split, rb.tags) == \
        (0.4, 0.9, "", "unlabeled", "ann", "dev", ("x",))
    project.update_utterance(b, transcript="please", tags=["y"])
    project.update_utterance(a, transcript="yes")
    assert project.merge_with_next(a) == a
    merged = project.utterance(a)
    assert (merged.start, merged.end, merged.text, merged.status, merged.speaker, merged.tags) == \
        (0.1, 0.9, "yes please", "unlabeled", "ann", ("x", "y"))
    assert [r.id for r in project.fetch()] == [a]
    with pytest.raises(ProjectError, match="it is the last utterance of its recording"):
        project.merge_with_next(a)
    for at in (0.1, 0.9, 1.5):
        with pytest.raises(ProjectError, match=f"Cannot split utterance {a} at {at:.2f} s: that is not inside it"):
            project.split_utterance(a, at)


def test_merge_takes_the_next_by_start_in_the_same_recording(tmp_path):
    project, (yes, no) = new_project(tmp_path / "p")
    late = project.add_utterance(yes, 0.6, 0.8, "c", status="verified")
    other = project.add_utterance(no, 0.3, 0.5, "elsewhere")
    early = project.add_utterance(yes, 0.0, 0.2, "a", status="verified")
    mid = project.add_utterance(yes, 0.3, 0.5, "b", status="verified")
    project.merge_with_next(early)
    row = project.utterance(early)
    assert (row.start, row.end, row.text, row.status) == (0.0, 0.5, "a b", "verified")
    assert {r.id for r in project.fetch()} == {early, late, other}
    assert project.undo() == f"merge utterance {early} with {mid}"
    assert project.utterance(mid).text == "b"


# ------------------------------------------------------------------ queries


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """A project with 300 utterances of varied fields, and the rows as Python sees them."""
    import random

    rng = random.Random(7)
    project, recs = new_project(tmp_path_factory.mktemp("q") / "p", CLIPS)
    durations = {r.id: r.duration for r in project.recordings()}
    words = ["yes", "no", "Up", "down", "50%_off", "naïve", "ÉCOLE", "o'clock"]
    for _ in range(300):
        rec = rng.choice(recs)
        start = round(rng.uniform(0, durations[rec] / 2), 3)
        uid = project.add_utterance(
            rec, start, round(rng.uniform(start + 0.01, durations[rec]), 3),
            " ".join(rng.sample(words, rng.randint(0, 3))), status=rng.choice(["unlabeled", "draft", "verified"]),
            speaker=rng.choice([None, "ann", "bob"]), split=rng.choice([None, "train", "dev", "test"]),
            tags=rng.sample(["noisy", "kid", "far"], rng.randint(0, 2)))
        if rng.random() < 0.6:
            project.update_utterance(uid, confidence=rng.choice([0.5, round(rng.random(), 3)]),
                                     mislabel_score=round(rng.random(), 3))
    yield project, project.fetch(limit=10_000)
    project.close()


STATUS_RANK = {"unlabeled": 0, "draft": 1, "verified": 2}
PY_KEYS = {
    "id": lambda r: (r.id,),
    "start": lambda r: (r.start, r.id),
    "transcript": lambda r: (r.text.lower(), r.id),
    "status": lambda r: (STATUS_RANK[r.status], r.id),
    "confidence": lambda r: ((r.confidence is not None), r.confidence or 0, r.id),  # NULL first
    "duration": lambda r: (r.end - r.start, r.id),
    "mislabel_score": lambda r: ((r.mislabel_score is not None), r.mislabel_score or 0, r.id),
}


def expected(rows, f: UtteranceFilter, order_by: str, descending: bool):
    keep = [r for r in rows
            if (not f.text or f.text.casefold() in r.text.casefold())
            and (f.status is None or r.status == f.status)
            and (f.speaker is None or r.speaker == f.speaker)
            and (f.split is None or r.split == f.split)
            and (f.tag is None or f.tag in r.tags)
            and (f.recording_id is None or r.recording_id == f.recording_id)]
    keep.sort(key=PY_KEYS[order_by], reverse=descending)
    if f.low_confidence_first:
        keep.sort(key=lambda r: (r.confidence is None, r.confidence or 0))  # stable: ties keep the order
    return keep


FILTERS = [
    UtteranceFilter(),
    UtteranceFilter(status="verified"),
    UtteranceFilter(text="UP"),
    UtteranceFilter(text="50%_"),
    UtteranceFilter(text="école"),
    UtteranceFilter(text="o'clock"),
    UtteranceFilter(speaker="ann", split="train"),
    UtteranceFilter(tag="noisy"),
    UtteranceFilter(low_confidence_first=True),
    UtteranceFilter(status="draft", low_confidence_first=True),
]


@pytest.mark.parametrize("f", FILTERS, ids=lambda f: repr({k: v for k, v in vars(f).items() if v}))
@pytest.mark.parametrize("order_by", list(ORDER_BY))
def test_count_and_pages_match_python(table, f, order_by):
    project, rows = table
    for descending in (False, True):
        want = [r.id for r in expected(rows, f, order_by, descending)]
        assert project.count(f) == len(want)
        got = []
        for offset in range(0, len(want) + 40, 40):
            got += [r.id for r in project.fetch(f, order_by, offset, 40, descending)]
        assert got == want, (order_by, descending)


def test_queries_follow_edits_and_other_connections(table, tmp_path):
    project, rows = table
    f = UtteranceFilter(status="verified")
    first = project.fetch(f, "start", 0, 5)
    uid = first[0].id
    project.update_utterance(uid, status="draft")
    assert uid not in [r.id for r in project.fetch(f, "start", 0, 5)]
    project.undo()
    assert project.fetch(f, "start", 0, 5) == [project.utterance(r.id) for r in first]
    # a change committed by another connection (another process) is seen too
    other = sqlite3.connect(project.path)
    other.execute("UPDATE utterances SET status = 'draft' WHERE id = ?", (uid,))
    other.commit()
    other.close()
    assert uid not in [r.id for r in project.fetch(f, "start", 0, 5)]
    project.update_utterance(uid, status="verified")


def test_filters_are_parameters_not_sql(table):
    project, rows = table
    n = project.count()
    for text in ["'; DROP TABLE utterances; --", "%", "_", "\\", "\" OR 1=1 --"]:
        project.count(UtteranceFilter(text=text))
        project.fetch(UtteranceFilter(text=text, speaker=text, status=text, tag=text))
    # a literal percent sign / underscore, not a LIKE wildcard
    assert project.count(UtteranceFilter(text="%")) == sum("%" in r.text for r in rows) < n
    assert project.count(UtteranceFilter(text="_")) == sum("_" in r.text for r in rows) < n
    assert project.count(UtteranceFilter(speaker="nobody")) == 0
    assert project.count() == n
    with pytest.raises(ValueError, match="cannot sort by"):
        project.fetch(order_by="id; DROP TABLE utterances")
    with pytest.raises(ValueError, match="offset and limit"):
        project.fetch(offset=-1)


def test_recording_filter_and_export(table):
    project, rows = table
    rec = project.recordings()[0]
    mine = project.fetch(UtteranceFilter(recording_id=rec.id), "start", 0, 1000)
    assert mine and {r.recording_id for r in mine} == {rec.id}
    items = project.export_items(UtteranceFilter(recording_id=rec.id))
    assert sorted((i.start or 0.0, i.text) for i in items) == sorted((r.start, r.text) for r in mine)
    assert all(i.audio_path == rec.file and i.audio_path.is_absolute() for i in items)
