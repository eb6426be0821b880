"""The layer/head chooser keeps the wanted view across maps of other shapes."""
from __future__ import annotations

import numpy as np

from app.widgets.head_chooser import AVERAGE, HeadChooser, select_map, view_names


def test_wanted_view_survives_a_smaller_map_and_returns(qtbot):
    chooser = HeadChooser("tip")
    qtbot.addWidget(chooser)
    assert not chooser.isEnabled() and chooser.current_view == AVERAGE
    chooser.set_shape(2, 4)
    with qtbot.waitSignal(chooser.view_changed) as seen:
        chooser.set_view("layer 2 head 3")
    assert seen.args == ["layer 2 head 3"] and chooser.count() == 1 + 8
    chooser.set_shape(1, 2)  # that head is missing: the average shows, the wish is kept
    assert chooser.current_view == AVERAGE and chooser.wanted == "layer 2 head 3"
    chooser.set_shape(2, 4)
    assert chooser.current_view == "layer 2 head 3"


def test_select_map_picks_one_head_or_averages():
    att = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    assert view_names(1, 2) == [AVERAGE, "layer 1 head 1", "layer 1 head 2"]
    assert np.array_equal(select_map(att, "layer 2 head 3"), att[1, 2])
    assert np.allclose(select_map(att, AVERAGE), att.mean(axis=(0, 1)))
    assert np.allclose(select_map(att, "layer 9 head 1"), att.mean(axis=(0, 1)))  # out of range: the average
