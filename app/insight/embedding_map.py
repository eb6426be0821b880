"""The embedding map: a pyqtgraph scatter of utterances' audio points and their transcripts' text points.

Built to stay smooth at 20k points (``benchmarks/embedding_map_fps.py``):
one :class:`pyqtgraph.ScatterPlotItem` for all audio points with shared
pens/brushes (one per colour, no outline), the nearest point under the
cursor found with a k-d tree instead of pyqtgraph's per-point hover test,
and the optional audio→text lines drawn as one ``connect="pairs"`` curve.
The scatter and the lines are cached in device coordinates
(``QGraphicsItem.DeviceCoordinateCache``): hovering repaints only the marks
over them, and panning scrolls the cached pixels and draws just the strip it
exposes, instead of drawing every point again.
The aspect ratio is locked: a 2-D projection has no preferred axis.

Signals:
    hovered(int): index of the audio point under the cursor (-1: none).
    clicked(int): index of the audio point clicked.
    activated(int): index of the audio point double-clicked.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem
from scipy.spatial import cKDTree

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#393b79", "#ad494a", "#637939", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#843c39",
           "#ce6dbd", "#6b6ecf")
"""Colours of the largest categories (tab10/tab20-like), in order; the rest are :data:`OTHER`."""
OTHER = "#b0b0b0"
HOVER_PX = 8
"""How near (screen pixels) the cursor must be to a point to hover it."""
MAX_TEXT_LABELS = 40
LEGEND_TEXT = "#202020"
"""Legend and star labels: near-black on the white map (contrast well above WCAG's 4.5:1)."""
LEGEND_ROW_PX = 22
"""Height of one legend entry at its 9 pt font, for fitting the legend into the map."""
EDGE_SHARE = 0.12
"""A star within this share of the map's width or height from an edge gets its label turned inward."""
"""Text points are labelled with their transcript when there are at most this many."""
POINT_PX = 6


class EmbeddingMap(pg.PlotWidget):
    """The scatter. Feed it with :meth:`set_points`, then :meth:`set_colours`."""

    hovered = Signal(int)
    clicked = Signal(int)
    activated = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        self.setAntialiasing(False)
        plot = self.getPlotItem()
        plot.setAspectLocked(True)
        plot.hideAxis("left")
        plot.hideAxis("bottom")
        plot.setMenuEnabled(False)
        self.audio_xy = np.zeros((0, 2), np.float32)
        self.text_xy = np.zeros((0, 2), np.float32)
        self.text_index = np.zeros(0, np.int64)
        self.texts: list[str] = []
        self.describe: Callable[[int], str] = lambda i: ""
        self._tree: cKDTree | None = None
        self._hover = -1
        self.selected = -1
        self._codes = np.zeros(0, np.int64)
        self._colours: list[str] = []

        self.lines = pg.PlotCurveItem(pen=pg.mkPen(QColor(60, 60, 60, 35), width=1), connect="pairs")
        self.lines.setZValue(-1)
        self.lines.setVisible(False)
        self.scatter = pg.ScatterPlotItem(pxMode=True, size=POINT_PX, pen=None, useCache=True)
        self.text_scatter = pg.ScatterPlotItem(pxMode=True, size=15, symbol="star", pen=pg.mkPen("#202020", width=1))
        self.text_scatter.setZValue(3)
        self.marks = pg.ScatterPlotItem(pxMode=True, size=14, pen=pg.mkPen("#000000", width=2), brush=None)
        self.marks.setZValue(4)
        self.highlights = pg.ScatterPlotItem(pxMode=True, size=10, pen=pg.mkPen("#000000", width=1), brush=None)
        self.highlights.setZValue(4)
        self.selected_line = pg.PlotCurveItem(pen=pg.mkPen("#000000", width=2, style=Qt.PenStyle.DashLine))
        self.selected_line.setZValue(2)
        self.tip = pg.TextItem("", color="#000000", fill=pg.mkBrush(255, 255, 225, 235), border=pg.mkPen("#808080"),
                               anchor=(0, 1))
        self.tip.setZValue(10)
        self.tip.setVisible(False)
        for item in (self.lines, self.scatter, self.selected_line, self.text_scatter, self.highlights, self.marks,
                     self.tip):
            plot.addItem(item)
        for item in (self.lines, self.scatter):
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._labels: list[pg.TextItem] = []
        self.legend = plot.addLegend(offset=(8, 8), labelTextSize="9pt", labelTextColor=LEGEND_TEXT,
                                     brush=pg.mkBrush(255, 255, 255, 235), pen=pg.mkPen("#8a8a8a"))
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    # -- data ----------------------------------------------------------------
    def set_points(self, audio_xy: np.ndarray, text_xy: np.ndarray, text_index: np.ndarray, texts: Sequence[str],
                   describe: Callable[[int], str] | None = None) -> None:
        """Audio points ``(n, 2)``, text points ``(m, 2)``, each audio point's text row ``(n,)`` (-1: none).

        ``describe(i)`` gives the hover text of audio point ``i``.
        """
        self.audio_xy = np.asarray(audio_xy, np.float32)
        self.text_xy = np.asarray(text_xy, np.float32)
        self.text_index = np.asarray(text_index, np.int64)
        self.texts = list(texts)
        self.describe = describe or (lambda i: "")
        self._tree = cKDTree(self.audio_xy) if len(self.audio_xy) else None
        self._hover, self.selected = -1, -1
        self.marks.setData([], [])
        self.highlights.setData([], [])
        self._highlighted = []
        self.selected_line.setData([], [])
        self.tip.setVisible(False)
        self._codes = np.zeros(len(self.audio_xy), np.int64)
        self._colours = [PALETTE[0]]
        self._update_lines()
        for label in self._labels:
            self.getPlotItem().removeItem(label)
        self._labels = []
        if len(self.texts) <= MAX_TEXT_LABELS:
            for (x, y), t in zip(self.text_xy, self.texts):
                label = pg.TextItem(t, color=LEGEND_TEXT, anchor=self._label_anchor(x, y))
                label.setPos(float(x), float(y))
                label.setZValue(5)
                self.getPlotItem().addItem(label)
                self._labels.append(label)
        self._redraw()
        self.getPlotItem().autoRange(padding=0.08)

    def _label_anchor(self, x: float, y: float) -> tuple[float, float]:
        """Where a star's label sits: above it, but inward near the map's edges so it stays inside."""
        pts = np.concatenate([self.audio_xy, self.text_xy]) if len(self.audio_xy) else self.text_xy
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        fx = (x - x0) / max(x1 - x0, 1e-9)
        fy = (y - y0) / max(y1 - y0, 1e-9)
        ax = 0.0 if fx < EDGE_SHARE else 1.0 if fx > 1 - EDGE_SHARE else 0.5
        ay = -0.3 if fy > 1 - EDGE_SHARE else 1.3  # near the top: below the star (y grows upward)
        return ax, ay

    def _fit_legend(self) -> None:
        """As many legend columns as it takes for the legend to fit in 60 % of the map's height."""
        rows, plot = len(self.legend.items), self.getPlotItem()
        if not rows or plot is None:
            return
        per_column = max(1, int(0.6 * plot.vb.height() // LEGEND_ROW_PX))
        columns = int(np.ceil(rows / per_column))
        if columns != self.legend.columnCount:
            self.legend.setColumnCount(columns)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        if "legend" in self.__dict__:  # PlotWidget resizes itself before __init__ made the legend
            self._fit_legend()

    def set_colours(self, codes: np.ndarray, names: Sequence[str], text_codes: np.ndarray | None = None) -> None:
        """Colour audio point ``i`` by category ``codes[i]`` (index into ``names``; -1 or beyond the palette: "other").

        ``text_codes`` ``(m,)`` colours the text points the same way (None: dark grey).
        """
        codes = np.asarray(codes, np.int64)
        codes = np.where((codes < 0) | (codes >= len(PALETTE)), len(PALETTE), codes)
        self._codes = codes
        self._text_codes = None if text_codes is None else np.asarray(text_codes, np.int64)
        self._colours = list(PALETTE) + [OTHER]
        self._redraw()
        self.legend.clear()
        shown = [(i, n) for i, n in enumerate(names) if i < len(PALETTE)]
        if len(names) > len(PALETTE) or (codes == len(PALETTE)).any():
            shown.append((len(PALETTE), "other"))
        for i, name in shown:
            sample = pg.ScatterPlotItem(size=8, pen=None, brush=pg.mkBrush(self._colours[i]))
            self.legend.addItem(sample, name)
        self._fit_legend()

    def _redraw(self) -> None:
        n = len(self.audio_xy)
        brushes = [pg.mkBrush(c) for c in self._colours]
        order = np.argsort(self._codes == len(PALETTE), kind="stable")[::-1]  # "other" drawn first, underneath
        self.scatter.setData(x=self.audio_xy[order, 0], y=self.audio_xy[order, 1],
                             brush=[brushes[c] for c in self._codes[order]] if n else [])
        tc = getattr(self, "_text_codes", None)
        if tc is not None and len(tc) == len(self.text_xy):
            tb = [brushes[min(int(c), len(PALETTE))] if c >= 0 else pg.mkBrush(OTHER) for c in tc]
        else:
            tb = pg.mkBrush("#404040")
        self.text_scatter.setData(x=self.text_xy[:, 0], y=self.text_xy[:, 1], brush=tb)

    def show_lines(self, on: bool) -> None:
        """Draw a line from every audio point to its transcript's text point."""
        self.lines.setVisible(on)
        self._update_lines()

    def _update_lines(self) -> None:
        if not self.lines.isVisible():
            return
        has = np.flatnonzero(self.text_index >= 0)
        if len(has) == 0:
            self.lines.setData([], [])
            return
        pairs = np.empty((2 * len(has), 2), np.float32)
        pairs[0::2] = self.audio_xy[has]
        pairs[1::2] = self.text_xy[self.text_index[has]]
        self.lines.setData(pairs[:, 0], pairs[:, 1], connect="pairs")

    # -- selection -----------------------------------------------------------
    def set_selected(self, index: int) -> None:
        """Ring audio point ``index`` and draw a dashed line to its text point (-1: clear)."""
        self.selected = index
        self._update_marks()

    def highlight(self, indices: Sequence[int]) -> None:
        """Ring these audio points too (e.g. the top search results)."""
        self._highlighted = list(indices)
        self._update_marks()

    def _update_marks(self) -> None:
        hi = [i for i in getattr(self, "_highlighted", []) if 0 <= i < len(self.audio_xy)]
        hxy = self.audio_xy[hi] if hi else np.zeros((0, 2))
        self.highlights.setData(x=hxy[:, 0], y=hxy[:, 1])
        idx, sizes = [], []
        if 0 <= self.selected < len(self.audio_xy):
            idx.append(self.selected)
            sizes.append(18)
        if 0 <= self._hover < len(self.audio_xy):
            idx.append(self._hover)
            sizes.append(14)
        xy = self.audio_xy[idx] if idx else np.zeros((0, 2))
        self.marks.setData(x=xy[:, 0], y=xy[:, 1], size=sizes)
        i = self.selected
        if 0 <= i < len(self.audio_xy) and self.text_index[i] >= 0:
            t = self.text_xy[self.text_index[i]]
            self.selected_line.setData([self.audio_xy[i, 0], t[0]], [self.audio_xy[i, 1], t[1]])
        else:
            self.selected_line.setData([], [])

    # -- mouse ---------------------------------------------------------------
    def point_at(self, scene_pos: QPointF) -> int:
        """The audio point within :data:`HOVER_PX` pixels of a scene position, or -1."""
        if self._tree is None:
            return -1
        vb = self.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(scene_pos):
            return -1
        p = vb.mapSceneToView(scene_pos)
        px = vb.viewPixelSize()[0]  # aspect locked: the same in x and y
        dist, i = self._tree.query([p.x(), p.y()], distance_upper_bound=HOVER_PX * px)
        return int(i) if np.isfinite(dist) else -1

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        i = self.point_at(scene_pos)
        if i == self._hover:
            return
        self._hover = i
        if i >= 0:
            self.tip.setText(self.describe(i))
            self.tip.setPos(float(self.audio_xy[i, 0]), float(self.audio_xy[i, 1]))
            self.tip.setVisible(True)
        else:
            self.tip.setVisible(False)
        self._update_marks()
        self.hovered.emit(i)

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        i = self.point_at(event.scenePos())
        if i < 0:
            return
        event.accept()
        if event.double():
            self.activated.emit(i)
        else:
            self.set_selected(i)
            self.clicked.emit(i)
