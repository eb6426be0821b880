"""A real crash: a process records the virtual microphone into a take
(engine Recorder + TakeWriter) and is killed with SIGKILL while speech plays;
the partial take must hold all but at most 1 s of what was played, and
find_unfinished + recover must turn it into a valid WAV."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio.capture import Recorder
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
    import sounddevice as sd
    from engine.audio.capture import Recorder
    from engine.audio.take import TakeWriter
    # the device by its name, enumerated in this process (an index from the test's process may differ)
    [index] = [d["index"] for d in sd.query_devices() if d["name"] == sys.argv[1] and d["max_input_channels"] > 0]
    rec = Recorder(device=index, device_rate=16000)
    rec.start()
    print(f"recording device {index}: {rec.device_name}", file=sys.stderr, flush=True)
    take = TakeWriter(sys.argv[2], device_name=rec.device_name)
    print(take.take_id, flush=True)
    while True:                      # what the app's timer does, until killed
        take.write(rec.read_new())
        if rec.error:                # the device failed: say why (the test shows it) and stop
            print(rec.error, file=sys.stderr, flush=True)
            sys.exit(3)
        time.sleep(0.05)
""")
ATTEMPTS = 2
"""Recording processes started before giving up on one whose take receives audio."""
FIRST_AUDIO_SECONDS = 20.0


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def device_report(mic, proc: subprocess.Popen | None = None) -> str:
    """What the sound server, the FIFO feeder and the recording process say, for a failure message."""
    f = mic.feeder
    lines = [f"feeder: alive={f.is_alive()} connected={f.connected.is_set()} paused={f._paused} "
             f"written={f.written} error={f.error}"]
    env = dict(os.environ, **pulse_env(mic.dir), HOME=str(mic.dir / "home"))
    for what in (["sources"], ["source-outputs"], ["clients"]):
        r = subprocess.run(["pactl", "list", "short", *what], env=env, capture_output=True, text=True, timeout=10)
        lines.append(f"pactl list short {what[0]}: {(r.stdout + r.stderr).strip() or '(none)'}")
    log = mic.dir / "pulseaudio.log"
    if log.exists():
        lines.append("daemon log (end): " + " | ".join(log.read_text(errors="replace").splitlines()[-8:]))
    if proc is not None:
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate(timeout=10)
        lines.append(f"recording process: rc={proc.returncode} stderr: {err.strip()[-800:] or '(empty)'}")
    return "\n".join(lines)


def mic_delivers_here(mic, attempts: int = 3) -> tuple[bool, str]:
    """Whether a recorder in this process receives audio from the virtual mic within 10 s, trying
    ``attempts`` times (the device found by name each time), and what each failed attempt saw."""
    import sounddevice as sd

    seen = []
    for _ in range(attempts):
        index = next((d["index"] for d in sd.query_devices()
                      if d["name"] == mic.device_name and d["max_input_channels"] > 0), mic.device)
        rec = Recorder(device=index, device_rate=SAMPLE_RATE)
        rec.start()
        try:
            deadline = time.monotonic() + 10
            while rec.duration < 0.2 and rec.error is None and time.monotonic() < deadline:
                time.sleep(0.02)
            if rec.duration >= 0.2:
                return True, ""
            seen.append(f"device {index}: {rec.duration:.2f} s in 10 s, error {rec.error!r}")
        finally:
            rec.stop()
    return False, "\n".join(seen)


def start_recording_process(mic, takes: Path) -> tuple[subprocess.Popen | None, Path | None, str]:
    """A process recording the virtual mic into a take in ``takes``, once audio reaches the take.

    Returns ``(process, partial take, "")``, or ``(None, None, diagnosis)`` if
    no audio reached the take within FIRST_AUDIO_SECONDS (the process is then
    killed and its take removed).
    """
    env = dict(os.environ, **pulse_env(mic.dir))
    proc = subprocess.Popen([sys.executable, "-c", RECORD_SCRIPT, mic.device_name, str(takes)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partials = lambda: sorted(takes.glob("*.partial.wav")) if takes.is_dir() else []
    wait_for(lambda: partials() or proc.poll() is not None, 60, "the recording process")
    assert proc.poll() is None, proc.communicate()[1]
    [partial] = partials()
    deadline = time.monotonic() + FIRST_AUDIO_SECONDS
    while partial.stat().st_size <= HEADER_BYTES + 2 * 3_200:
        if proc.poll() is not None or time.monotonic() > deadline:
            report = device_report(mic, proc)
            shutil.rmtree(takes, ignore_errors=True)
            return None, None, report
        time.sleep(0.02)
    return proc, partial, ""


def test_kill_9_mid_take_loses_at_most_a_second(virtual_mic, tmp_path):
    phrase = speech_phrase()  # "yes no up down": ~4 s of real speech, int16
    clip_seconds = len(phrase) / SAMPLE_RATE
    takes = tmp_path / "takes"
    delivers, seen = mic_delivers_here(virtual_mic)
    assert delivers, f"the virtual mic delivers no audio:\n{seen}\n" + device_report(virtual_mic)
    # The property under test is what a kill -9 loses, not how fast a device
    # starts (test_capture.py covers that): a recording process whose device
    # delivered nothing at all is reported and replaced, ATTEMPTS times at most.
    # (Twice in CI a recording process's take received no audio for 30 s.)
    failures = []
    for _ in range(ATTEMPTS):
        proc, partial, diagnosis = start_recording_process(virtual_mic, takes)
        if proc is not None:
            break
        failures.append(diagnosis)
        warnings.warn("a recording process received no audio; starting another:\n" + diagnosis, stacklevel=2)
    assert proc is not None, "no recording process received audio:\n" + "\n---\n".join(failures)
    playback = None
    try:
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
