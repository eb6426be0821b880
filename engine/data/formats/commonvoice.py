"""Mozilla Common Voice: ``train.tsv`` / ``dev.tsv`` / ``test.tsv`` / ``validated.tsv`` beside a ``clips/`` folder.

Format (Common Voice dataset README, https://github.com/common-voice/cv-dataset,
and the corpus's own files): UTF-8, one header line naming the columns, then
one clip per line with the same number of tab-separated fields and no quoting.
Columns are found by name; ``path`` (the clip's file name inside ``clips/``)
and ``sentence`` are required, ``client_id`` (a hashed speaker id) becomes the
speaker, others (``up_votes``, ``age``, ``locale``, ``sentence_id``, …) are
ignored. The split is the file's name when it is ``train``, ``dev`` or ``test``.
Every clip is a whole file; times are in seconds.
"""
from __future__ import annotations

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
    export_clip,
    guarded,
    iter_lines,
    safe_id,
    same_file,
    show,
    text_problem,
    unique_file,
)
from engine.data.records import Reject
from engine.data.utterance import Utterance

NAME = "commonvoice"
CLIPS = "clips"
COLUMNS = ("client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender", "accents", "locale",
           "segment")
"""Columns written on export (the v7–v13 layout; readers look columns up by name)."""
VALIDATED = "validated.tsv"


