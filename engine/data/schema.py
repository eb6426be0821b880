"""The project database: connection settings, the versioned schema and its migrations.

A project's ``project.sqlite`` holds these rows (version 4):

* ``recordings``: one audio file each; ``path`` relative to the project
  folder (POSIX separators) or absolute for a file left outside it,
  ``sample_rate`` in Hz, ``channels``, ``duration`` in seconds, ``sha256``
  of the file's bytes, ``added`` (seconds since the epoch, UTC).
* ``utterances``: a stretch ``start`` … ``end`` (seconds into the recording)
  with its ``transcript``, ``status`` (unlabeled, draft, verified),
  ``speaker_id``, ``split`` (train, dev, test or NULL), ``confidence``
  (0…1, the model's, NULL until scored), ``mislabel_score`` (NULL until
  scored) and ``updated`` (seconds since the epoch). Tags live in
  ``utterance_tags`` (one row per utterance and tag).
* ``speakers``: a unique ``name`` each.
* ``history``: the edit log behind undo/redo (see :mod:`engine.data.history`).
* ``prompt_sessions`` (version 3): where a prompt-by-prompt recording
  session stands, one row per prompt file (see :mod:`engine.data.prompts`).
* ``word_timings`` (version 4): when each word of an utterance was said,
  from a forced alignment (see :mod:`engine.data.word_timings`).

Versions. ``PRAGMA user_version`` is the schema version; :data:`MIGRATIONS`
``[v]`` turns version ``v`` into ``v + 1`` and runs in one transaction
together with the version bump, so a crash mid-migration leaves the old
version intact. Steps are never edited once released: a change is a new step.
``PRAGMA application_id`` marks the file as a Sayso project.

This module imports no Qt.
"""
from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from engine.data.errors import ProjectError

__all__ = ["APPLICATION_ID", "MIGRATIONS", "SCHEMA_VERSION", "connect", "integrity_problems", "migrate",
           "user_version"]

log = logging.getLogger("sayso.project")

APPLICATION_ID = 0x53415953
"""``PRAGMA application_id`` of a Sayso project ("SAYS")."""
BUSY_TIMEOUT_SECONDS = 5.0
"""How long a write waits for another process's write to finish before failing."""


def _run(conn: sqlite3.Connection, statements: list[str]) -> None:
    for sql in statements:
        conn.execute(sql)


