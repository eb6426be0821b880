"""Undo and redo on real project files: sequences, restarts, the redo branch,
and a property test (random edits then as many undos restore the rows)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.data import history
from engine.data.store import Project, ProjectError
from engine.data.utterance import Utterance
from tests.engine.data.store_helpers import DIGIT, NO, YES, new_project, state


def test_a_session_of_edits_undone_and_redone_step_by_step(tmp_path):
    project, (yes, no) = new_project(tmp_path / "p")
    assert (project.can_undo, project.can_redo, project.undo(), project.redo()) == (False, False, None, None)
    states = [state(project)]
    uid = project.add_utterance(yes, 0.0, 1.0, "yes")
    states.append(state(project))
    project.update_utterance(uid, transcript="yes!")
    states.append(state(project))
    project.update_utterance(uid, status="verified", tags=["a", "b"], speaker="ann")
    states.append(state(project))
    _, second = project.split_utterance(uid, 0.5)
    states.append(state(project))
    project.merge_with_next(uid)
    states.append(state(project))
    project.delete_utterance(uid)
    states.append(state(project))
    assert states[-1] == []
    descriptions = [
        f"delete utterance {uid}",
        f"merge utterance {uid} with {second}",
        f"split utterance {uid} at 0.50 s",
        f"edit status, tags and speaker of utterance {uid}",
        f"edit transcript of utterance {uid}",
        f"add utterance {uid}",
    ]
    for i, text in enumerate(descriptions):
        assert project.can_undo
        assert project.undo() == text
        assert state(project) == states[-2 - i]
    assert not project.can_undo and project.undo() is None and project.can_redo
    for i, text in enumerate(reversed(descriptions)):
        assert project.redo() == text
        assert state(project) == states[i + 1]
    assert not project.can_redo and project.redo() is None


def test_undo_and_redo_survive_a_restart(tmp_path):
    project, (yes, _) = new_project(tmp_path / "p")
    uid = project.add_utterance(yes, 0.2, 0.8, "hello")
    project.update_utterance(uid, transcript="hello world")
    project.update_utterance(uid, transcript="hello world!")
    project.close()

    with Project.open(tmp_path / "p") as project:
        assert project.undo() == f"edit transcript of utterance {uid}"
        assert project.utterance(uid).text == "hello world"
    with Project.open(tmp_path / "p") as project:
        assert project.can_redo
        assert project.undo() == f"edit transcript of utterance {uid}"
        assert project.utterance(uid).text == "hello"
    with Project.open(tmp_path / "p") as project:
        assert project.redo() == f"edit transcript of utterance {uid}"
        assert project.redo() == f"edit transcript of utterance {uid}"
        assert project.utterance(uid).text == "hello world!"
        assert not project.can_redo


def test_a_new_edit_after_undo_drops_the_redo_branch(tmp_path):
    project, (yes, _) = new_project(tmp_path / "p")
    uid = project.add_utterance(yes, 0.2, 0.8, "a")
    project.update_utterance(uid, transcript="b")
    project.update_utterance(uid, transcript="c")
    project.undo()
    project.undo()
    assert project.can_redo
    project.update_utterance(uid, transcript="d")
    assert not project.can_redo and project.redo() is None
    assert project.undo() == f"edit transcript of utterance {uid}"
    assert project.utterance(uid).text == "a"
    assert project.undo() == f"add utterance {uid}"
    assert project.undo() is None


def test_an_edit_that_changes_nothing_is_not_recorded(tmp_path):
    project, (yes, _) = new_project(tmp_path / "p")
    uid = project.add_utterance(yes, 0.2, 0.8, "a", tags=["x"])
    project.undo()
    project.redo()
    project.update_utterance(uid, transcript="a", tags=["x", "x"], start=0.2)
    assert project.can_redo is False
    assert project.undo() == f"add utterance {uid}"


def test_ids_are_never_reused_so_undo_restores_the_same_id(tmp_path):
    project, (yes, _) = new_project(tmp_path / "p")
    a = project.add_utterance(yes, 0.0, 0.5, "a")
    project.delete_utterance(a)
    b = project.add_utterance(yes, 0.0, 0.5, "b")
    assert b != a
    project.undo()  # the add of b
    project.undo()  # the delete of a
    assert [(r.id, r.text) for r in project.fetch()] == [(a, "a")]
    c = project.add_utterance(yes, 0.5, 0.9, "c")
    assert c not in (a, b)


def test_imports_are_not_undoable_and_drop_the_redo_branch(tmp_path):
    project, (yes, _) = new_project(tmp_path / "p")
    uid = project.add_utterance(yes, 0.0, 0.5, "a")
    project.update_utterance(uid, transcript="b")
    project.undo()
    report = project.import_items([Utterance(DIGIT, "seven")], "list.txt")
    assert report.added == 1
    assert not project.can_redo
    assert project.undo() == f"add utterance {uid}"
    assert [r.text for r in project.fetch()] == ["seven"]


def test_history_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(history, "HISTORY_LIMIT", 3)
    project, (yes, _) = new_project(tmp_path / "p")
    uid = project.add_utterance(yes, 0.0, 0.5, "0")
    for i in range(1, 6):
        project.update_utterance(uid, transcript=str(i))
    assert [project.undo() for _ in range(4)] == [f"edit transcript of utterance {uid}"] * 3 + [None]
    assert project.utterance(uid).text == "2"


def test_an_undo_that_cannot_apply_changes_nothing(tmp_path):
    project, (yes, no) = new_project(tmp_path / "p")
    uid = project.add_utterance(no, 0.0, 0.5, "n")
    project.delete_utterance(uid)
    keep = project.add_utterance(yes, 0.0, 0.5, "y")
    project.undo()
    project._db().execute("DELETE FROM recordings WHERE id = ?", (no,))  # behind the store's back
    with pytest.raises(ProjectError, match="^Cannot undo: it refers to a recording or speaker that is not in "
                                           "this project"):
        project.undo()
    assert [r.id for r in project.fetch()] == []
    assert project.can_undo and project.can_redo
    project.redo()
    assert [r.id for r in project.fetch()] == [keep]


# ------------------------------------------------------------------ property test

TEXT = st.text(alphabet="abcé ?'%_", max_size=8)
SECONDS = st.floats(min_value=-0.2, max_value=1.2, allow_nan=False).map(lambda x: round(x, 3))
EDITS = st.one_of(
    st.tuples(st.just("update"), st.integers(0, 50), st.fixed_dictionaries({}, optional={
        "transcript": TEXT,
        "status": st.sampled_from(["unlabeled", "draft", "verified", "bogus"]),
        "speaker": st.sampled_from([None, "ann", "bob", "new speaker"]),
        "split": st.sampled_from([None, "train", "dev", "test"]),
        "tags": st.lists(st.sampled_from(["x", "y", "z"]), max_size=3),
        "confidence": st.one_of(st.none(), st.floats(0, 1)),
        "mislabel_score": st.one_of(st.none(), st.floats(-5, 5)),
        "start": SECONDS,
        "end": SECONDS,
    })),
    st.tuples(st.just("add"), st.integers(0, 1), st.tuples(SECONDS, SECONDS, TEXT)),
    st.tuples(st.just("delete"), st.integers(0, 50), st.none()),
    st.tuples(st.just("split"), st.integers(0, 50), st.floats(0, 1)),
    st.tuples(st.just("merge"), st.integers(0, 50), st.none()),
    st.tuples(st.just("reopen"), st.none(), st.none()),
)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A closed project with two recordings and a few labeled utterances (and some history)."""
    folder = tmp_path_factory.mktemp("template") / "p"
    project, (yes, no) = new_project(folder, (YES, NO))
    project.add_utterance(yes, 0.0, 0.4, "yes", status="verified", speaker="ann", split="train", tags=["x"])
    project.add_utterance(yes, 0.4, 0.9, "and", status="draft")
    u = project.add_utterance(no, 0.1, 0.8, "no", speaker="bob")
    project.update_utterance(u, confidence=0.4)
    project.close()
    return folder


