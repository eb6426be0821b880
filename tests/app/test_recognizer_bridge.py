"""The Qt bridge to the recognition worker: signals for results, bad audio and a crash; callbacks for background requests."""
from __future__ import annotations

import os
import signal

import numpy as np

from app.recognizer_bridge import RecognizerBridge
from engine.audio.io import SAMPLE_RATE, load_audio
from engine.workers.recognition import RecognitionFailure, ScoreResult, TranscribeResult

TIMEOUT_MS = 180_000


def test_bridge_reports_errors_crash_and_recovers(qtbot, model_path, speech_clip):
    job = RecognizerBridge(model_path, threads=1)
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


def test_background_requests_call_back_with_their_own_answer_types(qtbot, model_path, speech_clip):
    bridge = RecognizerBridge(model_path, threads=1)
    answers: dict[str, object] = {}
    try:
        audio = load_audio(speech_clip)
        bridge.request(audio, lambda a: answers.__setitem__("transcribed", a), vocabulary=["yes", "no"])
        bridge.score(audio, "yes", lambda a: answers.__setitem__("scored", a))
        bridge.score(audio[:50], "yes", lambda a: answers.__setitem__("too short", a))
        forgotten = bridge.request(audio, lambda a: answers.__setitem__("forgotten", a))
        bridge.forget([forgotten])
        assert not bridge.busy  # background requests leave the foreground free
        qtbot.waitUntil(lambda: len(answers) == 3 and not bridge.polling, timeout=TIMEOUT_MS)
        assert isinstance(answers["transcribed"], TranscribeResult)
        assert answers["transcribed"].recognition.text == "yes"
        assert isinstance(answers["scored"], ScoreResult) and answers["scored"].ctc_per_token <= 0.0
        assert isinstance(answers["too short"], RecognitionFailure) and answers["too short"].kind == "audio"
    finally:
        bridge.shutdown()
