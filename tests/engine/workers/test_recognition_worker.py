"""The recognition worker process: real model, real clip, scoring, errors, crash and restart."""
from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from engine.audio.io import SAMPLE_RATE, load_audio
from engine.decode.protocol import Final, Partial, Recognition
from engine.workers.recognition import (
    RecognitionFailure,
    RecognitionWorker,
    ScoreResult,
    StreamEvents,
    TranscribeResult,
)

TIMEOUT = 180.0  # first answer includes spawning Python, importing torch and loading the model


@pytest.fixture(scope="module")
def worker(model_path):
    w = RecognitionWorker(model_path, threads=1)
    yield w
    w.close()


def test_transcribes_a_real_clip(worker, speech_clip):
    audio = load_audio(speech_clip)
    answer = worker.wait(worker.submit(audio), timeout=TIMEOUT)
    assert isinstance(answer, TranscribeResult), answer
    rec = answer.recognition
    assert isinstance(rec, Recognition)
    assert isinstance(rec.text, str)  # no specific words: the model is still training
    assert 0.0 <= rec.confidence <= 1.0
    assert rec.duration == pytest.approx(len(audio) / SAMPLE_RATE)
    layers, heads, tokens, frames = rec.attention.shape
    assert tokens == len(rec.attention_tokens) and rec.attention_tokens[-1] == "<eos>"
    assert frames == pytest.approx(rec.duration / rec.frame_shift, abs=2)
    assert worker.pending == ()


def test_vocabulary_request(worker, speech_clip):
    answer = worker.wait(worker.submit(load_audio(speech_clip), vocabulary=["yes", "no"]), timeout=TIMEOUT)
    assert isinstance(answer, TranscribeResult), answer
    assert answer.recognition.text in {"yes", "no"}


def test_scoring_a_transcript_is_its_own_request(worker, speech_clip):
    audio = load_audio(speech_clip)  # a real "yes"
    right = worker.wait(worker.submit_score(audio, "yes"), timeout=TIMEOUT)
    wrong = worker.wait(worker.submit_score(audio, "seventeen elephants"), timeout=TIMEOUT)
    assert isinstance(right, ScoreResult) and isinstance(wrong, ScoreResult), (right, wrong)
    assert -1.0 <= wrong.similarity <= 1.0 and right.ctc_per_token <= 0.0
    assert right.ctc_per_token > wrong.ctc_per_token  # the true transcript is the likelier one
    bad = worker.wait(worker.submit_score(audio[:100], "yes"), timeout=TIMEOUT)
    assert isinstance(bad, RecognitionFailure) and bad.kind == "audio"


def test_bad_audio_returns_the_audio_error_message(worker):
    too_short = np.zeros(SAMPLE_RATE // 100, dtype=np.float32)  # 10 ms
    answer = worker.wait(worker.submit(too_short), timeout=TIMEOUT)
    assert isinstance(answer, RecognitionFailure)
    assert answer.kind == "audio"
    assert "too short" in answer.message and "Traceback" not in answer.message
    assert worker.is_alive()  # an error in a request does not take the worker down


def test_killed_worker_reports_crash_and_restarts(worker, speech_clip):
    audio = load_audio(speech_clip)
    assert isinstance(worker.wait(worker.submit(audio), timeout=TIMEOUT), TranscribeResult)  # model loaded
    pid = worker.pid
    long_audio = np.tile(audio, 30)  # 30 s: still decoding when the kill lands
    rid = worker.submit(long_audio)
    os.kill(pid, signal.SIGKILL)
    answer = worker.wait(rid, timeout=30)
    assert isinstance(answer, RecognitionFailure)
    assert answer.kind == "crashed" and "crashed" in answer.message
    assert not worker.is_alive()

    answer = worker.wait(worker.submit(audio), timeout=TIMEOUT)
    assert isinstance(answer, TranscribeResult), answer
    assert worker.pid != pid and worker.restarts == 1


def test_missing_checkpoint_is_a_typed_error(tmp_path, speech_clip):
    with RecognitionWorker(tmp_path / "no-model", threads=1) as w:
        answer = w.wait(w.submit(load_audio(speech_clip)), timeout=TIMEOUT)
    assert isinstance(answer, RecognitionFailure)
    assert answer.kind == "checkpoint" and "no-model" in answer.message


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in {"Z", "X"}
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_worker_exits_when_its_parent_dies(tmp_path):
    import subprocess
    import sys

    # The parent starts a worker, prints its pid, then dies without closing it (like a killed app).
    script = ("import os, sys; from engine.workers.recognition import RecognitionWorker\n"
              "if __name__ == '__main__':\n"
              f"    w = RecognitionWorker({str(tmp_path / 'no-model')!r}); w.start(); print(w.pid, flush=True)\n"
              "    os._exit(0)\n")
    out = tmp_path / "pid.txt"
    with open(out, "w") as fh:  # a file, not a pipe: the orphan inherits stdout and would keep a pipe open
        subprocess.run([sys.executable, "-c", script], stdout=fh, timeout=60,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    pid = int(out.read_text().split()[0])
    deadline = time.monotonic() + 60  # the orphan first finishes importing torch, then notices
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(pid)


def collect_stream(worker, timeout=TIMEOUT):
    """Poll until the live session's last answer; returns (events, error)."""
    events, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = worker.poll(timeout=0.05)
        if isinstance(answer, StreamEvents):
            events += answer.events
            if answer.ended or answer.error:
                return events, answer.error
    raise TimeoutError("the live session did not end")


def test_live_session_streams_partials_and_a_final(worker, speech_clip):
    clip = load_audio(speech_clip)
    gap = np.zeros(SAMPLE_RATE // 2, np.float32)
    audio = np.concatenate([gap, clip, gap, gap])
    worker.stream_start()
    for i in range(0, len(audio), 240):  # 15 ms chunks, as the studio sends them
        worker.stream_feed(audio[i:i + 240])
    worker.stream_end()
    events, error = collect_stream(worker)
    assert error is None
    finals = [e for e in events if isinstance(e, Final)]
    assert any(isinstance(e, Partial) for e in events)
    assert len(finals) == 1 and finals[0].text == "yes"
    assert worker.stream_session is None


def test_live_session_with_a_bad_vocabulary_fails_clearly(worker):
    worker.stream_start(vocabulary=["   "])
    events, error = collect_stream(worker)
    assert events == [] and "holds no word or phrase" in error and "Traceback" not in error


def test_worker_killed_during_a_live_session(worker, speech_clip):
    worker.stream_start()
    worker.stream_feed(load_audio(speech_clip))
    pid = worker.pid
    os.kill(pid, signal.SIGKILL)
    while _running(pid):  # dead before the app's next chunk
        time.sleep(0.01)
    worker.stream_feed(load_audio(speech_clip))  # the app keeps sending until it hears
    events, error = collect_stream(worker)
    assert "crashed" in error
    assert worker.stream_session is None
    answer = worker.wait(worker.submit(load_audio(speech_clip)), timeout=TIMEOUT)  # and it restarts
    assert isinstance(answer, TranscribeResult)
