"""Inside a worker process: the end of the queues a worker's code sees, thread limits, the orphan watchdog.

Every worker (:mod:`engine.workers.recognition`, :mod:`engine.workers.embedding`
and each queued job of :mod:`engine.jobs.queue`) is started by
:class:`engine.workers.process.WorkerProcess`, which runs :func:`main` in a
fresh *spawn* interpreter. :func:`main` limits torch's threads, starts the
orphan watchdog and calls the worker's code with a :class:`Child`: its
requests, its answers and the cooperative stop flag.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import os
import queue
import threading
from collections.abc import Callable

PARENT_CHECK_S = 1.0
"""How often (seconds) a worker checks whether its parent is still alive."""
ORPHAN_GRACE_S = 15.0
"""A worker whose parent died is asked to stop, and exits at the latest after this many seconds."""
STOP_ALL = -1
"""The stop flag's value that stops every request (the worker is closing or orphaned); 0 stops none."""


class Child:
    """A worker's end of its process: ``requests`` to read, ``answers`` to send, and the stop flag.

    The stop flag is a shared integer written by the parent's
    :meth:`~engine.workers.process.WorkerProcess.cancel` (the id of the
    request to stop) or :meth:`~engine.workers.process.WorkerProcess.close`
    and the orphan watchdog (:data:`STOP_ALL`).
    """

    def __init__(self, requests: mp.Queue, answers: mp.Queue, stop) -> None:
        self.requests, self.answers, self._stop = requests, answers, stop

    def get(self, timeout: float = PARENT_CHECK_S):
        """The next request; ``None`` (exit) when the parent sent it or died. Raises ``queue.Empty`` on timeout."""
        try:
            return self.requests.get(timeout=timeout)
        except queue.Empty:
            if not parent_alive():
                return None
            raise

    def get_nowait(self):
        """The next request if one is waiting; raises ``queue.Empty`` if not."""
        return self.requests.get_nowait()

    def send(self, answer) -> None:
        """Put ``answer`` on the answers queue (dropped if the queue is closed: the parent is gone)."""
        try:
            self.answers.put(answer)
        except (OSError, ValueError):
            pass

    def stopping(self, request_id: int | None = None) -> bool:
        """True once request ``request_id`` (or everything, with ``None``) is asked to stop."""
        value = self._stop.value
        return value == STOP_ALL or (request_id is not None and value == request_id)

    def stop_all(self) -> None:
        """Ask every request to stop (what the orphan watchdog does)."""
        self._stop.value = STOP_ALL


def main(target: Callable, threads: int | None, requests: mp.Queue, answers: mp.Queue, stop, args: tuple) -> None:
    """A worker process's entry point: limit threads, watch the parent, run ``target(Child, *args)``.

    When ``target`` returns, its answers are flushed into the pipe before the
    process exits. An orphaned worker is asked to stop (:data:`STOP_ALL`) and
    ended with ``os._exit(3)`` after :data:`ORPHAN_GRACE_S` seconds.
    """
    if threads is not None:
        limit_threads(threads)
    child = Child(requests, answers, stop)

    def orphaned() -> None:
        child.stop_all()
        hard_exit_later(ORPHAN_GRACE_S)

    watch_parent(orphaned)
    target(child, *args)
    answers.close()
    answers.join_thread()


def runnable_now(samples: int = 10, interval: float = 0.02) -> int | None:
    """Threads of other processes ready to run right now, system-wide (Linux: ``None`` elsewhere).

    The median over ``samples`` reads of ``/proc/loadavg``'s running count (its fourth field,
    ``running/total``), ``interval`` seconds apart, less the reader itself: what the cores are busy
    with *now*, where the load average still counts work that ended a minute ago.
    """
    counts = []
    for i in range(samples):
        try:
            with open("/proc/loadavg", encoding="ascii") as fh:
                counts.append(int(fh.read().split()[3].split("/")[0]) - 1)
        except (OSError, IndexError, ValueError):
            return None
        if i + 1 < samples:
            threading.Event().wait(interval)
    return max(0, sorted(counts)[len(counts) // 2])


def fitting_threads(requested: int, cores: int | None = None, load: float | None = None) -> int:
    """The CPU threads a worker should use now: ``requested``, fewer while other processes keep cores busy.

    ``max(1, min(requested, cores − ⌊load⌋))`` with ``load`` the threads of other processes ready to
    run now (:func:`runnable_now`), or where that cannot be read the 1-minute load average. A fixed
    thread count on a busy machine oversubscribes it: torch's threads wait for each other at every
    operator, and the personalization job measured 6× slower beside two busy processes where sharing
    the cores explains 2× (benchmarks/personalize_load.py). The load average alone lags a minute behind:
    right after the studio's own work it chose 1 thread on idle cores (a Whisper personalization then
    took 119 s instead of 96 s).

    >>> fitting_threads(2, cores=2, load=0.3), fitting_threads(2, cores=2, load=1.2), fitting_threads(2, cores=2, load=8)
    (2, 1, 1)
    """
    cores = cores or os.cpu_count() or 1
    if load is None:
        load = runnable_now()
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # not available on this platform
            load = 0.0
    return max(1, min(requested, cores - math.floor(load)))


def limit_threads(threads: int) -> int:
    """Inside a worker: :func:`fitting_threads` torch intra-op threads (at most ``threads``), one
    inter-op thread, and OpenMP threads that sleep instead of spinning while they wait
    (``OMP_WAIT_POLICY=PASSIVE``, unless set), so a busy machine is not made busier.

    Returns the thread count chosen: pass it on to whatever sets torch's threads again (a
    trainer, a recognizer), or the fixed count it was configured with undoes the choice."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when torch's OpenMP runtime starts
    threads = fitting_threads(threads)
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set (torch allows it once, before any parallel work)
        pass
    return threads


def parent_alive() -> bool:
    """Inside a worker: False once the process that started it has died (True in a main process)."""
    parent = mp.parent_process()
    return parent is None or parent.is_alive()


def watch_parent(on_orphaned: Callable[[], None], interval: float = PARENT_CHECK_S) -> threading.Thread:
    """Inside a worker: call ``on_orphaned()`` once (from a daemon thread) when the parent dies."""

    def run() -> None:
        while parent_alive():
            threading.Event().wait(interval)
        on_orphaned()

    thread = threading.Thread(target=run, name="sayso-parent-watch", daemon=True)
    thread.start()
    return thread


def hard_exit_later(seconds: float, code: int = 3) -> threading.Thread:
    """Inside a worker: end the process with ``os._exit(code)`` after ``seconds`` (a last resort)."""

    def run() -> None:
        threading.Event().wait(seconds)
        os._exit(code)

    thread = threading.Thread(target=run, name="sayso-hard-exit", daemon=True)
    thread.start()
    return thread
