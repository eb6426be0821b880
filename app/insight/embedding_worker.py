"""Qt bridge to the embedding worker process (:mod:`engine.jobs.embedding`).

The GUI thread only calls non-blocking methods; a ``QTimer`` polls the
worker every :data:`POLL_MS` ms while requests are pending and re-emits
what arrives as signals (map runs) or calls the callback given with a text
request.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from engine.jobs.embedding import EmbedFailure, EmbeddingWorker, EmbedProgress, MapResult, TextResult

POLL_MS = 30
MAX_PER_POLL = 100


class EmbeddingJobs(QObject):
    """Map runs and text embeddings for one model, served by one persistent worker process.

    Signals:
        progress(str, int, int): stage (``"audio"``, ``"text"``, ``"projection"``), done, total.
        map_ready(object): a :class:`~engine.jobs.embedding.MapResult`.
        map_failed(str, str): failure kind and a user message (kind ``"cancelled"`` after :meth:`cancel`).
    """

    progress = Signal(str, int, int)
    map_ready = Signal(object)
    map_failed = Signal(str, str)

    def __init__(self, model_path: str | Path, threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model_path = Path(model_path)
        self.worker = EmbeddingWorker(self.model_path, threads=threads)
        self.map_request: int | None = None
        self._callbacks: dict[int, object] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    @property
    def running(self) -> bool:
        """True while a map run is under way."""
        return self.map_request is not None

    def start_map(self, items, cache_path, method: str) -> None:
        """Embed and project ``items`` (:class:`~engine.insight.embedding.EmbedItem`); replaces a running map run."""
        if self.map_request is not None:
            self.worker.cancel(self.map_request)
            self._callbacks.pop(self.map_request, None)
        self.map_request = self.worker.map(items, cache_path, method)
        self._timer.start()

    def cancel(self) -> None:
        """Stop the map run (what is embedded stays cached)."""
        if self.map_request is not None:
            self.worker.cancel(self.map_request)

    def embed_texts(self, texts: list[str], on_answer) -> int:
        """Embed ``texts``; ``on_answer(TextResult | EmbedFailure)`` is called on the GUI thread."""
        rid = self.worker.texts(texts)
        self._callbacks[rid] = on_answer
        self._timer.start()
        return rid

    def shutdown(self) -> None:
        """End the worker process (pending requests are dropped)."""
        self._timer.stop()
        self._callbacks.clear()
        self.map_request = None
        self.worker.close(timeout=1.0)

    def _poll(self) -> None:
        for _ in range(MAX_PER_POLL):
            answer = self.worker.poll()
            if answer is None:
                break
            self._dispatch(answer)
        if not self.worker.pending and self.map_request is None and not self._callbacks:
            self._timer.stop()

    def _dispatch(self, answer) -> None:
        rid = answer.request_id
        if isinstance(answer, EmbedProgress):
            if rid == self.map_request:
                self.progress.emit(answer.stage, answer.done, answer.total)
            return
        if rid in self._callbacks:
            self._callbacks.pop(rid)(answer)
            return
        if rid != self.map_request:
            return  # a replaced map run
        self.map_request = None
        if isinstance(answer, MapResult):
            self.map_ready.emit(answer)
        elif isinstance(answer, EmbedFailure):
            self.map_failed.emit(answer.kind, answer.message)
        elif isinstance(answer, TextResult):  # not expected for a map request
            pass
