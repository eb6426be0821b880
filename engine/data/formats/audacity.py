"""Audacity label tracks exported as text: ``start<TAB>end<TAB>label`` per line.

Format (Audacity Manual, "Importing and Exporting Labels" / "Label Tracks",
https://manual.audacityteam.org/man/importing_and_exporting_labels.html):
UTF-8 plain text, one label per line, start and end in seconds (Audacity
writes six decimals) and the label text, separated by tabs. Start = end is a
point label; a line ``\\<TAB>low<TAB>high`` after a label holds its spectral
selection in Hz; Audacity 1.2 wrote ``start<TAB>label`` point labels.

One label file per audio file: ``x.txt`` belongs to the audio file with the
same stem in the same folder (Audacity names the export after the label track,
e.g. ``Labels.txt``: rename it, or pass ``audio=``). Each region label is one
utterance; point labels are rejected (an utterance needs an end after its
start), spectral-selection lines are skipped. A region over the whole file
reads as the whole file.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from engine.atomic import atomic_write
from engine.data.formats._common import (
    ReadContext,
    beside_audio,
    check_line_text,
    check_span,
    clean_text,
    duration_of,
    export_clip,
    group_by_audio,
    guarded,
    item_span,
    iter_lines,
    list_files,
    parse_time,
    stems_in,
    text_problem,
)
from engine.data.records import Reject
from engine.data.utterance import Utterance

NAME = "audacity"
SUFFIX = ".txt"


def read(path: str | os.PathLike, root: str | os.PathLike | None = None, *,
         sample_rate: int | None = None, audio: str | os.PathLike | None = None,
         ) -> tuple[list[Utterance], list[Reject]]:
    """Read an Audacity label file (or every ``*.txt`` in a folder, not recursive).

    Args:
        path: a label ``.txt`` file or a folder of them.
        root: import root; audio or label files outside it are refused. Default: the label file's folder.
        sample_rate: expected rate in Hz, or None for any.
        audio: the audio file of a single label file, instead of the one beside it.

    Returns:
        ``(items, rejects)`` in file order. A whole file is rejected (line None)
        when its audio is missing, unreadable, outside the root or at the
        wrong rate; a line when it is not UTF-8, has the wrong number of
        fields, times that are not numbers, is a point label, is negative,
        ends past the audio, or overlaps an earlier label.

    Raises:
        Nothing on bad content: every problem becomes a reject.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    ctx = ReadContext.create(root, folder.absolute(), sample_rate)
    items: list[Utterance] = []
    if path.is_dir():
        for f in list_files(path, (SUFFIX,), ctx):
            guarded(f.name, ctx, _read_one, f, ctx, None, items)
    else:
        guarded(path.name, ctx, _read_one, path, ctx, Path(audio) if audio is not None else None, items)
    return items, ctx.rejects


def _read_one(path: Path, ctx: ReadContext, audio: Path | None, items: list[Utterance]) -> None:
    src = path.name
    where = ctx.locate(str(audio), path.parent.absolute()) if audio is not None else beside_audio(path, ctx)
    facts = ctx.audio(where) if not isinstance(where, str) else where
    if isinstance(facts, str):
        ctx.reject(src, None, facts)
        return
    for n, line in iter_lines(path, ctx, src):
        fields = line.split("\t", 2)
        if fields[0] == "\\":
            if len(fields) == 3 and not any(isinstance(parse_time(f), str) for f in fields[1:]):
                continue  # spectral selection of the label above
            ctx.reject(src, n, "a spectral-selection line must be '\\<TAB>low Hz<TAB>high Hz'")
            continue
        if len(fields) < 2:
            ctx.reject(src, n, "expected 'start<TAB>end<TAB>label'")
            continue
        start = parse_time(fields[0])
        if isinstance(start, str):
            ctx.reject(src, n, f"start: {start}")
            continue
        end = parse_time(fields[1])
        if len(fields) == 2 and isinstance(end, str):
            ctx.reject(src, n, "a point label (Audacity 1.2 'start<TAB>label'), not a region")
            continue
        if isinstance(end, str):
            ctx.reject(src, n, f"end: {end}")
            continue
        label = clean_text(fields[2]) if len(fields) == 3 else ""
        if end == start:
            ctx.reject(src, n, f"a point label at {fields[0].strip()} s, not a region")
            continue
        problem = text_problem(label)
        if problem:
            ctx.reject(src, n, problem)
            continue
        ok = ctx.item_problem(where, start, end, f"line {n}")
        if isinstance(ok, str):
            ctx.reject(src, n, ok)
            continue
        items.append(Utterance(where, label, ok[1], ok[2]))


def write(items: Sequence[Utterance], out: str | os.PathLike, *, copy_audio: bool = True) -> list[Path]:
    """Write one label file per audio file into the folder ``out``: ``out/<stem>.txt``.

    Lines are ``start<TAB>end<TAB>text`` with six decimals (as Audacity
    writes them), in time order; a whole-file item spans 0 to the file's
    duration. Unless the audio already sits in ``out`` it is copied there
    (``copy_audio``) so the labels are beside it; stems are made unique, files
    of the same name in ``out`` are replaced. Speakers, splits and tags are not
    written.

    Returns:
        The files written (each copied audio file, then its label file).

    Raises:
        ValueError: a text holds a line break or is not valid Unicode, or a span is negative or empty.
        AudioError: an audio file is missing or unreadable.
        OSError: a file cannot be written.
    """
    out = Path(out)
    groups = group_by_audio(items)
    stems = stems_in(out, groups)
    tables = {}
    for audio, group in groups.items():  # check everything before writing anything
        dur = duration_of(audio)
        rows = []
        for i, it in group:
            check_line_text(it, i, "an Audacity label file")
            check_span(it, i)
            start, end = item_span(it, dur)
            rows.append((start, end, it.text))
        tables[audio] = sorted(rows, key=lambda r: (r[0], r[1]))
    written = []
    for audio, rows in tables.items():
        stem, inside = stems[audio]
        if copy_audio and not inside:  # the audio first: a label file never points at nothing
            written.append(export_clip(Utterance(audio, ""), out / f"{stem}{audio.suffix}"))
        target = out / f"{stem}{SUFFIX}"
        with atomic_write(target) as fh:
            fh.writelines(f"{s:.6f}\t{e:.6f}\t{t}\n" for s, e, t in rows)
        written.append(target)
    return written
