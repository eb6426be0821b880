"""The waveform plot: samples against time in seconds, with word timings."""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg

from app.widgets import style_plot
from engine.audio.io import SAMPLE_RATE

WAVE_PEN = pg.mkPen((120, 200, 255), width=1)
WORD_BRUSH = pg.mkBrush(255, 200, 60, 45)
WORD_PEN = pg.mkPen(255, 200, 60, 160)
MIN_LIVE_SPAN_S = 5.0
LIVE_REDRAW_S = 0.045
"""While recording, redraw at most this often (samples still arrive every ~15 ms)."""


class WaveformView(pg.PlotWidget):
    """Mono audio in [-1, 1] against time in seconds.

    :meth:`set_audio` shows a whole clip; :meth:`append` grows it while
    recording; :meth:`set_words` draws labeled word regions.
    """

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

    def append(self, chunk: np.ndarray) -> None:
        """Add ``(samples,)`` float32 16 kHz samples at the end (live recording)."""
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
        now = time.monotonic()
        if now - self._last_redraw < LIVE_REDRAW_S:
            return
        self._last_redraw = now
        self._redraw()
        self.setXRange(0.0, max(MIN_LIVE_SPAN_S, self.duration), padding=0.0)

    def zoom_to_fit(self) -> None:
        """Show the whole clip (the linked plots follow)."""
        end = max(self.duration, 0.1)
        self.getPlotItem().setLimits(xMin=-0.05 * end, xMax=1.05 * end)
        self.setXRange(0.0, end, padding=0.0)

    def set_words(self, words: list) -> None:
        """Draw ``WordTiming`` (word, start s, end s, confidence) regions with their words on top."""
        for item in self._word_items:
            self.removeItem(item)
        self._word_items = []
        for w in words:
            region = pg.LinearRegionItem((w.start, w.end), movable=False, brush=WORD_BRUSH, pen=WORD_PEN)
            region.setZValue(-10)
            label = pg.TextItem(w.word, color=(255, 220, 120), anchor=(0.5, 0.0))
            label.setPos((w.start + w.end) / 2, 1.0)
            label.setToolTip(f"{w.word}: {w.start:.2f}–{w.end:.2f} s, confidence {w.confidence:.2f}")
            for item in (region, label):
                self.addItem(item)
                self._word_items.append(item)

    def _redraw(self) -> None:
        n = self._count
        self.curve.setData(self._times[:n], self._samples[:n])
