"""The labeling view's table of utterances: one row per utterance, sorted by the store.

:class:`UtteranceTable` shows an :class:`~app.labeling.table_model.UtteranceTableModel`
(fetched lazily, so 100 000 rows scroll smoothly), one row selected at a time.
Sorting is the store's (a click on a header asks for it; columns the store
cannot sort by keep the previous order), and selecting a row from code does not
count as the user's choice (:meth:`UtteranceTable.select`).
"""
from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from app.labeling.table_model import Column, UtteranceTableModel

COLUMN_WIDTHS = {Column.ID: 64, Column.TIMES: 110, Column.DURATION: 70, Column.STATUS: 80,
                 Column.SPEAKER: 100, Column.SPLIT: 60, Column.CONFIDENCE: 80,
                 Column.MISLABEL: 75}
"""Initial column widths in pixels (the transcript column takes the rest)."""


class UtteranceTable(QTableView):
    """The table of ``model``'s utterances: whole rows (Shift/Ctrl-click select several for the bulk
    actions of its context menu; the current row is the one edited), no in-place editing.

    Attributes:
        sort_indicator: the ``(column, order)`` the table is sorted by now.
    """

    def __init__(self, model: UtteranceTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTabKeyNavigation(False)
        self.verticalHeader().hide()
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(int(Column.TRANSCRIPT), QHeaderView.ResizeMode.Stretch)
        for column, width in COLUMN_WIDTHS.items():
            self.setColumnWidth(int(column), width)
        header.setSectionsClickable(True)  # sorting is the view's (see sort_requested), not QTableView's
        header.setSortIndicatorShown(True)
        header.setSortIndicator(int(Column.ID), Qt.SortOrder.AscendingOrder)
        self.sort_indicator: tuple[int, Qt.SortOrder] = (int(Column.ID), Qt.SortOrder.AscendingOrder)

    def select(self, row: int) -> None:
        """Select ``row`` (-1: nothing) and scroll it into view. The selection model's
        ``currentRowChanged`` is emitted: callers that move the selection themselves ignore it."""
        sm = self.selectionModel()
        if row < 0:
            sm.clearSelection()
            sm.setCurrentIndex(QModelIndex(), QItemSelectionModel.SelectionFlag.Clear)
        else:
            index = self.model().index(row, 0)
            sm.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                               | QItemSelectionModel.SelectionFlag.Rows)
            self.scrollTo(index, QAbstractItemView.ScrollHint.EnsureVisible)

    def restore_sort_indicator(self) -> None:
        """Show :attr:`sort_indicator` again on the header (a sort was refused), without a signal."""
        header = self.horizontalHeader()
        header.blockSignals(True)
        header.setSortIndicator(*self.sort_indicator)
        header.blockSignals(False)
