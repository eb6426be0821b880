"""Qt bridge to the embedding worker process (:mod:`engine.workers.embedding`).

The GUI thread only calls non-blocking methods; the
:class:`~app.worker_bridge.WorkerBridge` timer polls the worker every
:data:`POLL_MS` ms while requests are pending and re-emits what arrives as
signals (map runs) or calls the callback given with a text request.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Signal

from app.worker_bridge import WorkerBridge
from engine.workers.embedding import EmbeddingWorker, EmbedFailure, EmbedProgress, MapResult

POLL_MS = 30


class EmbeddingBridge(WorkerBridge):
    """Map runs and text embeddings for one model, served by one persistent worker process.

    Signals:
        progress(str, int, int): stage (``"audio"``, ``"text"``, ``"projection"``), done, total.
        map_ready(object): a :class:`~engine.workers.embedding.MapResult`.
        map_failed(str, str): failure kind and a user message (kind ``"cancelled"`` after :meth:`cancel`).
    """

    progress = Signal(str, int, int)
    map_ready = Signal(object)
    map_failed = Signal(str, str)

    def __init__(self, model_path: str | Path, threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(EmbeddingWorker(model_path, threads=threads), POLL_MS, parent=parent)
        self.worker: EmbeddingWorker
        self.model_path = Path(model_path)
        self.map_request: int | None = None
        self.answer.connect(self._on_progress)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    @property
    def running(self) -> bool:
        """True while a map run is under way."""
        return self.map_request is not None

    def start_map(self, items, project_folder, method: str) -> None:
        """Embed and project ``items`` (:class:`~engine.insight.embedding.EmbedItem`); replaces a running map run."""
        if self.map_request is not None:
            self.worker.cancel(self.map_request)
            self.forget([self.map_request])
        self.map_request = self.follow(self.worker.map(items, project_folder, method), self._on_map)

    def cancel(self) -> None:
        """Stop the map run (what is embedded stays cached)."""
        if self.map_request is not None:
            self.worker.cancel(self.map_request)

    def embed_texts(self, texts: list[str], on_answer) -> int:
        """Embed ``texts``; ``on_answer(TextResult | EmbedFailure)`` is called on the GUI thread."""
        return self.follow(self.worker.texts(texts), on_answer)

    def shutdown(self, timeout: float = 1.0) -> None:
        """End the worker process (pending requests are dropped)."""
        self.map_request = None
        super().shutdown(timeout)

    def _on_progress(self, answer) -> None:
        if isinstance(answer, EmbedProgress) and answer.request_id == self.map_request:
            self.progress.emit(answer.stage, answer.done, answer.total)

    def _on_map(self, answer) -> None:
        self.map_request = None
        if isinstance(answer, MapResult):
            self.map_ready.emit(answer)
        elif isinstance(answer, EmbedFailure):
            self.map_failed.emit(answer.kind, answer.message)
