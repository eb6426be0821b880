"""Which map of a layered attention tensor to show: ``"average"``, ``"alignment heads"`` (the average of
the model's marked heads, e.g. Whisper's alignment heads) or ``"layer L head H"`` (1-based)."""
from __future__ import annotations

import re

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QComboBox

AVERAGE = "average"
ALIGNMENT = "alignment heads"
"""The average of the marked heads (Whisper's alignment heads: the ones whose attention follows the speech)."""
MARKED_COLOR = QColor(255, 200, 80)
_HEAD = re.compile(r"layer (\d+) head (\d+)")


def view_names(layers: int, heads: int, marked: tuple | list = ()) -> list[str]:
    """Combo entries: ``"average"``, ``"alignment heads"`` if any heads are ``marked``, then
    ``"layer L head H"`` (1-based)."""
    return ([AVERAGE] + ([ALIGNMENT] if marked else [])
            + [f"layer {l + 1} head {h + 1}" for l in range(layers) for h in range(heads)])


def select_map(attention: np.ndarray, view: str, marked: tuple | list = ()) -> np.ndarray:
    """``(layers, heads, rows, cols)`` → the ``(rows, cols)`` map named by ``view``.

    ``"alignment heads"`` averages the ``marked`` ``(layer, head)`` pairs (0-based); ``"average"``
    (or an unknown or out-of-range name, or no marked heads) averages all layers and heads.
    """
    m = _HEAD.fullmatch(view)
    if m:
        layer, head = int(m.group(1)) - 1, int(m.group(2)) - 1
        if 0 <= layer < attention.shape[0] and 0 <= head < attention.shape[1]:
            return attention[layer, head]
    if view == ALIGNMENT:
        heads = [(la, h) for la, h in marked if la < attention.shape[0] and h < attention.shape[1]]
        if heads:
            return np.mean([attention[la, h] for la, h in heads], axis=0)
    return attention.mean(axis=(0, 1))


class HeadChooser(QComboBox):
    """A combo box listing the average and every layer/head of the map shown.

    The wanted choice (``wanted``, e.g. restored from settings) is kept while
    maps with fewer layers or heads are shown, and chosen again once a map has it.

    Signals:
        view_changed(str): the user (or :meth:`set_view`) chose another map.
    """

    view_changed = Signal(str)

    def __init__(self, tooltip: str, parent=None) -> None:
        super().__init__(parent)
        self.setToolTip(tooltip)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # "alignment heads" fits
        self.addItem(AVERAGE)
        self.setEnabled(False)
        self.wanted = AVERAGE
        self.marked: list[tuple[int, int]] = []
        """The marked ``(layer, head)`` pairs of the map shown (0-based)."""
        self.currentTextChanged.connect(self._on_text)

    @property
    def current_view(self) -> str:
        return self.currentText()

    def set_view(self, view: str) -> None:
        """Choose ``view``; remembered until a map with that layer and head arrives."""
        self.wanted = view
        index = self.findText(view)
        if index >= 0:
            self.setCurrentIndex(index)

    def set_shape(self, layers: int, heads: int, marked: tuple | list = ()) -> None:
        """List the views of a ``(layers, heads, …)`` map and choose the wanted one (else the average).

        ``marked``: ``(layer, head)`` pairs (0-based) written bold and amber with a tooltip, and their
        average offered as ``"alignment heads"``."""
        wanted = self.wanted
        self.blockSignals(True)
        self.clear()
        self.addItems(view_names(layers, heads, marked))
        bold = QFont(self.font())
        bold.setBold(True)
        for layer, head in marked:
            index = self.findText(f"layer {layer + 1} head {head + 1}")
            if index >= 0:
                self.setItemData(index, bold, Qt.ItemDataRole.FontRole)
                self.setItemData(index, QBrush(MARKED_COLOR), Qt.ItemDataRole.ForegroundRole)
                self.setItemData(index, "an alignment head: its attention follows the speech",
                                 Qt.ItemDataRole.ToolTipRole)
        if marked:
            index = self.findText(ALIGNMENT)
            self.setItemData(index, bold, Qt.ItemDataRole.FontRole)
            self.setItemData(index, QBrush(MARKED_COLOR), Qt.ItemDataRole.ForegroundRole)
            self.setItemData(index, "the average of the alignment heads (marked in amber), "
                             "whose attention follows the speech; word times come from them",
                             Qt.ItemDataRole.ToolTipRole)
        self.marked = [tuple(x) for x in marked]
        self.blockSignals(False)
        self.setEnabled(True)
        self.set_view(wanted if self.findText(wanted) >= 0 else AVERAGE)
        self.wanted = wanted

    def _on_text(self, view: str) -> None:
        if view:
            self.wanted = view
            self.view_changed.emit(view)
