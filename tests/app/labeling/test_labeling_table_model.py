"""The lazy utterance table model on real projects: pages, a 100k-row table, sorting, filters, errors."""
from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableView

from app.labeling.table_model import SORT_KEYS, Column, UtteranceTableModel
from engine.data.query import ORDER_BY, UtteranceFilter
from tests.app.labeling.labeling_support import BIG_ROWS, WORDS


def text(model, row, column=Column.TRANSCRIPT):
    return model.data(model.index(row, int(column)))


def test_a_100k_table_reads_only_the_pages_it_shows(qtbot, big_project):
    model = UtteranceTableModel(big_project, page_size=200)
    assert model.rowCount() == BIG_ROWS  # one count query; no row read yet
    assert model.pages_fetched == 0 and model.cached_rows() == 0
    assert text(model, 0) == "yes 0"
    assert model.pages_fetched == 1 and model.cached_rows() == 200
    for row in range(200):  # the rest of the first page comes from memory
        model.data(model.index(row, int(Column.ID)))
    assert model.pages_fetched == 1
    assert text(model, 200) == "yes 200"
    assert model.pages_fetched == 2 and model.cached_rows() == 400  # grew by one page
    t0 = time.perf_counter()
    assert text(model, BIG_ROWS - 1) == f"{WORDS[(BIG_ROWS - 1) % 4]} {BIG_ROWS - 1}"
    assert time.perf_counter() - t0 < 1.0
    assert model.pages_fetched == 3 and model.cached_rows() == 600
    row = model.utterance(BIG_ROWS - 1)
    assert row.id == BIG_ROWS and model.data(model.index(BIG_ROWS - 1, 0), model.UtteranceRole) == row
    assert model.data(model.index(BIG_ROWS - 1, int(Column.SPEAKER))) == f"speaker{(BIG_ROWS - 1) % 5}"
    for page in range(100):  # memory stays bounded however far one scrolls
        model.utterance(page * 200)
    assert model.cached_rows() <= model.max_pages * model.page_size
    # finding a row: binary search in id order, a handful of tiny queries
    assert model.row_of(54_321) == 54_320


def test_a_view_scrolled_to_the_end_of_100k_rows_fetches_a_few_pages(qtbot, big_project):
    model = UtteranceTableModel(big_project)
    table = QTableView()
    qtbot.addWidget(table)
    table.setModel(model)
    table.resize(800, 600)
    table.show()
    qtbot.waitExposed(table)
    table.grab()  # paint now
    first = model.pages_fetched
    assert first == 1  # the rows on screen are on the first page
    table.scrollToBottom()
    table.grab()
    assert model.pages_fetched - first <= 2  # the last page (maybe the one before), nothing in between
    bottom = table.rowAt(table.viewport().height() - 2)
    assert bottom == BIG_ROWS - 1
    assert table.model().data(table.model().index(bottom, int(Column.ID))) == str(BIG_ROWS)


def test_sorting_goes_through_the_store_whitelist(qtbot, labeling_project):
    p = labeling_project
    p.update_utterance(2, transcript="Zebra", confidence=0.9)
    p.update_utterance(3, transcript="apple", confidence=0.1)
    model = UtteranceTableModel(p)
    assert set(SORT_KEYS.values()) <= set(ORDER_BY)
    assert [model.utterance(r).id for r in range(5)] == [1, 2, 3, 4, 5]
    with qtbot.waitSignal(model.layoutChanged):
        model.sort(int(Column.TRANSCRIPT), Qt.SortOrder.DescendingOrder)
    assert model.order_by == "transcript" and model.descending
    assert [text(model, r) for r in range(3)] == ["Zebra", "seven", "apple"]  # case-insensitive
    model.sort(int(Column.CONFIDENCE), Qt.SortOrder.AscendingOrder)  # unscored first
    assert [model.utterance(r).id for r in range(5)][-2:] == [3, 2]
    model.sort(int(Column.DURATION), Qt.SortOrder.DescendingOrder)
    assert [model.utterance(r).id for r in range(5)] == [4, 3, 2, 1, 5]  # the FSDD digit is shortest; ties by id
    before = model.order_by
    model.sort(int(Column.SPEAKER), Qt.SortOrder.AscendingOrder)  # not sortable: ignored
    assert model.order_by == before and not model.is_sortable(int(Column.SPEAKER))
    with pytest.raises(ValueError):
        model.set_order("transcript; DROP TABLE utterances")
    assert model.row_of(3) == next(r for r in range(5) if model.utterance(r).id == 3)


def test_filters_and_weakest_first(qtbot, labeling_project):
    p = labeling_project
    p.update_utterance(1, transcript="yes", status="verified", confidence=0.8)
    p.update_utterance(2, transcript="no", status="draft", confidence=0.3)
    model = UtteranceTableModel(p)
    model.set_filter(UtteranceFilter(status="draft"))
    assert model.rowCount() == 2 and {model.utterance(r).id for r in range(2)} == {2, 5}
    model.set_filter(UtteranceFilter(speaker="bob"))
    assert [model.utterance(r).id for r in range(model.rowCount())] == [3, 4]
    model.set_filter(UtteranceFilter(text="SEV"))
    assert model.rowCount() == 1 and text(model, 0) == "seven"
    model.set_filter(UtteranceFilter(split="train"))
    assert model.rowCount() == 1 and model.utterance(0).id == 5
    model.set_filter(UtteranceFilter(low_confidence_first=True))
    assert [model.utterance(r).id for r in range(5)] == [2, 1, 3, 4, 5]
    assert text(model, 0, Column.CONFIDENCE) == "0.30" and text(model, 2, Column.CONFIDENCE) == ""
    model.set_filter(None)
    assert model.rowCount() == 5


def test_refresh_keeps_rows_and_follows_deletes(qtbot, labeling_project):
    model = UtteranceTableModel(labeling_project)
    assert text(model, 0) == ""
    labeling_project.update_utterance(1, transcript="yes")
    assert text(model, 0) == ""  # cached until refreshed
    with qtbot.waitSignal(model.layoutChanged):
        model.refresh()
    assert text(model, 0) == "yes"
    labeling_project.delete_utterance(2)
    with qtbot.waitSignal(model.modelReset):
        model.refresh()
    assert model.rowCount() == 4 and model.row_of(2) == -1 and model.row_of(3) == 1


def test_a_closed_project_gives_a_message_not_an_exception(qtbot, labeling_project):
    model = UtteranceTableModel(labeling_project)
    labeling_project.close()
    with qtbot.waitSignal(model.fetch_failed) as blocker:
        assert text(model, 0) == "…"
    assert "closed" in blocker.args[0]
    model.refresh()
    assert model.rowCount() == 0
