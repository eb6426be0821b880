"""The search panel on real embeddings: typing finds recordings, nearest transcripts, zero-shot phrases."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.insight.search_panel import SearchPanel
from engine.decode.recognizer import SaysoRecognizer
from engine.insight.embedding import embed_texts
from engine.workers.embedding import TextResult
from tests.engine.insight.embedding_support import real_embeddings


@pytest.fixture(scope="module")
def data(tmp_path_factory, model_path):
    project, items, emb = real_embeddings(tmp_path_factory.mktemp("proj"))
    project.close()
    return items, emb, SaysoRecognizer.from_checkpoint(model_path)


@pytest.fixture
def panel(qtbot, data):
    items, emb, rec = data
    asked = []

    def embed(texts, on_answer):  # the real model, in-process (the studio asks its worker process)
        asked.append(list(texts))
        on_answer(TextResult(len(asked), tuple(texts), embed_texts(rec, texts)))

    p = SearchPanel(embed)
    p.asked = asked
    qtbot.addWidget(p)
    p.set_data(emb.audio, emb.text, emb.texts, [it.utterance.text for it in items], [f"spk{i}" for i in range(len(items))])
    p.show()
    return p


def test_typing_a_word_lists_its_recordings_first(qtbot, panel, data):
    items, _, _ = data
    qtbot.keyClicks(panel.query, "Yes")
    qtbot.waitUntil(lambda: panel.result_table.rowCount() > 0, timeout=3000)
    shown = [panel.result_table.item(r, 0).text() for r in range(6)]
    assert shown[:4] == ["yes"] * 4 and shown.count("yes") >= 5  # 6 "yes" among 28 recordings of 4 words
    assert "for “Yes”" in panel.status.text() and " ms" in panel.status.text()
    assert panel.asked == []  # a transcript of the project: its embedding is already there
    panel.query.clear()
    qtbot.keyClicks(panel.query, "go left")
    qtbot.waitUntil(lambda: "go left" in panel.status.text(), timeout=3000)
    assert panel.asked == [["go left"]]  # one request for the whole typed text (debounced)
    panel.query.setText("")
    panel.run_query()
    panel.query.setText("go left")
    panel.run_query()
    assert panel.asked == [["go left"]]  # asked once, then remembered


def test_picking_a_result_lists_its_nearest_transcripts_and_zero_shot(qtbot, panel, data):
    items, _, _ = data
    panel.query.setText("seven")
    panel.run_query()
    with qtbot.waitSignal(panel.chosen) as chosen:
        panel.result_table.selectRow(0)
    i = chosen.args[0]
    assert items[i].utterance.text == "seven"
    panel.select(i)
    assert panel.nearest_table.item(0, 0).text() == "seven  ✓ its label"
    panel.phrases.setText("yes, no, seven, left")
    qtbot.keyClick(panel.phrases, Qt.Key.Key_Return)
    assert "Zero-shot: <b>seven</b>" in panel.zero_shot.text()
    with qtbot.waitSignal(panel.opened) as opened:
        panel.result_table.cellDoubleClicked.emit(0, 0)
    assert opened.args == [i]


def test_without_embeddings_search_is_disabled(qtbot):
    p = SearchPanel(None)
    qtbot.addWidget(p)
    assert not p.query.isEnabled()
