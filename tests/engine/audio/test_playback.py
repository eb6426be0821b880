"""engine.audio.playback: the callback and position arithmetic, and real playback
through the PulseAudio daemon of the virtual microphone (scripts/virtual_mic.sh),
whose null sink is the output device; its monitor source records what was played."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import numpy as np
import pytest

from engine.audio.io import SAMPLE_RATE
from engine.audio.playback import PlaybackError, Player, list_output_devices
from tests.engine.audio.device_helpers import align, first_yes, loaded_by_import, run_without_audio_devices


class Flags:
    """Stands in for sounddevice.CallbackFlags in direct callback calls."""

    def __init__(self, output_underflow: bool = False):
        self.output_underflow = output_underflow


class TimeInfo:
    """Stands in for PortAudio's PaStreamCallbackTimeInfo."""

    def __init__(self, current: float, dac: float):
        self.currentTime = current
        self.outputBufferDacTime = dac
        self.inputBufferAdcTime = 0.0


class Stop(Exception):
    """Stands in for sounddevice.CallbackStop."""


def fake_player(audio: np.ndarray, rate: int = SAMPLE_RATE, start: float = 0.0,
                end: float | None = None, latency: float = 0.05) -> Player:
    """A Player prepared as play() would, without a stream: the callback is called directly."""
    p = Player()
    p._reset()
    p._rate, p._latency_s, p._callback_stop = rate, latency, Stop
    p._buffer = np.ascontiguousarray(audio, dtype=np.float32)
    p._total = len(p._buffer)
    p._start = start
    p._end = start + len(audio) / rate if end is None else end
    p._last_position = start
    p._done.clear()
    return p


def pull(p: Player, frames: int, channels: int = 1, dac_delay: float = 0.05) -> tuple[np.ndarray, bool]:
    """One PortAudio request of ``frames``: (what the callback wrote, whether it said "stop")."""
    out = np.full((frames, channels), 7.0, dtype=np.float32)  # garbage the callback must overwrite
    now = 1000.0
    try:
        p._callback(out, frames, TimeInfo(now, now + dac_delay), Flags())
    except Stop:
        return out, True
    return out, False


# ------------------------------------------------------------------ no device


def test_callback_copies_the_buffer_to_every_channel_and_pads_the_end():
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(1000) * 0.1).astype(np.float32)
    p = fake_player(audio)
    got, stops = [], []
    for _ in range(5):
        out, stop = pull(p, 256, channels=2)
        got.append(out)
        stops.append(stop)
        if stop:
            break
    assert stops == [False, False, False, True]  # 3 * 256 < 1000 <= 4 * 256
    out = np.concatenate(got)
    np.testing.assert_array_equal(out[:1000, 0], audio)
    np.testing.assert_array_equal(out[:1000, 1], audio)
    assert not out[1000:].any()  # zeros after the end, not garbage
    assert p._handed == 1000 and p._end_heard_at > 0


def test_position_subtracts_the_output_latency_and_interpolates(monkeypatch):
    t = [100.0]
    monkeypatch.setattr("engine.audio.playback.time.monotonic", lambda: t[0])
    audio = np.zeros(SAMPLE_RATE, dtype=np.float32)  # 1 s
    p = fake_player(audio, start=2.0, end=3.0)
    assert p.position == 2.0  # nothing handed yet
    pull(p, 1600, dac_delay=0.05)  # 0.1 s handed at t=100; its first frame is heard at 100.05
    assert p.position == 2.0
    t[0] = 100.03
    assert p.position == 2.0  # still the latency
    t[0] = 100.08
    assert p.position == pytest.approx(2.03)
    t[0] = 100.5  # no callback for a long time: never past what was handed
    assert p.position == pytest.approx(2.1)
    pull(p, 1600, dac_delay=0.05)  # at t=100.5: frames [1600, 3200) heard from 100.55
    t[0] = 100.52
    assert p.position == pytest.approx(2.1)  # does not go back to 2.07
    t[0] = 100.6
    assert p.position == pytest.approx(2.15)


def test_position_uses_the_stream_latency_when_the_dac_time_is_unknown(monkeypatch):
    t = [10.0]
    monkeypatch.setattr("engine.audio.playback.time.monotonic", lambda: t[0])
    p = fake_player(np.zeros(48_000, np.float32), rate=48_000, latency=0.2)
    out = np.zeros((4800, 1), np.float32)
    p._callback(out, 4800, TimeInfo(0.0, 0.0), Flags())  # back ends that report no DAC time
    t[0] = 10.25
    assert p.position == pytest.approx(0.05)


