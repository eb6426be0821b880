"""Plain records exchanged between the project store and the format readers/writers.

The readers in :mod:`engine.data.formats` turn a corpus on disk (LJSpeech,
NeMo, Kaldi, Common Voice, TextGrid, Audacity labels, …) into a list of
:class:`ImportItem` per source file, plus the :class:`Reject` lines they could
not use; :meth:`engine.data.store.Project.import_items` inserts one such list
in a single transaction and answers with an :class:`ImportReport`.
:meth:`engine.data.store.Project.export_items` gives :class:`ImportItem`
records back (with absolute audio paths) for the writers.

All times are in seconds. This module imports nothing but the standard library.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ImportItem", "ImportReport", "Reject"]


@dataclass(frozen=True)
class ImportItem:
    """One utterance to import (or exported).

    Attributes:
        audio_path: the audio file, already resolved (absolute, or relative to
            the current directory). WAV, FLAC or OGG.
        text: the transcript ("" when there is none yet).
        start: start of the utterance in seconds into the file; None for the
            whole file (then ``end`` must be None too).
        end: end in seconds (> ``start``); None for the end of the file.
        speaker: speaker name, or None.
        split: ``"train"``, ``"dev"``, ``"test"`` or None.
        tags: free-form labels, e.g. ``("noisy",)``.
    """

    audio_path: Path
    text: str
    start: float | None = None
    end: float | None = None
    speaker: str | None = None
    split: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reject:
    """A line (or item) of a source that was not imported.

    Attributes:
        source: the source file's name (or path) as shown to users.
        line: 1-based line number in that file, or None when it does not apply.
        reason: why, in words for users ("no such audio file: a.wav").
    """

    source: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}, line {self.line}" if self.line is not None else self.source
        return f"{where}: {self.reason}"


@dataclass
class ImportReport:
    """Outcome of importing one source file.

    Attributes:
        added: utterances inserted.
        rejects: lines that were left out, with their reasons.
    """

    added: int
    rejects: list[Reject] = field(default_factory=list)
