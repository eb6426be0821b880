"""Rescue a damaged project: copy every row that can still be read into a new project.

The repair path behind "Check project" (:meth:`engine.data.store.Project.check`
finds the damage; :meth:`~engine.data.store.Project.open` refuses a damaged
file). :func:`rescue` opens the damaged project read-only without the check,
reads recordings, speakers, utterances and tags (a whole-table read first; if
that hits a damaged page, row by row by id, so only the rows on damaged pages
are lost), and writes them into a new project: recordings through
:meth:`~engine.data.store.Project.add_recording` (audio inside the old project
is copied into the new one, audio outside it is referenced where it is), the
utterances with their ids, times, transcripts, status, speaker, split, tags
and scores, in one transaction. The damaged project is not changed.

Not copied: the undo history (the new project starts without one), word
timings and prompt-session positions (derived data, recomputed on demand).
This module imports no Qt.
"""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from engine.data.errors import ProjectError
from engine.data.store import Project

__all__ = ["RescueReport", "rescue"]

_UTTERANCE_COLUMNS = ("recording_id", "start", "end", "transcript", "status", "speaker_id", "split",
                      "confidence", "mislabel_score", "updated")


@dataclass
class RescueReport:
    """What :func:`rescue` copied and what it could not.

    Attributes:
        folder: the new project's folder.
        recordings: recordings copied.
        utterances: utterances copied.
        lost: one line per loss (unreadable rows as id ranges, recordings
            whose audio is gone, rows the new project's rules refused);
            empty when everything was copied.
    """

    folder: Path
    recordings: int = 0
    utterances: int = 0
    lost: list[str] = field(default_factory=list)


def rescue(src_folder: str | os.PathLike, dst_folder: str | os.PathLike) -> RescueReport:
    """Copy what is readable of the project in ``src_folder`` into a new project in ``dst_folder``.

    Args:
        src_folder: the (damaged) project; opened read-only, not changed.
        dst_folder: where to create the new project (it must not hold one).

    Returns:
        The report; the new project passes ``integrity_check``.

    Raises:
        ProjectError: the source cannot be opened at all (e.g. its first page
            is damaged) or is in an older format, or the new project cannot
            be created or written.
    """
    report = RescueReport(Path(dst_folder))
    with Project.open(src_folder, check=False, read_only=True) as src:
        conn = src._db()
        recordings = _rows(conn, "recordings", ("path",), report, "recording")
        speakers = dict(_rows(conn, "speakers", ("name",), report, "speaker"))
        utterances = _rows(conn, "utterances", _UTTERANCE_COLUMNS, report, "utterance")
        tags = _tags(conn, [u[0] for u in utterances], report)
        files = {rid: (src._file(path), Path(path).is_absolute()) for rid, path in recordings}
    with Project.create(dst_folder) as dst:
        new_rec: dict[int, int] = {}
        for rid, (file, outside) in files.items():
            try:
                new_rec[rid] = dst.add_recording(file, copy=not outside).id
                report.recordings += 1
            except ProjectError as exc:
                report.lost.append(f"recording {rid}: {exc} Its utterances are lost.")
        with dst._write("Cannot write the rescued utterances") as out:
            for uid, *values in utterances:
                row = dict(zip(_UTTERANCE_COLUMNS, values))
                if row["recording_id"] not in new_rec:
                    if row["recording_id"] in files:
                        continue  # reported with its recording
                    report.lost.append(f"utterance {uid}: its recording {row['recording_id']} could not be read.")
                    continue
                row["recording_id"] = new_rec[row["recording_id"]]
                name = speakers.get(row["speaker_id"])
                if row["speaker_id"] is not None and not isinstance(name, str):
                    report.lost.append(f"utterance {uid}: its speaker {row['speaker_id']} could not be read.")
                row["speaker_id"] = dst._speaker_ref(out, name) if isinstance(name, str) else None
                out.execute("SAVEPOINT rescue_row")
                try:
                    out.execute(f"INSERT INTO utterances (id, {', '.join(_quoted(c) for c in row)}) "
                                f"VALUES (?{', ?' * len(row)})", [uid, *row.values()])
                    out.executemany("INSERT INTO utterance_tags (utterance_id, tag) VALUES (?, ?)",
                                    [(uid, t) for t in tags.get(uid, ())])
                    out.execute("RELEASE rescue_row")
                    report.utterances += 1
                except sqlite3.IntegrityError as exc:
                    out.execute("ROLLBACK TO rescue_row")
                    out.execute("RELEASE rescue_row")
                    report.lost.append(f"utterance {uid}: its stored values are damaged ({exc}).")
    return report


def _quoted(column: str) -> str:
    return f'"{column}"'


def _rows(conn: sqlite3.Connection, table: str, columns: tuple[str, ...], report: RescueReport,
          what: str) -> list[tuple]:
    """Every readable ``(id, *columns)`` row of ``table``, by id; unreadable id ranges go to the report."""
    sql = f"SELECT id, {', '.join(_quoted(c) for c in columns)} FROM {table}"
    try:
        return conn.execute(f"{sql} ORDER BY id").fetchall()
    except sqlite3.DatabaseError as exc:
        reason = str(exc)
    rows, bad = [], []
    for i in range(1, _highest_id(conn, table) + 1):
        try:
            row = conn.execute(f"{sql} WHERE id = ?", (i,)).fetchone()
        except sqlite3.DatabaseError:
            bad.append(i)
            continue
        if row is not None:
            rows.append(row)
    if bad:
        report.lost.append(f"{what}s with ids {_ranges(bad)} could not be read ({reason}); "
                           "any that existed are lost.")
    return rows


def _highest_id(conn: sqlite3.Connection, table: str) -> int:
    """The highest id ``table`` may hold, from whatever can still be read (0 if nothing)."""
    found = [0]
    for sql in (f"SELECT max(id) FROM {table}",
                "SELECT seq FROM sqlite_sequence WHERE name = ?",
                "SELECT max(recording_id) FROM utterances" if table == "recordings" else None,
                "SELECT max(speaker_id) FROM utterances" if table == "speakers" else None):
        if sql is None:
            continue
        try:
            value = conn.execute(sql, (table,) if "?" in sql else ()).fetchone()
        except sqlite3.DatabaseError:
            continue
        if value and isinstance(value[0], int):
            found.append(value[0])
    return max(found)


def _tags(conn: sqlite3.Connection, ids: list[int], report: RescueReport) -> dict[int, list[str]]:
    """The tags of the utterances ``ids``; those whose tags cannot be read get none (reported)."""
    out: dict[int, list[str]] = {}
    try:
        for uid, tag in conn.execute("SELECT utterance_id, tag FROM utterance_tags ORDER BY utterance_id, tag"):
            out.setdefault(uid, []).append(tag)
        return out
    except sqlite3.DatabaseError:
        out.clear()
    bad = []
    for uid in ids:
        try:
            out[uid] = [t for (t,) in conn.execute(
                "SELECT tag FROM utterance_tags WHERE utterance_id = ? ORDER BY tag", (uid,))]
        except sqlite3.DatabaseError:
            bad.append(uid)
    if bad:
        report.lost.append(f"the tags of utterances {_ranges(bad)} could not be read; they were copied without.")
    return out


def _ranges(ids: list[int]) -> str:
    """``[1, 2, 3, 7]`` → ``"1–3, 7"``."""
    parts: list[str] = []
    start = prev = ids[0]
    for i in [*ids[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if i is not None:
            start = prev = i
    return ", ".join(parts)
