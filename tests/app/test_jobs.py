"""The Qt bridge to the worker process: signals for results, bad audio and a crash."""
from __future__ import annotations

import os
import signal

import numpy as np

from app.jobs import TranscriptionJob
from engine.audio.io import SAMPLE_RATE, load_audio

TIMEOUT_MS = 180_000


def test_bridge_reports_errors_crash_and_recovers(qtbot, model_path, speech_clip):
    job = TranscriptionJob(model_path, threads=1)
    try:
        with qtbot.waitSignal(job.failed, timeout=TIMEOUT_MS) as blocker:
            with qtbot.waitSignal(job.started, timeout=1000):
                assert job.submit(np.zeros(SAMPLE_RATE // 100, np.float32))
            assert job.busy and not job.submit(np.zeros(10, np.float32))  # one at a time
        assert "too short" in blocker.args[0] and job.last_failure_kind == "audio"
        assert not job.busy

        audio = load_audio(speech_clip)
        with qtbot.waitSignal(job.failed, timeout=30_000) as blocker:
            job.submit(np.tile(audio, 20))
            os.kill(job.worker.pid, signal.SIGKILL)
        assert "crashed" in blocker.args[0] and job.last_failure_kind == "crashed"

        with qtbot.waitSignal(job.finished, timeout=TIMEOUT_MS) as blocker:
            job.submit(audio)
        assert blocker.args[0].duration == len(audio) / SAMPLE_RATE
    finally:
        job.shutdown()
    assert not job.worker.is_alive()
