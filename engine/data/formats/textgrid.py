"""Praat TextGrids: an interval tier of utterances beside one audio file.

Format: Paul Boersma & David Weenink, Praat manual, "TextGrid file formats"
(https://www.fon.hum.uva.nl/praat/manual/TextGrid_file_formats.html); parsed
and written with praatio (Tim Mahrt, https://github.com/timmahrt/praatio,
``praatio.utilities.textgrid_io`` and ``praatio.data_classes.interval_tier``).
Long and short text forms are read, in UTF-8 or UTF-16 with a byte-order mark.

``x.TextGrid`` belongs to the audio file with the same stem in the same
folder (``x.wav``, ``x.flac``, … see
:data:`engine.data.formats._common.AUDIO_SUFFIXES`). Each non-empty interval
of the chosen tier is one utterance from ``xmin`` to ``xmax`` in seconds;
empty intervals are pauses and are skipped. Line breaks in a label become
spaces. An interval covering the whole file reads as the whole file.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from praatio.data_classes.interval_tier import IntervalTier
from praatio.utilities import errors as praat_errors
from praatio.utilities import textgrid_io
from praatio.utilities.constants import INTERVAL_TIER, Interval

from engine.atomic import atomic_write
from engine.data.formats._common import (
    ReadContext,
    beside_audio,
    check_line_text,
    check_span,
    clean_text,
    duration_of,
    export_clip,
    fmt_time,
    group_by_audio,
    guarded,
    item_span,
    list_files,
    parse_time,
    read_text,
    show,
    stems_in,
    text_problem,
)
from engine.data.records import Reject
from engine.data.utterance import Utterance

NAME = "textgrid"
SUFFIX = ".TextGrid"
DEFAULT_TIER = "utterances"
MIN_TIME = 1e-4
"""praatio writes times below 0.1 ms in exponent notation, which it cannot read back."""


def read(path: str | os.PathLike, root: str | os.PathLike | None = None, *,
         sample_rate: int | None = None, tier: str | None = None, audio: str | os.PathLike | None = None,
         ) -> tuple[list[Utterance], list[Reject]]:
    """Read a TextGrid (or every ``*.TextGrid`` in a folder, not recursive).

    Args:
        path: a ``.TextGrid`` file or a folder of them.
        root: import root; audio or TextGrids outside it are refused. Default: the TextGrid's folder.
        sample_rate: expected rate in Hz, or None for any.
        tier: the interval tier to read. Default: the first interval tier.
        audio: the audio file of a single TextGrid, instead of the one beside it.

    Returns:
        ``(items, rejects)``: the utterances of each file in time order. A
        whole file is rejected (line None) when it is not UTF-8/UTF-16, praatio
        cannot parse it, it has no such tier, or its audio is missing,
        unreadable, outside the root or at the wrong rate; an interval is
        rejected when its times are not numbers, it is empty or negative,
        ends past the audio, or overlaps another.

    Raises:
        Nothing on bad content: every problem becomes a reject.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    ctx = ReadContext.create(root, folder.absolute(), sample_rate)
    items: list[Utterance] = []
    if path.is_dir():
        for f in list_files(path, (SUFFIX.lower(),), ctx):
            guarded(f.name, ctx, _read_one, f, ctx, tier, None, items)
    else:
        guarded(path.name, ctx, _read_one, path, ctx, tier, Path(audio) if audio is not None else None, items)
    return items, ctx.rejects


