"""The project store: a labeling project on disk, autosaved, with undo/redo.

A project is a folder::

    my-project/
        project.sqlite     recordings, utterances, speakers, tags, edit history
        audio/             the recordings copied into the project

:class:`Project` is the only way in. Every change is written at once, in one
SQLite transaction (there is no save button): an edit of utterances and its
undo record are committed together (see :mod:`engine.data.history`), so
undo/redo survive a restart and a crash or ``kill -9`` loses nothing that a
method had returned from. Imports are all-or-nothing per source file. The
schema and its migrations live in :mod:`engine.data.schema`, the queries of
the table view in :mod:`engine.data.query`, audio files in
:mod:`engine.data.recordings`.

Several processes may edit one project at once (the studio and a script,
two studio windows): each edit is its own transaction, so none is lost. The
undo history is the project's, not the process's: it lives in the file and is
shared by every process editing the project, so :meth:`Project.undo` reverts
the newest edit not yet undone, whoever made it (as after a restart, where
undo reaches edits of the previous session). This is deliberate: a history
per process would let one process undo an edit that another has since built
on (e.g. an undo of a split after the other process merged a part away).

Damage and read-only files. :meth:`Project.open` runs SQLite's
``quick_check`` and refuses a damaged file (one line, naming "Check
project"); :meth:`Project.check` runs the full ``integrity_check`` and
:func:`engine.data.rescue.rescue` copies what is still readable into a new
project. A project whose folder or file cannot be written opens read-only
(:attr:`Project.read_only`); every write then raises :class:`ProjectError`.
A 0-byte ``project.sqlite`` (an interrupted create) is refused, not
silently turned into a new empty project.

All times are in seconds, rates in Hz. Errors a user can cause (a bad
folder, unreadable audio, an edit breaking a rule) raise :class:`ProjectError`
with a message meant for them; programming mistakes (an unknown field name,
a sort key outside the whitelist) raise ``TypeError`` / ``ValueError``.
A :class:`Project` is used from one thread. This module imports no Qt.
"""
from __future__ import annotations

import errno
import logging
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from engine.data import history, query
from engine.data import word_timings as timings
from engine.data.errors import ProjectError
from engine.data.query import ORDER_BY, SPLITS, STATUSES, UtteranceFilter, UtteranceRow
from engine.data.recordings import Recording, copy_in, probe, sha256_file
from engine.data.records import ImportReport, Reject
from engine.data.schema import SCHEMA_VERSION, connect, integrity_problems, migrate, user_version
from engine.data.utterance import WHOLE_TOLERANCE, Utterance

__all__ = [
    "AUDIO_DIR",
    "END_TOLERANCE",
    "ORDER_BY",
    "PROJECT_FILE",
    "SPLITS",
    "STATUSES",
    "ImportReport",
    "Project",
    "ProjectError",
    "Recording",
    "Reject",
    "Utterance",
    "UtteranceFilter",
    "UtteranceRow",
]

log = logging.getLogger("sayso.project")

PROJECT_FILE = "project.sqlite"
"""The database file inside a project folder."""
AUDIO_DIR = "audio"
"""The folder (inside the project) that audio is copied into."""
END_TOLERANCE = 0.05
"""An utterance may end up to this many seconds after its recording (label
files round times); it is then clamped to the recording's end. Further out
is an error."""

_EDITABLE = {
    "transcript": "transcript",
    "start": "start",
    "end": "end",
    "status": "status",
    "speaker": "speaker_id",
    "split": "split",
    "tags": "tags",
    "confidence": "confidence",
    "mislabel_score": "mislabel_score",
}
"""``update_utterance`` field → stored column."""
_FIELD_WORDS = {"mislabel_score": "mislabel score"}

_RULES = {  # CHECK constraint name → (what the rule is, fields whose values explain it)
    "utterance_times": ("an utterance must start at 0 s or later and end after it starts", ("start", "end")),
    "utterance_status": ("the status must be unlabeled, draft or verified", ("status",)),
    "utterance_split": ("the split must be train, dev, test or none", ("split",)),
    "utterance_confidence": ("the confidence must be between 0 and 1", ("confidence",)),
    "tag_text": ("a tag cannot be empty", ()),
    "speaker_name": ("a speaker name cannot be empty", ()),
}
_STATUS_RANK = {s: i for i, s in enumerate(STATUSES)}
_ID_CACHE_SIZE = 4  # sorted id lists kept for filtered views (a list of 100k ids is ~4 MB)


class _DiskProblem(ProjectError):
    """The disk (not the data) failed: an import stops and rolls back instead of rejecting an item."""


class _Rejected(Exception):
    """One import item cannot be used; the message says why."""


def _describe(exc: sqlite3.Error, values: dict | None = None) -> str:
    """A user-facing reason for an SQLite error (no SQL in it)."""
    msg = str(exc)
    if msg.startswith("CHECK constraint failed: "):
        rule, fields = _RULES.get(msg.split(": ", 1)[1].strip(), ("the change breaks a rule of the project", ()))
        shown = [f"{f} {values[f]!r}" for f in fields if values and f in values]
        return rule + (f" (got {', '.join(shown)})" if shown else "")
    if "FOREIGN KEY constraint failed" in msg:
        return "it refers to a recording or speaker that is not in this project"
    if msg.startswith("NOT NULL constraint failed: "):
        return f"{msg.rsplit('.', 1)[-1]} cannot be empty"
    if msg.startswith("UNIQUE constraint failed"):
        return "it is already in the project"
    if "disk is full" in msg or "disk I/O error" in msg:
        return "the disk is full or failed; free some space and try again (nothing was changed)"
    if "locked" in msg or "busy" in msg:
        return "another program is writing to the project right now; try again"
    if "readonly" in msg:
        return "the project is read-only"
    return msg


def _os_reason(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return "the disk is full; free some space and try again"
    return exc.strerror or str(exc)


def _disk_error(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1), errno.EROFS, errno.EIO)


