"""Timed transcripts as TXT, SubRip (SRT), WebVTT and JSON.

SRT is written with the ``srt`` package (SubRip format as parsed by most
players), WebVTT with ``webvtt-py`` (W3C WebVTT). A caption is one
utterance or segment: ``start`` and ``end`` in seconds and its text.
Files are written atomically.
"""
from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import srt
import webvtt

from engine.atomic import atomic_write

FORMATS = ("txt", "srt", "vtt")
TRANSCRIPT_FORMATS = (*FORMATS, "json")
"""What :func:`write_transcript` writes: the caption formats, or a recognition's JSON."""


@dataclass(frozen=True)
class Caption:
    """One timed line: ``start`` ≤ ``end`` in seconds."""

    start: float
    end: float
    text: str


def to_txt(captions: list[Caption], timestamps: bool = True) -> str:
    """One caption per line, optionally prefixed ``[mm:ss.s]``."""
    lines = []
    for c in captions:
        prefix = f"[{int(c.start // 60):02d}:{c.start % 60:04.1f}] " if timestamps else ""
        lines.append(prefix + c.text)
    return "\n".join(lines) + ("\n" if lines else "")


def to_srt(captions: list[Caption]) -> str:
    """SubRip text, numbered from 1."""
    subs = [srt.Subtitle(i + 1, timedelta(seconds=c.start), timedelta(seconds=max(c.end, c.start)), c.text)
            for i, c in enumerate(captions)]
    return srt.compose(subs, reindex=False)


def to_vtt(captions: list[Caption]) -> str:
    """WebVTT text."""
    doc = webvtt.WebVTT()
    for c in captions:
        doc.captions.append(webvtt.Caption(_vtt_time(c.start), _vtt_time(max(c.end, c.start)), c.text))
    buf = io.StringIO()
    doc.write(buf)
    return buf.getvalue()


def _vtt_time(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def write_captions(path: str | os.PathLike, captions: list[Caption], fmt: str | None = None) -> Path:
    """Write ``captions`` to ``path`` as TXT, SRT or VTT (``fmt``, default: the file suffix).

    Raises:
        ValueError: unknown format.
        OSError: the file cannot be written (nothing is left half-written).
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"Unknown transcript format '{fmt}': use one of {', '.join(FORMATS)}.")
    text = {"txt": to_txt, "srt": to_srt, "vtt": to_vtt}[fmt](captions)
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return path


def captions_of(recognition) -> list[Caption]:
    """A :class:`~engine.decode.protocol.Recognition`'s segments as captions: their times and text
    (Whisper's own cased, punctuated text where the segment keeps it, ``raw``); the whole
    transcript as one caption if it has no segments."""
    caps = [Caption(s.start, s.end, getattr(s, "raw", "") or s.text) for s in recognition.segments if s.text]
    if not caps and recognition.text:
        caps = [Caption(0.0, recognition.duration, recognition.text)]
    return caps


def transcript_text(recognition, fmt: str) -> str:
    """A recognition as ``fmt`` (one of :data:`TRANSCRIPT_FORMATS`) text.

    Raises:
        ValueError: unknown format.
    """
    fmt = fmt.lower()
    if fmt == "json":
        return json.dumps(recognition.to_json(), indent=1) + "\n"
    if fmt not in FORMATS:
        raise ValueError(f"Unknown transcript format '{fmt}': use one of {', '.join(TRANSCRIPT_FORMATS)}.")
    return {"txt": to_txt, "srt": to_srt, "vtt": to_vtt}[fmt](captions_of(recognition))


def write_transcript(path: str | os.PathLike, recognition, fmt: str | None = None) -> Path:
    """Write a recognition to ``path`` as TXT, SRT, VTT or JSON (``fmt``, default: the file suffix),
    atomically.

    Raises:
        ValueError: unknown format.
        OSError: the file cannot be written (nothing is left half-written).
    """
    path = Path(path)
    text = transcript_text(recognition, fmt or path.suffix.lstrip("."))
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return path
