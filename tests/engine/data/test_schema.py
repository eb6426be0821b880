"""The project database: settings, versions and migrations, on real SQLite files."""
from __future__ import annotations

import sqlite3

import pytest

from engine.data import schema
from engine.data.errors import ProjectError
from engine.data.schema import APPLICATION_ID, SCHEMA_VERSION, connect, migrate, user_version
from engine.data.store import Project
from tests.engine.data.store_helpers import NO, YES, state


def test_new_project_has_the_current_schema_and_settings(tmp_path):
    with Project.create(tmp_path / "p") as project:
        conn = project._db()
        assert user_version(conn) == SCHEMA_VERSION == len(schema.MIGRATIONS)
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"recordings", "utterances", "utterance_tags", "speakers", "history"} <= tables
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert (tmp_path / "p" / "audio").is_dir()


def make_v1(folder):
    """A project file as Sayso wrote it at format 1 (no confidence column), with data."""
    folder.mkdir()
    (folder / "audio").mkdir()
    conn = connect(folder / "project.sqlite")
    assert migrate(conn, target=1) == 0
    assert user_version(conn) == 1
    cols = [r[1] for r in conn.execute("PRAGMA table_info(utterances)")]
    assert "confidence" not in cols
    conn.execute("INSERT INTO recordings (id, path, sample_rate, channels, duration, sha256, added) "
                 "VALUES (1, ?, 16000, 1, 1.0, ?, 0)", (str(YES), "0" * 64))
    conn.execute("INSERT INTO speakers (id, name) VALUES (1, 'ann')")
    conn.execute("INSERT INTO utterances (id, recording_id, start, \"end\", transcript, status, speaker_id, "
                 "split, updated) VALUES (1, 1, 0.1, 0.9, 'yes', 'verified', 1, 'train', 0)")
    conn.execute("INSERT INTO utterance_tags VALUES (1, 'clean')")
    conn.close()


def test_a_v1_file_is_migrated_on_open_keeping_its_rows(tmp_path):
    folder = tmp_path / "old"
    make_v1(folder)
    with Project.open(folder) as project:
        assert user_version(project._db()) == SCHEMA_VERSION
        row = project.utterance(1)
        assert (row.start, row.end, row.text, row.status, row.speaker, row.split, row.tags) == \
            (0.1, 0.9, "yes", "verified", "ann", "train", ("clean",))
        assert row.confidence is None
        # the v2 column works, with its rule
        assert project.update_utterance(1, confidence=0.25).confidence == 0.25
        with pytest.raises(ProjectError, match="confidence must be between 0 and 1"):
            project.update_utterance(1, confidence=1.5)
        indexes = {r[1] for r in project._db().execute("PRAGMA index_list(utterances)")}
        assert {"utterances_confidence", "utterances_low_confidence"} <= indexes
        assert project.undo() == "edit confidence of utterance 1"
        assert project.utterance(1).confidence is None
    # the v1 file was backed up before the upgrade, and is still a readable v1 database
    backup = folder / "project.v1.sqlite.bak"
    conn = sqlite3.connect(backup)
    assert user_version(conn) == 1
    assert conn.execute("SELECT transcript FROM utterances").fetchall() == [("yes",)]
    conn.close()
    # opening again does nothing more
    with Project.open(folder) as project:
        assert project.utterance(1).confidence is None


def test_a_newer_project_is_refused_with_a_clear_message(tmp_path):
    with Project.create(tmp_path / "p"):
        pass
    conn = sqlite3.connect(tmp_path / "p" / "project.sqlite")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ProjectError, match=r"saved by a newer version of Sayso .*Update Sayso"):
        Project.open(tmp_path / "p")


def test_a_failed_migration_step_leaves_the_file_at_its_version(tmp_path, monkeypatch):
    folder = tmp_path / "old"
    make_v1(folder)

    def broken(conn):
        conn.execute("ALTER TABLE utterances ADD COLUMN confidence REAL")
        conn.execute("CREATE INDEX broken ON no_such_table(x)")

    monkeypatch.setattr(schema, "MIGRATIONS", [schema.MIGRATIONS[0], broken])
    conn = connect(folder / "project.sqlite")
    with pytest.raises(ProjectError, match="could not be upgraded from project format 1 to 2.*left at format 1"):
        migrate(conn, target=2)
    assert user_version(conn) == 1
    assert "confidence" not in [r[1] for r in conn.execute("PRAGMA table_info(utterances)")]
    conn.close()


def test_files_that_are_not_projects_are_refused(tmp_path):
    with pytest.raises(ProjectError, match="no such folder"):
        Project.open(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProjectError, match="not a Sayso project .*project.sqlite"):
        Project.open(tmp_path / "empty")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "project.sqlite").write_bytes(b"this is not a database, " * 100)
    with pytest.raises(ProjectError, match="not a Sayso project file"):
        Project.open(tmp_path / "junk")
    (tmp_path / "other").mkdir()
    conn = sqlite3.connect(tmp_path / "other" / "project.sqlite")
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(ProjectError, match="some other program"):
        Project.open(tmp_path / "other")


def test_create_refuses_an_existing_project_and_reopen_keeps_everything(tmp_path):
    project = Project.create(tmp_path / "p")
    rec = project.add_recording(YES)
    uid = project.add_utterance(rec.id, 0.0, 0.5, "yes", speaker="ann")
    before = state(project)
    project.close()
    with pytest.raises(ProjectError, match="already holds a Sayso project"):
        Project.create(tmp_path / "p")
    with pytest.raises(ProjectError, match="is closed"):
        project.utterance(uid)
    with Project.open(tmp_path / "p") as again:
        assert state(again) == before
        assert again.recording(rec.id) == rec
        again.add_recording(NO)
