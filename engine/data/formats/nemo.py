"""NeMo JSONL manifests: one JSON object per line.

Keys (NVIDIA NeMo ASR docs, "Datasets → Preparing Custom ASR Data",
https://docs.nvidia.com/nemo-framework/user-guide/latest/nemotoolkit/asr/datasets.html,
and :mod:`engine.data.manifest`): ``audio_filepath`` (absolute, or relative
to the manifest's folder), ``text``, ``duration`` in seconds, and optionally
``offset`` in seconds into the file, ``speaker``, ``sample_rate`` in Hz, and
the Sayso extensions ``split`` (``train``, ``dev`` or ``test``) and ``tags``
(a list of non-empty strings).

``offset``/``duration`` map to ``start = offset`` and ``end = offset +
duration``. A line without ``offset`` whose ``duration`` is missing or equals
the file's length is the whole file (``start = end = None``). Files written
here are also read by :func:`engine.data.manifest.read_manifest`.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

from engine.atomic import atomic_write
from engine.data.formats._common import (
    SPLITS,
    ReadContext,
    check_field,
    check_line_text,
    check_span,
    clean_text,
    duration_of,
    fmt_time,
    guarded,
    iter_lines,
    round_time,
    show,
    text_problem,
)
from engine.data.records import Reject
from engine.data.utterance import Utterance

NAME = "nemo"
SUFFIXES = (".json", ".jsonl")


def _number(row: dict, key: str) -> float | None | str:
    if key not in row or row[key] is None:
        return None
    v = row[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return f"'{key}' must be a number of seconds, got {show(json.dumps(v, ensure_ascii=False))}"
    try:
        f = float(v)
    except OverflowError:
        return f"'{key}' is too large"
    if not math.isfinite(f):
        return f"'{key}' is not a finite number"
    return round_time(f)


def _string(row: dict, key: str, required: bool = False) -> str | None | tuple[str]:
    """The string at ``key``; None if absent; ``(reason,)`` if unusable.

    Only ``speaker`` may also be an integer (numeric speaker ids are common);
    a number as ``text`` or ``audio_filepath`` is a mistake, not a transcript.
    """
    if key not in row or row[key] is None:
        return ("missing '" + key + "'",) if required else None
    v = row[key]
    if isinstance(v, bool) or not isinstance(v, (str, int) if key == "speaker" else str):
        return (f"'{key}' must be a string, got {type(v).__name__}",)
    v = str(v)
    problem = text_problem(v)
    if problem:
        return (f"'{key}': {problem}",)
    return v


def read(path: str | os.PathLike, root: str | os.PathLike | None = None, *,
         sample_rate: int | None = None) -> tuple[list[Utterance], list[Reject]]:
    """Read a NeMo JSONL manifest.

    Args:
        path: the manifest (``.json`` / ``.jsonl``).
        root: import root; audio outside it is refused. Default: the manifest's folder.
        sample_rate: expected rate in Hz for every file, or None. A line's own
            ``sample_rate`` key must match its file in any case.

    Returns:
        ``(items, rejects)`` in file order; a reject for every other non-blank
        line: not UTF-8, not a JSON object, a missing or non-string
        ``audio_filepath``/``text``, a negative or non-numeric
        ``offset``/``duration``, an unknown split, an empty tag, a path
        outside the root, a missing or unreadable audio file, a sample-rate
        mismatch, a segment past the end of the audio, overlapping or
        duplicate segments of one file.

    Raises:
        Nothing on bad content: every problem becomes a reject.
    """
    path = Path(path)
    ctx = ReadContext.create(root, path.parent.absolute(), sample_rate)
    items: list[Utterance] = []
    guarded(path.name, ctx, _read, path, ctx, items)
    return items, ctx.rejects


def _read(path: Path, ctx: ReadContext, items: list[Utterance]) -> None:
    src = path.name
    base = path.parent.absolute()
    for n, line in iter_lines(path, ctx, src):
        problem, item = _parse(line, n, base, ctx)
        if problem:
            ctx.reject(src, n, problem)
        else:
            items.append(item)


def _parse(line: str, n: int, base: Path, ctx: ReadContext) -> tuple[str | None, Utterance | None]:
    try:
        row = json.loads(line)
    except (ValueError, RecursionError) as exc:
        return f"not JSON ({show(str(exc))})", None
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}", None
    fields = {}
    for key, required in (("audio_filepath", True), ("text", True), ("speaker", False), ("split", False)):
        v = _string(row, key, required)
        if isinstance(v, tuple):
            return v[0], None
        fields[key] = v
    offset, duration = _number(row, "offset"), _number(row, "duration")
    for v in (offset, duration):
        if isinstance(v, str):
            return v, None
    if (offset is not None and offset < 0) or (duration is not None and duration < 0):
        return "negative offset or duration", None
    tags = row.get("tags", [])
    if tags is None:
        tags = []
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() and not text_problem(t) for t in tags):
        return "'tags' must be a list of non-empty strings", None
    if fields["split"] and fields["split"] not in SPLITS:
        return f"unknown split {show(fields['split'])!r}: use {', '.join(SPLITS)}", None
    rate = row.get("sample_rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float))):
        return "'sample_rate' must be a number of Hz", None
    audio = ctx.locate(fields["audio_filepath"], base)
    if isinstance(audio, str):
        return audio, None
    facts = ctx.audio(audio)
    if isinstance(facts, str):
        return facts, None
    if rate is not None and rate != facts.samplerate:
        return f"{audio.name}: sample rate {facts.samplerate} Hz, but the manifest says {rate:g} Hz", None
    if offset is None and duration is None:
        start, end = None, None
    else:  # a span over the whole file comes back from item_problem as (None, None)
        start = offset or 0.0
        end = None if duration is None else round_time(start + duration)
    ok = ctx.item_problem(audio, start, end, f"line {n}")
    if isinstance(ok, str):
        return ok, None
    _, start, end = ok
    speaker = fields["speaker"] or None
    return None, Utterance(audio, clean_text(fields["text"]), start, end, speaker, fields["split"] or None,
                            tuple(tags))


def write(items: Sequence[Utterance], out: str | os.PathLike) -> list[Path]:
    """Write ``items`` as a JSONL manifest at ``out`` (atomically).

    ``audio_filepath`` is relative to the manifest's folder when the audio lies
    inside it, else absolute. A segment gets ``offset`` (its start) and
    ``duration`` (end − start); a whole file gets its duration from the audio
    header and no ``offset``. ``speaker``, ``split`` and ``tags`` are written
    when set.

    Returns:
        ``[out]``.

    Raises:
        ValueError: a text or field is not valid Unicode (unpaired surrogate, NUL), or a span is empty/negative.
        AudioError: the duration of an audio file is needed but it cannot be read.
        OSError: the manifest cannot be written (nothing is left half-written).
    """
    out = Path(out)
    folder = out.parent.absolute()
    rows = []
    durations: dict[Path, float] = {}
    for i, it in enumerate(items):
        check_line_text(it, i, "a JSON string", "")
        check_span(it, i)
        for what, v in (("speaker", it.speaker), ("split", it.split), *(("tag", t) for t in it.tags)):
            check_field(v, what, i, "JSON", "")
        audio = Path(it.audio_path).absolute()
        try:
            rel = audio.relative_to(folder).as_posix()
        except ValueError:
            rel = str(audio)
        row: dict = {"audio_filepath": rel, "text": it.text}
        if it.start is None and it.end is None:
            if audio not in durations:
                durations[audio] = duration_of(audio)
            row["duration"] = float(fmt_time(durations[audio]))
        else:
            start = round_time(it.start or 0.0)
            if it.end is None:
                if audio not in durations:
                    durations[audio] = duration_of(audio)
                end = round_time(durations[audio])
            else:
                end = round_time(it.end)
            row["duration"] = round_time(end - start)
            row["offset"] = start
        if it.speaker is not None:
            row["speaker"] = it.speaker
        if it.split is not None:
            row["split"] = it.split
        if it.tags:
            row["tags"] = list(it.tags)
        rows.append(json.dumps(row, ensure_ascii=False) + "\n")
    with atomic_write(out) as fh:
        fh.writelines(rows)
    return [out]
