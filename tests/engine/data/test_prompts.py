"""Prompt lists (engine.data.prompts): reading them, and the session position kept in the project database."""
from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys

import pytest

from engine.data.errors import ProjectError
from engine.data.prompts import (
    PromptFileError,
    PromptSession,
    last_session,
    load_position,
    load_prompts,
    save_position,
)
from engine.data.schema import SCHEMA_VERSION, connect, migrate, user_version
from engine.data.store import Project
from tests.engine.data.store_helpers import YES
from tests.helpers import ROOT

LINES = ["The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
         "It's easy to tell the depth of a well.", "These days a chicken leg is a rare dish.",
         "Rice is often served in round bowls."]


def write_prompts(path, lines=LINES) -> object:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_prompts_module_imports_no_qt():
    code = ("import sys, engine.data.prompts; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'app')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ reading prompt lists


def test_comments_blank_lines_bom_crlf_and_spaces(tmp_path):
    path = tmp_path / "prompts.txt"
    data = ("\ufeff# Harvard sentences, list 1\r\n"
            "\r\n"
            "The birch canoe slid on the smooth planks.\r\n"
            "   # an indented comment\r\n"
            "  Glue the sheet\tto the   dark blue background.  \r\n"
            "\r\n"
            "Caf\u0065\u0301 au lait, s'il vous pla\u00eet.\r\n"   # é typed as e + combining accent
            "It's easy to tell the depth of a well.")              # no newline at the end
    path.write_bytes(data.encode("utf-8"))
    prompts = load_prompts(path)
    assert prompts.texts == ["The birch canoe slid on the smooth planks.",
                             "Glue the sheet to the dark blue background.",
                             "Caf\u00e9 au lait, s'il vous pla\u00eet.",   # NFC
                             "It's easy to tell the depth of a well."]
    assert [p.line for p in prompts] == [3, 5, 7, 8]
    assert len(prompts) == 4 and prompts[1].text == prompts.texts[1] and str(prompts[0]) == prompts.texts[0]
    assert prompts.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert prompts.path == path and prompts.path.is_absolute()


def test_a_file_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("first line\n# comment\ncaf\u00e9 cr\u00e8me\n".encode("latin-1"))
    with pytest.raises(PromptFileError, match=r"latin1\.txt, line 3: not UTF-8 text \(byte 0xe9 at column 4\)"
                                              r".*Save the prompt list as UTF-8"):
        load_prompts(path)
    assert issubclass(PromptFileError, ProjectError)


def test_utf16_binary_empty_and_missing_files_are_refused(tmp_path):
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("hello\nworld\n".encode("utf-16"))
    with pytest.raises(PromptFileError, match="UTF-16.*save it as UTF-8"):
        load_prompts(utf16)
    binary = tmp_path / "sample.wav"
    shutil.copy(YES, binary)
    with pytest.raises(PromptFileError, match=r"sample\.wav, line 1: .*(NUL byte|not UTF-8)"):
        load_prompts(binary)
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n   \n", encoding="utf-8")
    with pytest.raises(PromptFileError, match="holds no prompts"):
        load_prompts(empty)
    with pytest.raises(PromptFileError, match="no such prompt file"):
        load_prompts(tmp_path / "missing.txt")
    with pytest.raises(PromptFileError, match="is a folder"):
        load_prompts(tmp_path)


# ------------------------------------------------------------------ the session position


def test_the_position_survives_closing_and_reopening_the_project(tmp_path):
    prompts = load_prompts(write_prompts(tmp_path / "prompts.txt"))
    with Project.create(tmp_path / "p") as project:
        session = PromptSession(project, prompts)
        assert (session.index, session.total, session.current.text, session.speaker) == (0, 5, LINES[0], "")
        assert session.previous() == 0  # stays at the first
        assert session.next(speaker=" ann ") == 1
        assert session.next() == 2
        assert session.speaker == "ann"
    with Project.open(tmp_path / "p") as project:
        session = PromptSession(project, load_prompts(tmp_path / "prompts.txt"))
        assert (session.index, session.current.text, session.speaker) == (2, LINES[2], "ann")
        assert load_position(project, prompts) == 2
        # past the end: done, and it stays done
        assert session.go(99) == 5 and session.done and session.current is None
        assert session.next() == 5
        info = last_session(project)
        assert info.path == prompts.path and info.position == 5 and info.prompt == "" and info.speaker == "ann"
    with Project.open(tmp_path / "p") as project:
        assert PromptSession(project, prompts).done


def test_each_prompt_list_keeps_its_own_place_and_the_last_one_is_known(tmp_path):
    a = load_prompts(write_prompts(tmp_path / "a.txt"))
    b = load_prompts(write_prompts(tmp_path / "b.txt", LINES[::-1]))
    with Project.create(tmp_path / "p") as project:
        assert last_session(project) is None
        save_position(project, a, 3)
        save_position(project, b, 1, speaker="bo")
        assert (load_position(project, a), load_position(project, b)) == (3, 1)
        assert last_session(project).path == b.path
        save_position(project, a, 4)
        assert last_session(project).path == a.path
        with pytest.raises(ValueError, match="within 0 … 5"):
            save_position(project, a, 6)
        with pytest.raises(ValueError):
            save_position(project, a, -1)


def test_a_moved_or_edited_prompt_file_resumes_at_the_same_prompt(tmp_path):
    first = write_prompts(tmp_path / "prompts.txt")
    with Project.create(tmp_path / "p") as project:
        PromptSession(project, load_prompts(first)).go(2)
        # moved: found again by its checksum
        moved = tmp_path / "elsewhere" / "renamed.txt"
        moved.parent.mkdir()
        first.rename(moved)
        assert PromptSession(project, load_prompts(moved)).index == 2
        # edited: two prompts inserted before the current one; it is still the current one
        edited = write_prompts(moved, ["A new first prompt.", "A new second prompt."] + LINES)
        session = PromptSession(project, load_prompts(edited))
        assert session.index == 4 and session.current.text == LINES[2]
        # edited again: the current prompt is gone and the list is shorter: clamped
        session.go(6)
        write_prompts(moved, LINES[:2])
        shorter = PromptSession(project, load_prompts(moved))
        assert shorter.index == 2 and shorter.done


def test_a_prompt_file_inside_the_project_is_stored_relative_to_it(tmp_path):
    with Project.create(tmp_path / "p") as project:
        (tmp_path / "p" / "prompts").mkdir()
        inside = write_prompts(tmp_path / "p" / "prompts" / "list.txt")
        PromptSession(project, load_prompts(inside)).go(1)
        stored = project._db().execute("SELECT path FROM prompt_sessions").fetchall()
        assert stored == [("prompts/list.txt",)]
    shutil.move(tmp_path / "p", tmp_path / "moved")
    with Project.open(tmp_path / "moved") as project:
        prompts = load_prompts(tmp_path / "moved" / "prompts" / "list.txt")
        assert PromptSession(project, prompts).index == 1
        assert last_session(project).path == (tmp_path / "moved" / "prompts" / "list.txt")


def test_moving_through_prompts_is_not_undoable_and_leaves_utterance_edits_alone(tmp_path):
    prompts = load_prompts(write_prompts(tmp_path / "prompts.txt"))
    with Project.create(tmp_path / "p") as project:
        rec = project.add_recording(YES)
        uid = project.add_utterance(rec.id, 0.1, 0.9, LINES[0], status="draft")
        PromptSession(project, prompts).next()
        assert project.undo() == f"add utterance {uid}"
        assert project.undo() is None
        assert load_position(project, prompts) == 1


def test_the_table_checks_its_values(tmp_path):
    with Project.create(tmp_path / "p") as project:
        conn = project._db()
        with pytest.raises(sqlite3.IntegrityError, match="prompt_session_position"):
            conn.execute("INSERT INTO prompt_sessions (path, sha256, position, updated) VALUES ('x', ?, -1, 0)",
                         ("0" * 64,))
        with pytest.raises(sqlite3.IntegrityError, match="prompt_session_sha256"):
            conn.execute("INSERT INTO prompt_sessions (path, sha256, position, updated) VALUES ('x', 'abc', 0, 0)")


def test_a_version_2_project_gains_the_prompt_sessions_table_on_open(tmp_path):
    folder = tmp_path / "v2"
    folder.mkdir()
    conn = connect(folder / "project.sqlite")
    migrate(conn, target=2)
    assert user_version(conn) == 2
    conn.execute("INSERT INTO recordings (id, path, sample_rate, channels, duration, sha256, added) "
                 "VALUES (1, ?, 16000, 1, 1.0, ?, 0)", (str(YES), "0" * 64))
    conn.close()
    prompts = load_prompts(write_prompts(tmp_path / "prompts.txt"))
    assert SCHEMA_VERSION >= 3
    with Project.open(folder) as project:
        assert user_version(project._db()) == SCHEMA_VERSION
        assert project.recording(1).path == str(YES)
        assert PromptSession(project, prompts).go(3) == 3
    assert (folder / "project.v2.sqlite.bak").is_file()
    with Project.open(folder) as project:
        assert load_position(project, prompts) == 3
