"""The encoder's self-attention: which moments of the audio each moment looks at (frames × frames).

Both axes are seconds: row = the query frame (the moment that looks),
column = the key frame (the moment looked at). A bright diagonal is local
attention; bright columns are moments every frame consults.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.widgets import style_plot
from app.widgets.head_chooser import HeadChooser, select_map
from engine.model.audio_encoder import ENCODER_FRAME_S


class SelfAttentionView(QWidget):
    """Heatmap of one Conformer self-attention map ``(frames, frames)`` with a layer/head chooser.

    Signals:
        view_changed(str): the chooser moved to ``"average"`` or ``"layer L head H"``.
    """

    view_changed = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.combo = HeadChooser("Which encoder self-attention map to show: one Conformer layer and head, "
                                 "or their average", self)
        self.combo.view_changed.connect(self._on_view)
        self.plot = pg.PlotWidget(self)
        style_plot(self.plot, "query time (s)", "key time (s)")
        self.plot.getPlotItem().setMouseEnabled(x=True, y=True)
        self.plot.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")  # image[row=query, col=key]
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.plot.addItem(self.image)
        self.cursor = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen((255, 255, 255), width=1))
        self.cursor.setVisible(False)
        self.plot.addItem(self.cursor, ignoreBounds=True)
        header = QHBoxLayout()
        header.setContentsMargins(4, 0, 4, 0)
        header.addWidget(QLabel("Encoder self-attention:"))
        header.addWidget(self.combo)
        header.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.plot, 1)
        self.attention: np.ndarray | None = None
        self.frame_shift = ENCODER_FRAME_S

    @property
    def current_view(self) -> str:
        return self.combo.current_view

    @property
    def wanted_view(self) -> str:
        """The chosen view, kept while a map without that layer/head is shown."""
        return self.combo.wanted

    @property
    def shown_map(self) -> np.ndarray | None:
        """The ``(frames, frames)`` float32 map on screen, or ``None``."""
        if self.attention is None:
            return None
        return select_map(self.attention, self.current_view).astype(np.float32)

    def set_view(self, view: str) -> None:
        """Choose ``"average"`` or ``"layer L head H"``; remembered until a map with that head arrives."""
        self.combo.set_view(view)

    def clear_attention(self) -> None:
        self.attention = None
        self.image.clear()
        self.cursor.setVisible(False)
        self.combo.setEnabled(False)

    def set_attention(self, attention: np.ndarray | None, frame_shift: float) -> None:
        """Show ``(layers, heads, frames, frames)`` weights; ``frame_shift`` in seconds."""
        if attention is None or attention.size == 0:
            self.clear_attention()
            return
        self.attention, self.frame_shift = attention, frame_shift
        self.combo.set_shape(*attention.shape[:2])
        self._draw()

    def show_time(self, seconds: float | None) -> None:
        """Mark the query row at ``seconds`` (None hides the mark)."""
        self.cursor.setVisible(seconds is not None and self.attention is not None)
        if seconds is not None:
            self.cursor.setPos(seconds)

    def _on_view(self, view: str) -> None:
        self._draw()
        self.view_changed.emit(view)

    def _draw(self) -> None:
        m = self.shown_map
        if m is None:
            return
        n = m.shape[0]
        lo, hi = float(np.percentile(m, 1)), float(np.percentile(m, 99.5))  # a few very bright cells would hide the rest
        self.image.setImage(m, levels=(lo, max(hi, lo + 1e-6)), autoLevels=False)
        span = n * self.frame_shift
        self.image.setRect(QRectF(0.0, 0.0, span, span))
        self.plot.getPlotItem().vb.setLimits(xMin=0, xMax=span, yMin=0, yMax=span)
        self.plot.setRange(xRange=(0, span), yRange=(0, span), padding=0.0)
