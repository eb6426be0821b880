"""The labeling view's filter bar: text search, status, speaker, split, "weakest first".

:class:`FilterBar` turns its controls into an
:class:`~engine.data.query.UtteranceFilter` and emits it when it changes.
Typing in the search field is debounced (:data:`SEARCH_DELAY_MS`), so a
100k-row table is re-queried once per pause, not once per key.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QSizePolicy, QWidget

from engine.data.query import SPLITS, STATUSES, UtteranceFilter

SEARCH_DELAY_MS = 200
ANY = "any"


class FilterBar(QWidget):
    """Search and filter controls above the utterance table.

    Signals:
        filter_changed(UtteranceFilter): the user changed a criterion (after
            the search delay for typing).
        leave_down(): Enter or Down in the search field: go to the table.
    """

    filter_changed = Signal(object)
    leave_down = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search transcripts…")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(100)
        self.status_box = self._combo("Status", [ANY, *STATUSES])
        self.speaker_box = self._combo("Speaker", [ANY])
        self.split_box = self._combo("Split", [ANY, *SPLITS])
        self.weakest = QCheckBox("Weakest first")
        self.weakest.setToolTip("Show the utterances the model is least confident about first")
        self.count_label = QLabel()
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.count_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the window

        self._timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._timer.timeout.connect(self._emit)
        self.search.textChanged.connect(lambda _t: self._timer.start())
        self.search.returnPressed.connect(self._search_done)
        for box in (self.status_box, self.speaker_box, self.split_box):
            box.currentIndexChanged.connect(lambda _i: self._emit())
        self.weakest.toggled.connect(lambda _on: self._emit())
        self.search.installEventFilter(self)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search, 2)
        for label, box in (("Status", self.status_box), ("Speaker", self.speaker_box), ("Split", self.split_box)):
            layout.addWidget(QLabel(label))
            layout.addWidget(box)
        layout.addWidget(self.weakest)
        layout.addWidget(self.count_label, 1)
        self._last = self.filter()

    @staticmethod
    def _combo(name: str, items: list[str]) -> QComboBox:
        box = QComboBox()
        box.addItems(items)
        box.setToolTip(f"Show only utterances of this {name.lower()}")
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(4)
        return box

    def filter(self) -> UtteranceFilter:
        """The criteria shown now."""

        def chosen(box: QComboBox) -> str | None:
            return None if box.currentIndex() <= 0 else box.currentText()

        return UtteranceFilter(text=self.search.text().strip() or None, status=chosen(self.status_box),
                               speaker=chosen(self.speaker_box), split=chosen(self.split_box),
                               low_confidence_first=self.weakest.isChecked())

    def set_speakers(self, names: list[str]) -> None:
        """The speaker names to choose from (the chosen one stays chosen if still there)."""
        current = self.speaker_box.currentText() if self.speaker_box.currentIndex() > 0 else None
        self.speaker_box.blockSignals(True)
        self.speaker_box.clear()
        self.speaker_box.addItems([ANY, *names])
        index = self.speaker_box.findText(current) if current else 0
        self.speaker_box.setCurrentIndex(max(index, 0))
        self.speaker_box.blockSignals(False)
        if current and index < 0:
            self._emit()

    def reset(self) -> None:
        """Back to "everything" (e.g. for another project), without emitting."""
        for w in (self.search, self.status_box, self.speaker_box, self.split_box, self.weakest):
            w.blockSignals(True)
        self.search.clear()
        for box in (self.status_box, self.speaker_box, self.split_box):
            box.setCurrentIndex(0)
        self.weakest.setChecked(False)
        for w in (self.search, self.status_box, self.speaker_box, self.split_box, self.weakest):
            w.blockSignals(False)
        self._timer.stop()
        self._last = self.filter()

    def set_count(self, shown: int, total: int) -> None:
        noun = "utterance" if total == 1 else "utterances"
        self.count_label.setText(f"{shown:,} {noun}" if shown == total else f"{shown:,} of {total:,} {noun}")

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def flush(self) -> None:
        """Apply pending typing now (instead of after the delay)."""
        if self._timer.isActive():
            self._timer.stop()
            self._emit()

    def _search_done(self) -> None:
        self.flush()
        self.leave_down.emit()

    def eventFilter(self, watched, event) -> bool:
        if watched is self.search and event.type() == event.Type.KeyPress \
                and event.key() == Qt.Key.Key_Down and not event.modifiers():
            self._search_done()
            return True
        return False

    def _emit(self) -> None:
        self._timer.stop()
        f = self.filter()
        if f != self._last:
            self._last = f
            self.filter_changed.emit(f)
