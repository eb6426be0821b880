"""The plots of the labeling editor: one utterance in its recording, with draggable boundaries.

:class:`SegmentPlots` stacks a :class:`~app.widgets.waveform_view.WaveformView`
and a :class:`~app.widgets.spectrogram_view.SpectrogramView` on one time axis
in seconds *into the recording*. It draws only a window of the recording
around what is on screen (so a one-hour recording costs what a few seconds
do) and redraws when the view is panned or zoomed out of that window.

* The segment is a :class:`pyqtgraph.LinearRegionItem` on the waveform
  (mirrored on the spectrogram): dragging a boundary, or the whole region,
  emits :attr:`SegmentPlots.bounds_edited` once, on release.
* The cursor (a dashed line) marks where a split goes: a click in either plot
  puts it there, dragging moves it, and playback moves it along (it stays
  where playback stopped). The mouse pointer over a plot counts as well:
  :meth:`SegmentPlots.split_point` takes whichever of the two moved last.
* The playhead (:class:`~app.widgets.playhead.PlayheadMixin`) follows playback.
"""
from __future__ import annotations

import itertools

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from app.labeling.audio_cache import RecordingAudio
from app.widgets.spectrogram_view import SpectrogramView
from app.widgets.waveform_view import WaveformView
from engine.audio.features import FRAME_SHIFT_S, N_MELS
from engine.audio.io import SAMPLE_RATE

MIN_SEGMENT_S = 0.02
"""Shortest segment a drag may leave."""
MIN_CONTEXT_S = 0.3
CONTEXT_FRACTION = 0.25
"""Shown around a segment: this fraction of its length on each side, at least :data:`MIN_CONTEXT_S`."""
MAX_WINDOW_S = 300.0
"""Longest stretch of audio drawn at once (a wider view draws only what is visible)."""
KEEP_WINDOW_S = 60.0
"""A drawn window up to this long is kept while zooming in (the spectrogram is sharp up to 120 s)."""
REDRAW_MS = 60

REGION_BRUSH = pg.mkBrush(90, 200, 120, 45)
REGION_HOVER_BRUSH = pg.mkBrush(90, 200, 120, 80)
REGION_PEN = pg.mkPen(90, 220, 130, 220, width=2)
CURSOR_PEN = pg.mkPen((255, 220, 80), width=1, style=Qt.PenStyle.DashLine)

_clock = itertools.count(1)


def context_range(start: float, end: float, duration: float) -> tuple[float, float]:
    """The x range showing ``start``–``end`` with some context, within ``0``…``duration``."""
    pad = max(MIN_CONTEXT_S, CONTEXT_FRACTION * (end - start))
    return max(0.0, start - pad), min(max(duration, end), end + pad)


