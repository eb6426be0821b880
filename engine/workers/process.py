"""One worker process seen from the parent: spawn, queues, answers, crash and cancel (headless, no Qt).

:class:`WorkerProcess` runs a worker's code in a ``multiprocessing`` *spawn*
process (a fresh interpreter: no forked torch or Qt state) and owns
everything the parent does with it:

- **start** (:meth:`~WorkerProcess.start`, also on the first request) with
  fresh queues, the torch thread limit and the orphan watchdog
  (:func:`engine.workers.child.main`); :attr:`~WorkerProcess.restarts`
  counts the processes started after one died;
- **requests** (:meth:`~WorkerProcess.request`): each gets an id and stays
  :attr:`~WorkerProcess.pending` until an answer *settles* it
  (:meth:`~WorkerProcess.settles`; progress events do not);
- **answers** (:meth:`~WorkerProcess.poll`, :meth:`~WorkerProcess.wait`)
  never block the caller longer than asked. A message torn by a dying
  process ends the read (the parent does not hold the write end of the
  answers pipe, so a torn read is an ``EOFError``/``OSError``, never a hang);
- **death** (killed, out of memory, a native crash): the answers written
  before it are still delivered, then every pending request gets the
  failure of :meth:`~WorkerProcess.failure` (kind ``"crashed"``); the next
  request starts a fresh process;
- **cancel** (:meth:`~WorkerProcess.cancel`): the worker is asked to stop
  the request (:meth:`engine.workers.child.Child.stopping`) and killed if it
  has not settled it within :data:`CANCEL_TIMEOUT_S`; the request then fails
  with kind ``"cancelled"``;
- **close** (:meth:`~WorkerProcess.close`): ask everything to stop, send the
  ``None`` sentinel, kill after a timeout.

A worker subclasses it and gives the two hooks, :meth:`~WorkerProcess.failure`
and (if not every answer settles its ``request_id``) :meth:`~WorkerProcess.settles`.
Not thread-safe: use it from one thread.
"""
from __future__ import annotations

import collections
import itertools
import multiprocessing as mp
import pickle  # only for the exception a torn queue message raises: multiprocessing pickles its messages; no files
import queue
import signal
import time
from collections.abc import Callable
from typing import Literal

from engine.workers import child

SPAWN = mp.get_context("spawn")
"""The one start method of every worker: a fresh interpreter (no forked torch or Qt state)."""

CANCEL_TIMEOUT_S = 10.0
"""Seconds a cancelled request (a map run, a training job) has to stop on its own before its worker is killed."""

TORN = (EOFError, OSError, ValueError, pickle.UnpicklingError)
"""What reading a queue raises when its writer died mid-message or the queue is closed."""

Ending = Literal["crashed", "cancelled"]
"""Why the parent ended a request itself: the process died, or it overran its cancel and was killed."""


