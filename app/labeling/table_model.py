"""The utterance table: a lazy Qt model over a project's utterances.

:class:`UtteranceTableModel` never holds all rows. ``rowCount`` is
:meth:`~engine.data.store.Project.count` of the current filter (one query); a
row's data comes from a cache of pages of :data:`PAGE_SIZE` rows keyed by
``row // page_size``, each read with one ``Project.fetch(filter, order_by,
offset, limit)`` when first painted. At most :data:`MAX_PAGES` pages are
kept (least recently used ones are dropped), so a 100k-row project scrolls
(also straight to its end) at the cost of one page query per newly shown
page, a few milliseconds.

Sorting maps columns to keys of :data:`engine.data.query.ORDER_BY` (the
store's whitelist); this module never builds SQL. Errors of the store
(a locked or closed project) never raise out of ``data()``: the cell shows
"…" and :attr:`UtteranceTableModel.fetch_failed` carries the message.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from enum import IntEnum

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor

from engine.data.errors import ProjectError
from engine.data.query import ORDER_BY, UtteranceFilter, UtteranceRow

log = logging.getLogger("sayso.labeling")

PAGE_SIZE = 200
"""Rows read per query."""
MAX_PAGES = 64
"""Pages kept in memory (64 × 200 = 12,800 rows)."""
SEARCH_PAGES = 8
"""Pages on each side of a hint that :meth:`UtteranceTableModel.row_of` reads in other orders than by id."""


class Column(IntEnum):
    """The table's columns."""

    ID = 0
    TIMES = 1
    DURATION = 2
    TRANSCRIPT = 3
    STATUS = 4
    SPEAKER = 5
    SPLIT = 6
    CONFIDENCE = 7
    MISLABEL = 8


HEADERS = {
    Column.ID: "#",
    Column.TIMES: "start–end (s)",
    Column.DURATION: "duration",
    Column.TRANSCRIPT: "transcript",
    Column.STATUS: "status",
    Column.SPEAKER: "speaker",
    Column.SPLIT: "split",
    Column.CONFIDENCE: "confidence",
    Column.MISLABEL: "mislabel?",
}
SORT_KEYS: dict[Column, str] = {
    Column.ID: "id",
    Column.TIMES: "start",
    Column.DURATION: "duration",
    Column.TRANSCRIPT: "transcript",
    Column.STATUS: "status",
    Column.CONFIDENCE: "confidence",
    Column.MISLABEL: "mislabel_score",
}
"""Sortable columns → keys of the store's ``ORDER_BY`` whitelist (speaker and split are not sortable)."""
assert set(SORT_KEYS.values()) <= set(ORDER_BY)

STATUS_COLORS = {"unlabeled": QColor(150, 150, 150), "draft": QColor(214, 150, 0), "verified": QColor(46, 160, 67)}
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_NUMERIC = {Column.ID, Column.TIMES, Column.DURATION, Column.CONFIDENCE, Column.MISLABEL}
LOADING = "…"


def cell_text(row: UtteranceRow, column: Column) -> str:
    """What a cell shows."""
    if column == Column.ID:
        return str(row.id)
    if column == Column.TIMES:
        return f"{row.start:.2f}–{row.end:.2f}"
    if column == Column.DURATION:
        return f"{row.duration:.2f}"
    if column == Column.TRANSCRIPT:
        return row.text
    if column == Column.STATUS:
        return row.status
    if column == Column.SPEAKER:
        return row.speaker or ""
    if column == Column.SPLIT:
        return row.split or ""
    if column == Column.CONFIDENCE:
        return "" if row.confidence is None else f"{row.confidence:.2f}"
    if column == Column.MISLABEL:
        return "" if row.mislabel_score is None else f"{row.mislabel_score:.2f}"
    return ""


