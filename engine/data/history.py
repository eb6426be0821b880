"""Undo and redo: every edit of utterances is logged with its inverse.

An edit is a short list of primitive operations on utterance rows:

* ``{"op": "insert", "row": {...}}``: insert a full row (with its id and tags);
* ``{"op": "delete", "id": n}``: delete a row (its tags go with it);
* ``{"op": "update", "id": n, "set": {column: value, ...}}``: change some
  columns (``"tags"`` replaces the tag set).

:class:`Edit` applies operations one by one and, for each, reads what it is
about to change to build the inverse operation. :meth:`Edit.log` then stores
the forward list (``redo_ops``) and the reversed inverses (``undo_ops``), as
JSON, in the ``history`` table, in the same transaction as the change itself:
an edit and its undo record are saved together or not at all, and both survive
a restart. :func:`undo` applies the newest entry's ``undo_ops`` and marks it
undone; :func:`redo` re-applies the oldest undone entry's ``redo_ops``; a new
edit deletes all undone entries (the redo branch). At most
:data:`HISTORY_LIMIT` entries are kept.

Updates store only the columns they change, so an undo restores those and
leaves other columns alone. Every applied operation sets ``updated`` to now.
Ids are never reused (``AUTOINCREMENT``), so an undo of a delete puts the row
back under its old id.

The caller owns the transaction (``BEGIN IMMEDIATE`` … ``COMMIT``); these
functions only run statements in it. This module imports no Qt.
"""
from __future__ import annotations

import json
import sqlite3
import time

__all__ = ["COLUMNS", "HISTORY_LIMIT", "Edit", "can_redo", "can_undo", "redo", "snapshot", "undo"]

HISTORY_LIMIT = 10_000
"""Edits kept for undo; older ones are dropped."""

COLUMNS = ("recording_id", "start", "end", "transcript", "status", "speaker_id", "split",
           "confidence", "mislabel_score")
"""Utterance columns an operation may set (besides the pseudo-column ``tags``)."""
_SQL_COLUMN = {c: f'"{c}"' for c in COLUMNS}  # the only column names that reach SQL


class MissingUtterance(LookupError):
    """An operation names an utterance that is not there (``args[0]`` is its id)."""


def snapshot(conn: sqlite3.Connection, uid: int) -> dict | None:
    """The full stored state of an utterance (columns, ``id`` and sorted ``tags``), or None."""
    row = conn.execute(f"SELECT {', '.join(_SQL_COLUMN.values())} FROM utterances WHERE id = ?",
                       (uid,)).fetchone()
    if row is None:
        return None
    out = dict(zip(COLUMNS, row))
    out["id"] = uid
    out["tags"] = _tags(conn, uid)
    return out


def _tags(conn: sqlite3.Connection, uid: int) -> list[str]:
    return [t for (t,) in conn.execute(
        "SELECT tag FROM utterance_tags WHERE utterance_id = ? ORDER BY tag", (uid,))]


def _set_tags(conn: sqlite3.Connection, uid: int, tags) -> None:
    conn.execute("DELETE FROM utterance_tags WHERE utterance_id = ?", (uid,))
    conn.executemany("INSERT INTO utterance_tags (utterance_id, tag) VALUES (?, ?)",
                     [(uid, t) for t in sorted(set(tags))])


def apply(conn: sqlite3.Connection, op: dict, now: float) -> dict:
    """Apply one operation; returns its inverse.

    An insert whose row has ``"id": None`` gets a new id, written back into
    ``op`` (so that a redo inserts the same id).

    Raises:
        MissingUtterance: an update or delete names a row that does not exist.
        sqlite3.IntegrityError: a CHECK or FOREIGN KEY constraint failed.
    """
    kind = op["op"]
    if kind == "insert":
        row = op["row"]
        cols = ["id", *COLUMNS, "updated"]
        cur = conn.execute(
            f"INSERT INTO utterances ({', '.join(_SQL_COLUMN.get(c, c) for c in cols)}) "
            f"VALUES ({', '.join('?' * len(cols))})",
            [row.get("id"), *(row.get(c) for c in COLUMNS), now])
        if row.get("id") is None:
            row["id"] = cur.lastrowid
        _set_tags(conn, row["id"], row.get("tags", ()))
        return {"op": "delete", "id": row["id"]}
    if kind == "delete":
        before = snapshot(conn, op["id"])
        if before is None:
            raise MissingUtterance(op["id"])
        conn.execute("DELETE FROM utterances WHERE id = ?", (op["id"],))
        return {"op": "insert", "row": before}
    if kind == "update":
        before = snapshot(conn, op["id"])
        if before is None:
            raise MissingUtterance(op["id"])
        changes = op["set"]
        cols = [c for c in changes if c != "tags"]
        unknown = [c for c in cols if c not in _SQL_COLUMN]
        if unknown:
            raise ValueError(f"not an utterance column: {unknown}")
        assignments = ", ".join([f"{_SQL_COLUMN[c]} = ?" for c in cols] + ["updated = ?"])
        conn.execute(f"UPDATE utterances SET {assignments} WHERE id = ?",
                     [changes[c] for c in cols] + [now, op["id"]])
        if "tags" in changes:
            _set_tags(conn, op["id"], changes["tags"])
        return {"op": "update", "id": op["id"], "set": {c: before[c] for c in changes}}
    raise ValueError(f"unknown history operation {kind!r}")


