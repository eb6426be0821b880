"""Which map of a layered attention tensor to show: ``"average"`` or ``"layer L head H"`` (1-based)."""
from __future__ import annotations

import re

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox

AVERAGE = "average"
_HEAD = re.compile(r"layer (\d+) head (\d+)")


def view_names(layers: int, heads: int) -> list[str]:
    """Combo entries: ``"average"`` then ``"layer L head H"`` (1-based)."""
    return [AVERAGE] + [f"layer {l + 1} head {h + 1}" for l in range(layers) for h in range(heads)]


def select_map(attention: np.ndarray, view: str) -> np.ndarray:
    """``(layers, heads, rows, cols)`` → the ``(rows, cols)`` map named by ``view``.

    ``"average"`` (or an unknown or out-of-range name) averages all layers and heads.
    """
    m = _HEAD.fullmatch(view)
    if m:
        layer, head = int(m.group(1)) - 1, int(m.group(2)) - 1
        if 0 <= layer < attention.shape[0] and 0 <= head < attention.shape[1]:
            return attention[layer, head]
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
        self.addItem(AVERAGE)
        self.setEnabled(False)
        self.wanted = AVERAGE
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

    def set_shape(self, layers: int, heads: int) -> None:
        """List the views of a ``(layers, heads, …)`` map and choose the wanted one (else the average)."""
        wanted = self.wanted
        self.blockSignals(True)
        self.clear()
        self.addItems(view_names(layers, heads))
        self.blockSignals(False)
        self.setEnabled(True)
        self.set_view(wanted if self.findText(wanted) >= 0 else AVERAGE)
        self.wanted = wanted

    def _on_text(self, view: str) -> None:
        if view:
            self.wanted = view
            self.view_changed.emit(view)
