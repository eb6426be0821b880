"""Cross-modal search beside the embedding map.

* **Find recordings by text**: type what was said; the recordings are
  ranked by the cosine similarity of their audio embedding to the typed
  text's embedding (:func:`engine.insight.search.rank`).
* **Nearest transcripts** of the selected recording: the project's distinct
  transcripts ranked by similarity to its audio.
* **Zero-shot**: type a list of phrases; the selected recording is given the
  nearest one (:func:`engine.insight.search.classify`).

Typed texts are embedded by the embedding worker process (about a
millisecond there, plus the round trip); answers are kept, so a text typed
again costs nothing. The panel never waits: it asks and shows the answer
when it arrives (an answer for an outdated query is dropped).

Signals:
    chosen(int): a result row was clicked (index into the embeddings' rows).
    opened(int): a result row was double-clicked or Enter pressed on it.
    results_changed(object): the indices of the listed recordings, best first.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.insight.search import classify, rank
from engine.workers.embedding import TextResult

MAX_RESULTS = 50
NEAREST_TRANSCRIPTS = 8
DEBOUNCE_MS = 150
NO_TEXT_SEARCH = "Search by text needs a Sayso model: Whisper has no text embeddings"
"""The search field's placeholder while the map shows a Whisper model's encoder states."""

Embedder = Callable[[list[str], Callable[[object], None]], object]
"""``embed(texts, on_answer)``: embed texts in the background and call ``on_answer(TextResult | EmbedFailure)``."""


def _table(headers: Sequence[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(list(headers))
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for c in range(1, len(headers)):
        t.horizontalHeader().setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
    t.verticalHeader().setDefaultSectionSize(20)
    return t


class SearchPanel(QWidget):
    chosen = Signal(int)
    opened = Signal(int)
    results_changed = Signal(object)

    def __init__(self, embed: Embedder | None = None, parent=None) -> None:
        super().__init__(parent)
        self.embed = embed
        self.audio = np.zeros((0, 0), np.float32)
        self.text = np.zeros((0, 0), np.float32)
        self.texts: list[str] = []
        self.transcripts: list[str] = []
        self.speakers: list[str] = []
        self.selected = -1
        self.text_space = True
        """False for a model without text embeddings (Whisper): search by text is off, and a picked
        recording lists the recordings nearest to it instead of transcripts."""
        self.results: list[int] = []
        self.last_latency_ms: float | None = None
        self._vectors: dict[str, np.ndarray] = {}
        self._asked: dict[str, float] = {}

        self.query = QLineEdit()
        self.query.setPlaceholderText("Find recordings: type what was said…")
        self.query.setClearButtonEnabled(True)
        self.query.setObjectName("insight-search")
        self.status = QLabel("")
        self.status.setStyleSheet("color: #606060")
        self.result_table = _table(["Transcript", "Speaker", "Similarity"])
        self.selected_label = QLabel("Pick a recording on the map or in the results.")
        self.selected_label.setWordWrap(True)
        self.nearest_table = _table(["Nearest transcripts", "Similarity"])
        self.phrases = QLineEdit()
        self.phrases.setPlaceholderText("Zero-shot: phrases, comma-separated (e.g. yes, no, stop, go)")
        self.phrases.setClearButtonEnabled(True)
        self.zero_shot = QLabel("")
        self.zero_shot.setWordWrap(True)
        self.zero_shot.setTextFormat(Qt.TextFormat.RichText)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addWidget(self.query)
        layout.addWidget(self.status)
        layout.addWidget(self.result_table, 3)
        layout.addWidget(self.selected_label)
        layout.addWidget(self.nearest_table, 2)
        layout.addWidget(self.phrases)
        layout.addWidget(self.zero_shot)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.run_query)
        self.query.textChanged.connect(lambda _t: self._debounce.start())
        self.query.returnPressed.connect(self.run_query)
        self.phrases.returnPressed.connect(self.run_zero_shot)
        self.phrases.editingFinished.connect(self.run_zero_shot)
        self.result_table.currentCellChanged.connect(self._on_current)
        self.result_table.cellDoubleClicked.connect(lambda r, c: self._open_row(r))
        self.set_enabled_search(False)

    # -- data ----------------------------------------------------------------
    def set_data(self, audio: np.ndarray, text: np.ndarray, texts: Sequence[str], transcripts: Sequence[str],
                 speakers: Sequence[str], text_space: bool = True) -> None:
        """Audio ``(n, embed_dim)`` of the utterances, text ``(m, embed_dim)`` of ``texts``; per-utterance labels;
        ``text_space`` False for a model without text embeddings (:attr:`text_space`)."""
        self.audio, self.text, self.texts = audio, text, list(texts)
        self.transcripts, self.speakers = list(transcripts), list(speakers)
        self._vectors.update({t: v for t, v in zip(self.texts, text)})
        self.selected = -1
        self.text_space = text_space
        self.nearest_table.setHorizontalHeaderLabels(
            ["Nearest transcripts" if text_space else "Nearest recordings (transcript · speaker)", "Similarity"])
        self.query.setPlaceholderText("Find recordings: type what was said…" if text_space else NO_TEXT_SEARCH)
        self.query.setToolTip("" if text_space else NO_TEXT_SEARCH)
        for widget in (self.result_table, self.phrases, self.zero_shot):  # text queries only: room for the rest
            widget.setVisible(text_space)
        self.set_enabled_search(len(audio) > 0 and text_space)
        self.select(-1)
        if self.query.text().strip():
            self.run_query()

    def clear(self) -> None:
        self.set_data(np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32), [], [], [])
        self._vectors.clear()
        self.status.setText("")

    def set_enabled_search(self, on: bool) -> None:
        self.query.setEnabled(on)
        self.phrases.setEnabled(on)

    # -- text → recordings ---------------------------------------------------
    def run_query(self) -> None:
        """Rank the recordings by similarity to the typed text (asks the worker for its embedding if needed)."""
        self._debounce.stop()
        text = self.query.text().strip()
        if not text or not len(self.audio):
            self._show_results(None, text)
            return
        vec = self._vectors.get(text) if text in self._vectors else self._vectors.get(text.lower())
        if vec is not None:
            self._show_results(vec, text, time.perf_counter())
            return
        if self.embed is None:
            self.status.setText("No model to embed the text with.")
            return
        self._asked[text] = time.perf_counter()
        self.status.setText("Searching…")
        self.embed([text], lambda answer, text=text: self._on_embedded(text, answer))

    def _on_embedded(self, text: str, answer) -> None:
        t0 = self._asked.pop(text, None)
        if not isinstance(answer, TextResult):
            self.status.setText(f"The text could not be embedded: {answer.message.splitlines()[0]}")
            return
        self._vectors[text] = answer.embeddings[0]
        if self.query.text().strip() == text:  # still the query
            self._show_results(answer.embeddings[0], text, t0)

    def _show_results(self, vec: np.ndarray | None, text: str, t0: float | None = None) -> None:
        self.result_table.setRowCount(0)
        if vec is None:
            self.results = []
            self.status.setText("")
            self.results_changed.emit([])
            return
        r = rank(vec, self.audio, MAX_RESULTS)
        self.results = r.indices.tolist()
        self.result_table.setRowCount(len(r))
        for row, (i, s) in enumerate(zip(r.indices, r.scores)):
            self._set_row(self.result_table, row, [self.transcripts[i] or "(unlabeled)", self.speakers[i] or "—",
                                                   f"{s:.3f}"], int(i))
        if t0 is not None:
            self.last_latency_ms = 1000 * (time.perf_counter() - t0)
        self.status.setText(f"Top {len(r)} of {len(self.audio)} recordings for “{text}”"
                            + (f" · {self.last_latency_ms:.1f} ms" if t0 is not None else ""))
        self.results_changed.emit(self.results)

    @staticmethod
    def _set_row(table: QTableWidget, row: int, cells: Sequence[str], index: int) -> None:
        for c, value in enumerate(cells):
            item = QTableWidgetItem(value)
            item.setData(Qt.ItemDataRole.UserRole, index)
            if c > 0:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(row, c, item)

    def _on_current(self, row: int, _col: int, _prev_row: int, _prev_col: int) -> None:
        if 0 <= row < len(self.results):
            self.chosen.emit(self.results[row])

    def _open_row(self, row: int) -> None:
        if 0 <= row < len(self.results):
            self.opened.emit(self.results[row])

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.result_table.hasFocus():
            self._open_row(self.result_table.currentRow())
            return
        super().keyPressEvent(event)

    # -- recording → transcripts, zero-shot ----------------------------------
    def select(self, index: int) -> None:
        """Show the nearest transcripts (and the zero-shot label) of utterance row ``index`` (-1: none)."""
        self.selected = index
        self.nearest_table.setRowCount(0)
        if not 0 <= index < len(self.audio):
            self.selected_label.setText("Pick a recording on the map or in the results.")
            self.zero_shot.setText("")
            return
        own = self.transcripts[index]
        self.selected_label.setText(f"Selected: “{own or '(unlabeled)'}” · {self.speakers[index] or 'no speaker'}")
        if not self.text_space:  # the recordings that sound most alike to this model
            r = rank(self.audio[index], self.audio, NEAREST_TRANSCRIPTS + 1)
            others = [(j, s) for j, s in zip(r.indices, r.scores) if j != index][:NEAREST_TRANSCRIPTS]
            self.nearest_table.setRowCount(len(others))
            for row, (j, s) in enumerate(others):
                label = f"{self.transcripts[j] or '(unlabeled)'} · {self.speakers[j] or 'no speaker'}"
                self._set_row(self.nearest_table, row, [label, f"{s:.3f}"], int(j))
        elif len(self.text):
            r = rank(self.audio[index], self.text, NEAREST_TRANSCRIPTS)
            self.nearest_table.setRowCount(len(r))
            for row, (j, s) in enumerate(zip(r.indices, r.scores)):
                t = self.texts[j]
                self._set_row(self.nearest_table, row, [t + ("  ✓ its label" if t == own else ""), f"{s:.3f}"], int(j))
        self.run_zero_shot()

    def phrase_list(self) -> list[str]:
        return list(dict.fromkeys(p.strip() for p in self.phrases.text().split(",") if p.strip()))

    def run_zero_shot(self) -> None:
        """Classify the selected recording against the typed phrases (asks the worker for missing embeddings)."""
        phrases = self.phrase_list()
        if not phrases or not 0 <= self.selected < len(self.audio):
            self.zero_shot.setText("" if phrases else "")
            return
        missing = [p for p in phrases if p not in self._vectors]
        if missing:
            if self.embed is None:
                return
            self.zero_shot.setText("Classifying…")
            self.embed(missing, self._on_phrases)
            return
        ranked = classify(self.audio[self.selected], np.stack([self._vectors[p] for p in phrases]), phrases)
        best, score = ranked[0]
        rest = ", ".join(f"{p} {s:.2f}" for p, s in ranked[1:5])
        self.zero_shot.setText(f"Zero-shot: <b>{best}</b> ({score:.2f})" + (f" — then {rest}" if rest else ""))

    def _on_phrases(self, answer) -> None:
        if not isinstance(answer, TextResult):
            self.zero_shot.setText(f"The phrases could not be embedded: {answer.message.splitlines()[0]}")
            return
        self._vectors.update(dict(zip(answer.texts, answer.embeddings)))
        self.run_zero_shot()
