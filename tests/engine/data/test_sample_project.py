"""The sample project (Help → Open sample project, the first-run tour): a real project of the bundled clips."""
from __future__ import annotations

import pytest

from engine.audio.io import load_audio
from engine.data.errors import ProjectError
from engine.data.sample_project import create_sample_project, sample_clips
from engine.data.store import Project


def test_the_sample_project_holds_every_bundled_clip_verified_and_split_by_speaker(tmp_path):
    clips = sample_clips()
    assert len(clips) == 11 and {c.transcript for c in clips} >= {"yes", "go", "zero", "seven"}
    folder = create_sample_project(tmp_path / "Sayso sample project")
    with Project.open(folder) as project:
        rows = project.fetch(limit=100)
        assert len(rows) == 11 and {r.status for r in rows} == {"verified"}
        by_split = {s: sorted(r.text for r in rows if r.split == s) for s in ("train", "dev", "test")}
        assert by_split["test"] == ["seven", "three", "zero"]  # nicolas, held out
        assert by_split["dev"] == ["down", "go"] and len(by_split["train"]) == 6
        for r in rows:  # the audio is in the project, readable after the folder was renamed into place
            rec = project.recording(r.recording_id)
            assert not rec.path.startswith("/") and rec.file.is_relative_to(folder) and len(load_audio(rec.file)) > 4000
    assert not list(tmp_path.glob(".*partial"))
    with Project.open(folder) as project:  # the user's edits are kept when it is opened again
        project.delete_utterance(project.fetch(limit=1)[0].id)
    assert create_sample_project(folder) == folder
    with Project.open(folder) as project:
        assert project.count() == 10


def test_a_left_over_partial_build_is_replaced_and_a_taken_folder_gives_one_clear_error(tmp_path):
    (tmp_path / ".sample.partial").mkdir()
    (tmp_path / ".sample.partial" / "junk").write_text("x")
    create_sample_project(tmp_path / "sample")
    assert not (tmp_path / ".sample.partial").exists()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(ProjectError, match="Cannot create the sample project"):
        create_sample_project(tmp_path / "taken")
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine" and not (tmp_path / ".taken.partial").exists()
