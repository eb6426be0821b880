"""LiveSpectrogramView: a fixed double buffer, newest columns at the right, the take's seconds on x."""
import numpy as np
import pytest

from app.widgets.live_spectrogram import LiveSpectrogramView
from app.widgets.spectrogram_view import LEVELS_DB, SpectrogramView
from engine.audio.features import FRAME_SHIFT_S, N_MELS, log_mel_db
from engine.audio.io import load_audio
from tests.helpers import SAMPLES


def numbered(first: int, count: int) -> np.ndarray:
    """``count`` frames whose every bin holds the frame's index (so each column is recognizable)."""
    return np.repeat(np.arange(first, first + count, dtype=np.float32)[:, None], N_MELS, axis=1)


@pytest.fixture
def view(qtbot):
    v = LiveSpectrogramView(span_s=8.0)
    qtbot.addWidget(v)
    v.resize(900, 240)
    v.show()
    return v


def image_rect(v):
    return v.image.mapRectToParent(v.image.boundingRect())


def test_grows_from_the_left_then_scrolls_with_the_newest_columns_at_the_right(view):
    assert view.columns == 800
    buffer, nbytes = view.buffer, view.buffer.nbytes
    view.append_frames(numbered(0, 300))
    assert view.image.image.shape == (300, N_MELS)
    assert view.viewRange()[0] == pytest.approx([0.0, 8.0])
    assert image_rect(view).left() == pytest.approx(0.0) and image_rect(view).right() == pytest.approx(3.0)

    total = 300
    for size in (1, 7, 160, 333, 1, 950, 42):  # 1794 frames: past one buffer length, one chunk longer than N
        view.append_frames(numbered(total, size))
        total += size
        shown = view.image.image
        assert shown.shape == (min(total, 800), N_MELS)
        np.testing.assert_array_equal(shown[:, 0], np.arange(total - len(shown), total))  # oldest … newest
    assert view.buffer is buffer and view.buffer.nbytes == nbytes and buffer.shape == (1600, N_MELS)
    assert view.count == total and view.duration == pytest.approx(total * FRAME_SHIFT_S)
    left, right = view.viewRange()[0]
    assert right == pytest.approx(total * FRAME_SHIFT_S) and right - left == pytest.approx(8.0)
    rect = image_rect(view)
    assert rect.right() == pytest.approx(right) and rect.left() == pytest.approx(left)


def test_real_speech_uses_the_studio_levels_and_ticks(view):
    features = log_mel_db(load_audio(SAMPLES / "sc_yes_03401e93.wav"))
    for _ in range(10):  # 10 s of columns
        view.append_frames(features)
    assert tuple(view.image.levels) == LEVELS_DB
    np.testing.assert_array_equal(view.image.image[-len(features):], features)
    studio = SpectrogramView()
    assert view.getAxis("left")._tickLevels == studio.getAxis("left")._tickLevels
    studio.deleteLater()


def test_deferred_redraw_and_clear(view):
    view.append_frames(numbered(0, 50))
    view.append_frames(numbered(50, 10), redraw=False)
    assert view.dirty and view.image.image.shape[0] == 50
    assert view.redraw() and not view.dirty and view.image.image.shape[0] == 60
    assert not view.redraw()  # nothing new
    view.clear()  # forgets the take, keeps the image item (PlotWidget.clear would remove it)
    assert view.count == 0 and view.image in view.getPlotItem().items
    assert (view.buffer == LEVELS_DB[0]).all()
    view.append_frames(numbered(0, 5))
    assert view.image.image.shape == (5, N_MELS) and image_rect(view).left() == pytest.approx(0.0)
