"""RecorderController streams every take to disk (engine.audio.take): through the
real virtual microphone, on a real full disk, and recovery of takes a crash left."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from app.recorder.controller import RecorderController
from engine.audio.io import SAMPLE_RATE
from engine.audio.take import TakeWriter
from tests.audio_device import drain_playback
from tests.engine.audio.test_capture import align
from tests.helpers import speech_phrase, tiny_tmpfs


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """About 4 s of real speech ("yes no up down"), int16 at 16 kHz."""
    return speech_phrase()


def make_controller(qtbot, takes_dir, device) -> tuple[RecorderController, list[str]]:
    ctl = RecorderController(takes_dir=takes_dir)
    errors: list[str] = []
    ctl.error.connect(errors.append)
    assert ctl.check_devices(), ctl.unavailable_reason
    ctl.device = device
    return ctl, errors


def read_take(path) -> np.ndarray:
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
    data, _ = sf.read(str(path), dtype="float32")
    return data


@pytest.mark.audio_device
def test_recording_streams_the_take_to_disk_and_finishes_it(qtbot, virtual_mic, speech, tmp_path):
    takes = tmp_path / "takes"
    ctl, errors = make_controller(qtbot, takes, virtual_mic.device)  # at the device's own rate
    streamed: list[np.ndarray] = []
    ctl.samples_arrived.connect(streamed.append)
    assert ctl.start(), errors
    take = ctl.take
    assert take is not None and take.path.parent == takes
    playback = virtual_mic.play(speech[:2 * SAMPLE_RATE], lead_seconds=0.3, tail_seconds=0.3)
    qtbot.waitUntil(lambda: take.duration > 1.0, timeout=10_000)
    assert take.path.exists() and not take.finished  # on disk while recording
    qtbot.waitUntil(lambda: playback.wait(0), timeout=15_000)
    qtbot.wait(300)
    with qtbot.waitSignal(ctl.recorded, timeout=10_000) as blocker:
        ctl.stop()
    audio = blocker.args[0]
    assert not errors and ctl.take is None

    path = ctl.last_take_path
    assert path is not None and path == takes / f"{take.take_id}.wav"
    assert sorted(p.name for p in takes.iterdir()) == [path.name]  # no partial files left
    wav = read_take(path)
    assert len(wav) == len(audio) == sum(map(len, streamed))
    # the WAV is the recorded take, to 16-bit precision (plus the streaming resampler's ~1e-5)
    np.testing.assert_allclose(wav, audio, atol=2e-4)
    np.testing.assert_array_equal(wav, np.round(np.concatenate(streamed) * 32768).clip(-32768, 32767) / 32768)
    off, corr = align(wav, speech[:SAMPLE_RATE] / 32768.0)
    assert corr > 0.99, corr

    # the next take is a new file
    assert ctl.start(), errors
    qtbot.wait(300)
    ctl.stop()
    assert ctl.last_take_path != path and ctl.last_take_path.exists() and path.exists()


@pytest.mark.audio_device
def test_full_disk_stops_the_recording_and_keeps_the_audio(qtbot, virtual_mic, speech, tmp_path):
    with tiny_tmpfs(tmp_path / "disk", 64 * 1024) as disk:  # about 1.8 s of audio
        ctl, errors = make_controller(qtbot, disk, virtual_mic.device)
        recorded: list[np.ndarray] = []
        ctl.recorded.connect(recorded.append)
        assert ctl.start(), errors
        playback = virtual_mic.play(speech, lead_seconds=0.2, tail_seconds=0.0)
        try:
            qtbot.waitUntil(lambda: ctl.recorder is None, timeout=15_000)  # the controller stops by itself
        finally:
            ctl.stop()
            assert drain_playback(virtual_mic, playback)
        assert len(errors) == 1 and "disk is full" in errors[0] and "kept" in errors[0], errors
        assert ctl.take is None and not ctl.is_recording
        [audio] = recorded  # the window still gets the whole take
        path = ctl.last_take_path
        assert path is not None and path.parent == disk
        wav = read_take(path)  # finished although the disk is full
        assert 1.0 * SAMPLE_RATE < len(wav) <= len(audio), (len(wav), len(audio))
        np.testing.assert_allclose(wav, audio[:len(wav)], atol=2e-4)
        assert sorted(p.name for p in disk.iterdir()) == [path.name]

        # a new recording on the still-full disk is refused with a clear message
        assert not ctl.start(), errors
        assert not ctl.is_recording and "disk is full" in errors[-1], errors


@pytest.mark.audio_device
def test_takes_folder_that_cannot_be_created_refuses_to_record(qtbot, virtual_mic, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    ctl, errors = make_controller(qtbot, tmp_path / "file" / "takes", virtual_mic.device)
    assert not ctl.start()
    assert not ctl.is_recording and ctl.recorder is None
    assert len(errors) == 1 and "takes folder could not be created" in errors[0]


def test_recover_unfinished_finishes_crashed_takes(qtbot, tmp_path, speech):
    takes = tmp_path / "takes"
    crashed = TakeWriter(takes, take_id="take-1", device_name="pulse")
    crashed.write(speech.astype(np.float32) / 32768.0)
    crashed.close()  # as a crash leaves it
    empty = TakeWriter(takes, take_id="take-2")
    empty.close()
    live = TakeWriter(takes, take_id="take-3")  # still recording: left alone
    live.write(np.zeros(1600, np.float32))

    ctl = RecorderController(takes_dir=takes)
    errors: list[str] = []
    ctl.error.connect(errors.append)
    recovered = ctl.recover_unfinished()
    assert recovered == [(takes / "take-1.wav", pytest.approx(len(speech) / SAMPLE_RATE))]
    assert not errors
    np.testing.assert_array_equal(sf.read(str(takes / "take-1.wav"), dtype="int16")[0], speech)
    assert not (takes / "take-2.partial.wav").exists()  # no audio: removed
    assert live.path.exists()
    assert ctl.recover_unfinished() == []
    live.finish()
    assert RecorderController(takes_dir=tmp_path / "never-created").recover_unfinished() == []
