"""Bulk edits of many utterances (the Dataset tab's multi-row actions): one undoable step each."""
from __future__ import annotations

import pytest

from engine.data.store import ProjectError
from tests.engine.data.store_helpers import new_project


def test_bulk_split_status_and_delete_are_one_undo_step_each(tmp_path):
    project, (yes, no) = new_project(tmp_path / "p")
    ids = project.add_segments(yes, [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6)], labels=[("a", 0.5), ("b", 0.5), ("c", 0.5)])
    assert project.update_utterances(ids, split="train", status="verified", speaker="ann") == 3
    rows = {r.id: r for r in project.fetch()}
    assert all((rows[i].split, rows[i].status, rows[i].speaker) == ("train", "verified", "ann") for i in ids)
    assert project.update_utterances(ids[:2], split="train") == 0  # nothing new: no edit recorded
    assert project.undo() == "set speaker, split and status of 3 utterances"
    assert all(r.split is None and r.status == "draft" for r in project.fetch())
    assert project.delete_utterances(ids[1:]) == 2 and project.count() == 1
    assert project.undo() == "delete 2 utterances" and project.count() == 3
    with pytest.raises(ProjectError, match="utterance 999 is not in this project"):
        project.update_utterances([ids[0], 999], split="dev")
    assert project.utterance(ids[0]).split is None  # all or nothing
    with pytest.raises(ProjectError):
        project.update_utterances(ids, split="holdout")  # the store's rules still apply
    with pytest.raises(TypeError):
        project.update_utterances(ids, transcript="x")
