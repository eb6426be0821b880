"""The cross-attention heatmap: decoder tokens × encoder frames on the shared time axis.

Hovering a row highlights it and reports its index (``token_hovered``);
clicking a row reports it (``token_clicked``), e.g. to play what that token
attended to.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.widgets import style_plot
from app.widgets.head_chooser import HeadChooser, select_map
from engine.model.audio_encoder import ENCODER_FRAME_S

PLACEHOLDER = "cross-attention appears after Transcribe"
"""What the empty view says."""
NO_MAPS = "no attention maps here for this model: Insight → Attention & alignment shows them"
"""What it says with a model whose transcriptions come without maps, before and after each (a Whisper
model: ``Recognition.attention`` is None; its attention comes from its weights in torch, on the Insight tab)."""
LABEL_PX = 15
"""Row labels of the attention map are at least this many pixels apart (one line of the axis font)."""


def token_label(token: str) -> str:
    """How a token is written on the y axis (a space is shown as ␣)."""
    return "␣" if token == " " else token


class AttentionView(QWidget):
    """Heatmap of one cross-attention map with a layer/head chooser.

    Colours span the shown map's own minimum to maximum weight over the
    encoded frames (attention spread over many frames is faint, so fixed
    0–1 levels would hide it).

    Row ``t`` is the ``t``-th decoded token (first at the top); column ``i``
    spans ``[i·frame_shift, (i+1)·frame_shift)`` seconds, so the plot lines
    up with the waveform and spectrogram when X-linked.

    Signals:
        view_changed(str): the chooser moved to ``"average"`` or ``"layer L head H"``.
        token_hovered(int): the mouse is over row ``t`` (-1: over no row).
        token_clicked(int): row ``t`` was clicked.
    """

    view_changed = Signal(str)
    token_hovered = Signal(int)
    token_clicked = Signal(int)

    def __init__(self, parent=None, title: str = "Cross-attention:") -> None:
        super().__init__(parent)
        self.combo = HeadChooser("Which cross-attention map to show: one decoder layer and head, or their average",
                                 self)
        self.combo.view_changed.connect(self._on_view)
        self.plot = pg.PlotWidget(self)
        style_plot(self.plot, "token")
        self.plot.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")  # image[row=token, col=frame]
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.plot.addItem(self.image)
        self.idle_message = PLACEHOLDER
        """What the empty view says: :data:`PLACEHOLDER`, or :data:`NO_MAPS` (:meth:`set_model_has_maps`)."""
        self.placeholder = pg.TextItem(PLACEHOLDER, color=(150, 150, 150))
        self.plot.addItem(self.placeholder)
        self.highlight = pg.QtWidgets.QGraphicsRectItem()
        self.highlight.setPen(pg.mkPen((255, 255, 255), width=1.5))
        self.highlight.setBrush(pg.mkBrush(255, 255, 255, 30))
        self.highlight.setZValue(10)
        self.highlight.setVisible(False)
        self.plot.addItem(self.highlight, ignoreBounds=True)
        self.hovered = -1
        """The row under the mouse, or -1."""
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.plot.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.plot.getPlotItem().vb.sigResized.connect(self._on_resized)

        self.header = QHBoxLayout()
        header = self.header
        header.setContentsMargins(4, 0, 4, 0)
        header.addWidget(QLabel(title))
        header.addWidget(self.combo)
        header.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.plot, 1)

        self.attention: np.ndarray | None = None
        self.tokens: list[str] = []
        self.rows = None
        self.scale_rows = False
        """Colour each row over its own minimum … maximum (a few very bright frames, e.g. the first, then hide nothing)."""
        self.frame_shift = ENCODER_FRAME_S
        self.plot.getAxis("left").setTicks([[]])  # no rows yet: no meaningless numbers on the token axis

    @property
    def current_view(self) -> str:
        return self.combo.current_view

    @property
    def wanted_view(self) -> str:
        """The chosen view, kept while a map without that layer/head is shown."""
        return self.combo.wanted

    def set_view(self, view: str) -> None:
        """Choose ``"average"`` or ``"layer L head H"``; remembered until a map with that head arrives."""
        self.combo.set_view(view)

    def set_model_has_maps(self, has_maps: bool) -> None:
        """Whether the model in use returns attention maps with its transcriptions; without (Whisper's
        CTranslate2), the empty view says where its maps are from the start, not after a transcription."""
        self.idle_message = PLACEHOLDER if has_maps else NO_MAPS
        if self.attention is None:
            self.clear_attention()

    def clear_attention(self, message: str | None = None) -> None:
        """No map; ``message`` (default :attr:`idle_message`) in its place."""
        message = self.idle_message if message is None else message
        self.attention, self.tokens = None, []
        self._set_hovered(-1)
        self.image.clear()
        self.plot.getAxis("left").setTicks([[]])
        self.placeholder.setText(message)
        self.placeholder.setVisible(True)

    def set_attention(self, attention: np.ndarray | None, tokens: list[str], frame_shift: float,
                      marked: tuple | list = ()) -> None:
        """Show ``(layers, heads, tokens, frames)`` weights; ``tokens`` label the rows; ``frame_shift`` in s;
        ``marked``: ``(layer, head)`` pairs (0-based) the chooser marks and offers averaged (Whisper's
        alignment heads). ``attention`` None: the transcription came without maps (Whisper's, from
        CTranslate2), and the view says so."""
        if attention is None:
            self.clear_attention(NO_MAPS)
            return
        if attention.size == 0:
            self.clear_attention()
            return
        self.attention, self.tokens, self.frame_shift = attention, list(tokens), frame_shift
        self._set_hovered(-1)
        self.combo.set_shape(*attention.shape[:2], marked=marked)
        self.placeholder.setVisible(False)
        self._draw()

    @property
    def shown_map(self) -> np.ndarray | None:
        """The ``(tokens, frames)`` map on screen, or ``None``."""
        if self.attention is None:
            return None
        m = select_map(self.attention, self.current_view, self.combo.marked)
        return m if self.rows is None else self.rows(m, self.tokens)[0]

    @property
    def row_labels(self) -> list[str]:
        """The labels of the rows on screen."""
        if self.rows is None or self.attention is None:
            return self.tokens
        return self.rows(self.attention[0, 0], self.tokens)[1]

    def set_rows(self, rows) -> None:
        """Show other rows: ``rows(map (tokens, frames), tokens) -> (map (rows, frames), labels)``, or None for tokens."""
        self.rows = rows
        self.redraw()

    def row_at(self, scene_pos) -> int:
        """The row under a scene position, or -1."""
        m = self.shown_map
        if m is None or not self.plot.sceneBoundingRect().contains(scene_pos):
            return -1
        point = self.plot.getPlotItem().vb.mapSceneToView(scene_pos)
        row = int(np.floor(point.y()))
        inside = 0 <= point.x() <= m.shape[1] * self.frame_shift
        return row if inside and 0 <= row < m.shape[0] else -1

    def _set_hovered(self, row: int) -> None:
        if row == self.hovered:
            return
        self.hovered = row
        m = self.shown_map
        if row >= 0 and m is not None:
            self.highlight.setRect(QRectF(QPointF(0.0, row), QPointF(m.shape[1] * self.frame_shift, row + 1.0)))
            self.highlight.setVisible(True)
        else:
            self.highlight.setVisible(False)
        self.token_hovered.emit(row)

    def _on_mouse_moved(self, scene_pos) -> None:
        self._set_hovered(self.row_at(scene_pos))

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        row = self.row_at(event.scenePos())
        if row >= 0:
            self.token_clicked.emit(row)

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._set_hovered(-1)
        super().leaveEvent(event)

    def set_scale_rows(self, on: bool) -> None:
        """Colour each row over its own range (True) or the whole map over one range (False)."""
        self.scale_rows = bool(on)
        self.redraw()

    def redraw(self) -> None:
        """Draw the current map again."""
        self._set_hovered(-1)
        self._draw()

    def _on_view(self, view: str) -> None:
        self._draw()
        self.view_changed.emit(view)

    def _draw(self) -> None:
        m = self.shown_map
        if m is None:
            return
        n_tokens, n_frames = m.shape
        if self.scale_rows:
            lo_r, hi_r = m.min(axis=1, keepdims=True), m.max(axis=1, keepdims=True)
            m = (m - lo_r) / np.maximum(hi_r - lo_r, 1e-9)
        used = m[:, m.sum(axis=0) > 0]  # columns past the encoder's last frame are all zero
        lo, hi = (float(used.min()), float(used.max())) if used.size else (0.0, 1.0)
        self.image.setImage(m, levels=(lo, max(hi, lo + 1e-6)), autoLevels=False)  # stretch: weights are small
        self.image.setRect(QRectF(0.0, 0.0, n_frames * self.frame_shift, float(n_tokens)))
        self.plot.setYRange(0, n_tokens, padding=0.0)
        self._label_rows()

    def label_step(self) -> int:
        """Label every n-th row so that labels are at least :data:`LABEL_PX` apart on screen."""
        n = len(self.row_labels)
        fit = max(1, int(self.plot.getPlotItem().vb.height() // LABEL_PX))
        return max(1, int(np.ceil(n / fit)))

    def _label_rows(self) -> None:
        """Row labels on the left axis, thinned to what the plot's height can show without overlap."""
        ticks = [(i + 0.5, token_label(t)) for i, t in enumerate(self.row_labels)]
        self.plot.getAxis("left").setTicks([ticks[::self.label_step()]])

    def _on_resized(self, *_) -> None:
        if self.shown_map is not None:
            self._label_rows()
