"""The input level meter: dBFS scale, peak hold, clip lamp, and its look without an input device."""
from __future__ import annotations

import math

import numpy as np
import pytest

from app.widgets import level_meter
from app.widgets.level_meter import FLOOR_DB, LevelMeter


@pytest.fixture
def meter(qtbot):
    m = LevelMeter()
    qtbot.addWidget(m)
    m.resize(300, 24)
    m.show()
    qtbot.waitExposed(m)
    return m


def pixels(m: LevelMeter) -> np.ndarray:
    image = m.grab().toImage()
    return np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.width(), 4)[..., :3].astype(int)


@pytest.mark.parametrize("dbfs, position", [(-math.inf, 0.0), (FLOOR_DB - 10, 0.0), (FLOOR_DB, 0.0),
                                            (-30.0, 0.5), (0.0, 1.0), (6.0, 1.0)])
def test_dbfs_maps_onto_the_bar(dbfs, position):
    assert LevelMeter.fraction(dbfs) == pytest.approx(position)


def test_peak_holds_and_clip_lamp_lights_until_reset(meter, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(level_meter.time, "monotonic", lambda: clock[0])
    meter.set_level(-6.0)
    meter.set_level(-20.0)
    assert meter.level_db == -20.0 and meter.peak_db == -6.0  # the peak is held...
    clock[0] += level_meter.PEAK_HOLD_S + 0.1
    meter.set_level(-20.0)
    assert meter.peak_db == -20.0  # ... for PEAK_HOLD_S
    meter.set_level(-0.1, clipped=True)
    assert meter.clipping
    clock[0] += level_meter.CLIP_HOLD_S + 0.1
    assert not meter.clipping
    meter.set_level(-0.1, clipped=True)
    meter.mousePressEvent(None)  # a click resets the lamp
    assert not meter.clipping
    meter.set_level(-math.nan)
    assert meter.level_db == -math.inf


def test_the_bar_fills_with_the_level(meter):
    meter.set_level(-math.inf)
    empty = pixels(meter)
    meter.set_level(-30.0)  # half way: green up to the middle of the bar
    half = pixels(meter)
    row = half.shape[0] // 2
    green = (half[row, :, 1] > 150) & (half[row, :, 0] < 120)
    assert green.sum() > 50 and not ((empty[row, :, 1] > 150) & (empty[row, :, 0] < 120)).any()


def test_without_an_input_device_it_is_greyed_out_not_a_black_bar(meter):
    meter.set_level(-12.0)
    enabled = pixels(meter)
    meter.setEnabled(False)
    disabled = pixels(meter)
    row = enabled.shape[0] // 2
    bar = slice(5, 150)
    assert enabled[row, bar].mean() < 140  # dark bar (partly green)
    assert disabled[row, bar].min() > 150  # light grey, like the window around it
    assert (np.abs(np.diff(disabled[row, bar], axis=0)) == 0).all()  # empty: no level drawn
