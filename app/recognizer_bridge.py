"""Qt bridge to the recognition worker process (:mod:`engine.workers.recognition`).

The GUI thread only ever calls non-blocking methods: :meth:`RecognizerBridge.submit`
queues the audio and the :class:`~app.worker_bridge.WorkerBridge` timer polls
the worker every :data:`POLL_MS` milliseconds until the answer (or a crash)
arrives. Background requests (:meth:`~RecognizerBridge.request`,
:meth:`~RecognizerBridge.score`, :meth:`~RecognizerBridge.inspect`) call
back with their answer.

The same worker serves live recognition while recording:
:meth:`RecognizerBridge.live_start`, :meth:`~RecognizerBridge.live_feed` and
:meth:`~RecognizerBridge.live_stop`; partials and finals come back through
``live_events``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.worker_bridge import WorkerBridge
from engine.workers.recognition import RecognitionFailure, RecognitionWorker, StreamEvents, TranscribeResult

POLL_MS = 40
LIVE_POLL_MS = 15


class RecognizerBridge(WorkerBridge):
    """The active model's recognizer: one foreground transcription at a time, background requests, live sessions.

    Signals:
        started(): a request was queued.
        finished(object): the :class:`~engine.decode.protocol.Recognition`.
        failed(str): a user message (bad audio, bad model, worker crashed…);
            :attr:`last_failure_kind` tells which.
        live_events(object): a tuple of :class:`~engine.decode.protocol.Partial`
            and :class:`~engine.decode.protocol.Final` of the live session.
        live_failed(str): the live session stopped with this user message.
        live_ended(): the live session's last final has arrived.
    """

    started = Signal()
    finished = Signal(object)
    failed = Signal(str)
    live_events = Signal(object)
    live_failed = Signal(str)
    live_ended = Signal()

    def __init__(self, model_path: str | Path, threads: int = 2, parent: QObject | None = None,
                 name: str | None = None) -> None:
        super().__init__(RecognitionWorker(model_path, threads=threads, name=name), POLL_MS, parent=parent)
        self.worker: RecognitionWorker
        self.model_path = Path(model_path)
        self.last_failure_kind: str | None = None
        self._request: int | None = None
        self._live: int | None = None  # the live session whose events we still expect
        self.answer.connect(self._on_stream)

    @property
    def busy(self) -> bool:
        """True while a foreground transcription is waiting for its answer."""
        return self._request is not None

    def warm_up(self) -> None:
        """Start the worker now so the model is loaded before the first request."""
        self.worker.start()

    def submit(self, audio: np.ndarray, vocabulary: list[str] | None = None) -> bool:
        """Transcribe ``(samples,)`` float32 16 kHz audio; False (and nothing queued) if busy."""
        if self.busy:
            return False
        self._request = self.follow(self.worker.submit(audio, vocabulary), self._on_transcribed)
        self.started.emit()
        return True

    def request(self, audio: np.ndarray, on_answer, vocabulary: list[str] | None = None,
                attention: bool = False) -> int:
        """Queue a background transcription (e.g. one utterance of a pre-labeling run); returns the request id.

        ``on_answer`` is called on the GUI thread with the worker's
        :class:`~engine.workers.recognition.TranscribeResult` or
        :class:`~engine.workers.recognition.RecognitionFailure`. It does not
        make :attr:`busy` true.
        """
        return self.follow(self.worker.submit(audio, vocabulary, attention=attention), on_answer)

    def request_file(self, path: str | Path, on_answer, vocabulary: list[str] | None = None) -> int:
        """Queue a background transcription of the audio file at ``path`` (read in the worker: a long
        recording never crosses the queue); ``on_answer`` as in :meth:`request`."""
        return self.follow(self.worker.submit_file(path, vocabulary), on_answer)

    def score(self, audio: np.ndarray, transcript: str, on_answer) -> int:
        """Queue scoring ``audio`` against ``transcript`` (label QA); ``on_answer`` gets a
        :class:`~engine.workers.recognition.ScoreResult` or a failure, as in :meth:`request`."""
        return self.follow(self.worker.submit_score(audio, transcript), on_answer)

    def inspect(self, audio: np.ndarray, transcript: str | None, on_answer) -> int:
        """Queue a background inspection (attention and forced alignment); ``on_answer`` gets an
        :class:`~engine.workers.recognition.InspectResult` or a failure, as in :meth:`request`."""
        return self.follow(self.worker.submit_inspection(audio, transcript), on_answer)

    @property
    def live(self) -> bool:
        """True from :meth:`live_start` until the session's last events arrived."""
        return self._live is not None

    def live_start(self, vocabulary: list[str] | None = None, endpoint: dict | None = None) -> None:
        """Open a live session in the worker (see :meth:`RecognitionWorker.stream_start`)."""
        self._live = self.worker.stream_start(vocabulary, endpoint)
        self.poll_soon(LIVE_POLL_MS)

    def live_feed(self, audio: np.ndarray) -> None:
        """Send ``(samples,)`` float32 16 kHz audio to the live session (no-op without one)."""
        self.worker.stream_feed(audio)

    def live_stop(self) -> None:
        """End the live session; its last final still arrives, then ``live_ended``."""
        self.worker.stream_end()

    def shutdown(self, timeout: float = 3.0) -> None:
        """Stop polling and end the worker process."""
        self._request = self._live = None
        super().shutdown(timeout)

    def _on_stream(self, answer) -> None:
        if not isinstance(answer, StreamEvents) or answer.session != self._live:
            return  # a stale answer
        if answer.events:
            self.live_events.emit(answer.events)
        if answer.error:
            self._live = None
            self.live_failed.emit(answer.error)
        elif answer.ended:
            self._live = None
            self.live_ended.emit()

    def _on_transcribed(self, answer) -> None:
        self._request = None
        if isinstance(answer, TranscribeResult):
            self.last_failure_kind = None
            self.finished.emit(answer.recognition)
        elif isinstance(answer, RecognitionFailure):
            self.last_failure_kind = answer.kind
            self.failed.emit(answer.message)