def done_edits(project: Project) -> int:
    return project._db().execute("SELECT count(*) FROM history WHERE undone = 0").fetchone()[0]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(EDITS, min_size=1, max_size=20))
def test_random_edits_then_as_many_undos_restore_the_rows(template, edits):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "p"
        shutil.copytree(template, folder)
        project = Project.open(folder)
        try:
            original = state(project)
            recordings = [r.id for r in project.recordings()]
            made = 0
            for kind, target, arg in edits:
                ids = [r.id for r in project.fetch(order_by="start")]
                before, count = state(project), done_edits(project)
                if kind == "reopen":
                    project.close()
                    project = Project.open(folder)
                    assert state(project) == before
                    continue
                if not ids and kind != "add":
                    continue
                uid = ids[target % len(ids)] if ids else None
                try:
                    if kind == "update":
                        project.update_utterance(uid, **arg)
                    elif kind == "add":
                        project.add_utterance(recordings[target], arg[0], arg[1], arg[2])
                    elif kind == "delete":
                        project.delete_utterance(uid)
                    elif kind == "split":
                        row = project.utterance(uid)
                        project.split_utterance(uid, round(row.start + arg * row.duration, 3))
                    elif kind == "merge":
                        project.merge_with_next(uid)
                except ProjectError:
                    assert state(project) == before  # a refused edit changes nothing
                    assert done_edits(project) == count
                    continue
                assert done_edits(project) in (count, count + 1)
                made += done_edits(project) - count
            edited = state(project)
            for _ in range(made):
                assert project.undo() is not None
            assert state(project) == original
            for _ in range(made):
                assert project.redo() is not None
            assert state(project) == edited
            assert not project.can_redo
            assert project._db().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert project._db().execute("PRAGMA foreign_key_check").fetchall() == []
        finally:
            project.close()
