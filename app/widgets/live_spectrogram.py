"""The live log-mel spectrogram: the last few seconds of a take, scrolling while recording."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from app.widgets import style_plot
from app.widgets.spectrogram_view import LEVELS_DB, mel_ticks
from engine.audio.features import FRAME_SHIFT_S, N_MELS

LIVE_SPAN_S = 8.0
"""Seconds of the take shown by default."""


class LiveSpectrogramView(pg.PlotWidget):
    """The newest ``span_s`` seconds of a live ``(frames, 80)`` dB spectrogram (10 ms per frame).

    Columns go to a preallocated ``(2N, 80)`` buffer (``N`` = columns shown),
    column ``k`` of the take at rows ``k mod N`` and ``k mod N + N``, so the
    visible window, oldest to newest, is always the contiguous slice
    ``[count mod N, count mod N + N)`` handed to the one
    :class:`pyqtgraph.ImageItem`: no copies and no growth however long the
    take. Until the first ``N`` columns have arrived the image grows from the
    left edge; then it scrolls, the newest column at the right. The x axis
    shows seconds of the take; levels and kHz ticks are those of
    :class:`app.widgets.spectrogram_view.SpectrogramView`.

    :meth:`append_frames` only writes the buffer when ``redraw=False`` (a
    driver such as :class:`app.widgets.live_feed.LiveFeed` then calls
    :meth:`redraw` at its own rate); :meth:`redraw` is a no-op when nothing
    changed.
    """

    def __init__(self, parent=None, span_s: float = LIVE_SPAN_S, n_mels: int = N_MELS) -> None:
        super().__init__(parent)
        style_plot(self, "kHz", x_label=None)
        self.getPlotItem().showGrid(x=False, y=False)  # re-rendering a scrolling grid costs ~5 ms per frame
        self.getPlotItem().setMouseEnabled(x=False, y=False)  # it follows the take; panning would be undone
        self.columns = max(1, int(round(span_s / FRAME_SHIFT_S)))
        """Columns shown (N): ``span_s / 0.01``."""
        self.span_s = self.columns * FRAME_SHIFT_S
        self.n_mels = n_mels
        self.buffer = np.full((2 * self.columns, n_mels), LEVELS_DB[0], dtype=np.float32)
        """The ``(2N, n_mels)`` double buffer; its size never changes."""
        self.count = 0
        """Columns appended since the last :meth:`clear` (the take's length in frames)."""
        self._dirty = False
        # PlotWidget.__init__ binds an instance attribute ``clear`` to PlotItem.clear, which would
        # remove the image item itself; here ``clear()`` forgets the take instead.
        self.clear = self.clear_frames
        self.image = pg.ImageItem(axisOrder="col-major")  # image[x=frame, y=mel]
        self.image.setColorMap(pg.colormap.get("inferno"))
        self.image.setLevels(LEVELS_DB)
        self.addItem(self.image)
        self.getPlotItem().disableAutoRange()
        self.setYRange(0, n_mels, padding=0.0)
        self.getAxis("left").setTicks(mel_ticks(n_mels))
        self.setXRange(0.0, self.span_s, padding=0.0)

    @property
    def duration(self) -> float:
        """Seconds of the take so far."""
        return self.count * FRAME_SHIFT_S

    @property
    def dirty(self) -> bool:
        """Frames were appended since the last :meth:`redraw`."""
        return self._dirty

    def visible(self) -> np.ndarray:
        """The shown columns, oldest first: a ``(min(count, N), n_mels)`` view into :attr:`buffer`."""
        n = self.columns
        if self.count < n:
            return self.buffer[: self.count]
        start = self.count % n
        return self.buffer[start: start + n]

    def clear_frames(self) -> None:
        """Forget the take (the buffer is kept, filled with the floor level). Also called as ``clear()``."""
        self.buffer.fill(LEVELS_DB[0])
        self.count = 0
        self._dirty = False
        self.image.clear()
        self.setXRange(0.0, self.span_s, padding=0.0)

    def append_frames(self, frames_db: np.ndarray, redraw: bool = True) -> None:
        """Add ``(frames, n_mels)`` dB columns at the right; with ``redraw=False`` only write the buffer."""
        frames = np.asarray(frames_db, dtype=np.float32).reshape(-1, self.n_mels)
        k = len(frames)
        if k:
            n = self.columns
            if k > n:  # only the newest N can be seen
                frames = frames[-n:]
            start = (self.count + k - len(frames)) % n
            m = len(frames)
            first = min(m, n - start)  # up to the buffer's middle, then wrap to its start
            for dst in (start, start + n):
                self.buffer[dst: dst + first] = frames[:first]
            if first < m:
                rest = m - first
                self.buffer[:rest] = frames[first:]
                self.buffer[n: n + rest] = frames[first:]
            self.count += k
            self._dirty = True
        if redraw:
            self.redraw()

    def redraw(self, end_s: float | None = None) -> bool:
        """Show the newest columns and scroll the x axis to them; False if nothing changed.

        ``end_s``: the x range's right edge in seconds of the take (default: the
        newest column's end). A driver showing other views of the take on the
        same (linked) time axis passes the time of its last sample, so the
        views agree on one range instead of nudging each other twice per frame.
        """
        if not self._dirty:
            return False
        self._dirty = False
        shown = self.visible()
        end = self.duration
        start = end - len(shown) * FRAME_SHIFT_S
        self.image.setImage(shown, levels=LEVELS_DB, autoLevels=False)
        self.image.setRect(QRectF(start, 0.0, end - start, float(self.n_mels)))
        left = max(0.0, (end if end_s is None else end_s) - self.span_s)
        self.setXRange(left, left + self.span_s, padding=0.0)
        self.getViewBox().updateMatrix()  # now, not while painting (which would schedule a second paint)
        return True