def _v0_to_v1(conn: sqlite3.Connection) -> None:
    """The first schema: recordings, speakers, utterances (no confidence yet), tags, history."""
    _run(conn, [
        f"PRAGMA application_id = {APPLICATION_ID}",
        """CREATE TABLE recordings (
            id          INTEGER PRIMARY KEY,
            path        TEXT NOT NULL UNIQUE,
            sample_rate INTEGER NOT NULL CONSTRAINT recording_rate CHECK (sample_rate > 0),
            channels    INTEGER NOT NULL CONSTRAINT recording_channels CHECK (channels > 0),
            duration    REAL NOT NULL CONSTRAINT recording_duration CHECK (duration > 0),
            sha256      TEXT NOT NULL CONSTRAINT recording_sha256 CHECK (length(sha256) = 64),
            added       REAL NOT NULL
        )""",
        "CREATE INDEX recordings_sha256 ON recordings(sha256)",
        """CREATE TABLE speakers (
            id   INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE CONSTRAINT speaker_name CHECK (length(trim(name)) > 0)
        )""",
        # AUTOINCREMENT: an id is never handed out twice, so an undo log entry
        # can never point at a newer utterance that reused a deleted one's id.
        """CREATE TABLE utterances (
            id             INTEGER PRIMARY KEY AUTOINCREMENT,
            recording_id   INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
            start          REAL NOT NULL,
            "end"          REAL NOT NULL,
            transcript     TEXT NOT NULL DEFAULT '',
            status         TEXT NOT NULL DEFAULT 'unlabeled',
            speaker_id     INTEGER REFERENCES speakers(id) ON DELETE SET NULL,
            split          TEXT,
            mislabel_score REAL,
            updated        REAL NOT NULL,
            CONSTRAINT utterance_times CHECK (start >= 0 AND "end" > start),
            CONSTRAINT utterance_status CHECK (status IN ('unlabeled', 'draft', 'verified')),
            CONSTRAINT utterance_split CHECK (split IN ('train', 'dev', 'test'))
        )""",
        """CREATE TABLE utterance_tags (
            utterance_id INTEGER NOT NULL REFERENCES utterances(id) ON DELETE CASCADE,
            tag          TEXT NOT NULL CONSTRAINT tag_text CHECK (length(trim(tag)) > 0),
            PRIMARY KEY (utterance_id, tag)
        ) WITHOUT ROWID""",
        "CREATE INDEX utterance_tags_tag ON utterance_tags(tag)",
        """CREATE TABLE history (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            description TEXT NOT NULL,
            undo_ops    TEXT NOT NULL,
            redo_ops    TEXT NOT NULL,
            undone      INTEGER NOT NULL DEFAULT 0 CONSTRAINT history_undone CHECK (undone IN (0, 1)),
            created     REAL NOT NULL
        )""",
        "CREATE INDEX history_undone ON history(undone, id)",
        # Every index below ends (implicitly) with the rowid, so "ORDER BY <key>, id"
        # walks the index and an OFFSET skips index entries without touching rows.
        "CREATE INDEX utterances_recording ON utterances(recording_id, start)",
        "CREATE INDEX utterances_start ON utterances(start)",
        "CREATE INDEX utterances_transcript ON utterances(transcript COLLATE NOCASE)",
        "CREATE INDEX utterances_status ON utterances(status)",
        # status sorts in workflow order: unlabeled, draft, verified
        "CREATE INDEX utterances_status_order ON utterances("
        "(CASE status WHEN 'unlabeled' THEN 0 WHEN 'draft' THEN 1 ELSE 2 END))",
        "CREATE INDEX utterances_speaker ON utterances(speaker_id)",
        "CREATE INDEX utterances_split ON utterances(split)",
        'CREATE INDEX utterances_duration ON utterances(("end" - start))',
        "CREATE INDEX utterances_mislabel ON utterances(mislabel_score)",
    ])


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    """The model's confidence per utterance (0…1, NULL until scored), indexed for sorting."""
    _run(conn, [
        "ALTER TABLE utterances ADD COLUMN confidence REAL "
        "CONSTRAINT utterance_confidence CHECK (confidence BETWEEN 0 AND 1)",
        "CREATE INDEX utterances_confidence ON utterances(confidence)",
        # "lowest confidence first, unscored last" in one index walk
        "CREATE INDEX utterances_low_confidence ON utterances((confidence IS NULL), confidence)",
    ])


def _v2_to_v3(conn: sqlite3.Connection) -> None:
    """Prompt-by-prompt recording sessions: where each prompt list stands (:mod:`engine.data.prompts`).

    One row per prompt file: ``path`` (relative to the project folder, POSIX,
    when the file is inside it; else absolute), ``sha256`` of its bytes (a
    moved file is found again by it, an edited one is noticed), ``position``
    (0-based index of the current prompt; the prompt count once all are
    done), ``prompt`` (that prompt's text, to find the place again in an
    edited file), ``speaker`` (who was reading, "" if unknown) and
    ``updated`` (seconds since the epoch).

    A table of its own rather than a generic key/value ``meta`` table: the
    columns are typed and checked by SQLite (a position cannot become
    negative or a string), a project can hold several prompt lists (e.g.
    one per speaker or chapter) each with its own place, and the most
    recent session is one indexed query. Not part of the undo history.
    """
    _run(conn, [
        """CREATE TABLE prompt_sessions (
            path     TEXT PRIMARY KEY CONSTRAINT prompt_session_path CHECK (length(path) > 0),
            sha256   TEXT NOT NULL CONSTRAINT prompt_session_sha256 CHECK (length(sha256) = 64),
            position INTEGER NOT NULL CONSTRAINT prompt_session_position CHECK (position >= 0),
            prompt   TEXT NOT NULL DEFAULT '',
            speaker  TEXT NOT NULL DEFAULT '',
            updated  REAL NOT NULL
        )""",
        "CREATE INDEX prompt_sessions_sha256 ON prompt_sessions(sha256)",
        "CREATE INDEX prompt_sessions_updated ON prompt_sessions(updated)",
    ])


