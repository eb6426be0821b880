"""engine.audio.capture: ring buffer units, and real recordings through the
PulseAudio virtual microphone (scripts/virtual_mic.sh, tests/audio_device.py)."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

from engine.audio.capture import Recorder, list_input_devices
from engine.audio.io import resample
from tests.engine.audio.device_helpers import align, first_yes, loaded_by_import, run_without_audio_devices


class Flags:
    """Stands in for sounddevice.CallbackFlags in direct callback calls."""

    def __init__(self, input_overflow: bool = False):
        self.input_overflow = input_overflow

    def __bool__(self):
        return self.input_overflow


def feed(rec: Recorder, audio: np.ndarray, block: int, channels: int = 1, overflow: bool = False):
    """Call the real callback with ``audio`` in blocks, as PortAudio would."""
    for i in range(0, len(audio), block):
        x = audio[i:i + block].astype(np.float32)
        indata = np.repeat(x[:, None], channels, axis=1)
        if channels > 1:
            indata[:, 1:] = 0.5  # other channels must be ignored
        rec._callback(indata, len(x), None, Flags(overflow))


def fake_recorder(rate: int, ring_seconds: float) -> Recorder:
    rec = Recorder(device_rate=rate, ring_seconds=ring_seconds)
    rec._prepare(rate, "fake")
    rec._running = True
    return rec


# ------------------------------------------------------------------ ring buffer


def test_ring_wraps_and_keeps_most_recent_audio():
    rate = 16_000
    rec = fake_recorder(rate, ring_seconds=1.0)
    ramp = (np.arange(int(2.5 * rate)) % 30_000 / 40_000.0).astype(np.float32)
    feed(rec, ramp, block=1_000)
    assert rec.dropped_seconds == pytest.approx(1.5)
    assert rec.duration == pytest.approx(2.5)
    take = rec.stop()
    assert take.dtype == np.float32 and take.shape == (rate,)
    np.testing.assert_array_equal(take, ramp[-rate:])
    assert rec.overflows == 0 and not rec.clipped and rec.error is None


def test_block_longer_than_ring_and_uneven_blocks():
    rate = 16_000
    rec = fake_recorder(rate, ring_seconds=0.1)  # 1600 samples
    x = np.linspace(-0.5, 0.5, 5_000, dtype=np.float32)
    feed(rec, x[:1234], block=1234)
    feed(rec, x[1234:4000], block=2766)  # > ring
    feed(rec, x[4000:], block=333)
    np.testing.assert_array_equal(rec.stop(), x[-1600:])


def test_read_new_at_16k_returns_exactly_the_new_samples_across_wraps():
    rate = 16_000
    rec = fake_recorder(rate, ring_seconds=0.5)
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(3 * rate) * 0.1).astype(np.float32)
    pieces = []
    for i in range(0, len(audio), 700):
        feed(rec, audio[i:i + 700], block=350)
        pieces.append(rec.read_new())
    assert rec.read_new().size == 0  # nothing new
    got = np.concatenate(pieces)
    np.testing.assert_array_equal(got, audio)
    np.testing.assert_array_equal(rec.stop(), audio[-rate // 2:])


def test_read_new_at_48k_streams_the_same_audio_as_stop():
    rate = 48_000
    rec = fake_recorder(rate, ring_seconds=5.0)
    t = np.arange(2 * rate) / rate
    audio = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 3_000 * t)).astype(np.float32)
    pieces = []
    for i in range(0, len(audio), 1_024):
        feed(rec, audio[i:i + 1_024], block=512)
        pieces.append(rec.read_new())
    assert sum(map(len, pieces)) > 0.95 * 2 * 16_000  # only the filter's look-ahead held back
    take = rec.stop()
    pieces.append(rec.read_new())  # after stop: the held-back tail
    streamed = np.concatenate(pieces)
    assert take.shape == (2 * 16_000,)
    assert streamed.shape == take.shape
    np.testing.assert_allclose(streamed, take, atol=1e-5)
    np.testing.assert_allclose(take, resample(audio, rate, 16_000), atol=1e-6)


def test_read_new_at_44k1_matches_whole_take_resample():
    rate = 44_100
    rec = fake_recorder(rate, ring_seconds=5.0)
    rng = np.random.default_rng(1)
    audio = (rng.standard_normal(int(1.3 * rate)) * 0.1).astype(np.float32)
    pieces = []
    for i in range(0, len(audio), 1_500):
        feed(rec, audio[i:i + 1_500], block=441)
        pieces.append(rec.read_new())
    take = rec.stop()
    pieces.append(rec.read_new())
    streamed = np.concatenate(pieces)
    assert streamed.shape == take.shape == (math.ceil(len(audio) * 16_000 / rate),)
    np.testing.assert_allclose(streamed, take, atol=1e-5)


def test_read_new_skips_ahead_when_the_reader_falls_behind_the_ring():
    rate = 16_000
    rec = fake_recorder(rate, ring_seconds=1.0)
    audio = np.arange(3 * rate, dtype=np.float32) / (3 * rate)
    feed(rec, audio, block=800)
    got = rec.read_new()
    assert 0 < len(got) <= rate
    np.testing.assert_array_equal(got, audio[-len(got):])


def test_levels_clipping_overflows_and_first_channel_only():
    rate = 48_000
    rec = fake_recorder(rate, ring_seconds=2.0)
    assert rec.level_dbfs == -math.inf
    feed(rec, np.zeros(rate // 10, np.float32), block=480, channels=2)
    assert rec.level_dbfs == -math.inf  # channel 2 (0.5) is ignored
    feed(rec, np.full(rate // 10, 0.1, np.float32), block=480, channels=2)
    assert rec.level_dbfs == pytest.approx(-20.0, abs=0.01)
    assert not rec.clipped and rec.overflows == 0
    feed(rec, np.full(480, -1.0, np.float32), block=480, overflow=True)
    assert rec.clipped and rec.overflows == 1
    assert rec.level_dbfs == 0.0
    take = rec.stop()
    assert take.shape == (math.ceil((2 * rate // 10 + 480) / 3),)
    assert rec.level_dbfs == -math.inf and not rec.is_recording


def test_stop_without_start_and_twice():
    rec = Recorder(ring_seconds=1.0)
    assert rec.stop().shape == (0,)
    rec = fake_recorder(16_000, 1.0)
    feed(rec, np.ones(100, np.float32) * 0.25, block=100)
    a = rec.stop()
    assert a is rec.stop() and a.shape == (100,)
    with pytest.raises(ValueError):
        Recorder(ring_seconds=0)


def test_engine_capture_does_not_import_qt_or_open_portaudio():
    assert loaded_by_import("engine.audio.capture") == [False, False]


# ------------------------------------------------------------------ no device

def test_no_input_device_raises_capture_error(tmp_path):
    out = run_without_audio_devices(tmp_path, """
        import json
        from engine.audio.capture import CaptureError, Recorder, list_input_devices
        out = {"devices": [d.name for d in list_input_devices()]}
        try:
            Recorder().start()
            out["error"] = None
        except CaptureError as exc:
            out["error"] = str(exc)
        try:
            Recorder(device="USB").start()
        except CaptureError as exc:
            out["named"] = str(exc)
        print(json.dumps(out))
    """)
    assert out["devices"] == []
    assert out["error"] and "No microphone was found" in out["error"]
    assert "Traceback" not in out["error"]
    assert "No microphone was found" in out["named"]


# ------------------------------------------------------------------ real device


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """The first (sorted) 'yes' of Speech Commands: a real 16 kHz recording, int16."""
    return first_yes("int16")


def band_snr(got: np.ndarray, ref: np.ndarray, hi_hz: float = 4_000.0) -> float:
    """SNR in dB of ``got`` against ``ref`` (both 16 kHz) below ``hi_hz``.

    PulseAudio's own resampler (speex-float-1, 16 kHz FIFO → device rate)
    rolls off above ~5 kHz, so full-band SNR at other device rates is ~20 dB
    while the speech band is reproduced to ~60 dB.
    """
    f = np.fft.rfftfreq(len(ref), 1 / 16_000)
    R = np.fft.rfft(ref.astype(np.float64))[f < hi_hz]
    G = np.fft.rfft(got.astype(np.float64))[f < hi_hz]
    return float(10 * np.log10(np.sum(np.abs(R) ** 2) / np.sum(np.abs(G - R) ** 2)))


def record_clip(mic, clip: np.ndarray, **kwargs) -> tuple[Recorder, np.ndarray, float, list]:
    """Record while the virtual mic speaks ``clip``; returns (recorder, take, max level, live pieces)."""
    rec = Recorder(**kwargs)
    rec.start()
    levels, pieces = [], []
    try:
        assert rec.is_recording
        time.sleep(0.2)
        pb = mic.play(clip, lead_seconds=0.5, tail_seconds=0.5)
        deadline = time.monotonic() + 15
        while not pb.done.is_set() and time.monotonic() < deadline:
            levels.append(rec.level_dbfs)
            pieces.append(rec.read_new())
            time.sleep(0.02)
        assert pb.done.is_set(), "the virtual mic did not finish playing"
        time.sleep(0.4)  # the daemon's and PortAudio's buffers
        pieces.append(rec.read_new())
        assert rec.error is None and rec.is_recording
    finally:
        take = rec.stop()
    pieces.append(rec.read_new())
    return rec, take, max(levels, default=-math.inf), pieces


@pytest.mark.audio_device
def test_virtual_mic_is_listed(virtual_mic):
    devices = list_input_devices()
    names = [d.name for d in devices]
    assert virtual_mic.device_name in names
    dev = next(d for d in devices if d.index == virtual_mic.device)
    assert dev.max_input_channels >= 1 and dev.default_samplerate > 0
    assert sum(d.is_default for d in devices) == 1


@pytest.mark.audio_device
def test_records_speech_bit_exact_at_16k(virtual_mic, speech):
    rec, take, level, pieces = record_clip(virtual_mic, speech, device=virtual_mic.device,
                                           device_rate=16_000)
    assert rec.device_rate == 16_000
    assert take.dtype == np.float32 and take.ndim == 1
    assert len(take) > len(speech) + 16_000 * 0.8
    off, corr = align(take, speech)
    assert corr > 0.99, corr
    q = np.clip(np.round(take[off:off + len(speech)] * 32768.0), -32768, 32767).astype(np.int16)
    np.testing.assert_array_equal(q, speech)
    assert level > -40.0, level
    assert rec.overflows == 0
    assert rec.error is None and not rec.clipped
    np.testing.assert_array_equal(np.concatenate(pieces), take)  # live view = the take


@pytest.mark.audio_device
def test_records_speech_at_48k_device_rate(virtual_mic, speech):
    rec, take, level, pieces = record_clip(virtual_mic, speech, device=virtual_mic.device,
                                           device_rate=48_000)
    assert rec.device_rate == 48_000
    off, corr = align(take, speech)
    assert corr > 0.99, corr
    snr = band_snr(take[off:off + len(speech)], speech / 32768.0)
    assert snr > 40.0, snr  # measured ~60 dB below 4 kHz
    assert level > -40.0, level
    assert rec.overflows == 0 and rec.error is None
    streamed = np.concatenate(pieces)
    assert streamed.shape == take.shape
    np.testing.assert_allclose(streamed, take, atol=1e-4)


@pytest.mark.audio_device
def test_records_from_the_default_device_at_its_default_rate(virtual_mic, speech):
    rec, take, level, _ = record_clip(virtual_mic, speech)  # Recorder(): ALSA 'default' → PulseAudio
    assert rec.device_rate > 0
    off, corr = align(take, speech)
    assert corr > 0.99, corr
    assert band_snr(take[off:off + len(speech)], speech / 32768.0) > 40.0
    assert level > -40.0 and rec.overflows == 0


@pytest.mark.audio_device
def test_device_lost_mid_take_keeps_the_audio(lost_virtual_mic, speech):
    mic = lost_virtual_mic
    rec = Recorder(device=mic.device, device_rate=16_000)
    rec.start()
    pb = mic.play(speech, lead_seconds=0.2, tail_seconds=0.0)
    assert pb.wait(10)
    time.sleep(0.5)
    before = rec.duration
    mic.kill_daemon()
    deadline = time.monotonic() + 5
    while rec.error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rec.error is not None, "the lost device was not noticed"
    assert "stopped" in rec.error and "kept" in rec.error
    assert not rec.is_recording
    t0 = time.monotonic()
    take = rec.stop()  # no exception, no hang
    assert time.monotonic() - t0 < 2.0
    assert len(take) >= 16_000 * before - 1
    assert len(take) >= 16_000 * 1.0
    off, corr = align(take, speech)  # the 'yes' played before the loss is in the take
    assert corr > 0.99, corr


@pytest.mark.audio_device
def test_stalled_device_is_reported_by_the_watchdog(lost_virtual_mic):
    """A source that stops delivering (nothing written to the FIFO: PortAudio
    neither calls back nor errors) is reported as lost within ~1 s."""
    mic = lost_virtual_mic
    rec = Recorder(device=mic.device)
    rec.start()
    time.sleep(0.5)
    assert rec.duration > 0.2
    mic.pause(True)
    deadline = time.monotonic() + 5
    while rec.error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rec.error is not None and "stopped delivering audio" in rec.error
    assert not rec.is_recording
    t0 = time.monotonic()
    take = rec.stop()
    assert time.monotonic() - t0 < 2.0
    assert len(take) >= 16_000 * 0.3

    # the same recorder records again once audio flows; start() after a loss
    # releases the dead stream by itself
    mic.pause(False)
    rec.start()
    time.sleep(0.3)
    mic.pause(True)
    while rec.error is None and time.monotonic() < deadline + 5:
        time.sleep(0.05)
    assert rec.error is not None
    mic.pause(False)
    rec.start()
    time.sleep(0.5)
    assert rec.is_recording and rec.error is None and rec.duration > 0.3
    assert len(rec.stop()) > 16_000 * 0.3


@pytest.mark.audio_device
def test_a_device_slow_to_deliver_its_first_block_is_not_reported_lost(lost_virtual_mic):
    """On a loaded machine the first block can take seconds to arrive (the
    source resumes, the sound server is descheduled): that is a slow start, not
    an unplugged microphone. Nothing is fed for 2 s after start(); the take
    must then record normally. (CI once saw the 1 s stall watchdog close such a
    stream, and a take that never received audio.)"""
    mic = lost_virtual_mic
    mic.pause(True)
    rec = Recorder(device=mic.device, device_rate=16_000)
    rec.start()
    time.sleep(2.0)
    assert rec.error is None, rec.error
    mic.pause(False)
    deadline = time.monotonic() + 5
    while rec.duration < 0.5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rec.error is None and rec.is_recording
    assert len(rec.stop()) >= 16_000 * 0.5


@pytest.mark.audio_device
def test_recorder_works_again_after_the_daemon_restarts(lost_virtual_mic, speech):
    mic = lost_virtual_mic
    mic.kill_daemon()
    time.sleep(0.3)
    mic.ensure_running()
    rec, take, level, _ = record_clip(mic, speech, device=mic.device, device_rate=16_000)
    off, corr = align(take, speech)
    assert corr > 0.99 and level > -40.0
