"""Word timings in the project (schema v4): stored, read back, out of date after a transcript edit, migrated."""
from __future__ import annotations

import pytest

from engine.data.errors import ProjectError
from engine.data.schema import SCHEMA_VERSION, connect, migrate, user_version
from engine.data.store import Project
from engine.decode.alignment import WordTiming
from tests.engine.data.store_helpers import YES, new_project

WORDS = [WordTiming("yes", 0.21, 0.55, 0.9), WordTiming("no", 0.6, 0.9, 0.4)]


def test_timings_are_stored_read_back_and_replaced(tmp_path):
    project, (rec, _) = new_project(tmp_path / "p")
    uid = project.add_utterance(rec, 0.1, 1.0, "Yes, no!")
    assert project.word_timings(uid) is None
    assert project.set_word_timings(uid, WORDS, "yes no", "sayso-base") == 2
    got = project.word_timings(uid)
    assert [(w.word, w.start, w.end, w.confidence) for w in got.words] == [("yes", 0.21, 0.55, 0.9), ("no", 0.6, 0.9, 0.4)]
    assert got.transcript == "yes no" and got.model == "sayso-base" and got.current  # same words as "Yes, no!"
    project.set_word_timings(uid, WORDS[:1], "yes", "m2")
    assert [w.word for w in project.word_timings(uid).words] == ["yes"]
    project.close()
    with Project.open(tmp_path / "p") as again:  # saved at once
        assert again.word_timings(uid).model == "m2"


def test_a_transcript_edit_makes_them_out_of_date_and_a_delete_removes_them(tmp_path):
    project, (rec, _) = new_project(tmp_path / "p")
    uid = project.add_utterance(rec, 0.0, 1.0, "yes no")
    project.set_word_timings(uid, WORDS, "yes no")
    project.update_utterance(uid, transcript="yes go")
    assert not project.word_timings(uid).current
    project.delete_utterance(uid)
    assert project._db().execute("SELECT count(*) FROM word_timings").fetchone()[0] == 0
    project.close()


def test_bad_timings_are_refused_with_a_reason_and_nothing_changes(tmp_path):
    project, (rec, _) = new_project(tmp_path / "p")
    uid = project.add_utterance(rec, 0.0, 1.0, "yes no")
    project.set_word_timings(uid, WORDS, "yes no")
    with pytest.raises(ProjectError, match="out of order"):
        project.set_word_timings(uid, [WordTiming("no", 0.6, 0.9, 1), WordTiming("yes", 0.2, 0.5, 1)], "no yes")
    with pytest.raises(ProjectError, match="no valid time"):
        project.set_word_timings(uid, [WordTiming("yes", float("nan"), 0.5, 1)], "yes")
    with pytest.raises(ProjectError, match="no such utterance"):
        project.set_word_timings(uid + 100, WORDS, "yes no")
    assert [w.word for w in project.word_timings(uid).words] == ["yes", "no"]
    project.close()


def test_a_version_3_project_gains_the_word_timings_table_and_keeps_its_data(tmp_path):
    folder = tmp_path / "v3"
    folder.mkdir()
    conn = connect(folder / "project.sqlite")
    migrate(conn, target=3)
    conn.execute("INSERT INTO recordings (id, path, sample_rate, channels, duration, sha256, added) "
                 "VALUES (1, ?, 16000, 1, 1.0, ?, 0)", (str(YES), "0" * 64))
    conn.execute("INSERT INTO utterances (id, recording_id, start, \"end\", transcript, updated) "
                 "VALUES (7, 1, 0.0, 1.0, 'yes', 0)")
    conn.close()
    assert SCHEMA_VERSION == 4
    with Project.open(folder) as project:
        assert user_version(project._db()) == 4
        assert project.utterance(7).text == "yes"
        project.set_word_timings(7, WORDS[:1], "yes")
        assert project.word_timings(7).current
    assert (folder / "project.v3.sqlite.bak").is_file()