class SegmentPlots(QWidget):
    """Waveform and log-mel spectrogram of a recording around one segment.

    Signals:
        bounds_edited(float, float): the user dragged the segment to
            ``start``, ``end`` seconds (emitted on release, once per drag).
        cursor_moved(float): the split cursor moved (seconds).
    """

    bounds_edited = Signal(float, float)
    cursor_moved = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.waveform = WaveformView()
        self.spectrogram = SpectrogramView()
        self.spectrogram.setXLink(self.waveform)
        self.waveform.getPlotItem().setMouseEnabled(x=True, y=False)
        self.data: RecordingAudio | None = None
        self.window: tuple[float, float] | None = None
        """Seconds of the recording drawn now."""
        self._setting = False

        self.region = pg.LinearRegionItem((0.0, 1.0), movable=True, brush=REGION_BRUSH, pen=REGION_PEN,
                                          hoverBrush=REGION_HOVER_BRUSH, swapMode="block")
        self.region.setZValue(10)
        self.region.setToolTip("The segment: drag its edges (or all of it) to move its boundaries")
        self.region_mirror = pg.LinearRegionItem((0.0, 1.0), movable=False, brush=REGION_BRUSH, pen=REGION_PEN)
        self.region_mirror.setZValue(10)
        self.cursor_line = pg.InfiniteLine(0.0, angle=90, movable=True, pen=CURSOR_PEN)
        self.cursor_line.setZValue(15)
        self.cursor_line.setToolTip("Split point (click a plot to move it)")
        self.cursor_mirror = pg.InfiniteLine(0.0, angle=90, movable=False, pen=CURSOR_PEN)
        self.cursor_mirror.setZValue(15)
        for item, plot in ((self.region, self.waveform), (self.cursor_line, self.waveform),
                           (self.region_mirror, self.spectrogram), (self.cursor_mirror, self.spectrogram)):
            plot.addItem(item, ignoreBounds=True)
            item.hide()
        self.cursor_s: float | None = None
        """Where the split cursor is (seconds), or None."""
        self.hover_s: float | None = None
        """Where the mouse pointer is over a plot (seconds), or None."""
        self._cursor_stamp = 0
        self._hover_stamp = 0

        self.region.sigRegionChanged.connect(self._mirror_region)
        self.region.sigRegionChangeFinished.connect(self._region_finished)
        self.cursor_line.sigPositionChanged.connect(lambda line: self._set_cursor(line.value(), from_line=True))
        for plot in (self.waveform, self.spectrogram):
            plot.scene().sigMouseClicked.connect(lambda ev, p=plot: self._clicked(p, ev))
            plot.scene().sigMouseMoved.connect(lambda pos, p=plot: self._hovered(p, pos))
            plot.installEventFilter(self)
        self._redraw_timer = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._redraw_timer.timeout.connect(self._redraw_if_needed)
        self.waveform.getViewBox().sigXRangeChanged.connect(lambda *_: self._redraw_timer.start())

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.waveform)
        splitter.addWidget(self.spectrogram)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    # -- content ---------------------------------------------------------------------
    def clear(self) -> None:
        """Show nothing."""
        self.data = None
        self.window = None
        self.waveform.curve.setData([], [])
        self.spectrogram.clear_features()
        for item in (self.region, self.region_mirror, self.cursor_line, self.cursor_mirror):
            item.hide()
        self.set_playhead(None)
        self.cursor_s = self.hover_s = None

    def show_segment(self, data: RecordingAudio, start: float, end: float, zoom: bool = True) -> None:
        """Show ``start``–``end`` seconds of the recording ``data``.

        Args:
            zoom: frame the segment with some context; False keeps the view
                (after a small change of the same segment) unless the segment
                left it.
        """
        new_recording = data is not self.data
        if new_recording:
            self.data = data
            self.window = None
            self.cursor_s = self.hover_s = None
            self.cursor_line.hide()
            self.cursor_mirror.hide()
            duration = data.duration
            self.waveform.getPlotItem().setLimits(xMin=-0.02 * duration, xMax=1.02 * duration)
            for region in (self.region, self.region_mirror):
                region.setBounds((0.0, duration))
        self._setting = True
        try:
            self.region.setRegion((start, end))
        finally:
            self._setting = False
        self._mirror_region()
        for item in (self.region, self.region_mirror):
            item.show()
        v0, v1 = self.waveform.getViewBox().viewRange()[0]
        if zoom or new_recording or start < v0 or end > v1:
            t0, t1 = context_range(start, end, data.duration)
            self.waveform.setXRange(t0, t1, padding=0.0)
        self._redraw_if_needed()

    @property
    def segment(self) -> tuple[float, float]:
        """The region's ``(start, end)`` seconds as drawn."""
        a, b = self.region.getRegion()
        return float(a), float(b)

    def visible_range(self) -> tuple[float, float]:
        """The x range on screen (seconds)."""
        a, b = self.waveform.getViewBox().viewRange()[0]
        return float(a), float(b)

    # -- cursor and playhead -------------------------------------------------------
    def set_cursor(self, seconds: float | None) -> None:
        """Put the split cursor at ``seconds`` (None hides it)."""
        self._set_cursor(seconds)

    def set_playhead(self, seconds: float | None) -> None:
        self.waveform.set_playhead(seconds)
        self.spectrogram.set_playhead(seconds)

    def split_point(self) -> float | None:
        """Where a split goes: the cursor or the mouse pointer, whichever moved last (None: neither)."""
        if self.hover_s is not None and self._hover_stamp > self._cursor_stamp:
            return self.hover_s
        return self.cursor_s

    def _set_cursor(self, seconds: float | None, from_line: bool = False) -> None:
        if seconds is None:
            self.cursor_s = None
            self.cursor_line.hide()
            self.cursor_mirror.hide()
            return
        self.cursor_s = float(seconds)
        self._cursor_stamp = next(_clock)
        if not from_line:
            self.cursor_line.blockSignals(True)
            self.cursor_line.setValue(self.cursor_s)
            self.cursor_line.blockSignals(False)
        self.cursor_mirror.setValue(self.cursor_s)
        self.cursor_line.show()
        self.cursor_mirror.show()
        self.cursor_moved.emit(self.cursor_s)

    def _inside(self, plot: pg.PlotWidget, scene_pos) -> float | None:
        vb = plot.getViewBox()
        if self.data is None or not vb.sceneBoundingRect().contains(scene_pos):
            return None
        return float(vb.mapSceneToView(scene_pos).x())

    def _clicked(self, plot: pg.PlotWidget, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        x = self._inside(plot, event.scenePos())
        if x is not None:
            self._set_cursor(min(max(x, 0.0), self.data.duration))

    def _hovered(self, plot: pg.PlotWidget, scene_pos) -> None:
        x = self._inside(plot, scene_pos)
        self.hover_s = x
        if x is not None:
            self._hover_stamp = next(_clock)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Leave:
            self.hover_s = None
        return False

    # -- region --------------------------------------------------------------------
    def _mirror_region(self, *_args) -> None:
        self.region_mirror.setRegion(self.region.getRegion())

    def _region_finished(self, *_args) -> None:
        if self._setting or self.data is None:
            return
        start, end = self.segment
        self.bounds_edited.emit(start, end)

    # -- drawing -------------------------------------------------------------------
    def _redraw_if_needed(self) -> None:
        if self.data is None:
            return
        v0, v1 = self.visible_range()
        duration = self.data.duration
        v0, v1 = max(0.0, v0), min(duration, v1)
        if v1 <= v0:
            return
        if self.window is not None and self.window[0] <= v0 and v1 <= self.window[1] \
                and (self.window[1] - self.window[0]) <= max(3 * (v1 - v0), KEEP_WINDOW_S):
            return
        span = v1 - v0
        if span * 2 <= MAX_WINDOW_S:
            t0, t1 = max(0.0, v0 - span / 2), min(duration, v1 + span / 2)
        else:
            t0, t1 = v0, v1
        self._draw(t0, t1)

    def _draw(self, t0: float, t1: float) -> None:
        audio = self.data.audio
        a, b = int(t0 * SAMPLE_RATE), min(len(audio), int(np.ceil(t1 * SAMPLE_RATE)) + 1)
        self.waveform.curve.setData(np.arange(a, b, dtype=np.float64) / SAMPLE_RATE, audio[a:b])
        first, frames = self.data.features(t0, t1)
        self.spectrogram.set_features(frames)
        self.spectrogram.image.setRect(QRectF(first, 0.0, len(frames) * FRAME_SHIFT_S, float(N_MELS)))
        self.window = (t0, t1)
