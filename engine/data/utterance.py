"""The utterance: a stretch of an audio file with its transcript.

One record from import to training. The corpus readers in
:mod:`engine.data.formats` yield :class:`Utterance` lists and the writers
take them; :meth:`engine.data.store.Project.import_items` stores them and
:meth:`~engine.data.store.Project.export_items` gives them back;
:mod:`engine.data.manifest` reads and writes them as JSONL training manifests
(``from_manifest``/``to_manifest`` convert one line); the trainer
(:mod:`engine.train.dataset`), the evaluation (:mod:`engine.decode.evaluate`)
and the model registry's data fingerprints read them. A stored utterance with
its labeling state is a :class:`~engine.data.query.UtteranceRow` (same field
names, plus id, status and scores); an utterance to embed is an
:class:`~engine.insight.embedding.EmbedItem` (plus the recording's checksum).

All times are in seconds. This module imports nothing but the standard library.

>>> u = Utterance("clips/yes.wav", "yes", 1.5, 2.25, "anna")
>>> u.audio_path.name, u.duration, u.is_whole
('yes.wav', 0.75, False)
>>> Utterance("clips/yes.wav", "yes").duration is None  # the whole file: its length is in the file
True
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["WHOLE_TOLERANCE", "Utterance"]

WHOLE_TOLERANCE = 0.001
"""A span from 0 to within this many seconds of its file's end is the whole file."""


@dataclass(frozen=True)
class Utterance:
    """One utterance to import, store, export, train or test on.

    Attributes:
        audio_path: the audio file (absolute, or relative to the current
            directory); a ``str`` is turned into a :class:`~pathlib.Path`.
            WAV, FLAC or OGG.
        text: the transcript ("" when there is none yet).
        start: start in seconds into the file; None for the whole file
            (then ``end`` is None too).
        end: end in seconds (> ``start``); None for the end of the file.
        speaker: the speaker's name, or None.
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

    def __post_init__(self) -> None:
        if not isinstance(self.audio_path, Path):
            object.__setattr__(self, "audio_path", Path(self.audio_path))

    @property
    def is_whole(self) -> bool:
        """True if the utterance is its whole audio file (no end, and no start or start 0)."""
        return self.end is None and not self.start

    @property
    def duration(self) -> float | None:
        """``end − start`` in seconds (start None counts as 0), or None when the end is the file's end."""
        return None if self.end is None else self.end - (self.start or 0.0)
