"""Transcript export as SubRip (SRT), WebVTT or plain text, one file per audio file.

The files are made by :mod:`engine.text.captions`: SubRip with the ``srt``
package (https://srt.readthedocs.io, the format as players parse it), WebVTT
with ``webvtt-py`` (W3C, https://www.w3.org/TR/webvtt1/), TXT as
``[mm:ss.s] text`` lines. These are
export-only: a caption file does not say which audio it belongs to, and TXT
keeps times to a tenth of a second. Each item is one caption from its start to
its end in seconds (a whole-file item: 0 to the file's duration), in time order.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from engine.data.formats._common import check_span, duration_of, group_by_audio, item_span, stems_in
from engine.data.utterance import Utterance
from engine.text.captions import FORMATS as CAPTION_FORMATS
from engine.text.captions import Caption, write_captions

NAMES = CAPTION_FORMATS
"""``("txt", "srt", "vtt")``."""


def captions_for(items: Sequence[Utterance]) -> list[Caption]:
    """The captions of items of one audio file, sorted by start (seconds).

    Raises:
        ValueError: a span is negative or empty.
        AudioError: a whole-file item's duration is needed but its audio cannot be read.
    """
    caps = []
    dur = None
    for i, it in enumerate(items):
        check_span(it, i)
        if it.end is None and dur is None:
            dur = duration_of(Path(it.audio_path))
        start, end = item_span(it, dur)
        caps.append(Caption(start, end, it.text))
    return sorted(caps, key=lambda c: (c.start, c.end))


def write(items: Sequence[Utterance], out: str | os.PathLike, fmt: str | None = None) -> list[Path]:
    """Write the transcripts of ``items`` as TXT, SRT or VTT.

    Args:
        items: utterances, possibly of several audio files.
        out: a file (``x.srt``; then all items must share one audio file) or a
            folder (then ``<audio stem>.<fmt>`` per audio file, stems made unique).
        fmt: ``"txt"``, ``"srt"`` or ``"vtt"``. Default: ``out``'s suffix.

    Returns:
        The files written.

    Raises:
        ValueError: unknown format, a file ``out`` for items of several audio
            files, or a negative/empty span.
        AudioError: a whole-file item's audio cannot be read (its duration is needed).
        OSError: a file cannot be written (nothing is left half-written).
    """
    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt not in CAPTION_FORMATS:
        raise ValueError(f"Unknown transcript format '{fmt}': use one of {', '.join(CAPTION_FORMATS)}.")
    groups = group_by_audio(items)
    if out.suffix.lower() == f".{fmt}":
        if len(groups) > 1:
            raise ValueError(f"{out.name}: the items come from {len(groups)} audio files; "
                             "export to a folder for one file per audio file")
        group = next(iter(groups.values()), [])
        return [write_captions(out, captions_for([it for _, it in group]), fmt)]
    stems = stems_in(out, groups)
    captions = {a: captions_for([it for _, it in g]) for a, g in groups.items()}  # check all before writing
    return [write_captions(out / f"{stems[a][0]}.{fmt}", caps, fmt) for a, caps in captions.items()]
