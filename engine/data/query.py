"""Reading utterances: the row type, filters and sort orders of the table view.

The studio's table shows up to hundreds of thousands of utterances lazily: it
asks :meth:`engine.data.store.Project.count` once and then
:meth:`~engine.data.store.Project.fetch` for the page on screen. A page is
read in two steps so that a deep page costs no more than an index walk:

1. the page's ids: without a filter (or in id order) ``SELECT id … ORDER BY
   <indexed key>, id LIMIT ? OFFSET ?`` walks an index (every sort key in
   :data:`ORDER_BY` has one; SQLite appends the rowid to each index, so
   ``<key>, id`` is fully indexed) and reads no table rows. A filter sorted
   by another key cannot be served by one index; then the ids of all matches
   are sorted once (:func:`ordered_ids`) and the store keeps that list until
   the data changes, so scrolling costs a list slice per page;
2. the page's rows, speakers and tags are then read by id.

User input only ever reaches SQL as a bound parameter; sort keys come from
the fixed :data:`ORDER_BY` table.

All times are in seconds. This module imports no Qt.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ORDER_BY", "STATUSES", "SPLITS", "UtteranceFilter", "UtteranceRow"]

STATUSES = ("unlabeled", "draft", "verified")
"""Labeling statuses, in workflow order."""
SPLITS = ("train", "dev", "test")
"""Data splits an utterance can belong to (or None)."""

ORDER_BY: dict[str, str] = {
    "id": "u.id",
    "start": "u.start",
    "transcript": "u.transcript COLLATE NOCASE",
    "status": "(CASE u.status WHEN 'unlabeled' THEN 0 WHEN 'draft' THEN 1 ELSE 2 END)",
    "confidence": "u.confidence",
    "duration": '(u."end" - u.start)',
    "mislabel_score": "u.mislabel_score",
}
"""Sort keys accepted by ``fetch(order_by=…)`` and the SQL each stands for
(each matches an index of the schema; ties are broken by id). ``status``
sorts in workflow order; a missing confidence or mislabel score sorts first
(ascending)."""

_CHUNK = 500  # ids per "IN (…)" (SQLite allows at least 999 parameters)


@dataclass(frozen=True)
class UtteranceRow:
    """One utterance as stored: an :class:`~engine.data.utterance.Utterance`'s
    fields (the audio is a recording's, and its times are always set) with its
    labeling state. :meth:`engine.data.store.Project.export_items` gives rows as
    :class:`~engine.data.utterance.Utterance` records.

    Attributes:
        id: the utterance's id (never reused, also after a delete).
        recording_id: the recording it is a stretch of.
        start: start in seconds into the recording (>= 0).
        end: end in seconds (> start).
        text: the transcript ("" when unlabeled; the ``transcript`` column).
        status: ``"unlabeled"``, ``"draft"`` or ``"verified"``.
        speaker: the speaker's name, or None.
        split: ``"train"``, ``"dev"``, ``"test"`` or None.
        tags: the tags, sorted.
        confidence: the model's confidence in 0…1, or None when not scored.
        mislabel_score: how likely the transcript is wrong, or None.
        updated: when the row last changed (an edit, undo or redo), in seconds
            since the epoch.
    """

    id: int
    recording_id: int
    start: float
    end: float
    text: str
    status: str
    speaker: str | None
    split: str | None
    tags: tuple[str, ...]
    confidence: float | None
    mislabel_score: float | None
    updated: float

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start


@dataclass(frozen=True)
class UtteranceFilter:
    """Which utterances a table view shows. Every criterion is optional;
    the ones given must all hold.

    Attributes:
        text: a substring of the transcript, case-insensitive ("" or None: any).
        status: ``"unlabeled"``, ``"draft"`` or ``"verified"``.
        speaker: a speaker's name (exact).
        split: ``"train"``, ``"dev"`` or ``"test"``.
        tag: a tag the utterance carries (exact).
        recording_id: only utterances of this recording.
        low_confidence_first: sort scored utterances by rising confidence
            before all others, then by the requested order (triage view).
    """

    text: str | None = None
    status: str | None = None
    speaker: str | None = None
    split: str | None = None
    tag: str | None = None
    recording_id: int | None = None
    low_confidence_first: bool = False


def where(f: UtteranceFilter | None) -> tuple[str, list]:
    """SQL ``WHERE`` clause (on alias ``u``) and its parameters for a filter."""
    if f is None:
        return "", []
    clauses, params = [], []
    if f.text:
        if f.text.isascii():  # LIKE folds ASCII case and can stop early; \ escapes % and _
            clauses.append("u.transcript LIKE ? ESCAPE '\\'")
            params.append("%" + f.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        else:  # full Unicode case folding ("É" finds "é")
            clauses.append("sayso_contains(u.transcript, ?)")
            params.append(f.text.casefold())
    if f.status is not None:
        clauses.append("u.status = ?")
        params.append(f.status)
    if f.speaker is not None:
        clauses.append("u.speaker_id = (SELECT id FROM speakers WHERE name = ?)")
        params.append(f.speaker)
    if f.split is not None:
        clauses.append("u.split = ?")
        params.append(f.split)
    if f.tag is not None:
        clauses.append("u.id IN (SELECT utterance_id FROM utterance_tags WHERE tag = ?)")
        params.append(f.tag)
    if f.recording_id is not None:
        clauses.append("u.recording_id = ?")
        params.append(int(f.recording_id))
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def order(f: UtteranceFilter | None, order_by: str, descending: bool, sort: bool = False) -> str:
    """SQL ``ORDER BY`` clause for a whitelisted key.

    With ``sort`` the first key is written ``+key``: SQLite then cannot walk
    an index in that order and instead finds the matching rows the fastest
    way (a filter's index, or one scan) and sorts them, which is much faster
    for a whole filtered result than walking the sort index and looking up
    every row to test the filter.

    Raises:
        ValueError: ``order_by`` is not a key of :data:`ORDER_BY`.
    """
    try:
        key = ORDER_BY[order_by]
    except (KeyError, TypeError):
        raise ValueError(f"cannot sort by {order_by!r}; choose one of {', '.join(ORDER_BY)}") from None
    d = " DESC" if descending else ""
    keys = [f"{key}{d}"] if order_by == "id" else [f"{key}{d}", f"u.id{d}"]
    if f is not None and f.low_confidence_first:
        keys = ["(u.confidence IS NULL)", "u.confidence"] + keys
    if sort:
        keys[0] = "+" + keys[0]
    return "ORDER BY " + ", ".join(keys)


def has_criteria(f: UtteranceFilter | None) -> bool:
    """True if the filter leaves some utterances out."""
    return f is not None and any(v not in (None, "") for v in (
        f.text, f.status, f.speaker, f.split, f.tag, f.recording_id))


def walks_index(f: UtteranceFilter | None, order_by: str, descending: bool) -> bool:
    """True if a page ``LIMIT n OFFSET k`` is served by walking one index in
    order (cost grows with ``k`` by index entries only, a few ms for 100k):
    no filter, or id order (every filter index ends with the rowid, or the
    table itself is in id order). Other pages need the matching rows sorted
    first: see :func:`ordered_ids`."""
    if f is not None and f.low_confidence_first:
        return order_by == "id" and not descending and not has_criteria(f)
    return order_by == "id" or not has_criteria(f)


def register_functions(conn: sqlite3.Connection) -> None:
    """Add the SQL functions the filters use to a connection."""
    conn.create_function("sayso_contains", 2, _contains, deterministic=True)


def _contains(hay: str | None, folded_needle: str) -> bool:
    return hay is not None and folded_needle in hay.casefold()


_ROW_SQL = (
    'SELECT u.id, u.recording_id, u.start, u."end", u.transcript, u.status, s.name, u.split, '
    "u.confidence, u.mislabel_score, u.updated "
    "FROM utterances u LEFT JOIN speakers s ON s.id = u.speaker_id WHERE u.id IN ({})"
)


def rows_by_id(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, UtteranceRow]:
    """The rows with these ids (missing ids are left out)."""
    ids = list(ids)
    raw: dict[int, tuple] = {}
    tags: dict[int, list[str]] = {}
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i:i + _CHUNK]
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(_ROW_SQL.format(marks), chunk):
            raw[r[0]] = r
        for uid, tag in conn.execute(
                f"SELECT utterance_id, tag FROM utterance_tags WHERE utterance_id IN ({marks}) "
                "ORDER BY utterance_id, tag", chunk):
            tags.setdefault(uid, []).append(tag)
    return {uid: UtteranceRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], tuple(tags.get(uid, ())),
                              r[8], r[9], r[10])
            for uid, r in raw.items()}


def count(conn: sqlite3.Connection, f: UtteranceFilter | None) -> int:
    """How many utterances match ``f``."""
    w, params = where(f)
    return int(conn.execute(f"SELECT count(*) FROM utterances u {w}", params).fetchone()[0])


def page_ids(conn: sqlite3.Connection, f: UtteranceFilter | None, order_by: str, descending: bool,
             offset: int, limit: int) -> list[int]:
    """The ids of one page, by ``LIMIT``/``OFFSET`` (fast when :func:`walks_index`)."""
    w, params = where(f)
    sql = f"SELECT u.id FROM utterances u {w} {order(f, order_by, descending)} LIMIT ? OFFSET ?"
    return [r[0] for r in conn.execute(sql, params + [int(limit), int(offset)])]


def ordered_ids(conn: sqlite3.Connection, f: UtteranceFilter | None, order_by: str,
                descending: bool) -> list[int]:
    """The ids of all matching utterances, in order (one sort of the matches)."""
    w, params = where(f)
    sql = f"SELECT u.id FROM utterances u {w} {order(f, order_by, descending, sort=True)}"
    return [r[0] for r in conn.execute(sql, params)]


def fetch_ids(conn: sqlite3.Connection, ids: list[int]) -> list[UtteranceRow]:
    """The rows of ``ids``, in that order (missing ids are left out)."""
    rows = rows_by_id(conn, ids)
    return [rows[i] for i in ids if i in rows]