def _read_one(path: Path, ctx: ReadContext, tier_name: str | None, audio: Path | None,
              items: list[Utterance]) -> None:
    src = path.name
    text = read_text(path, ctx, src, utf16=True)
    if text is None:
        return
    try:
        tg = textgrid_io.parseTextgridStr(text, includeEmptyIntervals=True)
        tiers = [t for t in tg["tiers"] if isinstance(t, dict)]
    except Exception as exc:  # praatio raises many types (ValueError, IndexError, AttributeError, …) on bad input
        ctx.reject(src, None, f"not a TextGrid praatio can read ({type(exc).__name__}: {show(str(exc))})")
        return
    intervals = [t for t in tiers if t.get("class") == INTERVAL_TIER]
    if tier_name is not None:
        chosen = [t for t in intervals if t.get("name") == tier_name]
        if not chosen:
            names = ", ".join(repr(t.get("name")) for t in intervals) or "none"
            ctx.reject(src, None, f"no interval tier named {tier_name!r} (interval tiers: {names})")
            return
    else:
        chosen = intervals
        if not chosen:
            ctx.reject(src, None, "no interval tier")
            return
    tier = chosen[0]
    where = ctx.locate(str(audio), path.parent.absolute()) if audio is not None else beside_audio(path, ctx)
    if isinstance(where, str):
        ctx.reject(src, None, where)
        return
    facts = ctx.audio(where)
    if isinstance(facts, str):
        ctx.reject(src, None, facts)
        return
    entries = tier.get("entries") or []
    if not isinstance(entries, list):  # praatio also reads JSON, which can hold anything
        ctx.reject(src, None, f"the tier's intervals are not a list ({type(entries).__name__})")
        return
    for k, entry in enumerate(entries, 1):
        try:
            start_text, end_text, label = entry
        except (TypeError, ValueError):
            ctx.reject(src, None, f"interval {k}: not a (start, end, text) entry")
            continue
        label = clean_text(str(label))
        if not label:
            continue  # a pause
        start, end = parse_time(str(start_text)), parse_time(str(end_text))
        name = f"interval {k} ('{show(label, 40)}')"
        if isinstance(start, str) or isinstance(end, str):
            ctx.reject(src, None, f"{name}: {start if isinstance(start, str) else end}")
            continue
        problem = text_problem(label)
        if problem:
            ctx.reject(src, None, f"{name}: {problem}")
            continue
        ok = ctx.item_problem(where, start, end, f"{src} {name}")
        if isinstance(ok, str):
            ctx.reject(src, None, f"{name}, {fmt_time(start)}–{fmt_time(end)} s: {ok}")
            continue
        items.append(Utterance(where, label, ok[1], ok[2]))


def write(items: Sequence[Utterance], out: str | os.PathLike, *, tier: str = DEFAULT_TIER,
          copy_audio: bool = True) -> list[Path]:
    """Write one long-form TextGrid per audio file into the folder ``out``.

    ``out/<stem>.TextGrid`` has one interval tier ``tier`` from 0 to the audio's
    duration (or the last end, if later), with empty intervals filling the
    pauses; a whole-file item is one interval over the whole file. Unless the
    audio already sits in ``out`` it is copied there (``copy_audio``) so the
    TextGrid is beside it; stems are made unique, and files of the same name
    in ``out`` are replaced. Speakers, splits and tags are not written. Start
    times under 0.1 ms are written as 0 (praatio cannot read them back
    otherwise). All items are checked before anything is written.

    Returns:
        The files written (each copied audio file, then its TextGrid).

    Raises:
        ValueError: an item's text is empty (it would be a pause) or not valid
            Unicode, a span is negative, empty or shorter than 0.1 ms, or two
            items of one file overlap.
        AudioError: an audio file is missing or unreadable.
        OSError: a file cannot be written.
    """
    out = Path(out)
    groups = group_by_audio(items)
    stems = stems_in(out, groups)
    texts = {audio: _textgrid_text(audio, group, tier) for audio, group in groups.items()}  # check all first
    written = []
    for audio, text in texts.items():
        stem, inside = stems[audio]
        if copy_audio and not inside:  # the audio first: a TextGrid never points at nothing
            written.append(export_clip(Utterance(audio, ""), out / f"{stem}{audio.suffix}"))
        target = out / f"{stem}{SUFFIX}"
        with atomic_write(target) as fh:
            fh.write(text)
        written.append(target)
    return written


