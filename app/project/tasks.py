"""Long project work off the GUI thread: dataset import and long-recording splitting.

Each task runs in a ``QThread`` with its own connection to the project's
SQLite file (WAL mode lets the window keep reading meanwhile). The window's
connection sees the rows once the task's transaction commits. Cancelling an
import raises inside its progress callback, which rolls the file's import
back (all or nothing per file).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QThread, Signal

from engine.data import formats
from engine.data.errors import ProjectError
from engine.data.records import ImportReport, Reject
from engine.data.segmentation import segment_recording
from engine.data.store import Project


class Cancelled(Exception):
    """Raised from a progress callback to stop a task."""


class ImportTask(QThread):
    """Read a dataset in ``fmt`` (None: detect) and import it into the project at ``folder``.

    Signals:
        progress(int, int): items imported so far and the total (0 while reading).
        done(object): an :class:`ImportReport` (reader and store rejects together).
        failed(str): a user message; nothing of this file was imported.
    """

    progress = Signal(int, int)
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, folder: Path, source: Path, fmt: str | None = None, parent=None) -> None:
        super().__init__(parent)
        self.folder, self.source, self.fmt = Path(folder), Path(source), fmt
        self._cancel = False

    def cancel(self) -> None:
        self._cancel = True

    def _progress(self, done: int, total: int) -> None:
        if self._cancel:
            raise Cancelled()
        self.progress.emit(done, total)

    def run(self) -> None:
        try:
            self.progress.emit(0, 0)
            items, rejects = formats.read(self.source, self.fmt)
            if self._cancel:
                raise Cancelled()
            with Project.open(self.folder) as project:
                report = project.import_items(items, self.source.name, progress=self._progress)
            self.done.emit(ImportReport(report.added, list(rejects) + list(report.rejects)))
        except Cancelled:
            self.failed.emit(f"Import of {self.source.name} cancelled; nothing of it was imported.")
        except (ProjectError, ValueError, OSError) as exc:
            self.failed.emit(f"Import of {self.source.name} failed; nothing of it was imported. {exc}")


class SplitTask(QThread):
    """Add a long recording to the project at ``folder`` and split it at its pauses
    (``split=False``: only add it, for a teacher model to transcribe and split).

    Signals:
        done(object): the new utterance ids (list of int).
        added(object): the added :class:`~engine.data.recordings.Recording` (``split=False`` only).
        failed(str): a user message.
    """

    done = Signal(object)
    added = Signal(object)
    failed = Signal(str)

    def __init__(self, folder: Path, audio: Path, speaker: str | None = None, parent=None,
                 split: bool = True) -> None:
        super().__init__(parent)
        self.folder, self.audio, self.speaker, self.split = Path(folder), Path(audio), speaker, split

    def run(self) -> None:
        try:
            with Project.open(self.folder) as project:
                rec = project.add_recording(self.audio)
                if self.split:
                    self.done.emit(segment_recording(project, rec.id, speaker=self.speaker))
                else:
                    self.added.emit(rec)
        except ProjectError as exc:
            self.failed.emit(str(exc))


def describe_rejects(rejects: list[Reject], limit: int = 200) -> str:
    """One line per rejected line or file: ``source:line: reason``."""
    lines = [f"{r.source}{f':{r.line}' if r.line else ''}: {r.reason}" for r in rejects[:limit]]
    if len(rejects) > limit:
        lines.append(f"… and {len(rejects) - limit} more")
    return "\n".join(lines)
