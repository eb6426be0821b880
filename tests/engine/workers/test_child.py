"""How many threads a worker takes (engine/workers/child.py), beside real busy processes."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from engine.workers.child import fitting_threads, runnable_now


@pytest.mark.skipif(not os.path.exists("/proc/loadavg"), reason="the running count is read from Linux's /proc")
def test_busy_processes_are_seen_at_once_and_leave_the_worker_one_thread() -> None:
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(0.5)  # started, spinning; the 1-minute load average has barely moved yet
        assert runnable_now() >= 2
        assert fitting_threads(2, cores=2) == 1  # two busy processes on two cores: one thread
    finally:
        for h in hogs:
            h.kill()
            h.wait()


def test_without_a_running_count_the_load_average_decides(monkeypatch) -> None:
    """Where /proc cannot be read (macOS, Windows) the load average is the fallback."""
    import engine.workers.child as child

    monkeypatch.setattr(child, "runnable_now", lambda: None)
    monkeypatch.setattr(os, "getloadavg", lambda: (8.0, 8.0, 8.0))
    assert child.fitting_threads(2, cores=2) == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0.2, 0.2))
    assert child.fitting_threads(2, cores=2) == 2