def _textgrid_text(audio: Path, group: list[tuple[int, Utterance]], tier: str) -> str:
    """The long-form TextGrid of the items of one audio file; raises ValueError/AudioError (see :func:`write`)."""
    dur = duration_of(audio)
    entries = []
    for i, it in group:
        check_line_text(it, i, "a TextGrid", "")
        check_span(it, i)
        if not clean_text(it.text):
            raise ValueError(f"item {i} ({audio}): empty text; an empty interval is a pause in a TextGrid")
        start, end = item_span(it, dur)
        start = 0.0 if start < MIN_TIME else start
        if end < MIN_TIME:
            raise ValueError(f"item {i} ({audio}): shorter than 0.1 ms")
        entries.append(Interval(start, end, it.text))
    entries.sort()
    for a, b in zip(entries, entries[1:]):
        if b.start < a.end:
            raise ValueError(f"{audio.name}: items {fmt_time(a.start)}–{fmt_time(a.end)} s and "
                             f"{fmt_time(b.start)}–{fmt_time(b.end)} s overlap")
    xmax = max([dur, *(e.end for e in entries)])
    try:
        interval_tier = IntervalTier(tier, entries, 0.0, xmax)  # praatio's own validation
    except praat_errors.TextgridStateError as exc:
        raise ValueError(f"{audio.name}: {exc}") from None
    tg = {"xmin": 0.0, "xmax": xmax, "tiers": [{
        "class": INTERVAL_TIER, "name": tier, "xmin": 0.0, "xmax": xmax, "entries": interval_tier.entries}]}
    return textgrid_io.getTextgridAsStr(tg, "long_textgrid", includeBlankSpaces=True)


WORD_TIER = "words"
CHARACTER_TIER = "characters"


def alignment_text(duration: float, words: Sequence, characters: Sequence = (), *, offset: float = 0.0) -> str:
    """A long-form TextGrid of a forced alignment: interval tiers ``words`` and (if given) ``characters``.

    Args:
        duration: seconds the TextGrid spans (the audio's length).
        words, characters: objects with ``word``/``token``, ``start`` and
            ``end`` in seconds, in time order; spaces among the characters
            are left out (they are the pauses). Pauses become empty intervals.
        offset: seconds subtracted from every time (an utterance's start,
            for a TextGrid beside the utterance's own clip).

    Raises:
        ValueError: intervals overlap or lie outside ``0 … duration``.
    """
    tiers = []
    for name, items in ((WORD_TIER, words), (CHARACTER_TIER, characters)):
        entries = []
        for it in items:
            label = getattr(it, "word", None) or getattr(it, "token", "")
            if not label.strip():
                continue
            start, end = max(0.0, it.start - offset), min(duration, it.end - offset)
            start = 0.0 if start < MIN_TIME else round(start, 6)
            end = round(end, 6)
            if end - start < MIN_TIME:
                continue
            if entries and start < entries[-1].end:
                if start < entries[-1].end - 1e-3:
                    raise ValueError(f"{name} tier: {label!r} at {fmt_time(start)} s overlaps the one before")
                start = entries[-1].end
            entries.append(Interval(start, end, label))
        if name == CHARACTER_TIER and not entries:
            continue
        try:
            tier = IntervalTier(name, entries, 0.0, duration)
        except praat_errors.TextgridStateError as exc:
            raise ValueError(f"{name} tier: {exc}") from None
        tiers.append({"class": INTERVAL_TIER, "name": name, "xmin": 0.0, "xmax": duration, "entries": tier.entries})
    tg = {"xmin": 0.0, "xmax": duration, "tiers": tiers}
    return textgrid_io.getTextgridAsStr(tg, "long_textgrid", includeBlankSpaces=True)


def write_alignment(path: str | os.PathLike, duration: float, words: Sequence, characters: Sequence = (), *,
                    offset: float = 0.0) -> Path:
    """Write :func:`alignment_text` to ``path`` atomically; returns the path.

    Raises:
        ValueError: as :func:`alignment_text`; OSError: the file cannot be written.
    """
    text = alignment_text(duration, words, characters, offset=offset)
    path = Path(path)
    with atomic_write(path) as fh:
        fh.write(text)
    return path
