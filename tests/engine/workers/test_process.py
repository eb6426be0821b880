"""The process client: real spawned processes killed, torn mid-message, cancelled and stuck."""
from __future__ import annotations

import os
import signal
import time

import pytest

from engine.workers.process import WorkerProcess
from tests.engine.workers.process_support import Client, Failed, Note, Said


@pytest.fixture
def client():
    c = Client()
    yield c
    c.close(timeout=1.0)


def poll_until(client: WorkerProcess, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = client.poll(timeout=0.05)
        if answer is not None:
            return answer
    raise TimeoutError("no answer")


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in {"Z", "X"}
    except FileNotFoundError:
        return True


def test_answers_settle_their_requests(client):
    first, second = client.ask("one"), client.ask("two")
    assert client.pending == (first, second) and client.busy
    assert client.wait(second, timeout=30) == Said(second, "two")  # the answer to `first` is dropped by wait
    assert client.pending == () and client.is_alive() and client.restarts == 0


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_sigkill_fails_every_pending_request_and_the_next_starts_a_fresh_process(client):
    done = client.ask("done before the kill")
    echo = client.ask("echo")
    assert client.wait(echo, timeout=30) == Said(echo, "echo")  # running, and `done` was answered
    hung, waiting = client.ask("sleep"), client.ask("echo")
    pid = client.pid
    os.kill(pid, signal.SIGKILL)
    answers = [poll_until(client), poll_until(client)]
    assert answers == [Failed(hung, "crashed", -signal.SIGKILL), Failed(waiting, "crashed", -signal.SIGKILL)]
    assert done not in client.pending and client.pending == () and not client.is_alive()
    assert client.exitcode == -signal.SIGKILL and client.pid is None

    again = client.ask("echo")
    assert client.wait(again, timeout=30) == Said(again, "echo")
    assert client.pid not in (None, pid) and client.restarts == 1


@pytest.mark.timeout(60)
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_a_message_torn_by_a_kill_reads_as_a_crash_not_a_hang(client):
    rid = client.ask("big")
    assert poll_until(client) == Note(rid, "writing")
    time.sleep(0.5)  # the 8 MB answer is now half in the pipe: the writer waits for a reader
    pid = client.pid
    os.kill(pid, signal.SIGKILL)
    while not gone(pid):
        time.sleep(0.01)
    t0 = time.monotonic()
    assert poll_until(client) == Failed(rid, "crashed", -signal.SIGKILL)
    assert time.monotonic() - t0 < 5.0
    assert client.wait(client.ask("echo"), timeout=30).text == "echo"  # fresh queues, fresh process


def test_a_cooperative_cancel_keeps_the_process():
    with Client(cancel_timeout=5.0) as client:
        rid = client.ask("until-stopped")
        assert client.cancel(rid) and not client.cancel(12345)
        assert client.wait(rid, timeout=10) == Said(rid, "stopped")
        assert client.is_alive() and client.restarts == 0


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_the_cancel_deadline_kills_a_stuck_worker():
    with Client(cancel_timeout=0.5) as client:
        stuck, behind = client.ask("stuck"), client.ask("echo")
        pid = client.pid
        t0 = time.monotonic()
        assert client.cancel(stuck)
        answers = [poll_until(client), poll_until(client)]
        elapsed = time.monotonic() - t0
        assert answers == [Failed(stuck, "cancelled", -signal.SIGKILL), Failed(behind, "crashed", -signal.SIGKILL)]
        assert 0.5 <= elapsed < 5.0 and gone(pid)
        assert client.wait(client.ask("echo"), timeout=30).text == "echo"


def test_close_kills_a_worker_that_does_not_exit(client):
    client.ask("stuck")
    pid = client.pid
    t0 = time.monotonic()
    client.close(timeout=0.5)
    assert time.monotonic() - t0 < 5.0 and gone(pid)
    assert client.pending == () and client.poll() is None and not client.is_alive()
