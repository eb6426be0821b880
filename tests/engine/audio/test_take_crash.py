"""A real crash: a process records the virtual microphone into a take
(engine Recorder + TakeWriter) and is killed with SIGKILL while speech plays;
the partial take must hold all but at most 1 s of what was played, and
find_unfinished + recover must turn it into a valid WAV."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import soundfile as sf

from engine.audio.io import SAMPLE_RATE, load_audio
from engine.audio.take import HEADER_BYTES, find_unfinished, recover
from tests.audio_device import drain_playback, pulse_env
from tests.engine.audio.test_capture import align
from tests.helpers import ROOT, speech_phrase

pytestmark = pytest.mark.audio_device

LEAD_SECONDS = 0.3
MAX_LOSS_SECONDS = 1.0

RECORD_SCRIPT = textwrap.dedent("""
    import sys, time
    from engine.audio.capture import Recorder
    from engine.audio.take import TakeWriter
    rec = Recorder(device=int(sys.argv[1]), device_rate=16000)
    rec.start()
    take = TakeWriter(sys.argv[2], device_name=rec.device_name)
    print(take.take_id, flush=True)
    while True:                      # what the app's timer does, until killed
        take.write(rec.read_new())
        time.sleep(0.05)
""")


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_kill_9_mid_take_loses_at_most_a_second(virtual_mic, tmp_path):
    phrase = speech_phrase()  # "yes no up down": ~4 s of real speech, int16
    clip_seconds = len(phrase) / SAMPLE_RATE
    takes = tmp_path / "takes"
    env = dict(os.environ, **pulse_env(virtual_mic.dir))
    proc = subprocess.Popen([sys.executable, "-c", RECORD_SCRIPT, str(virtual_mic.device), str(takes)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    playback = None
    try:
        partials = lambda: sorted(takes.glob("*.partial.wav")) if takes.is_dir() else []
        wait_for(lambda: partials() or proc.poll() is not None, 60, "the recording process")
        assert proc.poll() is None, proc.communicate()[1]
        [partial] = partials()
        # 30 s: once, in a full run on a loaded machine, the first 0.2 s took longer than 10 s to arrive
        wait_for(lambda: partial.stat().st_size > HEADER_BYTES + 2 * 3_200 or proc.poll() is not None, 30,
                 "audio in the take")
        assert proc.poll() is None, proc.communicate()[1]

        written_before = virtual_mic.feeder.written
        playback = virtual_mic.play(phrase, lead_seconds=LEAD_SECONDS, tail_seconds=0.0)
        assert playback.started.wait(5)
        time.sleep(LEAD_SECONDS + 0.7 * clip_seconds)  # mid-speech ("up")
        played = virtual_mic.feeder.written - written_before  # samples into the microphone so far
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL
        assert not playback.done.is_set(), "the machine was too slow: the phrase ended before the kill"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if playback is not None:
            assert drain_playback(virtual_mic, playback)

    played_clip = played - int(LEAD_SECONDS * SAMPLE_RATE)  # the part of the phrase played before the kill
    assert 0.5 * len(phrase) < played_clip < len(phrase)

    # what the killed process left on disk
    data = partial.read_bytes()[HEADER_BYTES:]
    on_disk = np.frombuffer(data[:len(data) // 2 * 2], dtype="<i2")
    off, corr = align(on_disk, phrase[:SAMPLE_RATE])  # where "yes" starts in the take
    assert corr > 0.99, corr
    kept_clip = len(on_disk) - off
    lost_seconds = (played_clip - kept_clip) / SAMPLE_RATE
    assert lost_seconds <= MAX_LOSS_SECONDS, f"lost {lost_seconds:.2f} s of the played speech"
    assert kept_clip > 0
    # ... and it is the phrase itself, sample for sample (16 kHz end to end is bit-exact)
    np.testing.assert_array_equal(on_disk[off:], phrase[:kept_clip])
    _, corr_all = align(on_disk, phrase[:kept_clip])
    assert corr_all > 0.99, corr_all

    # the next start finds the take and makes a valid WAV of it
    [u] = find_unfinished(takes)
    assert u.path == partial and u.problem is None
    assert u.sample_rate == SAMPLE_RATE and u.device_name == virtual_mic.device_name and u.started
    assert u.samples == len(on_disk)
    path = recover(u)
    assert path == takes / f"{u.take_id}.wav"
    assert sorted(p.name for p in takes.iterdir()) == [path.name]
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
    assert info.frames == len(on_disk) and info.duration == pytest.approx(u.duration)
    wav, _ = sf.read(str(path), dtype="int16")
    np.testing.assert_array_equal(wav, on_disk)
    assert len(load_audio(path)) == len(on_disk)