class Edit:
    """The operations of one edit, applied as they are added; :meth:`log` records it.

    Use inside a write transaction::

        e = Edit(conn)
        e.update(12, {"transcript": "hello"})
        e.log("edit transcript of utterance 12")
    """

    def __init__(self, conn: sqlite3.Connection, now: float | None = None):
        self.conn = conn
        self.now = time.time() if now is None else now
        self.forward: list[dict] = []
        self.inverse: list[dict] = []

    def _do(self, op: dict) -> dict:
        self.inverse.append(apply(self.conn, op, self.now))
        self.forward.append(op)
        return op

    def insert(self, row: dict) -> int:
        """Insert a row (columns of :data:`COLUMNS` plus optional ``tags``; ``id`` None
        for a new one); returns its id."""
        op = self._do({"op": "insert", "row": {"id": None, **row}})
        return op["row"]["id"]

    def update(self, uid: int, changes: dict) -> None:
        """Set some columns (and/or ``tags``) of utterance ``uid``."""
        self._do({"op": "update", "id": uid, "set": dict(changes)})

    def delete(self, uid: int) -> None:
        """Delete utterance ``uid``."""
        self._do({"op": "delete", "id": uid})

    def log(self, description: str) -> int | None:
        """Store the edit in the history (dropping the redo branch); returns its entry id,
        or None when no operation was applied."""
        if not self.forward:
            return None
        drop_redo(self.conn)
        cur = self.conn.execute(
            "INSERT INTO history (description, undo_ops, redo_ops, undone, created) VALUES (?, ?, ?, 0, ?)",
            (description, json.dumps(self.inverse[::-1], allow_nan=False),
             json.dumps(self.forward, allow_nan=False), self.now))
        self.conn.execute("DELETE FROM history WHERE id <= ?", (cur.lastrowid - HISTORY_LIMIT,))
        return cur.lastrowid


def drop_redo(conn: sqlite3.Connection) -> None:
    """Forget the undone edits (a new change makes them impossible to redo)."""
    conn.execute("DELETE FROM history WHERE undone = 1")


def can_undo(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM history WHERE undone = 0)").fetchone()[0] == 1


def can_redo(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM history WHERE undone = 1)").fetchone()[0] == 1


def undo(conn: sqlite3.Connection, now: float | None = None) -> str | None:
    """Revert the newest edit not yet undone; returns its description, or None if none.

    Raises:
        MissingUtterance, sqlite3.IntegrityError: the stored state no longer
            allows it (the caller rolls back).
    """
    entry = conn.execute(
        "SELECT id, description, undo_ops FROM history WHERE undone = 0 ORDER BY id DESC LIMIT 1").fetchone()
    if entry is None:
        return None
    now = time.time() if now is None else now
    for op in json.loads(entry[2]):
        apply(conn, op, now)
    conn.execute("UPDATE history SET undone = 1 WHERE id = ?", (entry[0],))
    return entry[1]


def redo(conn: sqlite3.Connection, now: float | None = None) -> str | None:
    """Re-apply the oldest undone edit; returns its description, or None if none.

    Raises:
        MissingUtterance, sqlite3.IntegrityError: as for :func:`undo`.
    """
    entry = conn.execute(
        "SELECT id, description, redo_ops FROM history WHERE undone = 1 ORDER BY id LIMIT 1").fetchone()
    if entry is None:
        return None
    now = time.time() if now is None else now
    for op in json.loads(entry[2]):
        apply(conn, op, now)
    conn.execute("UPDATE history SET undone = 0 WHERE id = ?", (entry[0],))
    return entry[1]
