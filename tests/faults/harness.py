"""Run a writer process and SIGKILL it at a seeded random moment. Imports nothing from ``engine``.

A writer prints one flushed line per fact (``ready``, ``ok …`` after each commit); :func:`run_and_kill`
waits for its first line (imports and opening done), sleeps a random delay from the seeded ``rng``,
kills it with SIGKILL and returns every line it printed, so a checker can tell what was reported
committed from what was in flight.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class WriterError(AssertionError):
    """The writer failed by itself (an exception, a bad exit) instead of being killed."""


@dataclass
class Run:
    """One writer process: what it printed and how it ended.

    Attributes:
        lines: stdout lines, in order (a line cut by the kill is dropped).
        killed: True when SIGKILL ended it (False: it exited by itself before the kill).
        returncode: the process's exit status (``-9`` when killed).
        stderr: its stderr (the last 4,000 characters).
        seconds: wall time from start to end.
    """

    lines: list[str] = field(default_factory=list)
    killed: bool = False
    returncode: int | None = None
    stderr: str = ""
    seconds: float = 0.0


def _python_module(module: str, *args: object) -> list[str]:
    return [sys.executable, "-m", module, *map(str, args)]


def run_and_kill(module: str, args: list, rng: random.Random, delay: tuple[float, float],
                 start_timeout: float = 120.0, env: dict | None = None) -> Run:
    """Run ``python -m module *args`` in the project root and SIGKILL it ``uniform(*delay)`` seconds
    after its first stdout line.

    Raises:
        WriterError: it printed nothing within ``start_timeout`` s, or it exited by itself with a
            non-zero status (its stderr in the message).
    """
    t0 = time.monotonic()
    proc = subprocess.Popen(_python_module(module, *args), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    run = Run()
    first = threading.Event()
    err: list[str] = []

    def read_out() -> None:
        for line in proc.stdout:
            if line.endswith("\n"):
                run.lines.append(line.rstrip("\n"))
            first.set()
        first.set()

    def read_err() -> None:
        err.append(proc.stderr.read())

    threads = [threading.Thread(target=read_out, daemon=True), threading.Thread(target=read_err, daemon=True)]
    for t in threads:
        t.start()
    try:
        if not first.wait(start_timeout):
            raise WriterError(f"{module} printed nothing in {start_timeout:.0f} s")
        wait = rng.uniform(*delay)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            run.killed = True
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for t in threads:
            t.join(10)
        proc.stdout.close()
        proc.stderr.close()
    run.returncode = proc.returncode
    run.stderr = "".join(err)[-4000:]
    run.seconds = time.monotonic() - t0
    if not run.killed and run.returncode != 0:
        raise WriterError(f"{module} {' '.join(map(str, args))} exited {run.returncode}:\n{run.stderr}")
    return run


def run_to_end(module: str, args: list, timeout: float = 300.0) -> Run:
    """Run ``python -m module *args`` to its end (no kill).

    Raises:
        WriterError: a non-zero exit status or a timeout.
    """
    t0 = time.monotonic()
    try:
        p = subprocess.run(_python_module(module, *args), cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise WriterError(f"{module} did not end in {timeout:.0f} s") from exc
    if p.returncode != 0:
        raise WriterError(f"{module} {' '.join(map(str, args))} exited {p.returncode}:\n{p.stderr[-4000:]}")
    return Run(p.stdout.splitlines(), False, 0, p.stderr[-4000:], time.monotonic() - t0)
