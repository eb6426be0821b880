"""Plot and meter widgets of the studio.

All plots share one look (pyqtgraph's dark background) and one left-axis
width, so their time axes line up when stacked and X-linked.
"""
from __future__ import annotations

import pyqtgraph as pg

AXIS_WIDTH = 64
"""Pixels reserved for every plot's left axis, so stacked plots align."""


def style_plot(plot: pg.PlotWidget, y_label: str, x_label: str | None = "time (s)") -> None:
    """Common setup: fixed left-axis width, seconds on x, zoom/pan on x only, no autoscale buttons."""
    item = plot.getPlotItem()
    item.hideButtons()
    item.setMenuEnabled(False)
    left = item.getAxis("left")
    left.setWidth(AXIS_WIDTH)
    left.setLabel(y_label)
    bottom = item.getAxis("bottom")
    if x_label:
        bottom.setLabel(x_label)
    for axis in (left, bottom):
        axis.enableAutoSIPrefix(False)  # keep plain seconds, never "(x0.001)"
    item.setMouseEnabled(x=True, y=False)
    item.showGrid(x=True, y=False, alpha=0.15)
    plot.setMinimumHeight(110)
