"""The training curves' axes: errors from 0 %, one point not stranded in the middle of nothing."""
from __future__ import annotations

from app.training.curves import TrainingCurves


def test_a_single_validation_point_is_shown_from_zero_percent(qtbot):
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.add_epoch(1, loss=2.5, wer=0.25, cer=0.10)
    (x0, x1), (y0, y1) = curves.error_plot.getPlotItem().viewRange()
    assert y0 == 0 and 27.5 <= y1 <= 30  # was centred on 25 %: 24.6 … 25.4
    assert x0 <= 0 and x1 >= 2  # epoch 1 with room around it, not x 0.6 … 1.4
    curves.add_epoch(2, loss=1.5, wer=0.6, cer=0.3)
    assert curves.error_plot.getPlotItem().viewRange()[1] == [0, 66.0]


def test_an_empty_plot_has_a_sensible_range(qtbot):
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.clear(per_step=True)
    (y0, y1) = curves.error_plot.getPlotItem().viewRange()[1]
    assert (y0, y1) == (0, 10.0)
