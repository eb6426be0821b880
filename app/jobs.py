"""Qt bridge to the recognition worker process (:mod:`engine.jobs.inference`).

The GUI thread only ever calls non-blocking methods: :meth:`TranscriptionJob.submit`
queues the audio and a ``QTimer`` polls the result queue every
:data:`POLL_MS` milliseconds until the answer (or a crash) arrives.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from engine.jobs.inference import InferenceFailure, InferenceResult, InferenceWorker

POLL_MS = 40


class TranscriptionJob(QObject):
    """One transcription at a time, served by a persistent worker process.

    Signals:
        started(): a request was queued.
        finished(object): the :class:`~engine.decode.recognizer.Recognition`.
        failed(str): a user message (bad audio, bad model, worker crashed…);
            :attr:`last_failure_kind` tells which.
    """

    started = Signal()
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, model_path: str | Path, threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model_path = Path(model_path)
        self.worker = InferenceWorker(model_path, threads=threads)
        self.last_failure_kind: str | None = None
        self._request: int | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    @property
    def busy(self) -> bool:
        """True while a request is waiting for its answer."""
        return self._request is not None

    def warm_up(self) -> None:
        """Start the worker now so the model is loaded before the first request."""
        self.worker.start()

    def submit(self, audio: np.ndarray, vocabulary: list[str] | None = None) -> bool:
        """Transcribe ``(samples,)`` float32 16 kHz audio; False (and nothing queued) if busy."""
        if self.busy:
            return False
        self._request = self.worker.submit(audio, vocabulary)
        self._timer.start()
        self.started.emit()
        return True

    def shutdown(self) -> None:
        """Stop polling and end the worker process."""
        self._timer.stop()
        self._request = None
        self.worker.close()

    def _poll(self) -> None:
        answer = self.worker.poll()
        while answer is not None and answer.request_id != self._request:  # stale answers
            answer = self.worker.poll()
        if answer is None:
            return
        self._timer.stop()
        self._request = None
        if isinstance(answer, InferenceResult):
            self.last_failure_kind = None
            self.finished.emit(answer.recognition)
        elif isinstance(answer, InferenceFailure):
            self.last_failure_kind = answer.kind
            self.failed.emit(answer.message)
