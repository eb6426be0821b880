"""The playback cursor shared by the studio's plots: one vertical line per plot."""
from __future__ import annotations

import pyqtgraph as pg


class PlayheadMixin:
    """Gives a :class:`pyqtgraph.PlotWidget` subclass a playback cursor.

    List it before the plot class (``class View(PlayheadMixin, pg.PlotWidget)``)
    and set :attr:`PLAYHEAD_COLOR`. The cursor is one
    :class:`pyqtgraph.InfiniteLine` at an x position in seconds, created by
    the first :meth:`set_playhead` and then only moved, shown and hidden; it
    is drawn above the plot's other items and never rescales the view.
    """

    PLAYHEAD_COLOR: tuple[int, int, int] = (255, 255, 255)
    """RGB of the cursor line (2 px wide)."""

    playhead: pg.InfiniteLine | None = None
    """The playback cursor (a vertical line), created by the first :meth:`set_playhead`."""

    def set_playhead(self, seconds: float | None) -> None:
        """Show the playback cursor at ``seconds`` (moving the one line), or hide it with None."""
        line = self.playhead
        if seconds is None:
            if line is not None:
                line.hide()
            return
        if line is None:
            line = self.playhead = pg.InfiniteLine(
                angle=90, movable=False, pen=pg.mkPen(self.PLAYHEAD_COLOR, width=2))
            line.setZValue(20)
            self.addItem(line, ignoreBounds=True)
        line.setPos(float(seconds))
        line.show()
