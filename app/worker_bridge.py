"""The one Qt bridge to an engine worker: a ``QTimer`` polls it and its answers become signals.

Engine workers never block their caller: a request returns an id at once and
``poll()`` returns what has arrived. :class:`WorkerBridge` does the polling
on the GUI thread while anything is pending (at most ``max_per_poll``
answers a tick, so a burst never stalls the GUI) and hands each answer on:

- to the callback given with :meth:`WorkerBridge.follow` for the request it
  settles, or else
- as the ``answer(object)`` signal (events that settle nothing, such as
  progress and live partials, and answers nobody follows).

The recognizer (:mod:`app.recognizer_bridge`), the embedding map
(:mod:`app.insight.embedding_bridge`) and the training queue
(:mod:`app.training.job_queue`) are thin subclasses that turn answers into
their own typed signals.

A worker is anything with ``poll(timeout=0.0)``, ``settles(answer)`` (the
request id an answer settles, or ``None``), ``busy`` and
``close(timeout)``: :class:`engine.workers.process.WorkerProcess` and
:class:`engine.jobs.queue.JobRunner`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal

POLL_MS = 40
"""The default polling interval while answers are due (milliseconds)."""
MAX_PER_POLL = 100
"""Answers handled per timer tick."""


class PolledWorker(Protocol):
    busy: bool

    def poll(self, timeout: float = 0.0) -> object | None: ...

    def settles(self, answer: object) -> int | None: ...

    def close(self, timeout: float = 3.0) -> None: ...


class WorkerBridge(QObject):
    """Polls ``worker`` while it is busy and turns its answers into callbacks and signals.

    Signals:
        answer(object): an answer or event no callback took.
        idle(): polling stopped: nothing is pending any more.

    Args:
        worker: the engine worker (see the module docstring).
        poll_ms: the polling interval (:meth:`poll_soon` can ask for a faster one).
        max_per_poll: answers handled per timer tick.
    """

    answer = Signal(object)
    idle = Signal()

    def __init__(self, worker: PolledWorker, poll_ms: int = POLL_MS, max_per_poll: int = MAX_PER_POLL,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.poll_ms, self.max_per_poll = poll_ms, max_per_poll
        self._callbacks: dict[int, Callable[[object], None]] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._poll)

    def follow(self, request_id: int, callback: Callable[[object], None] | None = None) -> int:
        """Poll until ``request_id`` is answered; ``callback(answer)`` then runs on the GUI thread.

        Without a callback the answer is emitted as ``answer``. Returns ``request_id``.
        """
        if callback is not None:
            self._callbacks[request_id] = callback
        self.poll_soon()
        return request_id

    def forget(self, request_ids) -> None:
        """Drop the callbacks of these requests (their answers are then ignored)."""
        for rid in request_ids:
            self._callbacks.pop(rid, None)

    def poll_soon(self, interval_ms: int | None = None) -> None:
        """Start polling (every ``interval_ms`` ms until it stops, else :attr:`poll_ms`)."""
        if interval_ms is not None:
            self._timer.setInterval(interval_ms)
        self._timer.start()

    @property
    def polling(self) -> bool:
        """True while the timer polls the worker."""
        return self._timer.isActive()

    def shutdown(self, timeout: float = 3.0) -> None:
        """Stop polling, drop the callbacks and close the worker (killed after ``timeout`` seconds)."""
        self._timer.stop()
        self._callbacks.clear()
        self.worker.close(timeout)

    def _poll(self) -> None:
        for _ in range(self.max_per_poll):
            answer = self.worker.poll()
            if answer is None:
                break
            callback = self._callbacks.pop(self.worker.settles(answer), None)
            if callback is not None:
                callback(answer)
            else:
                self.answer.emit(answer)
        if not self.worker.busy and not self._callbacks:
            self._timer.stop()
            self._timer.setInterval(self.poll_ms)
            self.idle.emit()