class WorkerProcess:
    """A spawn worker process running ``target(child, *args)`` and the requests it has not answered.

    Args:
        target: a module-level function ``target(child: Child, *args)`` (it is
            pickled by name for the spawn child).
        args: picklable arguments after the :class:`~engine.workers.child.Child`.
        name: the process name (``ps``, ``top``).
        threads: torch CPU threads inside the worker (``None``: leave torch alone).
        cancel_timeout: seconds a cancelled request has before the process is killed.
    """

    def __init__(self, target: Callable, args: tuple = (), name: str = "sayso-worker", threads: int | None = None,
                 cancel_timeout: float = CANCEL_TIMEOUT_S) -> None:
        self._target, self._args, self._name, self.threads = target, tuple(args), name, threads
        self.cancel_timeout = cancel_timeout
        self._process: mp.process.BaseProcess | None = None
        self._requests: mp.Queue | None = None
        self._answers: mp.Queue | None = None
        self._stop = SPAWN.Value("q", 0, lock=False)
        self._ids = itertools.count(1)
        self._pending: list[int] = []
        self._backlog: collections.deque = collections.deque()  # answers of a dead process, then its failures
        self._cancelling: tuple[int, float] | None = None  # (request id, kill deadline)
        self._died = False
        self.exitcode: int | None = None
        """The exit code of the last process that ended (negative: killed by that signal), or ``None``."""
        self.restarts = 0
        """How many processes were started after one had died."""

    # -- hooks -----------------------------------------------------------------
    def failure(self, request_id: int, ending: Ending, exitcode: int | None) -> object:
        """The answer for a pending request the parent ends itself; a subclass gives its typed failure.

        ``ending`` is ``"crashed"`` (the process died, ``exitcode`` says how)
        or ``"cancelled"`` (killed after overrunning :attr:`cancel_timeout`).
        """
        raise NotImplementedError

    def settles(self, answer: object) -> int | None:
        """The request id ``answer`` settles, or ``None`` for an event that does not (progress, partials)."""
        return getattr(answer, "request_id", None)

    # -- lifecycle -------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """The process id of the running worker, or ``None``."""
        return self._process.pid if self._process is not None else None

    def is_alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> None:
        """Start the process unless it runs (a dead one's requests fail first).

        Raises:
            Exception: what spawning raises, e.g. a ``PicklingError`` for
                ``args`` that cannot be pickled (nothing is left running).
        """
        self._check_crash()
        if self._process is not None:
            return
        if self._died:
            self._died = False
            self.restarts += 1
        self._stop.value = 0
        # Fresh queues: a process killed mid-write may leave a half message in the old pipe.
        requests, answers = SPAWN.Queue(), SPAWN.Queue()
        process = SPAWN.Process(target=child.main, name=self._name, daemon=True,
                                args=(self._target, self.threads, requests, answers, self._stop, self._args))
        try:
            process.start()
        except Exception:
            close_queues(requests, answers)
            raise
        # Only the child writes answers: without the parent's copy of the write end, a message torn by the
        # child's death reads as end-of-file instead of blocking forever for bytes that never come.
        answers._writer.close()
        self._process, self._requests, self._answers = process, requests, answers

    def close(self, timeout: float = 3.0) -> None:
        """Ask the worker to stop everything and exit; kill it if it has not within ``timeout`` seconds.

        Pending requests are dropped (no answer); the next request starts a new process.
        """
        if self._process is None:
            return
        self._stop.value = child.STOP_ALL
        request_exit(self._process, self._requests, timeout)
        self._forget_process()
        self._pending.clear()
        self._cancelling = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests --------------------------------------------------------------
    @property
    def pending(self) -> tuple[int, ...]:
        """Ids of the requests not settled yet."""
        return tuple(self._pending)

    @property
    def busy(self) -> bool:
        """True while a request is pending or an answer is waiting to be polled."""
        return bool(self._pending) or bool(self._backlog)

    def request(self, message_for: Callable[[int], object]) -> int:
        """Send ``message_for(request_id)`` (starting the process if needed); returns the new request id."""
        self.start()
        request_id = next(self._ids)
        self._requests.put(message_for(request_id))
        self._pending.append(request_id)
        return request_id

    def expect(self, request_id: int) -> None:
        """Count ``request_id`` as pending without sending anything (a request given in ``args``)."""
        self._pending.append(request_id)

    def send(self, message: object) -> bool:
        """Send a message that expects no answer of its own; False (dropped) if the process is not running."""
        self._check_crash()
        if self._requests is None:
            return False
        self._requests.put(message)
        return True

    def cancel(self, request_id: int) -> bool:
        """Ask the worker to stop ``request_id``; False if it is not pending.

        The worker sees it through :meth:`engine.workers.child.Child.stopping`;
        if it has not settled the request :attr:`cancel_timeout` seconds later,
        the next :meth:`poll` kills the process and the request fails with
        ``failure(request_id, "cancelled", …)`` (the others with ``"crashed"``).
        """
        if request_id not in self._pending:
            return False
        self._stop.value = request_id
        if self._cancelling is None or self._cancelling[0] != request_id:
            self._cancelling = (request_id, time.monotonic() + self.cancel_timeout)
        return True

    # -- answers ---------------------------------------------------------------
    def poll(self, timeout: float = 0.0) -> object | None:
        """The next answer or event, or ``None`` if none arrives within ``timeout`` seconds.

        Also turns a dead process into failures and kills one that overran a cancel.
        """
        if not self._backlog:
            self._enforce_cancel()
        if self._backlog:
            return self._backlog.popleft()
        if self._answers is None:
            return None
        try:
            answer = self._answers.get(timeout=timeout) if timeout > 0 else self._answers.get_nowait()
        except (queue.Empty, *TORN):
            self._check_crash()
            return self._backlog.popleft() if self._backlog else None
        self._settle(answer)
        return answer

    def wait(self, request_id: int, timeout: float = 600.0) -> object:
        """Poll until ``request_id`` is settled and return that answer; others are dropped (scripts and tests).

        Raises:
            TimeoutError: no answer within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.poll(timeout=0.05)
            if answer is not None and self.settles(answer) == request_id:
                return answer
        raise TimeoutError(f"no answer to request {request_id} within {timeout:.0f} s")

    # -- internals -------------------------------------------------------------
    def _settle(self, answer: object) -> None:
        request_id = self.settles(answer)
        if request_id in self._pending:
            self._pending.remove(request_id)

    def _enforce_cancel(self) -> None:
        if self._cancelling is None:
            return
        request_id, deadline = self._cancelling
        if request_id not in self._pending:
            self._cancelling = None
        elif time.monotonic() >= deadline and self.is_alive():
            stop_process(self._process)
            self._check_crash(cancelled=request_id)

    def _check_crash(self, cancelled: int | None = None) -> None:
        """A dead process: deliver what it wrote, then fail every pending request."""
        if self._process is None or self._process.is_alive():
            return
        self.exitcode = self._process.exitcode
        for answer in drain(self._answers):  # answers written before the death are still valid
            self._settle(answer)
            self._backlog.append(answer)
        for request_id in self._pending:
            ending: Ending = "cancelled" if request_id == cancelled else "crashed"
            self._backlog.append(self.failure(request_id, ending, self.exitcode))
        self._pending.clear()
        self._cancelling = None
        self._forget_process()
        self._died = True

    def _forget_process(self) -> None:
        close_queues(self._requests, self._answers)
        if self._process is not None and not self._process.is_alive():
            self._process.join(0)
        self._process = self._requests = self._answers = None


def drain(q: mp.Queue | None) -> list:
    """Everything readable from ``q`` now; stops quietly at the end or at a torn message."""
    out = []
    if q is None:
        return out
    try:
        while True:
            out.append(q.get_nowait())
    except (queue.Empty, *TORN):
        pass
    return out


def close_queues(*queues: mp.Queue | None) -> None:
    """Close queues without waiting for their feeder threads (their peer may be dead)."""
    for q in queues:
        if q is not None:
            q.cancel_join_thread()
            q.close()


def stop_process(process: mp.process.BaseProcess | None, timeout: float = 0.0) -> None:
    """Give ``process`` ``timeout`` seconds to exit, then kill it (SIGKILL) and reap it."""
    if process is None:
        return
    if process.is_alive() and timeout > 0:
        process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join(5.0)
    elif process.exitcode is not None:
        process.join(0)


def request_exit(process: mp.process.BaseProcess | None, requests: mp.Queue | None, timeout: float) -> None:
    """Put the ``None`` sentinel on ``requests`` (a serving loop's "exit"), wait ``timeout`` s, then kill."""
    if process is None:
        return
    if process.is_alive():
        try:
            requests.put(None)
        except (OSError, ValueError, AttributeError):  # a closed or missing queue: straight to the kill
            pass
    stop_process(process, timeout)


def describe_exit(exitcode: int | None) -> str:
    """A short phrase for a worker's exit code: ``"killed by signal 9 (SIGKILL)"``, ``"exit code 1"``.

    >>> describe_exit(-9)
    'killed by signal 9 (SIGKILL)'
    >>> describe_exit(1)
    'exit code 1'
    """
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {-exitcode} ({name})"
    return f"exit code {exitcode}"
