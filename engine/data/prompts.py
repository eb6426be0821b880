"""Prompt lists for prompt-by-prompt recording, and where a session stands.

A prompt list is a UTF-8 text file with one prompt (a sentence to read
aloud) per line, as used by the Piper and Mimic recording studios. Blank
lines and lines starting with ``#`` (after optional spaces) are skipped; a
UTF-8 byte order mark is allowed; runs of spaces or tabs inside a prompt
become one space and the text is NFC-normalized (so "é" typed either way is
the same transcript). :func:`load_prompts` reads one into a
:class:`PromptList`; a file that is not UTF-8 is refused with the line (and
byte) at fault.

Where a session stands (the current prompt) is kept in the project
database, so that closing the studio and opening the project again resumes
at the same prompt: :class:`PromptSession` reads it when created and writes
it at every move. It lives in the ``prompt_sessions`` table (schema
version 3, :func:`engine.data.schema._v2_to_v3`), one row per prompt file,
keyed by the file's path (relative to the project folder when the file is
inside it, so a project moved with its prompts keeps its place). Why a table
of its own and not a generic key/value table: typed, checked columns (a
position cannot become negative), one place per prompt list (a project may
be read from several lists, e.g. one per speaker), and "the last session"
is one indexed query. The position is not part of the undo history.

When the file was moved, its place is found by its SHA-256. When it was
edited (the checksum changed), the session resumes at the prompt it stood
at if that text is still in the list (the occurrence nearest the old
position), else at the old position (clamped to the list).

This module imports no Qt.
"""
from __future__ import annotations

import hashlib
import os
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from engine.data.errors import ProjectError

__all__ = [
    "Prompt",
    "PromptFileError",
    "PromptList",
    "PromptSession",
    "SessionInfo",
    "last_session",
    "load_prompts",
    "load_position",
    "save_position",
]

MAX_PROMPT_FILE_BYTES = 64 * 1024 * 1024
"""Bigger files are refused: a prompt list of that size is not a text file one reads aloud."""

_BOM = b"\xef\xbb\xbf"


class PromptFileError(ProjectError):
    """A prompt list cannot be used: missing, unreadable, not UTF-8 (the message
    names the line), or without a single prompt. The message is meant for users."""


@dataclass(frozen=True)
class Prompt:
    """One prompt.

    Attributes:
        text: what to read (spaces collapsed, NFC-normalized).
        line: its line number in the file, counting from 1.
    """

    text: str
    line: int

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class PromptList:
    """The prompts of one file, in file order.

    Attributes:
        path: the file (absolute).
        prompts: the prompts (at least one).
        sha256: hex SHA-256 of the file's bytes.
    """

    path: Path
    prompts: tuple[Prompt, ...]
    sha256: str

    def __len__(self) -> int:
        return len(self.prompts)

    def __getitem__(self, index: int) -> Prompt:
        return self.prompts[index]

    def __iter__(self):
        return iter(self.prompts)

    @property
    def texts(self) -> list[str]:
        """The prompts' texts."""
        return [p.text for p in self.prompts]


@dataclass(frozen=True)
class SessionInfo:
    """A stored session (a row of ``prompt_sessions``).

    Attributes:
        path: the prompt file (absolute; it may no longer exist).
        sha256: checksum of the file when the session last moved.
        position: index of the current prompt (0-based; the prompt count when all were done).
        prompt: the text of that prompt ("" when all were done).
        speaker: who was reading ("" if not set).
        updated: when the session last moved (seconds since the epoch).
    """

    path: Path
    sha256: str
    position: int
    prompt: str
    speaker: str
    updated: float


def _clean(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(text.split()))


