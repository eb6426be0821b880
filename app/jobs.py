"""Qt bridge to the recognition worker process (:mod:`engine.jobs.inference`).

The GUI thread only ever calls non-blocking methods: :meth:`TranscriptionJob.submit`
queues the audio and a ``QTimer`` polls the result queue every
:data:`POLL_MS` milliseconds until the answer (or a crash) arrives.

The same worker serves live recognition while recording:
:meth:`TranscriptionJob.live_start`, :meth:`~TranscriptionJob.live_feed` and
:meth:`~TranscriptionJob.live_stop`; partials and finals come back through
``live_events``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from engine.jobs.inference import InferenceFailure, InferenceResult, InferenceWorker, StreamEvents

POLL_MS = 40
LIVE_POLL_MS = 15


class TranscriptionJob(QObject):
    """One transcription at a time, served by a persistent worker process.

    Signals:
        started(): a request was queued.
        finished(object): the :class:`~engine.decode.recognizer.Recognition`.
        failed(str): a user message (bad audio, bad model, worker crashed…);
            :attr:`last_failure_kind` tells which.
        live_events(object): a tuple of :class:`~engine.decode.streaming.Partial`
            and :class:`~engine.decode.streaming.Final` of the live session.
        live_failed(str): the live session stopped with this user message.
        live_ended(): the live session's last final has arrived.
    """

    started = Signal()
    finished = Signal(object)
    failed = Signal(str)
    live_events = Signal(object)
    live_failed = Signal(str)
    live_ended = Signal()

    def __init__(self, model_path: str | Path, threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model_path = Path(model_path)
        self.worker = InferenceWorker(model_path, threads=threads)
        self.last_failure_kind: str | None = None
        self._request: int | None = None
        self._live: int | None = None  # the live session whose events we still expect
        self._callbacks: dict[int, object] = {}  # background requests (see request())
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

    def request(self, audio: np.ndarray, on_answer, vocabulary: list[str] | None = None,
                attention: bool = False, transcript: str | None = None) -> int:
        """Queue a background transcription (e.g. one utterance of a pre-labeling run).

        ``on_answer`` is called on the GUI thread with the worker's
        :class:`~engine.jobs.inference.InferenceResult` or
        :class:`~engine.jobs.inference.InferenceFailure`. It does not make
        :attr:`busy` true; returns the request id. With a ``transcript`` the
        audio is scored against it (label QA) instead of transcribed.
        """
        rid = self.worker.submit(audio, vocabulary, attention=attention, transcript=transcript)
        self._callbacks[rid] = on_answer
        self._timer.start()
        return rid

    def inspect(self, audio: np.ndarray, transcript: str | None, on_answer) -> int:
        """Queue a background inspection (attention and forced alignment, see
        :class:`~engine.jobs.inference.InspectRequest`); ``on_answer`` as in :meth:`request`."""
        rid = self.worker.submit_inspection(audio, transcript)
        self._callbacks[rid] = on_answer
        self._timer.start()
        return rid

    def forget(self, request_ids) -> None:
        """Drop the callbacks of background requests (their answers are then ignored)."""
        for rid in request_ids:
            self._callbacks.pop(rid, None)

    @property
    def live(self) -> bool:
        """True from :meth:`live_start` until the session's last events arrived."""
        return self._live is not None

    def live_start(self, vocabulary: list[str] | None = None, endpoint: dict | None = None) -> None:
        """Open a live session in the worker (see :meth:`InferenceWorker.stream_start`)."""
        self._live = self.worker.stream_start(vocabulary, endpoint)
        self._timer.setInterval(LIVE_POLL_MS)
        self._timer.start()

    def live_feed(self, audio: np.ndarray) -> None:
        """Send ``(samples,)`` float32 16 kHz audio to the live session (no-op without one)."""
        self.worker.stream_feed(audio)

    def live_stop(self) -> None:
        """End the live session; its last final still arrives, then ``live_ended``."""
        self.worker.stream_end()

    def shutdown(self) -> None:
        """Stop polling and end the worker process."""
        self._timer.stop()
        self._request = self._live = None
        self._callbacks.clear()
        self.worker.close()

    def _poll(self) -> None:
        for _ in range(100):  # drain what arrived, bounded so the GUI never stalls
            answer = self.worker.poll()
            if answer is None:
                break
            if isinstance(answer, StreamEvents):
                self._on_stream(answer)
            elif answer.request_id == self._request:
                self._on_answer(answer)
            elif answer.request_id in self._callbacks:
                self._callbacks.pop(answer.request_id)(answer)
            # else a stale answer
        if self._request is None and self._live is None and not self._callbacks:
            self._timer.stop()
            self._timer.setInterval(POLL_MS)

    def _on_stream(self, answer: StreamEvents) -> None:
        if answer.session != self._live:
            return
        if answer.events:
            self.live_events.emit(answer.events)
        if answer.error:
            self._live = None
            self.live_failed.emit(answer.error)
        elif answer.ended:
            self._live = None
            self.live_ended.emit()

    def _on_answer(self, answer) -> None:
        self._request = None
        if isinstance(answer, InferenceResult):
            self.last_failure_kind = None
            self.finished.emit(answer.recognition)
        elif isinstance(answer, InferenceFailure):
            self.last_failure_kind = answer.kind
            self.failed.emit(answer.message)