class UtteranceTableModel(QAbstractTableModel):
    """The utterances of a project matching a filter, in a sort order, read lazily by pages.

    Args:
        project: the :class:`~engine.data.store.Project`, or None (an empty table).
        page_size: rows per query.
        parent: the QObject parent.

    Signals:
        fetch_failed(str): reading a page (or the count) failed; a message for the user.

    ``data(index, UtteranceRole)`` gives the row's :class:`UtteranceRow`.
    """

    fetch_failed = Signal(str)
    UtteranceRole = int(Qt.ItemDataRole.UserRole) + 1

    def __init__(self, project=None, page_size: int = PAGE_SIZE, parent=None) -> None:
        super().__init__(parent)
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        self.page_size = page_size
        self.max_pages = MAX_PAGES
        self._project = project
        self._filter = UtteranceFilter()
        self._order_by = "id"
        self._descending = False
        self._count = 0
        self._pages: OrderedDict[int, list[UtteranceRow]] = OrderedDict()
        self.pages_fetched = 0
        """Page queries made so far (for tests and benchmarks)."""
        self._recount()

    # -- configuration -----------------------------------------------------------
    @property
    def project(self):
        return self._project

    def set_project(self, project) -> None:
        """Show another project (or None): everything is read anew."""
        self.beginResetModel()
        self._project = project
        self._pages.clear()
        self._recount()
        self.endResetModel()

    @property
    def filter(self) -> UtteranceFilter:
        return self._filter

    def set_filter(self, f: UtteranceFilter | None) -> None:
        """Show only the utterances matching ``f`` (None: all). Resets the model."""
        f = f or UtteranceFilter()
        if f == self._filter:
            return
        self.beginResetModel()
        self._filter = f
        self._pages.clear()
        self._recount()
        self.endResetModel()

    @property
    def order_by(self) -> str:
        """The current sort key of the store's ``ORDER_BY``."""
        return self._order_by

    @property
    def descending(self) -> bool:
        return self._descending

    def set_order(self, order_by: str, descending: bool = False) -> None:
        """Sort by a key of the store's ``ORDER_BY`` whitelist.

        Raises:
            ValueError: ``order_by`` is not whitelisted.
        """
        if order_by not in ORDER_BY:
            raise ValueError(f"cannot sort by {order_by!r}; choose one of {', '.join(ORDER_BY)}")
        if (order_by, bool(descending)) == (self._order_by, self._descending):
            return
        self.layoutAboutToBeChanged.emit()
        self._order_by, self._descending = order_by, bool(descending)
        self._pages.clear()
        self._clear_persistent()
        self.layoutChanged.emit()

    @staticmethod
    def is_sortable(column: int) -> bool:
        return column in SORT_KEYS

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Qt's sort request: mapped to the store's whitelist; unsortable columns are ignored."""
        try:
            key = SORT_KEYS[Column(column)]
        except (KeyError, ValueError):
            return
        self.set_order(key, order == Qt.SortOrder.DescendingOrder)

    def refresh(self) -> None:
        """Read everything again after an edit (or a change by another program).

        When the number of rows is unchanged, the layout is updated in place so
        a view keeps its selection and scroll position (on the same row
        numbers); otherwise the model is reset. Either way the caller
        re-selects its utterance with :meth:`row_of`.
        """
        old = self._count
        new = self._read_count()
        if new == old:
            self.layoutAboutToBeChanged.emit()
            self._pages.clear()
            self.layoutChanged.emit()
            if new:
                self.dataChanged.emit(self.index(0, 0), self.index(new - 1, len(Column) - 1))
        else:
            self.beginResetModel()
            self._pages.clear()
            self._count = new
            self.endResetModel()

    # -- Qt model API --------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(Column):
                return HEADERS[Column(section)]
            if role == Qt.ItemDataRole.ToolTipRole and 0 <= section < len(Column):
                return "Click to sort" if section in SORT_KEYS else "Not sortable"
        elif role == Qt.ItemDataRole.DisplayRole:
            return str(section + 1)
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        column = Column(index.column())
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column in _NUMERIC else None
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole,
                        Qt.ItemDataRole.ForegroundRole, self.UtteranceRole):
            return None
        row = self.utterance(index.row())
        if role == self.UtteranceRole:
            return row
        if row is None:
            return LOADING if role == Qt.ItemDataRole.DisplayRole else None
        if role == Qt.ItemDataRole.ForegroundRole:
            return STATUS_COLORS.get(row.status) if column == Column.STATUS else None
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == Column.TRANSCRIPT:
                return row.text or "(no transcript yet)"
            if column == Column.TIMES:
                return f"{row.start:.3f}–{row.end:.3f} s of recording {row.recording_id}"
            return None
        return cell_text(row, column)

    # -- rows ------------------------------------------------------------------------
    def utterance(self, row: int) -> UtteranceRow | None:
        """The utterance shown on ``row`` (its page is read if needed); None outside the table
        or when the page cannot be read."""
        if not 0 <= row < self._count:
            return None
        page = self._page(row // self.page_size)
        if page is None:
            return None
        i = row % self.page_size
        return page[i] if i < len(page) else None

    def cached_rows(self) -> int:
        """Rows held in memory now."""
        return sum(len(p) for p in self._pages.values())

    def row_of(self, utterance_id: int, hint: int = -1) -> int:
        """The row showing ``utterance_id``, or -1 if it is not (or no longer) in the table.

        Looks in the pages in memory first. Sorted by id, a binary search
        over the table (one tiny query per step) finds any row; in other
        orders only :data:`SEARCH_PAGES` pages on each side of ``hint`` (a row
        where it was last seen) are read.
        """
        if self._project is None or self._count == 0:
            return -1
        for number, page in self._pages.items():
            for i, r in enumerate(page):
                if r.id == utterance_id:
                    return number * self.page_size + i
        if self._order_by == "id" and not self._filter.low_confidence_first:
            return self._bisect(utterance_id)
        if hint < 0:
            hint = 0
        center = min(hint, self._count - 1) // self.page_size
        last = (self._count - 1) // self.page_size
        for distance in range(1, SEARCH_PAGES + 1) if center in self._pages else range(SEARCH_PAGES + 1):
            for number in {center - distance, center + distance}:
                if 0 <= number <= last and number not in self._pages:
                    page = self._page(number)
                    for i, r in enumerate(page or ()):
                        if r.id == utterance_id:
                            return number * self.page_size + i
        return -1

    # -- reading -------------------------------------------------------------------
    def _bisect(self, utterance_id: int) -> int:
        lo, hi = 0, self._count  # rows [lo, hi) may hold it; ids rise (or fall) with the row
        sign = -1 if self._descending else 1
        while lo < hi:
            mid = (lo + hi) // 2
            row = self._one(mid)
            if row is None:
                return -1
            if row.id == utterance_id:
                return mid
            if sign * row.id < sign * utterance_id:
                lo = mid + 1
            else:
                hi = mid
        return -1

    def _one(self, row: int) -> UtteranceRow | None:
        page = self._pages.get(row // self.page_size)
        if page is not None:
            i = row % self.page_size
            return page[i] if i < len(page) else None
        try:
            rows = self._project.fetch(self._filter, self._order_by, row, 1, self._descending)
        except ProjectError as exc:
            self.fetch_failed.emit(str(exc))
            return None
        return rows[0] if rows else None

    def _page(self, number: int) -> list[UtteranceRow] | None:
        page = self._pages.get(number)
        if page is not None:
            self._pages.move_to_end(number)
            return page
        if self._project is None:
            return None
        try:
            page = self._project.fetch(self._filter, self._order_by, number * self.page_size, self.page_size,
                                       self._descending)
        except ProjectError as exc:
            log.warning("cannot read page %d: %s", number, exc)
            self.fetch_failed.emit(str(exc))
            return None
        self.pages_fetched += 1
        self._pages[number] = page
        while len(self._pages) > self.max_pages:
            self._pages.popitem(last=False)
        return page

    def _read_count(self) -> int:
        if self._project is None:
            return 0
        try:
            return self._project.count(self._filter)
        except ProjectError as exc:
            self.fetch_failed.emit(str(exc))
            return 0

    def _recount(self) -> None:
        self._count = self._read_count()

    def _clear_persistent(self) -> None:
        """Drop persistent indexes across a re-sort (rows mean other utterances now)."""
        old = self.persistentIndexList()
        if old:
            self.changePersistentIndexList(old, [QModelIndex()] * len(old))
