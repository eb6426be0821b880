"""LJSpeech: ``metadata.csv`` beside a ``wavs/`` folder.

Layout (Keith Ito, "The LJ Speech Dataset", README of LJSpeech-1.1,
https://keithito.com/LJ-Speech-Dataset/): one line per clip,
``ID|Transcription|Normalized Transcription`` in UTF-8, fields separated by
``|`` with no quoting (transcripts contain quotes), audio in ``wavs/ID.wav``.
Many "LJSpeech-format" corpora have only ``ID|Transcription``; both are read.

The imported text is the normalized transcription (numbers written as words)
when it is present and not empty, else the transcription; each clip is a whole
file (``start = end = None``) and there is no speaker or split. Times are in
seconds.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from engine.atomic import atomic_write
from engine.data.formats._common import (
    ReadContext,
    check_line_text,
    check_span,
    clean_text,
    export_clip,
    guarded,
    iter_lines,
    safe_id,
    same_file,
    show,
    text_problem,
    unique,
)
from engine.data.records import Reject
from engine.data.utterance import Utterance

NAME = "ljspeech"
METADATA = "metadata.csv"
WAVS = "wavs"


def read(path: str | os.PathLike, root: str | os.PathLike | None = None, *,
         sample_rate: int | None = None) -> tuple[list[Utterance], list[Reject]]:
    """Read an LJSpeech ``metadata.csv`` (or the folder holding it).

    Args:
        path: ``metadata.csv`` or its folder.
        root: import root; audio outside it is refused. Default: the folder of ``metadata.csv``.
        sample_rate: expected rate in Hz (LJSpeech-1.1 itself is 22050 Hz), or None for any.

    Returns:
        ``(items, rejects)``: one whole-file item per accepted line, in file
        order; a reject for every other non-blank line (not UTF-8, wrong number
        of ``|`` fields, empty or duplicate id, a path outside the root, a
        missing or unreadable ``wavs/ID.wav``, a sample-rate mismatch).

    Raises:
        Nothing on bad content: every problem becomes a reject.
    """
    path = Path(path)
    if path.is_dir():
        path = path / METADATA
    ctx = ReadContext.create(root, path.parent.absolute(), sample_rate)
    items: list[Utterance] = []
    guarded(path.name, ctx, _read, path, ctx, items)
    return items, ctx.rejects


def _read(path: Path, ctx: ReadContext, items: list[Utterance]) -> None:
    src = path.name
    seen: dict[str, int] = {}
    wavs = path.parent.absolute() / WAVS
    for n, line in iter_lines(path, ctx, src):
        fields = line.split("|")
        if len(fields) not in (2, 3):
            ctx.reject(src, n, f"expected 'id|transcription|normalized transcription', got {len(fields)} "
                               f"'|'-separated fields")
            continue
        uid = fields[0].strip()
        text = clean_text(fields[2] if len(fields) == 3 and fields[2].strip() else fields[1])
        if not uid:
            ctx.reject(src, n, "empty id")
            continue
        if uid in seen:
            ctx.reject(src, n, f"duplicate id {show(uid)} (first on line {seen[uid]})")
            continue
        seen[uid] = n
        problem = text_problem(text) or text_problem(uid)
        if problem:
            ctx.reject(src, n, problem)
            continue
        audio = ctx.locate(f"{uid}.wav", wavs)
        if isinstance(audio, str):
            ctx.reject(src, n, audio)
            continue
        ok = ctx.item_problem(audio, None, None, f"line {n}")
        if isinstance(ok, str):
            ctx.reject(src, n, ok)
            continue
        items.append(Utterance(audio, text))


def write(items: Sequence[Utterance], out: str | os.PathLike) -> list[Path]:
    """Write ``items`` as an LJSpeech folder: ``out/metadata.csv`` and ``out/wavs/ID.wav``.

    A whole WAV file already in ``out/wavs`` keeps its name and is not copied;
    others are copied there (converted to WAV if needed), and segments are cut
    into their own WAV files. The text goes into both transcription columns.
    Speakers, splits and tags are not written (LJSpeech has a single speaker).

    Returns:
        The files written (``metadata.csv`` first).

    Raises:
        ValueError: a text holds ``|`` or a line break, or a span is negative or empty.
        AudioError: a source audio file is missing or unreadable.
        OSError: the folder cannot be written.
    """
    out = Path(out)
    if out.name == METADATA:
        out = out.parent
    wavs = out / WAVS
    for i, it in enumerate(items):
        check_line_text(it, i, "LJSpeech metadata.csv", "|\n\r")
        check_span(it, i)
    taken: set[str] = set()
    plan: list[tuple[str, Utterance, bool]] = []
    # Files already in place keep their id; claim those names first.
    for it in items:
        src = Path(it.audio_path)
        if it.is_whole and src.suffix.lower() == ".wav" and same_file(src.parent, wavs):
            stem = src.stem
            if stem not in taken and "|" not in stem and stem.strip() == stem and stem:
                taken.add(stem)
                plan.append((stem, it, False))
                continue
        plan.append(("", it, True))
    written = [out / METADATA]
    lines = []
    for uid, it, copy in plan:
        if copy:
            base = safe_id(Path(it.audio_path).stem)
            if not it.is_whole:
                base = f"{base}_{int(round((it.start or 0.0) * 1000)):07d}"
            uid = unique(base, taken)
            written.append(export_clip(it, wavs / f"{uid}.wav", wav=True))
        lines.append(f"{uid}|{it.text}|{it.text}\n")
    wavs.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / METADATA) as fh:
        fh.writelines(lines)
    return written
