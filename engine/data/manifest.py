"""Training manifests: one utterance per line of JSON (the NeMo JSONL format).

Each line holds ``audio_filepath`` (absolute, or relative to the manifest's
folder), ``text`` (the transcript), ``duration`` (seconds) and optionally
``speaker``, ``offset`` (seconds into the file) and ``split``. In memory a
line is an :class:`~engine.data.utterance.Utterance`; :func:`from_manifest`
and :func:`to_manifest` convert one line:

- ``offset``/``duration`` ↔ ``start = offset``, ``end = offset + duration``;
  a line with no (or a zero) ``duration`` runs to the end of the file
  (``end = None``; with no offset either, it is the whole file:
  ``start = end = None``);
- ``speaker`` ``""`` ↔ None.

Lines are written as ``audio_filepath``, ``text``, ``duration``, ``speaker``
and, when not 0, ``offset``; a whole file's duration is read from its header.
:mod:`engine.data.formats.nemo` imports the same format into a project,
leniently (a bad line is reported and skipped); this module is strict.

>>> u = from_manifest({"audio_filepath": "a.wav", "text": "yes", "duration": 0.5, "offset": 1.0}, Path("/data"))
>>> u
Utterance(audio_path=PosixPath('/data/a.wav'), text='yes', start=1.0, end=1.5, speaker=None, split=None, tags=())
>>> to_manifest(u)
{'audio_filepath': '/data/a.wav', 'text': 'yes', 'duration': 0.5, 'speaker': '', 'offset': 1.0}
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from engine.atomic import atomic_write
from engine.data.utterance import Utterance

__all__ = ["ManifestError", "from_manifest", "read_manifest", "to_manifest", "write_manifest"]


class ManifestError(ValueError):
    """A manifest line that cannot be used; the message names the file and line."""


def from_manifest(row: dict, folder: Path) -> Utterance:
    """One manifest line (parsed JSON) as an :class:`Utterance`; a relative path is taken from ``folder``.

    Raises:
        ManifestError: a negative duration or offset; ``text`` is not a string.
        KeyError: no ``audio_filepath`` or ``text``.
        ValueError, TypeError: a time is not a number.
    """
    audio = Path(row["audio_filepath"])
    if not audio.is_absolute():
        audio = folder / audio
    offset, duration = float(row.get("offset", 0.0)), float(row.get("duration", 0.0))
    if duration < 0 or offset < 0:
        raise ManifestError("negative duration or offset")
    if not isinstance(row["text"], str):
        raise ManifestError(f"'text' must be a string, got {type(row['text']).__name__}")
    if duration:
        start, end = offset, offset + duration
    else:
        start, end = (offset or None), None
    return Utterance(audio, str(row["text"]), start, end, str(row.get("speaker", "")) or None)


def to_manifest(u: Utterance) -> dict:
    """The manifest line (a JSON-ready dict) of ``u``; ``offset`` only when not 0.

    Raises:
        engine.audio.errors.AudioError: ``u`` runs to the end of its file and
            the file's header cannot be read (its duration is needed).
    """
    offset = u.start or 0.0
    if u.end is not None:
        duration = u.end - offset
    else:
        from engine.audio.io import audio_info

        duration = audio_info(u.audio_path).duration - offset
    row = {"audio_filepath": str(u.audio_path), "text": u.text, "duration": duration, "speaker": u.speaker or ""}
    if offset:
        row["offset"] = offset
    return row


def read_manifest(path: str | os.PathLike) -> list[Utterance]:
    """Read a JSONL manifest (blank lines are skipped).

    Raises:
        ManifestError: ``path`` is a folder; a line is not UTF-8 or not JSON,
            lacks ``audio_filepath`` or ``text``, has a ``text`` that is not a
            string, or a negative duration or offset. The message gives the
            line number (a binary file fails on its first line).
        FileNotFoundError: the manifest does not exist.
        OSError: it cannot be read (no permission, I/O error).
    """
    path = Path(path)
    out = []
    try:
        fh = open(path, "rb")
    except IsADirectoryError:
        raise ManifestError(f"{path}: a folder, not a manifest (a JSONL file, one utterance per line)") from None
    with fh:
        for n, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ManifestError(f"{path.name}, line {n}: not UTF-8 text (byte {exc.start + 1}); "
                                    "a manifest is UTF-8 JSON, one utterance per line") from None
            if not line.strip():
                continue
            try:
                out.append(from_manifest(json.loads(line), path.parent))
            except ManifestError as exc:
                raise ManifestError(f"{path.name}, line {n}: {exc}") from None
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ManifestError(f"{path.name}, line {n}: {type(exc).__name__}: {exc}") from None
    return out


def write_manifest(path: str | os.PathLike, utterances: Iterable[Utterance]) -> Path:
    """Write a JSONL manifest atomically (temp file, fsync, rename).

    Raises:
        engine.audio.errors.AudioError: a whole file's duration cannot be read.
        OSError: the manifest cannot be written (nothing is left half-written).
    """
    path = Path(path)
    with atomic_write(path) as fh:
        for u in utterances:
            fh.write(json.dumps(to_manifest(u), ensure_ascii=False) + "\n")
    return path
