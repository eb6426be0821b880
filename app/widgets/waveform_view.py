"""The waveform plot: samples against time in seconds, with word timings."""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg

from app.widgets import style_plot
from app.widgets.playhead import PlayheadMixin
from engine.audio.io import SAMPLE_RATE

WAVE_PEN = pg.mkPen((120, 200, 255), width=1)
WORD_BRUSH = pg.mkBrush(255, 200, 60, 45)
WORD_PEN = pg.mkPen(255, 200, 60, 160)
MIN_LIVE_SPAN_S = 5.0
LIVE_REDRAW_S = 0.045
"""While recording, redraw at most this often (samples still arrive every ~15 ms)."""
FOLLOW_SPAN_S = 8.0
"""Seconds shown in follow mode (see :meth:`WaveformView.set_follow`)."""
MIN_FOLLOW_PIXELS = 200


def peak_decimate(samples: np.ndarray, start: int, end: int, bucket: int) -> tuple[np.ndarray, np.ndarray]:
    """Min/max of ``samples[start:end]`` per ``bucket`` samples, as a polyline in seconds.

    Buckets are aligned to multiples of ``bucket`` in sample index (the first
    one may begin before ``start``, the last one may be partial), so a
    scrolling view keeps each bucket's shape from redraw to redraw. Returns
    ``(x, y)`` with two points per bucket, its min then its max, both at the
    bucket's start time.
    """
    first = (start // bucket) * bucket
    full = first + ((end - first) // bucket) * bucket
    body = samples[first:full].reshape(-1, bucket)
    m = len(body) + (full < end)
    y = np.empty(2 * m, dtype=np.float32)
    y[0: 2 * len(body): 2] = body.min(axis=1)
    y[1: 2 * len(body): 2] = body.max(axis=1)
    if full < end:
        y[-2], y[-1] = samples[full:end].min(), samples[full:end].max()
    x = np.repeat((first + bucket * np.arange(m, dtype=np.float64)) / SAMPLE_RATE, 2)
    return x, y


class WaveformView(PlayheadMixin, pg.PlotWidget):
    """Mono audio in [-1, 1] against time in seconds.

    :meth:`set_audio` shows a whole clip; :meth:`append` grows it while
    recording; :meth:`set_words` draws labeled word regions.

    Follow mode (:meth:`set_follow`, for live recording) shows only the last
    ``follow_s`` seconds, scrolling, and draws only that span peak-decimated
    to about two points per pixel, so a redraw costs the same however long
    the take. A driver that sets its own redraw rate appends with
    ``redraw=False`` and calls :meth:`redraw_live`.
    """

    PLAYHEAD_COLOR = (255, 90, 90)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        style_plot(self, "amplitude", x_label=None)
        self.setYRange(-1.0, 1.0, padding=0.02)
        self.curve = self.plot(pen=WAVE_PEN)
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self._samples = np.zeros(0, dtype=np.float32)
        self._times = np.zeros(0, dtype=np.float64)
        self._count = 0
        self._last_redraw = 0.0
        self._word_items: list = []
        self.word_labels: list[pg.TextItem] = []
        """The word labels, in time order (:meth:`_layout_labels` hides those that would overlap)."""
        self.getPlotItem().vb.sigXRangeChanged.connect(lambda *_: self._layout_labels())
        self.follow_s: float | None = None
        """Seconds shown while following a live take; None = show the whole take."""
        self._live_dirty = False
        self._live_look = False

    @property
    def samples(self) -> np.ndarray:
        """``(samples,)`` float32 at 16 kHz currently shown."""
        return self._samples[: self._count]

    @property
    def duration(self) -> float:
        """Seconds of audio shown."""
        return self._count / SAMPLE_RATE

    def clear_audio(self) -> None:
        self._samples = np.zeros(0, dtype=np.float32)
        self._times = np.zeros(0, dtype=np.float64)
        self._count = 0
        self.curve.setData([], [])
        self.set_words([])

    def set_audio(self, audio: np.ndarray) -> None:
        """Show ``(samples,)`` float32 16 kHz audio and zoom to all of it."""
        self._samples = np.asarray(audio, dtype=np.float32).copy()
        self._count = len(self._samples)
        self._times = np.arange(self._count, dtype=np.float64) / SAMPLE_RATE
        self.set_words([])
        self._redraw()
        self.zoom_to_fit()

    def set_follow(self, seconds: float | None = FOLLOW_SPAN_S) -> None:
        """Follow live takes showing the last ``seconds`` (None: show the whole take, the default)."""
        self.follow_s = None if seconds is None else float(seconds)
        self._live_dirty = self._count > 0

    def append(self, chunk: np.ndarray, redraw: bool = True) -> None:
        """Add ``(samples,)`` float32 16 kHz samples at the end (live recording).

        With ``redraw=False`` only store them; :meth:`redraw_live` draws.
        """
        if len(chunk) == 0:
            return
        need = self._count + len(chunk)
        if need > len(self._samples):  # grow geometrically: amortized O(1) per sample
            grown = np.zeros(max(need, 2 * len(self._samples), SAMPLE_RATE), dtype=np.float32)
            grown[: self._count] = self._samples[: self._count]
            self._samples = grown
            self._times = np.arange(len(grown), dtype=np.float64) / SAMPLE_RATE
        self._samples[self._count: need] = chunk
        self._count = need
        self._live_dirty = True
        if not redraw:
            return
        now = time.monotonic()
        if now - self._last_redraw < LIVE_REDRAW_S:
            return
        self._last_redraw = now
        if self.follow_s is not None:
            self.redraw_live()
            return
        self._live_dirty = False
        self._redraw()
        self.setXRange(0.0, max(MIN_LIVE_SPAN_S, self.duration), padding=0.0)

    def redraw_live(self) -> bool:
        """Draw appended samples, if any: the last ``follow_s`` s in follow mode, else all; False if none."""
        if not self._live_dirty:
            return False
        self._live_dirty = False
        if not self._live_look:
            self._set_live_look(True)
        if self.follow_s is None:
            self._redraw()
            self.setXRange(0.0, max(MIN_LIVE_SPAN_S, self.duration), padding=0.0)
            return True
        span = int(round(self.follow_s * SAMPLE_RATE))
        end = self._count
        start = max(0, end - span)
        pixels = max(MIN_FOLLOW_PIXELS, int(self.getViewBox().width()))
        bucket = -(-span // pixels)  # two points (min, max) per pixel
        if bucket <= 2:
            self.curve.setData(self._times[start:end], self._samples[start:end])
        else:
            self.curve.setData(*peak_decimate(self._samples, start, end, bucket))
        left = max(0.0, end / SAMPLE_RATE - self.follow_s)
        self.setXRange(left, left + self.follow_s, padding=0.0)
        self.getViewBox().updateMatrix()  # now, not while painting (which would schedule a second paint)
        return True

    def _set_live_look(self, live: bool) -> None:
        """While drawing a live take: no pan limits (zoom_to_fit's are the previous clip's) and, in
        follow mode, no grid (re-rendering the scrolling grid costs ~5 ms per frame); back to normal
        in :meth:`zoom_to_fit` (which :meth:`set_audio` calls)."""
        self._live_look = live
        item = self.getPlotItem()
        if live:
            item.setLimits(xMin=None, xMax=None)
        item.showGrid(x=not (live and self.follow_s is not None), y=False, alpha=0.15)

    def zoom_to_fit(self) -> None:
        """Show the whole clip (the linked plots follow)."""
        end = max(self.duration, 0.1)
        if self._live_look:
            self._set_live_look(False)
        self.getPlotItem().setLimits(xMin=-0.05 * end, xMax=1.05 * end)
        self.setXRange(0.0, end, padding=0.0)

    def set_words(self, words: list) -> None:
        """Draw ``WordTiming`` (word, start s, end s, confidence) regions with their words on top."""
        for item in self._word_items:
            self.removeItem(item)
        self._word_items, self.word_labels = [], []
        for w in sorted(words, key=lambda w: w.start):
            region = pg.LinearRegionItem((w.start, w.end), movable=False, brush=WORD_BRUSH, pen=WORD_PEN)
            region.setZValue(-10)
            label = pg.TextItem(w.word, color=(255, 220, 120), anchor=(0.5, 0.0))
            label.setPos((w.start + w.end) / 2, 1.0)
            label.setToolTip(f"{w.word}: {w.start:.2f}–{w.end:.2f} s, confidence {w.confidence:.2f}")
            for item in (region, label):
                self.addItem(item)
                self._word_items.append(item)
            self.word_labels.append(label)
        self._layout_labels()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._layout_labels()

    def _layout_labels(self) -> None:
        """Show a word label only where it does not overlap the last one shown (at this zoom, in pixels);
        the hidden ones keep their region and tooltip, and come back when zoomed in."""
        labels = getattr(self, "word_labels", None)  # resizeEvent comes during PlotWidget.__init__ too
        item = self.getPlotItem()  # and after close (no plot item then)
        if not labels or item is None:
            return
        vb = item.vb
        right = -float("inf")
        for label in labels:
            width = label.textItem.boundingRect().width()
            centre = vb.mapViewToScene(pg.QtCore.QPointF(label.pos().x(), 0.0)).x()
            left = centre - width / 2
            show = left >= right + 4
            label.setVisible(show)
            if show:
                right = centre + width / 2

    def _redraw(self) -> None:
        n = self._count
        self.curve.setData(self._times[:n], self._samples[:n])