def load_prompts(path: str | os.PathLike) -> PromptList:
    """Read a prompt list: UTF-8 text, one prompt per line.

    Blank lines and ``#`` comment lines are skipped; ``\\r\\n`` line ends and a
    leading UTF-8 byte order mark are accepted.

    Args:
        path: the ``.txt`` file.

    Returns:
        The prompts, with their line numbers and the file's checksum.

    Raises:
        PromptFileError: the file is missing or unreadable; it is not UTF-8
            (the message names the line, column and byte, e.g. ``"prompts.txt,
            line 3: not UTF-8 text (byte 0xe9 at column 5) …"``); it is UTF-16
            or binary; it holds no prompt.
    """
    path = Path(os.path.abspath(path))
    name = path.name
    try:
        if path.stat().st_size > MAX_PROMPT_FILE_BYTES:
            raise PromptFileError(f"{name} is too large to be a prompt list "
                                  f"(over {MAX_PROMPT_FILE_BYTES // (1024 * 1024)} MB).")
        data = path.read_bytes()
    except FileNotFoundError:
        raise PromptFileError(f"{path}: no such prompt file.") from None
    except IsADirectoryError:
        raise PromptFileError(f"{path} is a folder, not a prompt file.") from None
    except OSError as exc:
        raise PromptFileError(f"{name} cannot be read ({exc.strerror or exc}).") from None
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise PromptFileError(f"{name} is UTF-16 text; save it as UTF-8 (one prompt per line) and load it again.")
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    prompts: list[Prompt] = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        raw = raw.rstrip(b"\r")
        if b"\x00" in raw:
            raise PromptFileError(f"{name}, line {number}: holds a NUL byte; this is not a text file "
                                  "(a prompt list is plain UTF-8 text, one prompt per line).")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            column = len(raw[:exc.start].decode("utf-8", errors="replace")) + 1
            raise PromptFileError(
                f"{name}, line {number}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {column}). "
                "Save the prompt list as UTF-8 and load it again.") from None
        text = _clean(line)
        if not text or text.startswith("#"):
            continue
        prompts.append(Prompt(text, number))
    if not prompts:
        raise PromptFileError(f"{name} holds no prompts (only blank lines and # comments); "
                              "write one prompt per line.")
    return PromptList(path, tuple(prompts), digest)


# ---------------------------------------------------------------- the session position in the project


def _key(project, path: Path) -> str:
    """How ``path`` is stored: relative (POSIX) to the project folder if inside it, else absolute."""
    path = Path(os.path.abspath(path))
    for base, p in ((Path(os.path.abspath(project.folder)), path),
                    (Path(os.path.realpath(project.folder)), Path(os.path.realpath(path)))):
        try:
            return p.relative_to(base).as_posix()
        except ValueError:
            pass
    return str(path)


def _info(project, row) -> SessionInfo:
    stored, sha, position, prompt, speaker, updated = row
    p = Path(stored)
    return SessionInfo(p if p.is_absolute() else Path(os.path.abspath(project.folder)) / p,
                       sha, int(position), prompt, speaker, float(updated))


_SESSION_SQL = "SELECT path, sha256, position, prompt, speaker, updated FROM prompt_sessions"


def _stored(project, prompts: PromptList) -> SessionInfo | None:
    """The row of this prompt file: by path, else (a moved file) the latest with its checksum."""
    with project._read("Cannot read where the prompt session stands") as conn:
        row = conn.execute(f"{_SESSION_SQL} WHERE path = ?", (_key(project, prompts.path),)).fetchone()
        if row is None:
            row = conn.execute(f"{_SESSION_SQL} WHERE sha256 = ? ORDER BY updated DESC LIMIT 1",
                               (prompts.sha256,)).fetchone()
    return None if row is None else _info(project, row)


def _resume_index(info: SessionInfo, prompts: PromptList) -> int:
    n = len(prompts)
    position = min(max(info.position, 0), n)
    if info.sha256 == prompts.sha256 or not info.prompt:
        return position
    hits = [i for i, p in enumerate(prompts) if p.text == info.prompt]
    return min(hits, key=lambda i: abs(i - info.position)) if hits else position


def load_position(project, prompts: PromptList) -> int:
    """Where the session of ``prompts`` stands in ``project``: 0 for a new one.

    Args:
        project: an open :class:`engine.data.store.Project`.
        prompts: the prompt list.

    Returns:
        The index of the current prompt, ``0 … len(prompts)`` (``len`` = all done).

    Raises:
        ProjectError: the database cannot be read.
    """
    info = _stored(project, prompts)
    return 0 if info is None else _resume_index(info, prompts)


