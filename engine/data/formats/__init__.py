"""Corpus formats: read them into :class:`~engine.data.utterance.Utterance` lists, write items back.

- ``ljspeech``: ``metadata.csv`` + ``wavs/`` (:mod:`.ljspeech`)
- ``nemo``: NeMo JSONL manifest (:mod:`.nemo`)
- ``kaldi``: Kaldi data dir, ``wav.scp``, ``text``, ``segments``, ``utt2spk`` (:mod:`.kaldi`)
- ``commonvoice``: Common Voice ``*.tsv`` + ``clips/`` (:mod:`.commonvoice`)
- ``textgrid``: Praat TextGrid beside its audio, via praatio (:mod:`.textgrid`)
- ``audacity``: Audacity label file beside its audio (:mod:`.audacity`)
- ``srt``, ``vtt``, ``txt``: transcript export only, via :mod:`engine.text.captions` (:mod:`.transcripts`)

Every reader is ``read(path, root=None, *, sample_rate=None, ...) ->
(items, rejects)`` and never raises on bad content: each line or file it
cannot use becomes a :class:`~engine.data.records.Reject` with its reason,
and no file outside the import ``root`` is opened. Every writer is
``write(items, out, ...) -> list[Path]`` and raises ``ValueError`` for items
the format cannot hold, ``AudioError``/``OSError`` for files. Times are in
seconds. This package never imports Qt.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from engine.data.formats import audacity, commonvoice, kaldi, ljspeech, nemo, textgrid, transcripts
from engine.data.formats._common import AUDIO_SUFFIXES, SPLITS
from engine.data.records import Reject
from engine.data.utterance import Utterance

__all__ = ["EXPORT_ONLY", "FORMATS", "IMPORT_FORMATS", "detect", "read", "write"]

FORMATS: dict[str, ModuleType] = {
    "ljspeech": ljspeech,
    "nemo": nemo,
    "kaldi": kaldi,
    "commonvoice": commonvoice,
    "textgrid": textgrid,
    "audacity": audacity,
    "srt": transcripts,
    "vtt": transcripts,
    "txt": transcripts,
}
"""Format name → module (``read``/``write``; transcripts have ``write`` only)."""

EXPORT_ONLY = ("srt", "vtt", "txt")
IMPORT_FORMATS = tuple(name for name in FORMATS if name not in EXPORT_ONLY)

_HEAD_BYTES = 4096
_MAX_SCAN = 10_000
_AUDACITY_LINE = re.compile(r"^\s*[-+]?\d+(\.\d*)?\t\s*[-+]?\d+(\.\d*)?(\t|$)")


def _head(path: Path) -> str:
    with open(path, "rb") as fh:
        data = fh.read(_HEAD_BYTES)
    return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace")


def _first_line(path: Path) -> str:
    for line in _head(path).splitlines():
        if line.strip():
            return line
    return ""


def _has_audio_beside(path: Path) -> bool:
    return any(path.with_name(path.stem + s).exists() or path.with_name(path.stem + s.upper()).exists()
               for s in AUDIO_SUFFIXES)


def _detect_file(p: Path) -> str | None:
    name, suffix = p.name.lower(), p.suffix.lower()
    if name in kaldi.FILES:
        return "kaldi"
    if suffix == ".textgrid":
        return "textgrid"
    if suffix == ".tsv":
        header = _first_line(p).split("\t")
        return "commonvoice" if "path" in header and "sentence" in header else None
    if suffix in nemo.SUFFIXES:
        try:
            row = json.loads(_first_line(p))
        except ValueError:
            return None
        return "nemo" if isinstance(row, dict) and "audio_filepath" in row else None
    if suffix == ".csv":
        line = _first_line(p)
        return "ljspeech" if line.count("|") in (1, 2) else None
    if suffix == ".txt":
        return "audacity" if _AUDACITY_LINE.match(_first_line(p)) else None
    return None


def _detect_dir(p: Path) -> str | None:
    if (p / ljspeech.METADATA).is_file():
        return "ljspeech"
    if (p / "wav.scp").is_file():
        return "kaldi"
    if any((p / f"{s}.tsv").is_file() for s in (*SPLITS, "validated")):
        return "commonvoice"
    found = set()
    with os.scandir(p) as it:
        for k, entry in enumerate(it):
            if k >= _MAX_SCAN:
                break
            suffix = os.path.splitext(entry.name)[1].lower()
            if suffix == ".textgrid":
                return "textgrid"
            if suffix == ".txt" and entry.is_file() and _has_audio_beside(Path(entry.path)):
                if _detect_file(Path(entry.path)) == "audacity":
                    found.add("audacity")
    return "audacity" if found else None


def detect(path: str | os.PathLike) -> str | None:
    """Guess the format of a file or folder from its name and first line.

    Folders: ``metadata.csv`` → ljspeech, ``wav.scp`` → kaldi,
    ``train/dev/test/validated.tsv`` → commonvoice, any ``*.TextGrid`` →
    textgrid, a ``*.txt`` of Audacity labels beside an audio file → audacity.
    Files: ``wav.scp``/``text``/``segments``/``utt2spk``/``spk2utt`` → kaldi,
    ``.TextGrid`` → textgrid, a ``.tsv`` with ``path`` and ``sentence``
    columns → commonvoice, a ``.json``/``.jsonl`` whose first line is an
    object with ``audio_filepath`` → nemo, a ``.csv`` whose first line has
    1–2 ``|`` → ljspeech, a ``.txt`` whose first line is ``number<TAB>number``
    → audacity.

    Returns:
        A key of :data:`FORMATS`, or None when nothing matches or the path
        cannot be read. Never raises.
    """
    try:
        p = Path(path)
        if p.is_dir():
            return _detect_dir(p)
        if p.is_file():
            return _detect_file(p)
    except (OSError, ValueError):
        pass
    return None


def read(path: str | os.PathLike, fmt: str | None = None, root: str | os.PathLike | None = None,
         **options) -> tuple[list[Utterance], list[Reject]]:
    """Read ``path`` in format ``fmt`` (default: :func:`detect`).

    Args:
        path: the file or folder to import.
        fmt: a key of :data:`FORMATS` other than the export-only ones, or None to detect it.
        root: import root (see each module; default: the file's folder).
        **options: passed to the module's ``read`` (``sample_rate``, ``tier``, ``audio``, ``clips``).

    Returns:
        ``(items, rejects)``. An undetectable format gives no items and one reject.

    Raises:
        ValueError: ``fmt`` is not a known import format (a programming error, not bad content).
    """
    if fmt is None:
        fmt = detect(path)
        if fmt is None:
            p = Path(path)
            return [], [Reject(p.name or str(p), None, "not a corpus format Sayso can import (LJSpeech, NeMo, "
                                                        "Kaldi, Common Voice, TextGrid, Audacity labels)")]
    if fmt not in FORMATS or fmt in EXPORT_ONLY:
        raise ValueError(f"Cannot import format {fmt!r}: use one of {', '.join(IMPORT_FORMATS)}.")
    return FORMATS[fmt].read(path, root=root, **options)


def write(items: Sequence[Utterance], out: str | os.PathLike, fmt: str, **options) -> list[Path]:
    """Write ``items`` to ``out`` in format ``fmt``; returns the files written.

    Raises:
        ValueError: unknown ``fmt``, or items the format cannot hold (see the module).
        AudioError: a source audio file is missing or unreadable.
        OSError: a file cannot be written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}.")
    if fmt in EXPORT_ONLY:
        return transcripts.write(items, out, fmt, **options)
    return FORMATS[fmt].write(items, out, **options)
