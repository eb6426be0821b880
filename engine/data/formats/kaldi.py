"""Kaldi data directories: ``wav.scp``, ``text``, ``segments``, ``utt2spk``, ``spk2utt``.

Format (Kaldi documentation, "Data preparation",
https://kaldi-asr.org/doc/data_prep.html, and ``featbin/extract-segments.cc``):
every file is UTF-8 text, one record per line, fields separated by spaces or
tabs, sorted by the first field (``LC_ALL=C``):

- ``wav.scp``: ``<recording-id> <extended-filename>``. Only plain file paths
  are read; commands (``... |``), standard input (``-``) and archive offsets
  (``foo.ark:123``) are rejected with a reason, never run or opened. Relative
  paths are resolved against the import root (Kaldi resolves them against the
  recipe's working directory, so pass that as ``root``; default: the data dir).
- ``segments`` (optional): ``<utterance-id> <recording-id> <start> <end>
  [<channel>]`` in seconds; ``end`` of ``-1`` means the end of the file.
  Without it every recording is one whole-file utterance (same id).
- ``text``: ``<utterance-id> <transcription...>``. Without a ``text`` file
  every utterance has an empty transcript; with one, an utterance missing
  from it is rejected (as Kaldi's ``validate_data_dir.sh`` would).
- ``utt2spk``: ``<utterance-id> <speaker-id>``; a speaker equal to the
  utterance id (Kaldi's convention when speakers are unknown) reads as no
  speaker. ``spk2utt`` is used only when ``utt2spk`` is absent, and is always
  written on export.
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from engine.atomic import atomic_write
from engine.data.formats._common import (
    ASCII_WHITESPACE,
    ReadContext,
    check_line_text,
    check_span,
    clean_text,
    duration_of,
    fmt_time,
    guarded,
    iter_lines,
    parse_time,
    safe_id,
    show,
    text_problem,
    unique,
)
from engine.data.records import Reject
from engine.data.utterance import Utterance

NAME = "kaldi"
FILES = ("wav.scp", "segments", "text", "utt2spk", "spk2utt")

_SEP = re.compile(r"[ \t]+")
_ARK_OFFSET = re.compile(r":\d+(\[[^\]]*\])?$")


def _fields(line: str, maxsplit: int = 0) -> list[str]:
    return _SEP.split(line.strip(ASCII_WHITESPACE), maxsplit=maxsplit)


def _rxfilename_problem(value: str) -> str | None:
    """Why a wav.scp value is not a plain file (Kaldi "extended filenames"), or None."""
    if value.rstrip().endswith("|"):
        return f"'{show(value)}' is a command (pipe); Sayso does not run commands from wav.scp"
    if value == "-":
        return "'-' (standard input) is not a file"
    if _ARK_OFFSET.search(value):
        return f"'{show(value)}' is an archive offset, not an audio file"
    return None


def read(path: str | os.PathLike, root: str | os.PathLike | None = None, *,
         sample_rate: int | None = None) -> tuple[list[Utterance], list[Reject]]:
    """Read a Kaldi data directory.

    Args:
        path: the data dir (or any file in it).
        root: import root, and the folder relative ``wav.scp`` paths are
            resolved against. Default: the data dir.
        sample_rate: expected rate in Hz (a Kaldi setup uses one rate,
            ``--sample-frequency`` in ``conf/mfcc.conf``), or None for any.

    Returns:
        ``(items, rejects)`` in the order of ``segments`` (or ``wav.scp``).
        Rejects name the file and line: wrong field count, duplicate ids,
        commands/pipes, paths outside the root, missing or unreadable audio,
        sample-rate mismatches, negative, empty, overlapping or too-long
        segments, multi-channel files with a channel field, utterances without
        a transcript, and ``text``/``utt2spk`` lines for unknown utterances.
        An utterance dropped because of its recording is reported at its
        ``segments`` line; its ``text``/``utt2spk`` lines are not reported again.

    Raises:
        Nothing on bad content: every problem becomes a reject.
    """
    path = Path(path)
    data = path if path.is_dir() else path.parent
    ctx = ReadContext.create(root, data.absolute(), sample_rate)
    items: list[Utterance] = []
    guarded(data.name or str(data), ctx, _read, data.absolute(), ctx, items)
    return items, ctx.rejects


def _present(data: Path, name: str, ctx: ReadContext) -> Path | None:
    p = data / name
    try:
        if not p.exists():
            return None
    except OSError:
        return None
    where = ctx.inside(p)
    if isinstance(where, str):
        ctx.reject(name, None, where)
        return None
    return p


def _read(data: Path, ctx: ReadContext, items: list[Utterance]) -> None:
    wav_scp = _present(data, "wav.scp", ctx)
    if wav_scp is None:
        if not any(r.source == "wav.scp" for r in ctx.rejects):
            ctx.reject("wav.scp", None, f"no wav.scp in {data}: not a Kaldi data directory")
        return

    # wav.scp: recording -> (path, facts) or the reason it was refused, with its line.
    recs: dict[str, tuple[Path | None, object, int]] = {}
    for n, line in iter_lines(wav_scp, ctx, "wav.scp"):
        parts = _fields(line, 1)
        if len(parts) != 2:
            ctx.reject("wav.scp", n, "expected '<recording-id> <file>'")
            continue
        rec, value = parts
        if rec in recs:
            ctx.reject("wav.scp", n, f"duplicate recording id {show(rec)} (first on line {recs[rec][2]})")
            continue
        problem = _rxfilename_problem(value) or text_problem(rec)
        audio = None if problem else ctx.locate(value, ctx.root)
        if isinstance(audio, str):
            problem = audio
        facts = ctx.audio(audio) if audio is not None and not problem else None
        if isinstance(facts, str):
            problem = facts
        if problem:
            ctx.reject("wav.scp", n, problem)
            recs[rec] = (None, problem, n)
        else:
            recs[rec] = (audio, facts, n)

    # Utterances: from segments, else one per recording.
    utts: dict[str, dict] = {}  # utt -> {audio, start, end, line, src} (None audio: dropped)
    seg_path = _present(data, "segments", ctx)
    main = "segments" if seg_path else "wav.scp"
    if seg_path:
        for n, line in iter_lines(seg_path, ctx, "segments"):
            _segment(line, n, recs, utts, ctx)
    else:
        for rec, (audio, _facts, n) in recs.items():
            if audio is not None:
                ok = ctx.item_problem(audio, None, None, f"wav.scp line {n}")
                if isinstance(ok, str):
                    ctx.reject("wav.scp", n, ok)
                    utts[rec] = {"audio": None, "line": n}
                else:
                    utts[rec] = {"audio": audio, "start": None, "end": None, "line": n}
            else:
                utts[rec] = {"audio": None, "line": n}

    texts: dict[str, str] = {}
    text_path = _present(data, "text", ctx)
    if text_path:
        first: dict[str, int] = {}
        for n, line in iter_lines(text_path, ctx, "text"):
            parts = _fields(line, 1)
            utt = parts[0]
            body = clean_text(parts[1]) if len(parts) > 1 else ""
            if utt in first:
                ctx.reject("text", n, f"duplicate utterance id {show(utt)} (first on line {first[utt]})")
                continue
            first[utt] = n
            if utt not in utts:
                ctx.reject("text", n, f"utterance {show(utt)} is not in {main}")
                continue
            problem = text_problem(body)
            if problem:
                ctx.reject("text", n, problem)
                continue
            texts[utt] = body

    speakers = _speakers(data, utts, ctx, main)

    for utt, u in utts.items():
        if u["audio"] is None:
            continue
        if text_path and utt not in texts:
            ctx.reject(main, u["line"], f"utterance {show(utt)} has no transcript in text")
            continue
        spk = speakers.get(utt)
        items.append(Utterance(u["audio"], texts.get(utt, ""), u["start"], u["end"],
                                None if spk in (None, utt) else spk))


def _segment(line: str, n: int, recs: dict, utts: dict, ctx: ReadContext) -> None:
    parts = _fields(line)
    if len(parts) not in (4, 5):
        ctx.reject("segments", n, f"expected '<utterance-id> <recording-id> <start> <end> [<channel>]', "
                                  f"got {len(parts)} fields")
        return
    utt, rec, s_text, e_text = parts[:4]
    if utt in utts:
        ctx.reject("segments", n, f"duplicate utterance id {show(utt)} (first on line {utts[utt]['line']})")
        return
    utts[utt] = {"audio": None, "line": n}
    if text_problem(utt):
        ctx.reject("segments", n, text_problem(utt))
        return
    if rec not in recs:
        ctx.reject("segments", n, f"recording {show(rec)} is not in wav.scp")
        return
    audio, facts, rec_line = recs[rec]
    if audio is None:
        ctx.reject("segments", n, f"recording {show(rec)} was not imported (wav.scp line {rec_line}: {facts})")
        return
    start, end = parse_time(s_text), parse_time(e_text)
    for v in (start, end):
        if isinstance(v, str):
            ctx.reject("segments", n, v)
            return
    if len(parts) == 5:
        if not parts[4].isdigit() or not parts[4].isascii():
            ctx.reject("segments", n, f"bad channel '{show(parts[4])}'")
            return
        channel = int(parts[4])
        if channel >= facts.channels:
            ctx.reject("segments", n, f"channel {channel}, but {audio.name} has {facts.channels}")
            return
        if facts.channels > 1:
            ctx.reject("segments", n, f"channel {channel} of a {facts.channels}-channel file: Sayso mixes "
                                      "channels down and cannot import one alone")
            return
    if end == -1:
        end = None
        if start == 0:
            start = None
    ok = ctx.item_problem(audio, start, end, f"segments line {n}")
    if isinstance(ok, str):
        ctx.reject("segments", n, ok)
        return
    utts[utt] = {"audio": audio, "start": ok[1], "end": ok[2], "line": n}


def _speakers(data: Path, utts: dict, ctx: ReadContext, main: str) -> dict[str, str]:
    out: dict[str, str] = {}
    u2s = _present(data, "utt2spk", ctx)
    if u2s:
        first: dict[str, int] = {}
        for n, line in iter_lines(u2s, ctx, "utt2spk"):
            parts = _fields(line)
            if len(parts) != 2:
                ctx.reject("utt2spk", n, f"expected '<utterance-id> <speaker-id>', got {len(parts)} fields")
                continue
            utt, spk = parts
            if utt in first:
                ctx.reject("utt2spk", n, f"duplicate utterance id {show(utt)} (first on line {first[utt]})")
                continue
            first[utt] = n
            if utt not in utts:
                ctx.reject("utt2spk", n, f"utterance {show(utt)} is not in {main}")
                continue
            if text_problem(spk):
                ctx.reject("utt2spk", n, text_problem(spk))
                continue
            out[utt] = spk
        return out
    s2u = _present(data, "spk2utt", ctx)
    if s2u:
        first = {}
        for n, line in iter_lines(s2u, ctx, "spk2utt"):
            parts = _fields(line)
            spk, members = parts[0], parts[1:]
            bad = [u for u in members if u not in utts or u in first]
            if bad or text_problem(spk):
                reason = (text_problem(spk) or f"utterance {show(bad[0])} is "
                          + ("listed twice" if bad[0] in first else f"not in {main}"))
                ctx.reject("spk2utt", n, reason)
                continue
            for u in members:
                first[u] = n
                out[u] = spk
    return out


def write(items: Sequence[Utterance], out: str | os.PathLike) -> list[Path]:
    """Write ``items`` as a Kaldi data dir ``out`` (created): ``wav.scp``, ``text``, ``utt2spk``, ``spk2utt``,
    and ``segments`` when any item is a segment (a whole file then becomes ``0`` to its duration).

    Recording ids come from the audio file names, utterance ids are prefixed by
    the speaker id (Kaldi requires it for sorting), all files are sorted
    (``LC_ALL=C`` order) and ``wav.scp`` holds absolute paths. Items without a
    speaker get ``utt2spk`` ``<utt> <utt>``. Speaker names have whitespace
    replaced by ``_`` (Kaldi ids cannot hold it). Splits and tags are not written.

    Returns:
        The files written.

    Raises:
        ValueError: a text holds a line break, or a span is negative or empty.
        AudioError: a whole-file item's duration is needed (segmented dir) but its audio cannot be read.
        OSError: the folder cannot be written (each file is replaced atomically).
    """
    out = Path(out)
    for i, it in enumerate(items):
        check_line_text(it, i, "a Kaldi text line")
        check_span(it, i)
    segmented = any(not it.is_whole for it in items)
    rec_of: dict[Path, str] = {}
    taken_recs: set[str] = set()
    taken_utts: set[str] = set()
    per_rec_count: dict[str, int] = {}
    wav_lines, text_lines, seg_lines, u2s = [], [], [], []
    for it in items:
        audio = Path(it.audio_path).absolute()
        spk = safe_id(it.speaker, "spk") if it.speaker else None
        if audio not in rec_of:
            base = safe_id(audio.stem)
            if not segmented and spk:
                base = f"{spk}-{base}"
            rec_of[audio] = unique(base, taken_recs)
            wav_lines.append(f"{rec_of[audio]} {audio}\n")
        rec = rec_of[audio]
        if segmented:
            k = per_rec_count[rec] = per_rec_count.get(rec, 0) + 1
            utt = unique(f"{spk}-{rec}-{k:04d}" if spk else f"{rec}-{k:04d}", taken_utts)
            start = 0.0 if it.start is None else it.start
            end = duration_of(audio) if it.end is None else it.end
            seg_lines.append(f"{utt} {rec} {fmt_time(start)} {fmt_time(end)}\n")
        else:
            utt = unique(rec, taken_utts)
        text_lines.append(f"{utt} {it.text}\n" if it.text else f"{utt}\n")
        u2s.append((utt, spk or utt))
    spk2utt: dict[str, list[str]] = {}
    for utt, spk in sorted(u2s):
        spk2utt.setdefault(spk, []).append(utt)
    files = {
        "wav.scp": sorted(wav_lines, key=lambda s: _fields(s)[0]),
        "text": sorted(text_lines, key=lambda s: _fields(s)[0]),
        "utt2spk": [f"{u} {s}\n" for u, s in sorted(u2s)],
        "spk2utt": [f"{s} {' '.join(us)}\n" for s, us in sorted(spk2utt.items())],
    }
    if segmented:
        files["segments"] = sorted(seg_lines, key=lambda s: _fields(s)[0])
    written = []
    for name, lines in files.items():
        with atomic_write(out / name) as fh:
            fh.writelines(lines)
        written.append(out / name)
    stale = out / "segments"
    if not segmented and stale.exists():
        stale.unlink()  # a previous export's segments would change the meaning of this one
    return written
