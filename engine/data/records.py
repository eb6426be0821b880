"""Plain records of an import: what was left out, and what came in.

The readers in :mod:`engine.data.formats` turn a corpus on disk (LJSpeech,
NeMo, Kaldi, Common Voice, TextGrid, Audacity labels, …) into a list of
:class:`~engine.data.utterance.Utterance` per source file, plus the
:class:`Reject` lines they could not use;
:meth:`engine.data.store.Project.import_items` inserts one such list in a
single transaction and answers with an :class:`ImportReport`.

All times are in seconds. This module imports nothing but the standard library.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ImportReport", "Reject"]


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