def test_play_rejects_empty_segments_and_bad_shapes():
    p = Player()
    audio = np.zeros(SAMPLE_RATE, dtype=np.float32)
    for start, end in ((0.5, 0.5), (0.6, 0.2), (1.0, None), (5.0, 6.0)):
        with pytest.raises(ValueError, match="nothing to play"):
            p.play(audio, start, end)
    with pytest.raises(ValueError):
        p.play(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError):
        Player(device_rate=0)
    assert not p.is_playing and p.wait(0) and p.position == 0.0
    p.stop()  # nothing to stop: no error


class FakeStream:
    """An OutputStream that opens only at ``FakeSD.rates`` and plays nothing."""

    def __init__(self, sd, samplerate, channels, **kwargs):
        if samplerate not in sd.rates:
            raise RuntimeError(f"Invalid sample rate [PaErrorCode -9997]: {samplerate}")
        self.sd, self.samplerate, self.channels = sd, samplerate, channels
        self.latency = 0.02
        sd.opened.append((samplerate, channels))

    def start(self):
        if self.sd.start_fails:
            raise RuntimeError("Device unavailable [PaErrorCode -9985]")

    def abort(self):
        pass

    def close(self):
        self.sd.closed += 1


class FakeSD:
    """The bits of the sounddevice module Player uses: one 44.1 kHz stereo device."""

    CallbackStop = Stop

    def __init__(self, rates=(44_100,), start_fails=False):
        self.rates, self.start_fails = rates, start_fails
        self.opened, self.closed = [], 0
        self.device = {"index": 3, "name": "Speakers", "default_samplerate": 44_100.0,
                       "max_output_channels": 2, "max_input_channels": 0}

    def query_devices(self, device=None, kind=None):
        return [self.device] if device is None and kind is None else self.device

    def OutputStream(self, **kwargs):  # noqa: N802 (sounddevice's name)
        return FakeStream(self, **kwargs)


def test_device_refusing_16k_is_opened_at_its_default_rate(monkeypatch):
    sd = FakeSD(rates=(44_100,))
    monkeypatch.setattr("engine.audio.playback._sounddevice", lambda: sd)
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    audio = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    p = Player()
    p.play(audio, start=0.25, end=0.75)
    try:
        assert sd.opened == [(44_100, 1)]  # 16 kHz refused, mono accepted
        assert p.device_rate == 44_100 and p.device_name == "Speakers" and p.is_playing
        assert p._total == round(0.5 * 44_100)
        mid = p._buffer[4_000:18_000]  # the resampled 300 Hz tone, away from the cut edges
        ref = 0.5 * np.sin(2 * np.pi * 300 * (0.25 + np.arange(4_000, 18_000) / 44_100))
        np.testing.assert_allclose(mid, ref, atol=2e-3)
    finally:
        p.stop()
    assert sd.closed == 1 and not p.is_playing


def test_device_refusing_every_rate_or_start_raises_playback_error(monkeypatch):
    audio = np.zeros(SAMPLE_RATE, np.float32)
    sd = FakeSD(rates=())
    monkeypatch.setattr("engine.audio.playback._sounddevice", lambda: sd)
    with pytest.raises(PlaybackError, match=r"'Speakers' could not be opened at 16000 Hz or 44100 Hz"):
        Player().play(audio)
    assert sd.opened == []
    with pytest.raises(PlaybackError, match=r"at 22050 Hz"):
        Player(device_rate=22_050).play(audio)

    sd = FakeSD(rates=(16_000,), start_fails=True)
    monkeypatch.setattr("engine.audio.playback._sounddevice", lambda: sd)
    p = Player()
    with pytest.raises(PlaybackError, match="'Speakers' could not be started at 16000 Hz .*Device unavailable"):
        p.play(audio)
    assert sd.closed == 1 and not p.is_playing and p.wait(0)


def test_engine_playback_does_not_import_qt_or_open_portaudio():
    assert loaded_by_import("engine.audio.playback") == [False, False]


