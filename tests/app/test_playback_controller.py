"""Playback in the studio: PlaybackController moving the playhead of the plots,
through the PulseAudio daemon of the virtual microphone (its null sink plays)."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from app.playback.controller import PlaybackController
from app.widgets.spectrogram_view import SpectrogramView
from app.widgets.waveform_view import WaveformView
from engine.audio.io import SAMPLE_RATE


@pytest.fixture
def speech(speech_clip) -> np.ndarray:
    data, rate = sf.read(speech_clip, dtype="float32")
    assert rate == SAMPLE_RATE
    return data


@pytest.fixture
def views(qtbot, speech):
    wave, spec = WaveformView(), SpectrogramView()
    for v in (wave, spec):
        qtbot.addWidget(v)
        v.show()
    wave.set_audio(speech)
    spec.set_features(np.full((len(speech) // 160 + 1, 80), -30.0, np.float32))
    return wave, spec


def test_set_playhead_moves_one_line_and_hides_it(views):
    for view in views:
        x_range = view.getViewBox().viewRange()[0]
        assert view.playhead is None
        view.set_playhead(0.25)
        line = view.playhead
        assert line is not None and line.isVisible() and line.value() == pytest.approx(0.25)
        view.set_playhead(0.5)
        assert view.playhead is line and line.value() == pytest.approx(0.5)  # moved, not re-created
        assert sum(isinstance(i, type(line)) for i in view.getPlotItem().items) == 1
        view.set_playhead(None)
        assert not line.isVisible()
        view.set_playhead(0.75)
        assert line.isVisible() and line.value() == pytest.approx(0.75)
        assert view.getViewBox().viewRange()[0] == pytest.approx(x_range)  # the view did not rescale


@pytest.mark.audio_device
def test_playback_moves_the_playhead_over_waveform_and_spectrogram(qtbot, virtual_mic, views, speech):
    wave, spec = views
    ctl = PlaybackController()
    ctl.attach(wave, spec)
    positions: list[float] = []
    playing: list[bool] = []
    errors: list[str] = []
    seen_on_wave: list[float] = []
    ctl.position_changed.connect(positions.append)
    ctl.position_changed.connect(lambda s: seen_on_wave.append(wave.playhead.value()))
    ctl.playing_changed.connect(playing.append)
    ctl.error.connect(errors.append)

    assert ctl.play(speech), errors
    assert ctl.is_playing and playing == [True]
    assert wave.playhead.isVisible() and spec.playhead.isVisible()
    qtbot.waitUntil(lambda: ctl.position > 0.3 or not ctl.is_playing, timeout=10_000)
    mid = wave.playhead.value()
    assert ctl.is_playing and 0.2 < mid < 1.0
    assert spec.playhead.value() == pytest.approx(mid, abs=0.05)  # both plots follow
    with qtbot.waitSignal(ctl.playing_changed, timeout=10_000) as blocker:
        pass
    assert blocker.args == [False] and playing == [True, False]
    assert not errors and not ctl.is_playing

    assert len(positions) > 20  # ~every 15 ms for ~1 s
    assert positions[0] == pytest.approx(0.0, abs=0.02) and positions[-1] == pytest.approx(len(speech) / SAMPLE_RATE)
    assert np.all(np.diff(positions) > 0)
    assert seen_on_wave == pytest.approx(positions)  # the playhead went where the signal said
    assert not wave.playhead.isVisible() and not spec.playhead.isVisible()  # hidden at the end


@pytest.mark.audio_device
def test_stop_a_segment_and_play_again(qtbot, virtual_mic, views, speech):
    wave, _ = views
    ctl = PlaybackController()
    ctl.attach(wave, hide_when_stopped=False)
    playing: list[bool] = []
    ctl.playing_changed.connect(playing.append)
    assert ctl.play(speech, 0.2, 0.9)
    assert wave.playhead.value() == pytest.approx(0.2, abs=0.02)
    qtbot.waitUntil(lambda: ctl.position > 0.35, timeout=10_000)
    ctl.stop()
    assert playing == [True, False] and not ctl.is_playing
    at = ctl.position
    assert 0.35 < at < 0.9
    assert wave.playhead.isVisible() and wave.playhead.value() == pytest.approx(at)  # stays where it stopped
    ctl.stop()  # no-op
    assert playing == [True, False]

    with qtbot.waitSignal(ctl.playing_changed, timeout=10_000,
                          check_params_cb=lambda on: not on):
        assert ctl.play(speech, 0.5, 0.7)
    assert playing == [True, False, True, False]
    assert wave.playhead.value() == pytest.approx(0.7)


@pytest.mark.audio_device
def test_missing_device_emits_a_clear_error(qtbot, virtual_mic, speech):
    ctl = PlaybackController()
    ctl.device = "no such speaker"
    with qtbot.waitSignal(ctl.error, timeout=5_000) as blocker:
        assert not ctl.play(speech)
    msg = blocker.args[0]
    assert "'no such speaker' was not found" in msg and "Available output devices" in msg
    assert not ctl.is_playing

    with qtbot.waitSignal(ctl.error, timeout=5_000) as blocker:
        assert not ctl.play(speech, 2.0, 3.0)  # past the end of a 1 s clip
    assert "nothing to play" in blocker.args[0]


@pytest.fixture
def lost_virtual_mic(virtual_mic):
    """The virtual mic, whose daemon the test may kill; restarted afterwards."""
    yield virtual_mic
    virtual_mic.ensure_running()


@pytest.mark.audio_device
def test_device_lost_during_playback_emits_error(qtbot, lost_virtual_mic, views):
    wave, _ = views
    tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(10 * SAMPLE_RATE) / SAMPLE_RATE)).astype(np.float32)
    ctl = PlaybackController()
    ctl.attach(wave)
    errors: list[str] = []
    ctl.error.connect(errors.append)
    assert ctl.play(tone)
    qtbot.waitUntil(lambda: ctl.position > 0.2, timeout=10_000)
    with qtbot.waitSignal(ctl.playing_changed, timeout=10_000) as blocker:
        lost_virtual_mic.kill_daemon()
    assert blocker.args == [False] and not ctl.is_playing
    assert len(errors) == 1 and "stopped" in errors[0]
    assert not wave.playhead.isVisible()