def _v3_to_v4(conn: sqlite3.Connection) -> None:
    """Word timings: one row per word of an utterance, from a CTC forced alignment.

    ``position`` (0-based word index), ``word``, ``start``/``end`` in seconds
    into the *recording* (like the utterance's own times, so they stay right
    when the utterance's boundaries are nudged), ``confidence`` (0…1 or
    NULL), ``transcript`` (the utterance text they were aligned to: when the
    transcript changes they are out of date), ``model`` (the model's name)
    and ``created`` (seconds since the epoch). Deleting the utterance deletes
    them. Derived data, recomputed from audio and transcript, so not part of
    the undo history (as the mislabel scores).
    """
    _run(conn, [
        """CREATE TABLE word_timings (
            utterance_id INTEGER NOT NULL REFERENCES utterances(id) ON DELETE CASCADE,
            position     INTEGER NOT NULL CONSTRAINT word_timing_position CHECK (position >= 0),
            word         TEXT NOT NULL CONSTRAINT word_timing_word CHECK (length(trim(word)) > 0),
            start        REAL NOT NULL,
            "end"        REAL NOT NULL,
            confidence   REAL CONSTRAINT word_timing_confidence CHECK (confidence BETWEEN 0 AND 1),
            transcript   TEXT NOT NULL,
            model        TEXT NOT NULL DEFAULT '',
            created      REAL NOT NULL,
            CONSTRAINT word_timing_times CHECK (start >= 0 AND "end" >= start),
            PRIMARY KEY (utterance_id, position)
        ) WITHOUT ROWID""",
    ])


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v0_to_v1, _v1_to_v2, _v2_to_v3, _v3_to_v4]
"""``MIGRATIONS[v]`` upgrades a version-``v`` database to ``v + 1`` (inside a transaction)."""
SCHEMA_VERSION = len(MIGRATIONS)
"""The version this Sayso writes; older files are migrated up to it on open."""


def connect(path: str | Path, read_only: bool = False) -> sqlite3.Connection:
    """Open (or create) a project database with Sayso's settings.

    With ``read_only`` the file is opened through :func:`_connect_read_only`
    instead (nothing is created or changed, no setting below is written).

    * ``journal_mode=WAL``: readers (the table view, a training job in another
      process) never block the writer and a crash mid-write leaves the file
      intact (uncommitted WAL frames are ignored on the next open).
    * ``synchronous=FULL``: every commit is fsync-ed, so an edit the studio
      shows as saved survives a power cut, not only a crash. NORMAL would
      skip that fsync (a power cut could lose the last edits, never corrupt
      the file); edits come at human speed and an import is one transaction,
      so the extra fsync per commit (milliseconds) costs nothing noticeable.
    * ``foreign_keys=ON`` (SQLite's default is off, per connection).
    * Autocommit mode (``isolation_level=None``): the store issues
      ``BEGIN IMMEDIATE`` / ``COMMIT`` itself, one transaction per edit.

    Raises:
        ProjectError: the file is not an SQLite database, or cannot be opened
            (permissions, locked by another program).
    """
    path = Path(path)
    if read_only:
        return _connect_read_only(path)
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS)
    except sqlite3.Error as exc:
        raise ProjectError(f"{path}: the project file cannot be opened ({_open_reason(path, exc)}).") from None
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # e.g. some network file systems
            log.warning("%s: WAL journal unavailable, using %s", path, mode)
        conn.execute("PRAGMA synchronous = FULL")
    except sqlite3.DatabaseError as exc:
        conn.close()
        if "not a database" in str(exc) or "malformed" in str(exc):
            raise ProjectError(f"{path.name} is not a Sayso project file (it is damaged or "
                               "is some other kind of file).") from None
        raise ProjectError(f"{path}: the project file cannot be opened ({_open_reason(path, exc)}).") from None
    return conn


FULL_DISK_BYTES = 1 << 20
"""Free bytes under which an I/O error on opening a project is reported as a full disk."""