def read(path: str | os.PathLike, root: str | os.PathLike | None = None, *,
         sample_rate: int | None = None, clips: str | os.PathLike | None = None,
         ) -> tuple[list[Utterance], list[Reject]]:
    """Read one Common Voice TSV, or a language folder.

    A folder is read as ``train.tsv``, ``dev.tsv`` and ``test.tsv`` (those
    present) plus the rows of ``validated.tsv`` that are in none of them
    (split None); a row of ``validated.tsv`` that repeats a split's clip is the
    same utterance and is skipped silently.

    Args:
        path: a ``.tsv`` file or the folder holding them.
        root: import root; audio outside it is refused. Default: the TSV's folder.
        sample_rate: expected rate in Hz, or None for any.
        clips: the clips folder. Default: ``clips/`` beside the TSV.

    Returns:
        ``(items, rejects)`` in file order. Rejects: a header without
        ``path``/``sentence`` (the whole file, line 1), not UTF-8, a wrong
        number of fields, an empty or duplicate ``path``, a path outside the
        root, a missing or unreadable clip, a sample-rate mismatch.

    Raises:
        Nothing on bad content: every problem becomes a reject.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    ctx = ReadContext.create(root, folder.absolute(), sample_rate)
    clips_dir = Path(clips).absolute() if clips is not None else folder.absolute() / CLIPS
    items: list[Utterance] = []
    seen: dict[Path, tuple[str, int]] = {}
    if path.is_dir():
        files = [path / f"{s}.tsv" for s in SPLITS if (path / f"{s}.tsv").is_file()]
        if (path / VALIDATED).is_file():
            files.append(path / VALIDATED)
        if not files:
            ctx.reject(path.name, None, "no train.tsv, dev.tsv, test.tsv or validated.tsv here")
        for f in files:
            where = ctx.inside(f)
            if isinstance(where, str):
                ctx.reject(f.name, None, where)
                continue
            guarded(f.name, ctx, _read, f, ctx, clips_dir, items, seen, f.name == VALIDATED)
    else:
        guarded(path.name, ctx, _read, path, ctx, clips_dir, items, seen, False)
    return items, ctx.rejects


def _read(path: Path, ctx: ReadContext, clips: Path, items: list[Utterance],
          seen: dict[Path, tuple[str, int]], skip_seen: bool) -> None:
    src = path.name
    split = path.stem if path.stem in SPLITS else None
    header: list[str] | None = None
    col: dict[str, int] = {}
    for n, line in iter_lines(path, ctx, src):
        fields = line.split("\t")
        if header is None:
            header = [f.strip() for f in fields]
            col = {name: i for i, name in reversed(list(enumerate(header)))}
            if "path" not in col or "sentence" not in col:
                ctx.reject(src, n, "the first line is not a Common Voice header with 'path' and 'sentence' "
                                   "columns; the file was not read")
                return
            continue
        if len(fields) != len(header):
            ctx.reject(src, n, f"expected {len(header)} tab-separated fields, got {len(fields)}")
            continue
        name = fields[col["path"]].strip()
        text = clean_text(fields[col["sentence"]])
        speaker = fields[col["client_id"]].strip() if "client_id" in col else ""
        if not name:
            ctx.reject(src, n, "empty path")
            continue
        problem = text_problem(text) or text_problem(speaker)
        if problem:
            ctx.reject(src, n, problem)
            continue
        audio = ctx.locate(name, clips)
        if isinstance(audio, str):
            ctx.reject(src, n, audio)
            continue
        if audio in seen:
            if not skip_seen or seen[audio][0] == src:
                ctx.reject(src, n, f"duplicate clip {show(name)} (first in {seen[audio][0]} line {seen[audio][1]})")
            continue
        seen[audio] = (src, n)
        ok = ctx.item_problem(audio, None, None, f"{src} line {n}")
        if isinstance(ok, str):
            ctx.reject(src, n, ok)
            continue
        items.append(Utterance(audio, text, None, None, speaker or None, split))


def write(items: Sequence[Utterance], out: str | os.PathLike) -> list[Path]:
    """Write ``items`` in Common Voice layout.

    ``out`` is a folder (``train.tsv``/``dev.tsv``/``test.tsv`` by each item's
    split, ``validated.tsv`` for items without one) or a single ``.tsv`` file
    (every item in it, whatever its split). Clips go to ``clips/`` beside the
    TSV: a whole file already there is not copied; others are copied under
    their own name (made unique), segments are cut into WAV files.
    ``client_id`` holds the speaker.

    Returns:
        The files written (TSVs first).

    Raises:
        ValueError: a text or speaker holds a tab or line break, a span is
            negative or empty; in folder mode, a split other than train/dev/test.
        AudioError: a source audio file is missing or unreadable.
        OSError: the files cannot be written.
    """
    out = Path(out)
    single = out.suffix.lower() == ".tsv"
    folder = out.parent if single else out
    clips = folder / CLIPS
    for i, it in enumerate(items):
        check_line_text(it, i, "a Common Voice TSV", "\t\n\r")
        check_span(it, i)
        check_field(it.speaker, "speaker", i, "a Common Voice TSV", "\t\n\r")
        if not single and it.split is not None and it.split not in SPLITS:
            raise ValueError(f"item {i}: split {it.split!r}: Common Voice has only {', '.join(SPLITS)}")
    # Clips already in clips/ keep their names; the others get a free name there.
    taken: set[str] = set()
    names: list[str] = [""] * len(items)
    for i, it in enumerate(items):
        src = Path(it.audio_path)
        if it.is_whole and same_file(src.parent, clips) and src.name not in taken:
            taken.add(src.name)
            names[i] = src.name
    copies = [i for i, name in enumerate(names) if not name]
    for i in copies:
        it, src = items[i], Path(items[i].audio_path)
        if it.is_whole:
            names[i] = unique_file(src.stem, src.suffix, taken)
        else:
            ms = int(round((it.start or 0.0) * 1000))
            names[i] = unique_file(f"{safe_id(src.stem)}_{ms:07d}", ".wav", taken)
    groups: dict[Path, list[str]] = {}
    for i, it in enumerate(items):
        tsv = out if single else folder / f"{it.split or VALIDATED.removesuffix('.tsv')}.tsv"
        row = {"client_id": it.speaker or "", "path": names[i], "sentence": it.text}
        groups.setdefault(tsv, []).append("\t".join(row.get(c, "") for c in COLUMNS) + "\n")
    # Clips first: a TSV never names a clip that failed to be written.
    copied = [export_clip(items[i], clips / names[i]) for i in copies]
    tsvs = []
    for tsv, rows in groups.items():
        with atomic_write(tsv) as fh:
            fh.write("\t".join(COLUMNS) + "\n")
            fh.writelines(rows)
        tsvs.append(tsv)
    return tsvs + copied
