"""LiveFeed: samples in, StreamingLogMel columns out, redraws on its own timer."""
import numpy as np
import pytest
from PySide6.QtCore import QObject, Signal

from app.widgets.live_feed import LiveFeed
from app.widgets.live_spectrogram import LiveSpectrogramView
from app.widgets.waveform_view import WaveformView
from engine.audio.features import log_mel_db
from engine.audio.io import SAMPLE_RATE, load_audio
from tests.helpers import SAMPLES


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return np.concatenate([load_audio(SAMPLES / n) for n in ("sc_yes_03401e93.wav", "sc_no_03401e93.wav",
                                                              "sc_up_03401e93.wav")])


@pytest.fixture
def feed(qtbot):
    wave, spec = WaveformView(), LiveSpectrogramView()
    for v in (wave, spec):
        qtbot.addWidget(v)
        v.resize(900, 240)
        v.show()
    wave.set_follow(spec.span_s)
    f = LiveFeed(wave, spec)
    yield f
    f.timer.stop()


def test_push_only_stores_and_the_timer_redraws(qtbot, feed, speech):
    feed.start()
    assert feed.running and feed.frames_drawn == 0
    for i in range(0, 4800, 240):  # 20 chunks at once, faster than the 15 ms tick
        feed.push(speech[i: i + 240])
    assert feed.spectrogram.dirty and feed.frames_drawn == 0  # nothing drawn by push
    assert feed.spectrogram.image.image is None
    qtbot.waitUntil(lambda: feed.frames_drawn >= 1, timeout=2000)
    assert feed.frames_drawn == 1  # one redraw for all the chunks that arrived before the tick
    assert not feed.spectrogram.dirty and feed.spectrogram.image.image.shape[0] == feed.spectrogram.count
    qtbot.wait(100)
    assert feed.frames_drawn == 1  # no new samples: no redraw


def test_feeding_in_real_time_redraws_on_ticks_and_finishes_with_the_whole_take(qtbot, feed, speech):
    feed.start()
    chunk = 240
    pos = 0

    def more():
        nonlocal pos
        feed.push(speech[pos: pos + chunk])
        pos += chunk
        return pos >= len(speech)

    for _ in range(0, len(speech), chunk * 10):  # 150 ms at a time, with the event loop running in between
        for _ in range(10):
            more()
        qtbot.wait(20)
    drawn = feed.frames_drawn
    assert drawn >= len(speech) // (chunk * 10) // 2  # about one tick per 20 ms wait, allowing for a busy machine
    assert len(feed.draw_log) == drawn and all(took >= 0 for _, took in feed.draw_log)
    feed.finish()
    assert not feed.running
    spec = feed.spectrogram
    expected = log_mel_db(speech)  # 3 s < 8 s: every column is on screen
    assert spec.count == len(expected)
    np.testing.assert_allclose(spec.image.image, expected, atol=0.01, rtol=0)
    assert feed.waveform.duration == pytest.approx(len(speech) / SAMPLE_RATE)


def test_attach_follows_a_recorder(qtbot, feed, speech):
    class FakeRecorder(QObject):  # the two RecorderController signals the feed uses
        recording_changed = Signal(bool)
        samples_arrived = Signal(object)

    rec = FakeRecorder()
    feed.attach(rec)
    rec.recording_changed.emit(True)
    assert feed.running
    rec.samples_arrived.emit(speech[:8000])
    qtbot.waitUntil(lambda: feed.frames_drawn >= 1, timeout=2000)
    rec.recording_changed.emit(False)
    assert not feed.running and feed.spectrogram.count == 8000 // 160 + 1


def test_both_views_scroll_to_the_last_sample(qtbot, feed, speech):
    take = np.resize(speech, 12 * SAMPLE_RATE + 123)
    feed.start()
    for i in range(0, len(take), 4800):
        feed.push(take[i: i + 4800])
    qtbot.waitUntil(lambda: feed.frames_drawn >= 1, timeout=2000)
    end = len(take) / SAMPLE_RATE
    for view in (feed.waveform, feed.spectrogram):
        assert view.viewRange()[0] == pytest.approx([end - 8.0, end])
    assert feed.spectrogram.visible().shape == (800, 80)