def _seconds(value, what: str, failure: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ProjectError(f"{failure}: {what} must be a number of seconds, not {value!r}.") from None
    if not math.isfinite(x):
        raise ProjectError(f"{failure}: {what} must be a finite number of seconds, not {value!r}.")
    return x


def _score(value, what: str, failure: str) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ProjectError(f"{failure}: the {what} must be a number or None, not {value!r}.") from None
    if not math.isfinite(x):
        raise ProjectError(f"{failure}: the {what} must be a finite number, not {value!r}.")
    return x


def _item_seconds(value, what: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise _Rejected(f"the {what} is not a number of seconds ({value!r})") from None
    if not math.isfinite(x):
        raise _Rejected(f"the {what} is not a finite number of seconds ({value!r})")
    return x


def _tag_list(tags) -> list[str]:
    if isinstance(tags, str):
        tags = [tags]
    return sorted({str(t).strip() for t in (tags or ())})


def _words(names: list[str]) -> str:
    names = [_FIELD_WORDS.get(n, n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _remove(paths: list[Path]) -> None:
    for p in paths:
        try:
            p.unlink(missing_ok=True)
        except OSError as exc:  # pragma: no cover - best effort
            log.warning("could not remove %s: %s", p, exc)


class Project:
    """A labeling project: a folder with ``project.sqlite`` and ``audio/``.

    Open one with :meth:`create` or :meth:`open` (also a context manager that
    closes it). All writes are immediate (autosave).

    Attributes:
        folder: the project folder.
        read_only: True when the project was opened read-only (its folder or
            file cannot be written, or ``open(read_only=True)``): every
            write raises :class:`ProjectError` "… the project is read-only …".
    """

    def __init__(self, folder: Path, conn: sqlite3.Connection, read_only: bool = False):
        """Use :meth:`create` or :meth:`open`."""
        self.folder = Path(folder)
        self.read_only = bool(read_only)
        self._abs = Path(os.path.abspath(self.folder))
        self._real = Path(os.path.realpath(self.folder))
        self._conn: sqlite3.Connection | None = conn
        self._writes = 0  # commits made through this Project (PRAGMA data_version counts the others)
        self._id_cache: dict[tuple, tuple[tuple[int, int], list[int]]] = {}
        query.register_functions(conn)

    # ------------------------------------------------------------ opening

    @classmethod
    def create(cls, folder: str | os.PathLike) -> Project:
        """Make a new, empty project in ``folder`` (created if missing; it may
        already hold other files).

        Raises:
            ProjectError: ``folder`` already holds a project, or it cannot be
                created or written.
        """
        folder = Path(folder)
        db = folder / PROJECT_FILE
        if db.exists():
            raise ProjectError(f"{folder} already holds a Sayso project; open it instead.")
        try:
            (folder / AUDIO_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"The project folder {folder} cannot be created ({_os_reason(exc)}).") from None
        conn = connect(db)
        try:
            migrate(conn, name=f"The project in {folder}")
        except BaseException:
            conn.close()
            raise
        return cls(folder, conn)

    @classmethod
    def open(cls, folder: str | os.PathLike, *, check: bool = True, read_only: bool | None = None) -> Project:
        """Open an existing project, upgrading an older project format.

        Before an upgrade the file is backed up beside it as
        ``project.v<N>.sqlite.bak`` (``N`` the old format).

        Args:
            folder: the project folder.
            check: run SQLite's ``quick_check`` first (time grows with the
                file's size: ~0.2 s for 100,000 utterances, 65 MB) and refuse a
                damaged file. False only to rescue what is readable
                (:func:`engine.data.rescue.rescue`).
            read_only: open for reading only; None (the default) does so
                when the folder or the file cannot be written. Then
                :attr:`read_only` is True and every write raises.

        Raises:
            ProjectError: the folder does not exist or holds no
                ``project.sqlite``, or an empty (0-byte) one; the file is
                damaged (the message points to "Check project"), of another
                program, or was saved by a newer Sayso; the upgrade failed
                (the file is then unchanged); a read-only project is in an
                older format (it cannot be upgraded in place).
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise ProjectError(f"{folder}: no such folder.")
        db = folder / PROJECT_FILE
        if not db.is_file():
            raise ProjectError(f"{folder} is not a Sayso project (it has no {PROJECT_FILE}).")
        if _empty(db):
            raise ProjectError(f"{db} is empty (0 bytes), so it holds no project; if creating the project "
                               "was interrupted, delete the file and create the project again.")
        if read_only is None:
            read_only = not (os.access(db, os.W_OK) and os.access(folder, os.W_OK))
        conn = connect(db, read_only=read_only)
        try:
            try:
                found = user_version(conn)
            except sqlite3.DatabaseError:
                raise ProjectError(f"{db} is damaged or not a Sayso project file.") from None
            if check:
                _refuse_damaged(conn, db)
            if read_only and found < SCHEMA_VERSION:
                raise ProjectError(
                    f"The project in {folder} is read-only and "
                    + (f"in an older project format ({found}), which cannot be upgraded in place; "
                       "copy the folder somewhere writable to open it." if found else "holds no project."))
            if 0 < found < SCHEMA_VERSION:
                _backup(conn, folder / f"project.v{found}.sqlite.bak")
            migrate(conn, target=found if read_only else SCHEMA_VERSION, name=f"The project in {folder}")
        except BaseException:
            conn.close()
            raise
        if not read_only:
            try:
                (folder / AUDIO_DIR).mkdir(exist_ok=True)
            except OSError:
                pass  # e.g. a read-only audio folder: reading still works
        return cls(folder, conn, read_only=read_only)

    def check(self) -> list[str]:
        """The full "Check project": SQLite's ``integrity_check`` and ``foreign_key_check``.

        Returns:
            One line per problem found; empty when the file is sound. Reads
            only (also works on a read-only project).

        Raises:
            ProjectError: the project is closed.
        """
        return integrity_problems(self._db())

    def close(self) -> None:
        """Close the database (everything is already saved). Idempotent."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Project({str(self.folder)!r}{'' if self._conn else ', closed'})"

    @property
    def audio_dir(self) -> Path:
        """The folder recordings are copied into."""
        return self.folder / AUDIO_DIR

    @property
    def path(self) -> Path:
        """The database file."""
        return self.folder / PROJECT_FILE

    # ------------------------------------------------------------ transactions

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ProjectError(f"The project {self.folder} is closed.")
        return self._conn

    @contextmanager
    def _write(self, failure: str, values: dict | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction; any error rolls it all back.

        SQLite errors become :class:`ProjectError` ``"<failure>: <reason>."``;
        ``values`` (field → value) explain a broken CHECK rule.
        """
        conn = self._db()
        if self.read_only:
            raise ProjectError(f"{failure}: the project is read-only (its folder or file cannot be written, "
                               "or it was opened read-only); copy it somewhere writable to edit it.")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise ProjectError(f"{failure}: {_describe(exc)}.") from None
        try:
            yield conn
            conn.execute("COMMIT")
            self._writes += 1
        except BaseException as exc:
            self._writes += 1  # a failed COMMIT may still have changed the file
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise ProjectError(f"{failure}: {_describe(exc, values)}.") from None
            if isinstance(exc, history.MissingUtterance):
                raise ProjectError(f"{failure}: utterance {exc.args[0]} is not in this project.") from None
            raise

    @contextmanager
    def _read(self, failure: str) -> Iterator[sqlite3.Connection]:
        """A read transaction: several queries see one consistent state."""
        conn = self._db()
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise ProjectError(f"{failure}: {_describe(exc)}.") from None

    # ------------------------------------------------------------ speakers

    def add_speaker(self, name: str) -> int:
        """The id of the speaker called ``name`` (surrounding spaces ignored),
        added if new. Not part of the undo history.

        Raises:
            ProjectError: the name is empty.
        """
        name = str(name).strip()
        with self._write(f"Cannot add the speaker {name!r}") as conn:
            return self._speaker_id(conn, name)

    @staticmethod
    def _speaker_id(conn: sqlite3.Connection, name: str) -> int:
        conn.execute("INSERT INTO speakers (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,))
        return conn.execute("SELECT id FROM speakers WHERE name = ?", (name,)).fetchone()[0]

    def _speaker_ref(self, conn: sqlite3.Connection, speaker) -> int | None:
        if speaker is None or not str(speaker).strip():
            return None
        return self._speaker_id(conn, str(speaker).strip())

    def speakers(self) -> list[str]:
        """All speaker names, sorted."""
        with self._read("Cannot read the speakers") as conn:
            return [n for (n,) in conn.execute("SELECT name FROM speakers ORDER BY name")]

    # ------------------------------------------------------------ recordings

    def add_recording(self, src_path: str | os.PathLike, copy: bool = True) -> Recording:
        """Add an audio file to the project.

        A file already inside the project folder is referenced where it is.
        Otherwise, with ``copy`` (the default) it is copied into ``audio/``
        atomically under a free name (``a.wav``, ``a-2.wav``, …) unless a
        recording with the same bytes (SHA-256) is already in the project;
        without ``copy`` it is referenced by its absolute path. Adding the
        same file again returns the existing recording.

        Args:
            src_path: a WAV, FLAC or OGG file (anything soundfile reads).
            copy: copy a file from outside the project into it.

        Returns:
            The recording (rate in Hz, duration in seconds, checksum).

        Raises:
            ProjectError: the file is missing, unreadable or empty (with the
                :class:`~engine.audio.errors.AudioError` message), or the copy
                failed (disk full, not writable); nothing is added then.
        """
        src = Path(src_path)
        created: list[Path] = []
        try:
            with self._write(f"Cannot add {src.name}") as conn:
                return self._recording_for(conn, src, copy, created)
        except BaseException:
            _remove(created)
            raise

    def _relative(self, path: Path) -> str | None:
        """``path`` relative to the project folder (POSIX), or None if it is outside."""
        for base, p in ((self._abs, path), (self._real, Path(os.path.realpath(path)))):
            try:
                return p.relative_to(base).as_posix()
            except ValueError:
                pass
        return None

    def _file(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() else self._abs / p

    def _recording_from_row(self, r) -> Recording:
        return Recording(id=r[0], path=r[1], file=self._file(r[1]), sample_rate=r[2], channels=r[3],
                         duration=r[4], sha256=r[5], added=r[6])

    _REC_SQL = "SELECT id, path, sample_rate, channels, duration, sha256, added FROM recordings"

    def _recording_for(self, conn: sqlite3.Connection, src: Path, copy: bool, created: list[Path]) -> Recording:
        """Find or add the recording of ``src`` inside the current transaction.

        Files it copies are appended to ``created`` (for the caller to remove
        if the transaction fails).

        Raises:
            ProjectError: unreadable audio; _DiskProblem: the copy failed for want of disk.
        """
        src = Path(os.path.abspath(src))
        facts = probe(src)
        stored = self._relative(src)
        if stored is None and not copy:
            stored = str(src)
        try:
            if stored is not None:
                row = conn.execute(f"{self._REC_SQL} WHERE path = ?", (stored,)).fetchone()
                if row is not None:
                    return self._recording_from_row(row)
                digest = sha256_file(src)
            else:
                found: list[Recording] = []

                def same_bytes(d: str) -> bool:
                    for r in conn.execute(f"{self._REC_SQL} WHERE sha256 = ?", (d,)):
                        rec = self._recording_from_row(r)
                        if rec.file.is_file():
                            found.append(rec)
                            return True
                    return False

                dest, digest = copy_in(src, self.audio_dir, same_bytes)
                if dest is None:
                    return found[0]
                created.append(dest)
                stored = self._relative(dest)
        except OSError as exc:
            cls = _DiskProblem if _disk_error(exc) else ProjectError
            raise cls(f"{src.name} could not be {'copied into' if copy else 'read for'} the project "
                      f"({_os_reason(exc)}).") from None
        added = time.time()
        cur = conn.execute(
            "INSERT INTO recordings (path, sample_rate, channels, duration, sha256, added) VALUES (?, ?, ?, ?, ?, ?)",
            (stored, facts.sample_rate, facts.channels, facts.duration, digest, added))
        return Recording(cur.lastrowid, stored, self._file(stored), facts.sample_rate, facts.channels,
                         facts.duration, digest, added)

    def recording(self, recording_id: int) -> Recording:
        """One recording.

        Raises:
            ProjectError: there is no such recording.
        """
        with self._read(f"Cannot read recording {recording_id}") as conn:
            row = conn.execute(f"{self._REC_SQL} WHERE id = ?", (recording_id,)).fetchone()
        if row is None:
            raise ProjectError(f"There is no recording {recording_id} in this project.")
        return self._recording_from_row(row)

    def recordings(self) -> list[Recording]:
        """All recordings, by id."""
        with self._read("Cannot read the recordings") as conn:
            return [self._recording_from_row(r) for r in conn.execute(f"{self._REC_SQL} ORDER BY id")]

    def unreferenced_audio(self) -> list[Path]:
        """Files in ``audio/`` that no recording uses (left by a crash mid-import,
        or put there by hand), sorted. Nothing is deleted."""
        with self._read("Cannot read the recordings") as conn:
            used = {self._file(p) for (p,) in conn.execute("SELECT path FROM recordings")}
        if not self.audio_dir.is_dir():
            return []
        return sorted(p for p in Path(os.path.abspath(self.audio_dir)).rglob("*") if p.is_file() and p not in used)

    # ------------------------------------------------------------ utterances: reading

    def utterance(self, utterance_id: int) -> UtteranceRow:
        """One utterance.

        Raises:
            ProjectError: there is no such utterance.
        """
        with self._read(f"Cannot read utterance {utterance_id}") as conn:
            rows = query.rows_by_id(conn, [utterance_id])
        if utterance_id not in rows:
            raise ProjectError(f"There is no utterance {utterance_id} in this project.")
        return rows[utterance_id]

    def count(self, filter: UtteranceFilter | None = None) -> int:
        """How many utterances match ``filter`` (all when None).

        Raises:
            ProjectError: the database cannot be read.
        """
        with self._read("Cannot count the utterances") as conn:
            return query.count(conn, filter)

    def fetch(self, filter: UtteranceFilter | None = None, order_by: str = "id", offset: int = 0,
              limit: int = 100, descending: bool = False) -> list[UtteranceRow]:
        """One page of the utterances matching ``filter``, for a lazy table view.

        Args:
            filter: which utterances (None: all); its ``low_confidence_first``
                puts scored utterances first, lowest confidence first.
            order_by: a key of :data:`ORDER_BY`: ``"id"``, ``"start"``,
                ``"transcript"``, ``"status"``, ``"confidence"``,
                ``"duration"`` or ``"mislabel_score"``; ties go by id.
            offset: rows to skip (>= 0).
            limit: most rows to return (>= 0).
            descending: reverse the order.

        Returns:
            Up to ``limit`` rows.

        Raises:
            ValueError: ``order_by`` is not a whitelisted key, or ``offset``
                or ``limit`` is negative.
            ProjectError: the database cannot be read.
        """
        if order_by not in ORDER_BY:
            raise ValueError(f"cannot sort by {order_by!r}; choose one of {', '.join(ORDER_BY)}")
        if offset < 0 or limit < 0:
            raise ValueError(f"offset and limit must be >= 0, got {offset} and {limit}")
        with self._read("Cannot read the utterances") as conn:
            if query.walks_index(filter, order_by, descending):
                ids = query.page_ids(conn, filter, order_by, descending, offset, limit)
            else:
                ids = self._sorted_ids(conn, filter, order_by, descending)[offset:offset + limit]
            return query.fetch_ids(conn, ids)

    def _sorted_ids(self, conn: sqlite3.Connection, filter: UtteranceFilter | None, order_by: str,
                    descending: bool) -> list[int]:
        """All matching ids in order, cached until this or another connection commits a change."""
        version = (self._writes, conn.execute("PRAGMA data_version").fetchone()[0])
        key = (filter, order_by, descending)
        hit = self._id_cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        ids = query.ordered_ids(conn, filter, order_by, descending)
        if len(self._id_cache) >= _ID_CACHE_SIZE:
            self._id_cache.pop(next(iter(self._id_cache)))
        self._id_cache[key] = (version, ids)
        return ids

    # ------------------------------------------------------------ utterances: editing

    def _check_end(self, conn: sqlite3.Connection, recording_id: int, end: float, failure: str) -> float:
        """``end`` clamped to the recording's duration (within :data:`END_TOLERANCE`)."""
        row = conn.execute("SELECT duration FROM recordings WHERE id = ?", (recording_id,)).fetchone()
        if row is None:
            raise ProjectError(f"{failure}: there is no recording {recording_id} in this project.")
        duration = row[0]
        if end > duration + END_TOLERANCE:
            raise ProjectError(f"{failure}: it would end at {end:.2f} s, after the end of its "
                               f"recording ({duration:.2f} s).")
        return min(end, duration)

    def add_utterance(self, recording_id: int, start: float, end: float, transcript: str = "",
                      status: str = "unlabeled", speaker: str | None = None, split: str | None = None,
                      tags: Iterable[str] = ()) -> int:
        """Add an utterance (undoable).

        Args:
            recording_id: the recording it is a stretch of.
            start: start in seconds into the recording (>= 0).
            end: end in seconds (> start, at most the recording's duration;
                up to :data:`END_TOLERANCE` beyond it is clamped).
            transcript: the text.
            status: ``"unlabeled"``, ``"draft"`` or ``"verified"``.
            speaker: a speaker name (added if new) or None.
            split: ``"train"``, ``"dev"``, ``"test"`` or None.
            tags: labels; duplicates and surrounding spaces are dropped.

        Returns:
            The new utterance's id.

        Raises:
            ProjectError: no such recording; times, status or split not
                allowed; an empty tag.
        """
        failure = f"Cannot add an utterance to recording {recording_id}"
        start = _seconds(start, "the start", failure)
        end = _seconds(end, "the end", failure)
        values = {"start": start, "end": end, "status": status, "split": split}
        with self._write(failure, values) as conn:
            end = self._check_end(conn, recording_id, end, failure)
            edit = history.Edit(conn)
            uid = edit.insert({
                "recording_id": recording_id, "start": start, "end": end, "transcript": str(transcript),
                "status": status, "speaker_id": self._speaker_ref(conn, speaker), "split": split,
                "confidence": None, "mislabel_score": None, "tags": _tag_list(tags)})
            edit.log(f"add utterance {uid}")
        return uid

    def add_segments(self, recording_id: int, spans: Iterable[tuple[float, float]], description: str = "",
                     speaker: str | None = None,
                     labels: Sequence[tuple[str, float]] | None = None, split: str | None = None) -> list[int]:
        """Add utterances for ``(start, end)`` spans (seconds) of a recording as ONE undoable edit.

        For splitting a long recording at pauses (VAD), or into the segments a model
        transcribed. ``labels`` gives each span a model's ``(transcript, confidence)``
        (confidence in [0, 1]); an utterance with a transcript is a ``draft``, one
        without is ``unlabeled``. ``split`` applies to all of them. Raises :class:`ProjectError`
        as :meth:`add_utterance` does (and when ``labels`` does not match ``spans``); then nothing is added.
        """
        failure = f"Cannot add utterances to recording {recording_id}"
        spans = [(_seconds(a, "the start", failure), _seconds(b, "the end", failure)) for a, b in spans]
        if labels is None:
            labels = [("", None)] * len(spans)
        elif len(labels) != len(spans):
            raise ProjectError(f"{failure}: {len(labels)} transcripts for {len(spans)} spans.")
        else:
            labels = [(str(text).strip(), _score(conf, "the confidence", failure)) for text, conf in labels]
        ids: list[int] = []
        with self._write(failure) as conn:
            edit = history.Edit(conn)
            speaker_id = self._speaker_ref(conn, speaker)
            for (start, end), (text, confidence) in zip(spans, labels, strict=True):
                end = self._check_end(conn, recording_id, end, failure)
                ids.append(edit.insert({
                    "recording_id": recording_id, "start": start, "end": end, "transcript": text,
                    "status": "draft" if text else "unlabeled", "speaker_id": speaker_id, "split": split,
                    "confidence": confidence if text else None, "mislabel_score": None, "tags": []}))
            if ids:
                edit.log(description or f"add {len(ids)} utterances to recording {recording_id}")
        return ids

    def apply_model_labels(self, labels: Iterable[tuple[int, str, float]], model: str = "the model") -> int:
        """Store a model's transcripts and confidences as ONE undoable edit.

        Args:
            labels: ``(utterance_id, transcript, confidence)`` with confidence
                in [0, 1]. Every utterance gets the confidence; the transcript
                is written only where the stored one is empty, and an
                ``unlabeled`` utterance with a new transcript becomes ``draft``
                (a person's text is never overwritten).
            model: the model's name, for the history description.

        Returns:
            How many utterances changed.

        Raises:
            ProjectError: an utterance is missing or a confidence is outside
                [0, 1]; then nothing is changed.
        """
        failure = "Cannot store the model's labels"
        labels = [(int(uid), str(text), _score(conf, "the confidence", failure)) for uid, text, conf in labels]
        changed = 0
        with self._write(failure) as conn:
            edit = history.Edit(conn)
            for uid, text, conf in labels:
                before = history.snapshot(conn, uid)
                if before is None:
                    raise ProjectError(f"{failure}: utterance {uid} is not in this project.")
                changes = {"confidence": conf} if conf != before["confidence"] else {}
                if not before["transcript"].strip() and text.strip():
                    changes["transcript"] = text
                    if before["status"] == "unlabeled":
                        changes["status"] = "draft"
                if changes:
                    edit.update(uid, changes)
                    changed += 1
            if changed:
                edit.log(f"pre-label {changed} utterance{'s' if changed != 1 else ''} with {model}")
        return changed

    def set_mislabel_scores(self, scores: Iterable[tuple[int, float]]) -> int:
        """Store derived "possible mislabel" scores in [0, 1] (one transaction, not undoable:
        they are recomputed from the audio and transcripts, not typed by anyone).

        Returns:
            How many utterances were updated (missing ids are skipped).

        Raises:
            ProjectError: a score outside [0, 1]; then nothing is stored.
        """
        failure = "Cannot store the mislabel scores"
        scores = [(int(uid), _score(v, "the mislabel score", failure)) for uid, v in scores]
        with self._write(failure) as conn:
            cur = conn.executemany("UPDATE utterances SET mislabel_score = ? WHERE id = ?",
                                   [(v, uid) for uid, v in scores])
            return cur.rowcount

    def set_word_timings(self, utterance_id: int, words: Iterable, transcript: str, model: str = "") -> int:
        """Store when each word of an utterance was said, replacing earlier timings (one transaction).

        Not undoable: timings are derived from the audio and transcript by a
        forced alignment and can be recomputed (see :mod:`engine.data.word_timings`).

        Args:
            utterance_id: the utterance.
            words: objects with ``word``, ``start``/``end`` (seconds into the
                recording) and ``confidence`` (0…1 or None), in order.
            transcript: the text they were aligned to.
            model: the aligning model's name.

        Returns:
            How many words were stored.

        Raises:
            ProjectError: no such utterance, or times not in order / not numbers.
        """
        failure = f"Cannot store the word timings of utterance {utterance_id}"
        with self._write(failure) as conn:
            if conn.execute("SELECT 1 FROM utterances WHERE id = ?", (utterance_id,)).fetchone() is None:
                raise ProjectError(f"{failure}: there is no such utterance in this project.")
            try:
                return timings.replace(conn, utterance_id, words, str(transcript), str(model))
            except ValueError as exc:
                raise ProjectError(f"{failure}: {exc}.") from None

    def word_timings(self, utterance_id: int) -> timings.StoredTimings | None:
        """The utterance's stored word timings (seconds into the recording), or None.

        Raises:
            ProjectError: the database cannot be read.
        """
        with self._read(f"Cannot read the word timings of utterance {utterance_id}") as conn:
            return timings.read(conn, utterance_id)

    def update_utterance(self, utterance_id: int, **fields) -> UtteranceRow:
        """Change fields of an utterance in one undoable edit.

        Args:
            utterance_id: the utterance.
            **fields: any of ``transcript`` (str), ``start``, ``end``
                (seconds), ``status``, ``speaker`` (a name, added if new, or
                None), ``split`` (or None), ``tags`` (replaces them all),
                ``confidence`` (0…1 or None), ``mislabel_score`` (or None).
                Fields equal to the stored value are ignored; when nothing
                changes no edit is recorded. A speaker added here stays in
                :meth:`speakers` after an undo.

        Returns:
            The utterance as stored afterwards.

        Raises:
            TypeError: a field name is not one of the above.
            ProjectError: no such utterance; the new times, status, split or
                confidence are not allowed (nothing is changed then).
        """
        unknown = sorted(set(fields) - set(_EDITABLE))
        if unknown:
            raise TypeError(f"update_utterance() got unknown field(s) {', '.join(unknown)}; "
                            f"editable: {', '.join(_EDITABLE)}")
        failure = f"Cannot edit utterance {utterance_id}"
        new: dict = {}
        for name, value in fields.items():
            if name in ("start", "end"):
                value = _seconds(value, f"the {name}", failure)
            elif name in ("confidence", "mislabel_score"):
                value = _score(value, _FIELD_WORDS.get(name, name), failure)
            elif name == "transcript":
                value = str(value)
            elif name == "tags":
                value = _tag_list(value)
            new[name] = value
        with self._write(failure, new) as conn:
            before = history.snapshot(conn, utterance_id)
            if before is None:
                raise ProjectError(f"{failure}: it is not in this project.")
            changes, changed_names = {}, []
            for name, value in new.items():
                column = _EDITABLE[name]
                if name == "speaker":
                    value = self._speaker_ref(conn, value)
                elif name == "end":
                    value = self._check_end(conn, before["recording_id"], value, failure)
                if value != before[column]:
                    changes[column] = value
                    changed_names.append(name)
            if changes:
                edit = history.Edit(conn)
                edit.update(utterance_id, changes)
                edit.log(f"edit {_words(changed_names)} of utterance {utterance_id}")
            rows = query.rows_by_id(conn, [utterance_id])
        return rows[utterance_id]

    def split_utterance(self, utterance_id: int, at_seconds: float) -> tuple[int, int]:
        """Split an utterance in two at ``at_seconds`` (one undoable edit).

        The first part keeps the id, the transcript, speaker, split and tags;
        a verified first part becomes draft (its transcript now covers less
        audio). The second part is new, unlabeled with an empty transcript,
        and copies speaker, split and tags. Both lose their confidence and
        mislabel score (they were for the whole).

        Args:
            utterance_id: the utterance.
            at_seconds: where to cut, seconds into the recording, strictly
                between the utterance's start and end.

        Returns:
            ``(first_id, second_id)``.

        Raises:
            ProjectError: no such utterance, or ``at_seconds`` not inside it.
        """
        failure = f"Cannot split utterance {utterance_id}"
        at = _seconds(at_seconds, "the split point", failure)
        with self._write(failure) as conn:
            a = history.snapshot(conn, utterance_id)
            if a is None:
                raise ProjectError(f"{failure}: it is not in this project.")
            if not a["start"] < at < a["end"]:
                raise ProjectError(f"{failure} at {at:.2f} s: that is not inside it "
                                   f"({a['start']:.2f}–{a['end']:.2f} s).")
            edit = history.Edit(conn)
            edit.update(utterance_id, {
                "end": at, "status": "draft" if a["status"] == "verified" else a["status"],
                "confidence": None, "mislabel_score": None})
            second = edit.insert({
                "recording_id": a["recording_id"], "start": at, "end": a["end"], "transcript": "",
                "status": "unlabeled", "speaker_id": a["speaker_id"], "split": a["split"],
                "confidence": None, "mislabel_score": None, "tags": list(a["tags"])})
            edit.log(f"split utterance {utterance_id} at {at:.2f} s")
        return utterance_id, second

    def merge_with_next(self, utterance_id: int) -> int:
        """Merge an utterance with the next one of its recording (by start) in one undoable edit.

        The result keeps this utterance's id and start, ends where the later
        of the two ends, joins the transcripts with a space, takes the lower
        status (unlabeled < draft < verified), this speaker and split (else
        the next one's), the union of the tags, and no confidence or
        mislabel score. The next utterance is deleted.

        Returns:
            The merged utterance's id (``utterance_id``).

        Raises:
            ProjectError: no such utterance, or it is the last of its recording.
        """
        failure = f"Cannot merge utterance {utterance_id} with the next one"
        with self._write(failure) as conn:
            a = history.snapshot(conn, utterance_id)
            if a is None:
                raise ProjectError(f"{failure}: it is not in this project.")
            nxt = conn.execute(
                "SELECT id FROM utterances WHERE recording_id = ? AND (start > ? OR (start = ? AND id > ?)) "
                "ORDER BY start, id LIMIT 1",
                (a["recording_id"], a["start"], a["start"], utterance_id)).fetchone()
            if nxt is None:
                raise ProjectError(f"{failure}: it is the last utterance of its recording.")
            b = history.snapshot(conn, nxt[0])
            edit = history.Edit(conn)
            edit.delete(b["id"])
            edit.update(utterance_id, {
                "end": max(a["end"], b["end"]),
                "transcript": " ".join(t for t in (a["transcript"].strip(), b["transcript"].strip()) if t),
                "status": min(a["status"], b["status"], key=_STATUS_RANK.__getitem__),
                "speaker_id": a["speaker_id"] if a["speaker_id"] is not None else b["speaker_id"],
                "split": a["split"] if a["split"] is not None else b["split"],
                "tags": sorted(set(a["tags"]) | set(b["tags"])),
                "confidence": None, "mislabel_score": None})
            edit.log(f"merge utterance {utterance_id} with {b['id']}")
        return utterance_id

    def update_utterances(self, utterance_ids: Iterable[int], **fields) -> int:
        """Set ``status``, ``split``, ``speaker`` or ``tags`` of many utterances as ONE undoable edit
        (the Dataset tab's bulk actions on a multi-row selection).

        Returns:
            How many utterances changed (fields equal to the stored value are ignored).

        Raises:
            TypeError: a field other than those four.
            ProjectError: an utterance is missing, or the status/split is not allowed; then nothing changes.
        """
        bulk = {"status", "split", "speaker", "tags"}
        unknown = sorted(set(fields) - bulk)
        if unknown:
            raise TypeError(f"update_utterances() can set {', '.join(sorted(bulk))}, not {', '.join(unknown)}")
        ids = list(dict.fromkeys(int(i) for i in utterance_ids))
        failure = f"Cannot edit {len(ids)} utterances"
        new = {name: (_tag_list(v) if name == "tags" else v) for name, v in fields.items()}
        changed = 0
        with self._write(failure, new) as conn:
            edit = history.Edit(conn)
            values = {_EDITABLE[name]: (self._speaker_ref(conn, v) if name == "speaker" else v)
                      for name, v in new.items()}
            for uid in ids:
                before = history.snapshot(conn, uid)
                if before is None:
                    raise ProjectError(f"{failure}: utterance {uid} is not in this project.")
                changes = {column: v for column, v in values.items() if before[column] != v}
                if changes:
                    edit.update(uid, changes)
                    changed += 1
            if changed:
                edit.log(f"set {_words(sorted(new))} of {changed} utterances")
        return changed

    def delete_utterances(self, utterance_ids: Iterable[int]) -> int:
        """Delete many utterances as ONE undoable edit (the recordings stay); returns how many.

        Raises:
            ProjectError: an utterance is missing; then nothing is deleted.
        """
        ids = list(dict.fromkeys(int(i) for i in utterance_ids))
        with self._write(f"Cannot delete {len(ids)} utterances") as conn:
            edit = history.Edit(conn)
            for uid in ids:
                if history.snapshot(conn, uid) is None:
                    raise ProjectError(f"Cannot delete {len(ids)} utterances: utterance {uid} is not in this project.")
                edit.delete(uid)
            if ids:
                edit.log(f"delete {len(ids)} utterances")
        return len(ids)

    def delete_utterance(self, utterance_id: int) -> None:
        """Delete an utterance (undoable; the recording stays).

        Raises:
            ProjectError: no such utterance.
        """
        with self._write(f"Cannot delete utterance {utterance_id}") as conn:
            edit = history.Edit(conn)
            edit.delete(utterance_id)
            edit.log(f"delete utterance {utterance_id}")

    # ------------------------------------------------------------ undo / redo

    def undo(self) -> str | None:
        """Revert the last edit of utterances (also one made before the project was
        last closed).

        Returns:
            What was undone, e.g. ``"edit transcript of utterance 12"``; None
            when there is nothing to undo.

        Raises:
            ProjectError: the database cannot be written (nothing changes then).
        """
        with self._write("Cannot undo") as conn:
            return history.undo(conn)

    def redo(self) -> str | None:
        """Re-apply the last undone edit; a new edit after an undo discards
        what could be redone.

        Returns:
            What was redone, or None when there is nothing to redo.

        Raises:
            ProjectError: the database cannot be written (nothing changes then).
        """
        with self._write("Cannot redo") as conn:
            return history.redo(conn)

    @property
    def can_undo(self) -> bool:
        """True if :meth:`undo` has something to undo."""
        with self._read("Cannot read the edit history") as conn:
            return history.can_undo(conn)

    @property
    def can_redo(self) -> bool:
        """True if :meth:`redo` has something to redo."""
        with self._read("Cannot read the edit history") as conn:
            return history.can_redo(conn)

    # ------------------------------------------------------------ import / export

    def import_items(self, items: Iterable[Utterance], source_name: str, *, copy: bool = True,
                     status: str | None = None,
                     progress: Callable[[int, int], None] | None = None) -> ImportReport:
        """Import the utterances read from one source file, all or nothing.

        Everything happens in ONE transaction: if anything fails (disk full,
        the database, an exception from ``progress``), no row of this source
        stays and the audio copied for it is removed. Items that cannot be
        used (missing or unreadable audio, times outside the audio, a bad
        status, split or tag) are left out and listed in the report instead;
        the others are imported. Audio is added as by :meth:`add_recording`
        (each file once, however many items use it). Imports are not undoable
        and discard what could be redone.

        Args:
            items: the records, e.g. from a reader of :mod:`engine.data.formats`.
                ``start`` None means 0; ``end`` None means the end of the audio.
            source_name: how to name the source in rejects and errors.
            copy: copy audio from outside the project into ``audio/``.
            status: status of every imported utterance; None for ``"draft"``
                when it has a transcript, else ``"unlabeled"``.
            progress: called as ``progress(done, total)`` after each item;
                raising from it cancels the import (all rolled back).

        Returns:
            How many utterances were added, and the rejected items
            (``Reject(source_name, None, "item <n> (<file>): <reason>")``,
            ``n`` counting from 1; the file name is left out when the
            reason already gives it).

        Raises:
            ProjectError: the import failed as a whole; nothing was imported.
        """
        items = list(items)
        report = ImportReport(0, [])
        created: list[Path] = []
        recordings: dict[str, Recording] = {}
        bad_audio: dict[str, str] = {}
        try:
            with self._write(f"Cannot import {source_name}") as conn:
                for n, item in enumerate(items, 1):
                    try:
                        self._import_one(conn, item, copy, status, recordings, bad_audio, created)
                        report.added += 1
                    except _Rejected as exc:
                        name = Path(getattr(item, "audio_path", "") or "?").name
                        where = f"item {n}" if name in str(exc) else f"item {n} ({name})"
                        report.rejects.append(Reject(source_name, None, f"{where}: {exc}"))
                    if progress is not None:
                        progress(n, len(items))
                if report.added:
                    history.drop_redo(conn)
        except _DiskProblem as exc:
            _remove(created)
            raise ProjectError(f"Cannot import {source_name}: {exc} Nothing of it was imported.") from None
        except BaseException:
            _remove(created)
            raise
        return report

    def _import_one(self, conn: sqlite3.Connection, item: Utterance, copy: bool, status: str | None,
                    recordings: dict[str, Recording], bad_audio: dict[str, str], created: list[Path]) -> None:
        """Insert one item inside a savepoint; raises _Rejected (rolled back) if it cannot be used."""
        key = os.path.abspath(item.audio_path)
        if key in bad_audio:
            raise _Rejected(bad_audio[key])
        text = "" if item.text is None else str(item.text)
        conn.execute("SAVEPOINT import_item")
        mark, new_recording = len(created), key not in recordings
        try:
            try:
                rec = recordings.get(key) or self._recording_for(conn, Path(key), copy, created)
            except _DiskProblem:
                raise
            except ProjectError as exc:
                bad_audio[key] = str(exc)
                raise _Rejected(str(exc)) from None
            recordings[key] = rec
            start = 0.0 if item.start is None else _item_seconds(item.start, "start")
            end = rec.duration if item.end is None else _item_seconds(item.end, "end")
            if end > rec.duration + END_TOLERANCE:
                raise _Rejected(f"it ends at {end:.2f} s, after the end of the audio ({rec.duration:.2f} s)")
            end = min(end, rec.duration)
            row_status = status or ("draft" if text.strip() else "unlabeled")
            split = item.split or None
            try:
                cur = conn.execute(
                    'INSERT INTO utterances (recording_id, start, "end", transcript, status, speaker_id, split, '
                    "updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (rec.id, start, end, text, row_status, self._speaker_ref(conn, item.speaker), split,
                     time.time()))
                conn.executemany("INSERT INTO utterance_tags (utterance_id, tag) VALUES (?, ?)",
                                 [(cur.lastrowid, t) for t in _tag_list(item.tags)])
            except sqlite3.IntegrityError as exc:
                raise _Rejected(_describe(exc, {"start": start, "end": end, "status": row_status,
                                                "split": split})) from None
            conn.execute("RELEASE import_item")
        except BaseException:
            if conn.in_transaction:  # SQLite may already have rolled back everything (e.g. disk full)
                conn.execute("ROLLBACK TO import_item")
                conn.execute("RELEASE import_item")
            if new_recording:
                recordings.pop(key, None)
            _remove(created[mark:])
            del created[mark:]
            raise

    def export_items(self, filter: UtteranceFilter | None = None) -> list[Utterance]:
        """The utterances matching ``filter`` (all when None) as records for the
        format writers, by id.

        ``audio_path`` is absolute; ``start`` and ``end`` are None when the
        utterance spans its whole recording (within 1 ms), else seconds.

        Raises:
            ProjectError: the database cannot be read.
        """
        w, params = query.where(filter)
        with self._read("Cannot export the utterances") as conn:
            tags: dict[int, list[str]] = {}
            for uid, tag in conn.execute(
                    f"SELECT utterance_id, tag FROM utterance_tags WHERE utterance_id IN "
                    f"(SELECT u.id FROM utterances u {w}) ORDER BY utterance_id, tag", params):
                tags.setdefault(uid, []).append(tag)
            rows = conn.execute(
                f'SELECT u.id, r.path, r.duration, u.start, u."end", u.transcript, s.name, u.split '
                f"FROM utterances u JOIN recordings r ON r.id = u.recording_id "
                f"LEFT JOIN speakers s ON s.id = u.speaker_id {w} ORDER BY u.id", params).fetchall()
        out = []
        for uid, path, duration, start, end, text, speaker, split in rows:
            whole = start < WHOLE_TOLERANCE and abs(end - duration) < WHOLE_TOLERANCE
            out.append(Utterance(self._file(path), text, None if whole else start, None if whole else end,
                                  speaker, split, tuple(tags.get(uid, ()))))
        return out


def _empty(db: Path) -> bool:
    """True for a 0-byte database file with no write-ahead log holding its content."""
    wal = db.with_name(db.name + "-wal")
    return db.stat().st_size == 0 and not (wal.is_file() and wal.stat().st_size > 0)


def _refuse_damaged(conn: sqlite3.Connection, db: Path) -> None:
    """Raise a one-line ProjectError when ``quick_check`` finds damage."""
    problems = integrity_problems(conn, quick=True)
    if problems:
        first = problems[0] if len(problems[0]) <= 120 else problems[0][:117] + "..."
        more = f" and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''}" if len(problems) > 1 else ""
        raise ProjectError(f"{db} is damaged ({first}{more}). Do not edit it further: use \"Check project\" "
                           "to copy what is still readable into a new project.")


def _backup(conn: sqlite3.Connection, dest: Path) -> None:
    """Copy the database (with its WAL) to ``dest`` before an upgrade; keeps an existing backup."""
    if dest.exists():
        return
    try:
        target = sqlite3.connect(str(dest))
        try:
            conn.backup(target)
        finally:
            target.close()
    except (sqlite3.Error, OSError) as exc:
        Path(dest).unlink(missing_ok=True)
        raise ProjectError(f"Cannot back up {dest.parent / PROJECT_FILE} before upgrading it "
                           f"({exc}); the project was left unchanged.") from None