def _open_reason(path: Path, exc: sqlite3.Error) -> str:
    """Why opening failed, for a person: SQLite says "disk I/O error" when it cannot create the
    ``-wal``/``-shm`` files of a full disk, so an I/O error with under :data:`FULL_DISK_BYTES` free
    is a full disk too."""
    name, msg = getattr(exc, "sqlite_errorname", "") or "", str(exc)
    full = name == "SQLITE_FULL" or "disk is full" in msg
    if not full and (name.startswith("SQLITE_IOERR") or "disk I/O error" in msg):
        try:
            full = shutil.disk_usage(path.absolute().parent).free < FULL_DISK_BYTES
        except OSError:
            pass
    return "the disk is full; free some space and open it again" if full else msg


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """Open a project file for reading only, for a folder or file that cannot be written.

    A WAL database needs its ``-shm`` file: ``mode=ro`` works when the
    ``-wal``/``-shm`` files exist or can be created; otherwise (a read-only
    folder after a clean close) ``immutable=1`` reads the file as it is,
    without locks, trusting that nobody changes it meanwhile. ``query_only``
    makes any write fail as well.

    Raises:
        ProjectError: the file is not an SQLite database, or cannot be read.
    """
    uri = Path(os.path.abspath(path)).as_uri()
    reason = "unknown error"
    for options in ("mode=ro", "mode=ro&immutable=1"):
        try:
            conn = sqlite3.connect(f"{uri}?{options}", uri=True, isolation_level=None,
                                   timeout=BUSY_TIMEOUT_SECONDS)
        except sqlite3.Error as exc:
            reason = str(exc)
            continue
        try:
            conn.execute("PRAGMA query_only = ON")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            conn.close()
            if "not a database" in str(exc):
                raise ProjectError(f"{path.name} is not a Sayso project file (it is damaged or "
                                   "is some other kind of file).") from None
            reason = str(exc)
            continue
        return conn
    raise ProjectError(f"{path}: the project file cannot be opened for reading ({reason}).")


def integrity_problems(conn: sqlite3.Connection, quick: bool = False) -> list[str]:
    """What is wrong with the database file, one line per problem; empty when it is sound.

    ``quick`` runs ``PRAGMA quick_check`` (page structure and cell bounds,
    O(file size), no index-to-table comparison); otherwise ``PRAGMA
    integrity_check`` (everything, also that every index matches its table)
    followed by ``PRAGMA foreign_key_check``. A check that itself fails on a
    damaged page gives that error as the problem. Reads only.
    """
    pragmas = ["quick_check"] if quick else ["integrity_check", "foreign_key_check"]
    out: list[str] = []
    for pragma in pragmas:
        try:
            rows = conn.execute(f"PRAGMA {pragma}").fetchall()
        except sqlite3.DatabaseError as exc:
            out.append(str(exc))
            continue
        if pragma == "foreign_key_check":
            out += [f"{table} row {rowid} refers to a missing row of {parent}" for table, rowid, parent, _ in rows]
        else:
            out += [" ".join(str(r[0]).split()) for r in rows if r[0] != "ok"]
    return out


def user_version(conn: sqlite3.Connection) -> int:
    """The schema version stored in the file (0 for a new, empty file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION, name: str = "the project") -> int:
    """Bring the database up to schema version ``target``, one step per transaction.

    Args:
        conn: a connection from :func:`connect`.
        target: the version wanted (tests use lower ones to build old files).
        name: how to call the file in messages.

    Returns:
        The version the file had before.

    Raises:
        ProjectError: the file is newer than this Sayso (``user_version`` >
            :data:`SCHEMA_VERSION`), is an SQLite file of some other program,
            or a step failed (the file then keeps the last version that
            completed; nothing of the failed step remains).
    """
    found = user_version(conn)
    if found > SCHEMA_VERSION:
        raise ProjectError(
            f"{name} was saved by a newer version of Sayso (project format {found}; this "
            f"version reads up to {SCHEMA_VERSION}). Update Sayso to open it.")
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    if app_id not in (0, APPLICATION_ID) or (found == 0 and _has_tables(conn)):
        raise ProjectError(f"{name} is an SQLite database of some other program, not a Sayso project.")
    for version in range(found, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if user_version(conn) == version:  # another process may have migrated meanwhile
                MIGRATIONS[version](conn)
                conn.execute(f"PRAGMA user_version = {int(version) + 1}")
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise ProjectError(f"{name} could not be upgraded from project format {version} to "
                                   f"{version + 1} ({exc}); the file was left at format {version}.") from None
            raise
        if version:
            log.info("%s: migrated project format %d -> %d", name, version, version + 1)
    return found


def _has_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] > 0