def test_no_output_device_raises_playback_error(tmp_path):
    out = run_without_audio_devices(tmp_path, """
        import json
        import numpy as np
        from engine.audio.playback import PlaybackError, Player, list_output_devices
        out = {"devices": [d.name for d in list_output_devices()]}
        audio = np.zeros(16000, np.float32)
        for key, device in (("error", None), ("named", "USB")):
            p = Player(device=device)
            try:
                p.play(audio)
                out[key] = None
            except PlaybackError as exc:
                out[key] = str(exc)
            out[key + "_playing"] = p.is_playing
        print(json.dumps(out))
    """)
    assert out["devices"] == []
    assert out["error"] and "No audio output device was found" in out["error"]
    assert "Traceback" not in out["error"]
    assert "No audio output device was found" in out["named"]
    assert not out["error_playing"] and not out["named_playing"]


# ------------------------------------------------------------------ real device


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """The first (sorted) 'yes' of Speech Commands: a real 1 s, 16 kHz recording, float32."""
    return first_yes("float32")


class SinkMonitor:
    """``parec`` recording the default sink's monitor (what the null sink plays) as
    float32 mono 16 kHz into a file. Started before playback, it also keeps the
    null sink awake at low latency: an idle null sink otherwise sleeps up to 2 s
    before it takes a new stream's audio."""

    def __init__(self, mic, path):
        from tests.audio_device import pulse_env

        self.path = path
        env = dict(os.environ, **pulse_env(mic.dir), HOME=str(mic.dir / "home"))
        self._out = open(path, "wb")
        self.proc = subprocess.Popen(
            ["parec", "-d", "@DEFAULT_MONITOR@", "--raw", "--format=float32le",
             f"--rate={SAMPLE_RATE}", "--channels=1", "--latency-msec=20"],
            stdout=self._out, stderr=subprocess.PIPE, env=env)

    def wait_flowing(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while os.path.getsize(self.path) < 4 * SAMPLE_RATE // 10:  # 0.1 s recorded
            if self.proc.poll() is not None:
                raise RuntimeError(f"parec exited: {self.proc.stderr.read().decode()}")
            if time.monotonic() > deadline:
                raise RuntimeError("the null sink's monitor delivered no audio")
            time.sleep(0.02)

    def stop(self) -> np.ndarray:
        """Stop recording; the monitor's audio, ``(samples,)`` float32 16 kHz."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        return np.fromfile(self.path, dtype=np.float32)


@pytest.fixture
def monitor(virtual_mic, tmp_path):
    if shutil.which("parec") is None:
        pytest.skip("parec is not installed (apt-get install pulseaudio-utils)")
    mon = SinkMonitor(virtual_mic, tmp_path / "monitor.f32")
    try:
        mon.wait_flowing()
        yield mon
    finally:
        mon.stop()


def watch(p: Player, timeout: float = 15.0) -> list[tuple[float, float]]:
    """(seconds since now, position) every ~10 ms until playback is over."""
    t0 = time.monotonic()
    out = []
    while p.is_playing and time.monotonic() - t0 < timeout:
        out.append((time.monotonic() - t0, p.position))
        time.sleep(0.01)
    return out


@pytest.mark.audio_device
def test_output_devices_are_listed(virtual_mic):
    devices = list_output_devices()
    assert devices and all(d.max_output_channels >= 1 and d.default_samplerate > 0 for d in devices)
    assert sum(d.is_default for d in devices) == 1


@pytest.mark.audio_device
def test_plays_a_speech_clip_to_the_end(virtual_mic, monitor, speech):
    p = Player()
    t0 = time.monotonic()
    p.play(speech)
    assert p.is_playing and p.segment == (0.0, 1.0)
    log = watch(p)
    assert p.wait(5), "playback did not end"
    elapsed = time.monotonic() - t0
    time.sleep(0.2)  # let the monitor catch the tail
    heard = monitor.stop()

    assert p.error is None and not p.is_playing
    assert p.device_rate == SAMPLE_RATE  # PulseAudio takes 16 kHz
    positions = np.array([pos for _, pos in log])
    assert len(positions) > 30
    assert np.all(np.diff(positions) >= 0), "the position went backwards"
    assert positions[0] < 0.1
    assert p.position == pytest.approx(len(speech) / SAMPLE_RATE)
    assert 0.95 <= elapsed < 3.0, elapsed  # played in real time
    # the position follows the wall clock while it moves
    times = np.array([t for t, _ in log])
    moving = (positions > 0.1) & (positions < 0.9)
    slope = np.polyfit(times[moving], positions[moving], 1)[0]
    assert 0.85 < slope < 1.15, slope
    # what the null sink played is the clip (PulseAudio resampled it 16 -> 44.1 -> 16 kHz)
    off, corr = align(heard, speech)
    assert corr > 0.95, corr
    assert np.abs(heard[off:off + len(speech)]).max() == pytest.approx(np.abs(speech).max(), rel=0.1)


@pytest.mark.audio_device
def test_plays_a_segment(virtual_mic, monitor, speech):
    p = Player()
    t0 = time.monotonic()
    p.play(speech, start=0.2, end=0.6)
    log = watch(p)
    assert p.wait(5)
    elapsed = time.monotonic() - t0
    time.sleep(0.6)  # the monitor records the silence after the segment
    heard = monitor.stop()

    assert p.error is None and p.segment == (0.2, 0.6)
    positions = [pos for _, pos in log]
    assert positions[0] == pytest.approx(0.2, abs=0.05)
    assert all(0.2 <= x <= 0.6 for x in positions)
    assert np.all(np.diff(positions) >= 0)
    assert p.position == pytest.approx(0.6)
    assert 0.38 <= elapsed < 1.2, elapsed  # ~0.4 s of audio, plus opening the device
    i0, i1 = int(0.2 * SAMPLE_RATE), int(0.6 * SAMPLE_RATE)
    off, corr = align(heard, speech[i0:i1])
    assert corr > 0.95, corr
    # only the segment was played: silence where the clip goes on after 0.6 s
    margin = SAMPLE_RATE // 100
    after = heard[off + (i1 - i0) + margin:off + (i1 - i0) + 6_000]
    clip_after = speech[i1 + margin:i1 + 6_000]
    assert len(after) == len(clip_after)
    assert np.sum(after.astype(np.float64) ** 2) < 0.01 * np.sum(clip_after.astype(np.float64) ** 2)


@pytest.mark.audio_device
def test_plays_at_another_device_rate(virtual_mic, monitor, speech):
    p = Player(device=virtual_mic.device, device_rate=48_000)
    p.play(speech)
    assert p.wait(10)
    time.sleep(0.2)
    heard = monitor.stop()
    assert p.device_rate == 48_000 and p.device_name == virtual_mic.device_name
    assert p.error is None and p.position == pytest.approx(1.0)
    off, corr = align(heard, speech)
    assert corr > 0.95, corr


@pytest.mark.audio_device
def test_stop_and_play_again(virtual_mic, speech):
    p = Player()
    p.play(speech)
    deadline = time.monotonic() + 5
    while p.position < 0.3 and time.monotonic() < deadline:
        time.sleep(0.01)
    t0 = time.monotonic()
    p.stop()
    assert time.monotonic() - t0 < 1.0
    assert not p.is_playing and p.wait(0) and p.error is None
    stopped_at = p.position
    assert 0.3 <= stopped_at < 0.8
    time.sleep(0.2)
    assert p.position == stopped_at  # frozen where it stopped

    p.play(speech, start=0.5)  # the same player plays again
    assert p.is_playing
    p.play(speech, start=0.8)  # and a new play() replaces the current one
    assert p.wait(10) and p.error is None
    assert p.segment == (0.8, 1.0) and p.position == pytest.approx(1.0)


@pytest.mark.audio_device
def test_nonexistent_device_raises_a_clear_playback_error(virtual_mic, speech):
    for device in ("no such speaker", 999):
        p = Player(device=device)
        with pytest.raises(PlaybackError) as info:
            p.play(speech)
        msg = str(info.value)
        assert "was not found" in msg and repr(device) in msg
        assert "Available output devices:" in msg and f"'{virtual_mic.device_name}'" in msg
        assert "Traceback" not in msg
        assert not p.is_playing and p.wait(0)


@pytest.mark.audio_device
def test_device_lost_mid_playback_ends_with_an_error(lost_virtual_mic):
    tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(10 * SAMPLE_RATE) / SAMPLE_RATE)).astype(np.float32)
    p = Player()
    p.play(tone)
    deadline = time.monotonic() + 10
    while p.position < 0.2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert p.is_playing and p.position >= 0.2
    lost_virtual_mic.kill_daemon()
    t0 = time.monotonic()
    assert p.wait(10), "a lost device did not end playback"
    assert time.monotonic() - t0 < 6.0
    assert p.error is not None and "stopped" in p.error and "Traceback" not in p.error
    assert not p.is_playing
    at = p.position
    assert 0.2 <= at < 10.0
    t0 = time.monotonic()
    p.stop()  # no exception, no hang
    assert time.monotonic() - t0 < 2.0 and p.position == at
