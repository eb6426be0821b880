"""A small real worker for the process client's and the Qt bridge's tests (its child runs :func:`serve`)."""
from __future__ import annotations

import queue
import time
from dataclasses import dataclass

from engine.workers.child import Child
from engine.workers.process import WorkerProcess


@dataclass(frozen=True)
class Ask:
    request_id: int
    what: str  # "echo", "big", "sleep", "stuck", "until-stopped"


@dataclass(frozen=True)
class Said:
    request_id: int
    text: str


@dataclass(frozen=True)
class Note:
    """An event that settles nothing (like a progress event)."""

    request_id: int
    text: str


@dataclass(frozen=True)
class Failed:
    request_id: int
    ending: str
    exitcode: int | None


def serve(child: Child) -> None:
    """A small worker: answers each request after doing what it says."""
    while True:
        try:
            ask = child.get()
        except queue.Empty:
            continue
        if ask is None:
            return
        if ask.what == "big":  # a note, then 8 MB: far more than a pipe holds, so the write blocks half done
            child.send(Note(ask.request_id, "writing"))
            child.send(Said(ask.request_id, "x" * 8_000_000))
        elif ask.what == "sleep":
            time.sleep(60)
        elif ask.what == "stuck":  # ignores the stop flag
            while True:
                time.sleep(0.05)
        elif ask.what == "until-stopped":
            while not child.stopping(ask.request_id):
                time.sleep(0.01)
            child.send(Said(ask.request_id, "stopped"))
            continue
        child.send(Said(ask.request_id, ask.what))


class Client(WorkerProcess):
    def __init__(self, cancel_timeout: float = 10.0) -> None:
        super().__init__(serve, name="sayso-test-worker", cancel_timeout=cancel_timeout)

    def ask(self, what: str) -> int:
        return self.request(lambda rid: Ask(rid, what))

    def settles(self, answer):
        return None if isinstance(answer, Note) else answer.request_id

    def failure(self, request_id, ending, exitcode):
        return Failed(request_id, ending, exitcode)