def save_position(project, prompts: PromptList, position: int, speaker: str | None = None) -> None:
    """Store where the session of ``prompts`` stands (committed at once).

    Args:
        project: an open :class:`engine.data.store.Project`.
        prompts: the prompt list.
        position: index of the current prompt, ``0 … len(prompts)``.
        speaker: who is reading; None keeps the stored one.

    Raises:
        ValueError: ``position`` is outside ``0 … len(prompts)``.
        ProjectError: the database cannot be written.
    """
    position = int(position)
    if not 0 <= position <= len(prompts):
        raise ValueError(f"position must be within 0 … {len(prompts)}, got {position}")
    text = prompts[position].text if position < len(prompts) else ""
    with project._write("Cannot save where the prompt session stands") as conn:
        conn.execute(
            "INSERT INTO prompt_sessions (path, sha256, position, prompt, speaker, updated) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256, "
            "position = excluded.position, prompt = excluded.prompt, updated = excluded.updated"
            + (", speaker = excluded.speaker" if speaker is not None else ""),
            (_key(project, prompts.path), prompts.sha256, position, text,
             "" if speaker is None else str(speaker).strip(), time.time()))


def last_session(project) -> SessionInfo | None:
    """The most recently moved session of ``project`` (to offer "continue where you left off"), or None.

    Raises:
        ProjectError: the database cannot be read.
    """
    with project._read("Cannot read the prompt sessions") as conn:
        row = conn.execute(f"{_SESSION_SQL} ORDER BY updated DESC LIMIT 1").fetchone()
    return None if row is None else _info(project, row)


class PromptSession:
    """Walks through a prompt list, keeping its place in the project.

    Creating one resumes where the last session of the same file stood
    (:func:`load_position`; a file found again by its checksum at a new path
    is stored under that path at once); every move is saved at once.

    Args:
        project: an open :class:`engine.data.store.Project`.
        prompts: the list to read.

    Attributes:
        project: the project.
        prompts: the list.

    Raises:
        ProjectError: the database cannot be read (or, for a moved file, written).
    """

    def __init__(self, project, prompts: PromptList):
        self.project = project
        self.prompts = prompts
        info = _stored(project, prompts)
        self._index = 0 if info is None else _resume_index(info, prompts)
        self._speaker = "" if info is None else info.speaker
        if info is not None and _key(project, info.path) != _key(project, prompts.path):
            # a moved file: its place is now kept under its new path (and survives an edit there)
            save_position(project, prompts, self._index, self._speaker)

    @property
    def index(self) -> int:
        """0-based index of the current prompt; ``total`` when all are done."""
        return self._index

    @property
    def total(self) -> int:
        """How many prompts the list has."""
        return len(self.prompts)

    @property
    def done(self) -> bool:
        """True when past the last prompt."""
        return self._index >= self.total

    @property
    def current(self) -> Prompt | None:
        """The prompt to read now; None when all are done."""
        return None if self.done else self.prompts[self._index]

    @property
    def speaker(self) -> str:
        """Who was reading when the session last moved ("" if not known)."""
        return self._speaker

    def go(self, index: int, speaker: str | None = None) -> int:
        """Make prompt ``index`` (clamped to ``0 … total``) the current one and save it.

        Args:
            index: the prompt (``total`` = all done).
            speaker: who is reading; None keeps the stored one.

        Returns:
            The new index.

        Raises:
            ProjectError: the database cannot be written (the session then
                stays where it was).
        """
        index = min(max(int(index), 0), self.total)
        save_position(self.project, self.prompts, index, speaker)
        self._index = index
        if speaker is not None:
            self._speaker = str(speaker).strip()
        return index

    def next(self, speaker: str | None = None) -> int:
        """Move to the next prompt (stays at ``total``); returns the new index."""
        return self.go(self._index + 1, speaker)

    def previous(self, speaker: str | None = None) -> int:
        """Move to the previous prompt (stays at 0); returns the new index."""
        return self.go(self._index - 1, speaker)
