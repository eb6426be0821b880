"""WaveformView follow mode: a long live take is drawn as its last seconds, peak-decimated."""
import numpy as np
import pytest

from app.widgets.waveform_view import WaveformView, peak_decimate
from engine.audio.io import SAMPLE_RATE, load_audio
from tests.helpers import SAMPLES


@pytest.fixture(scope="module")
def minute() -> np.ndarray:
    """60 s of real speech: the sample clips, repeated."""
    clips = np.concatenate([load_audio(p) for p in sorted(SAMPLES.glob("*.wav"))])
    return np.resize(clips, 60 * SAMPLE_RATE).astype(np.float32)


@pytest.fixture
def view(qtbot):
    v = WaveformView()
    qtbot.addWidget(v)
    v.resize(900, 240)
    v.show()
    return v


def test_follow_draws_a_bounded_number_of_points_after_a_minute(view, minute):
    view.set_follow(8.0)
    chunk = 240  # 15 ms
    points = []
    for i in range(0, len(minute), chunk):
        view.append(minute[i: i + chunk], redraw=False)
        if i % (10 * SAMPLE_RATE) == 0 and i:
            assert view.redraw_live()
            points.append(len(view.curve.getOriginalDataset()[1]))
    assert view.redraw_live() and not view.redraw_live()  # nothing new the second time
    x, y = view.curve.getOriginalDataset()
    pixels = int(view.getViewBox().width())
    points.append(len(y))
    assert max(points) <= 2 * pixels + 4  # about two points per pixel, whatever the take's length
    assert max(points) - min(points) <= 4
    assert view.duration == pytest.approx(60.0)
    assert view.viewRange()[0] == pytest.approx([52.0, 60.0])
    assert x[0] >= 52.0 - 0.01 and x[-1] <= 60.0
    last = minute[-8 * SAMPLE_RATE:]
    assert y.max() == pytest.approx(last.max()) and y.min() == pytest.approx(last.min())  # peaks survive


def test_whole_take_is_shown_again_after_recording(view, minute):
    view.set_follow(8.0)
    view.append(minute[: 12 * SAMPLE_RATE], redraw=False)
    view.redraw_live()
    assert not view.getPlotItem().getAxis("bottom").grid  # no grid while scrolling
    view.set_audio(minute[: 12 * SAMPLE_RATE])  # the studio shows the finished take
    assert len(view.curve.getOriginalDataset()[1]) == 12 * SAMPLE_RATE
    assert view.viewRange()[0] == pytest.approx([0.0, 12.0])
    assert view.getPlotItem().getAxis("bottom").grid


def test_append_without_follow_keeps_growing(view, minute):
    view.append(minute[:SAMPLE_RATE])  # the existing live behaviour: the whole take, at least 5 s wide
    assert len(view.curve.getOriginalDataset()[1]) == SAMPLE_RATE
    assert view.viewRange()[0] == pytest.approx([0.0, 5.0])


def test_peak_decimate_aligns_buckets_and_keeps_extremes():
    samples = np.sin(np.arange(10_000) / 7.0).astype(np.float32)
    samples[5123] = 0.99 + 0.01  # a one-sample peak
    x, y = peak_decimate(samples, 5000, 9999, bucket=100)
    assert len(x) == len(y) == 2 * 50
    assert x[0] * SAMPLE_RATE == pytest.approx(5000) and x[2] * SAMPLE_RATE == pytest.approx(5100)
    assert y.max() == pytest.approx(1.0) and y[2:4].max() == pytest.approx(1.0)
    x2, _ = peak_decimate(samples, 5050, 9999, bucket=100)  # same grid when the window moves
    assert x2[0] == pytest.approx(x[0])
