"""Manifests: one utterance per line of JSON (the NeMo JSONL format).

Each line holds ``audio_filepath`` (absolute, or relative to the manifest's
folder), ``text`` (the transcript), ``duration`` (seconds) and optionally
``speaker``, ``offset`` (seconds into the file) and ``split``.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from engine.atomic import atomic_write


class ManifestError(ValueError):
    """A manifest line that cannot be used; the message names the file and line."""


@dataclass
class Utterance:
    """One utterance: a stretch of an audio file with its transcript. Times in seconds."""

    audio_filepath: str
    text: str
    duration: float
    speaker: str = ""
    offset: float = 0.0

    def to_json(self) -> dict:
        d = asdict(self)
        if not d["offset"]:
            d.pop("offset")
        return d


def read_manifest(path: str | os.PathLike) -> list[Utterance]:
    """Read a JSONL manifest.

    Raises:
        ManifestError: a line is not JSON, lacks ``audio_filepath`` or ``text``,
            or has a negative duration or offset. The message gives the line number.
        FileNotFoundError: the manifest does not exist.
    """
    path = Path(path)
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                audio = Path(row["audio_filepath"])
                if not audio.is_absolute():
                    audio = path.parent / audio
                utt = Utterance(str(audio), str(row["text"]), float(row.get("duration", 0.0)),
                                str(row.get("speaker", "")), float(row.get("offset", 0.0)))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ManifestError(f"{path.name}, line {n}: {type(exc).__name__}: {exc}") from None
            if utt.duration < 0 or utt.offset < 0:
                raise ManifestError(f"{path.name}, line {n}: negative duration or offset")
            out.append(utt)
    return out


def write_manifest(path: str | os.PathLike, utterances: list[Utterance]) -> Path:
    """Write a JSONL manifest atomically (temp file, fsync, rename)."""
    path = Path(path)
    with atomic_write(path) as fh:
        for u in utterances:
            fh.write(json.dumps(u.to_json(), ensure_ascii=False) + "\n")
    return path
