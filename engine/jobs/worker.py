"""Machinery shared by the worker processes of :mod:`engine.jobs` (headless, no Qt).

Both the recognition worker (:mod:`engine.jobs.inference`) and the training
jobs (:mod:`engine.jobs.training`) run in ``multiprocessing`` *spawn*
processes that talk to the caller through queues. This module holds what
they share: the spawn context, torch thread limits inside a worker, the
"is my parent still alive?" check and watchdog, draining a queue a dead
process may have left half written, closing queues without blocking, and
ending a process that does not exit.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import threading
from typing import Callable

SPAWN = mp.get_context("spawn")
"""The one start method of every worker: a fresh interpreter (no forked torch or Qt state)."""

PARENT_CHECK_S = 1.0
"""How often (seconds) a worker checks whether its parent is still alive."""

TORN = (EOFError, OSError, ValueError)
"""What reading a queue raises when its writer died mid-message or the queue is closed."""


def limit_threads(threads: int) -> None:
    """Inside a worker: ``threads`` torch intra-op threads and one inter-op thread."""
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set (torch allows it once, before any parallel work)
        pass


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


def drain(q: mp.Queue | None) -> list:
    """Everything readable from ``q`` now; stops quietly at the end or at a torn message."""
    out = []
    if q is None:
        return out
    try:
        while True:
            out.append(q.get_nowait())
    except queue.Empty:
        pass
    except TORN:
        pass
    except Exception:  # noqa: BLE001 - an unpicklable half message
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
    """A short phrase for a worker's exit code: ``"killed by signal 9 (SIGKILL)"``, ``"exit code 1"``."""
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {-exitcode} ({name})"
    return f"exit code {exitcode}"


def hard_exit_later(seconds: float, code: int = 3) -> threading.Thread:
    """Inside a worker: end the process with ``os._exit(code)`` after ``seconds`` (a last resort)."""

    def run() -> None:
        threading.Event().wait(seconds)
        os._exit(code)

    thread = threading.Thread(target=run, name="sayso-hard-exit", daemon=True)
    thread.start()
    return thread
