"""The one Qt bridge: a real worker process polled on a timer; callbacks by request id, signals for the rest."""
from __future__ import annotations

import os
import signal

from app.worker_bridge import WorkerBridge
from tests.engine.workers.process_support import Client, Failed, Note, Said

TIMEOUT_MS = 30_000


def test_answers_go_to_their_callbacks_and_the_rest_to_the_signal(qtbot):
    bridge = WorkerBridge(Client(), poll_ms=10)
    called, emitted = [], []
    bridge.answer.connect(emitted.append)
    try:
        with qtbot.waitSignal(bridge.idle, timeout=TIMEOUT_MS):
            first = bridge.follow(bridge.worker.ask("one"), called.append)
            second = bridge.follow(bridge.worker.ask("two"))  # no callback: the signal
            dropped = bridge.follow(bridge.worker.ask("three"), called.append)
            bridge.forget([dropped])
            assert bridge.polling
        assert called == [Said(first, "one")]
        assert emitted == [Said(second, "two"), Said(dropped, "three")]
        assert not bridge.polling

        with qtbot.waitSignal(bridge.idle, timeout=TIMEOUT_MS):  # events that settle nothing go to the signal
            big = bridge.follow(bridge.worker.ask("big"), called.append)
        assert Note(big, "writing") in emitted and called[-1] == Said(big, "x" * 8_000_000)
    finally:
        bridge.shutdown(timeout=1.0)
    assert not bridge.worker.is_alive() and not bridge.polling


def test_a_killed_worker_reaches_the_callback_as_a_typed_failure(qtbot):
    bridge = WorkerBridge(Client(), poll_ms=10)
    called = []
    try:
        rid = bridge.follow(bridge.worker.ask("sleep"), called.append)
        os.kill(bridge.worker.pid, signal.SIGKILL)
        qtbot.waitUntil(lambda: len(called) == 1, timeout=TIMEOUT_MS)
        assert called == [Failed(rid, "crashed", -signal.SIGKILL)]
        qtbot.waitUntil(lambda: not bridge.polling, timeout=TIMEOUT_MS)

        again = bridge.follow(bridge.worker.ask("echo"), called.append)  # a fresh process
        qtbot.waitUntil(lambda: len(called) == 2, timeout=TIMEOUT_MS)
        assert called[1] == Said(again, "echo") and bridge.worker.restarts == 1
    finally:
        bridge.shutdown(timeout=1.0)
