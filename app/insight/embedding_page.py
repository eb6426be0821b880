"""The "Embedding map & search" page of the Insight tab.

Every utterance of the open project is embedded by the active model in a
worker process (:class:`app.insight.embedding_bridge.EmbeddingBridge`, cached
in ``<project>/cache/embeddings``), projected to 2-D (PCA or t-SNE) and shown
on the map (:class:`app.insight.embedding_map.EmbeddingMap`) beside the search
panel (:class:`app.insight.search_panel.SearchPanel`).

The run starts when the page is first shown with a project and a model
(again with *Refresh* after edits: cached utterances cost nothing), shows
its progress and can be cancelled. Hovering a point shows its transcript;
clicking plays it, lists its nearest transcripts and selects it in the
Dataset table (the tab stays); double-clicking (or *Show in Dataset*) also
brings the Dataset tab to the front.

Signals: ``play_requested``, ``utterance_picked``, ``utterance_selected``,
``message`` as :class:`app.insight.view.InsightView`.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.insight.embedding_bridge import EmbeddingBridge
from app.insight.embedding_map import PALETTE, EmbeddingMap
from app.insight.search_panel import SearchPanel
from app.settings import StudioSettings
from engine.audio.errors import AudioError
from engine.audio.io import SAMPLE_RATE, load_segment
from engine.data.errors import ProjectError
from engine.insight.embedding import project_items, project_rows
from engine.insight.projection import METHODS

COLOUR_BY = {"transcript": "Transcript", "speaker": "Speaker", "split": "Split", "status": "Status"}
STAGES = {"audio": "Embedding audio", "text": "Embedding transcripts", "projection": "Projecting"}
KEY_COLOUR, KEY_METHOD, KEY_LINES, KEY_SPLITTER = ("insight/colour_by", "insight/projection", "insight/lines",
                                                   "insight/map_splitter")


def categories(values: list[str | None], order: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """``(codes (n,), names)``: the values present, most frequent (or in ``order``) first; None → "none"."""
    values = [v if v else "none" for v in values]
    counts = Counter(values)
    names = [v for v in order if v in counts] if order else [v for v, _ in counts.most_common()]
    names += sorted(set(values) - set(names))
    where = {v: i for i, v in enumerate(names)}
    return np.array([where[v] for v in values], np.int64), names


class EmbeddingPage(QWidget):
    play_requested = Signal(object, float, float)
    utterance_picked = Signal(int)
    utterance_selected = Signal(int)
    message = Signal(str)

    threads = 2
    """Torch threads of the embedding worker."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.project = None
        self.recognizer = None
        self.embedder: EmbeddingBridge | None = None
        self.result = None
        self.rows: list = []
        self.items: list = []
        self._row_of: dict[int, object] = {}
        self._stale = True
        self.settings = StudioSettings().qsettings

        self.refresh_button = QPushButton("Embed project")
        self.refresh_button.setToolTip("Embed every utterance with the active model (cached utterances are instant)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.method = QComboBox()
        self.method.setToolTip("Projection to 2-D: PCA (linear, instant) or t-SNE (clusters; seconds to minutes)")
        for key, name in METHODS.items():
            self.method.addItem(f"{name} map", key)
        self.colour_by = QComboBox()
        self.colour_by.setToolTip("Colour the recordings by their transcript, speaker, split or labeling status")
        for key, name in COLOUR_BY.items():
            self.colour_by.addItem(f"Colour: {name.lower()}", key)
        self.lines = QCheckBox("Lines")
        self.lines.setToolTip("Draw a line from each recording's audio point to its transcript's text point (★)")
        self.open_button = QPushButton("Show in Dataset")
        self.open_button.setToolTip("Select the picked recording in the Dataset tab (or double-click it)")
        self.open_button.setEnabled(False)
        self.status = QLabel("")
        self.status.setStyleSheet("color: #606060")
        self.status.setWordWrap(True)

        bar = QHBoxLayout()
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.progress)
        bar.addSpacing(8)
        bar.addWidget(self.method)
        bar.addWidget(self.colour_by)
        bar.addWidget(self.lines)
        bar.addWidget(self.open_button)
        bar.addStretch(1)

        self.map = EmbeddingMap()
        self.panel = SearchPanel(embed=self._embed_texts)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.map)
        self.splitter.addWidget(self.panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.splitter, 1)

        self._restore_settings()
        self.refresh_button.clicked.connect(self.refresh)
        self.cancel_button.clicked.connect(self.cancel)
        self.method.currentIndexChanged.connect(self._on_method)
        self.colour_by.currentIndexChanged.connect(self._on_colour_by)
        self.lines.toggled.connect(self._on_lines)
        self.open_button.clicked.connect(lambda: self._open(self.map.selected))
        self.map.clicked.connect(self.choose)
        self.map.activated.connect(self._open)
        self.panel.chosen.connect(self.choose)
        self.panel.opened.connect(self._open)
        self.panel.results_changed.connect(lambda idx: self.map.highlight(idx[:10]))
        self.splitter.splitterMoved.connect(lambda *_: self.settings.setValue(KEY_SPLITTER, self.splitter.saveState()))
        self._idle_status()

    # -- settings --------------------------------------------------------------
    def _restore_settings(self) -> None:
        for combo, key, default in ((self.method, KEY_METHOD, "pca"), (self.colour_by, KEY_COLOUR, "transcript")):
            i = combo.findData(self.settings.value(key, default))
            combo.setCurrentIndex(max(0, i))
        self.lines.setChecked(str(self.settings.value(KEY_LINES, "false")).lower() == "true")
        self.map.show_lines(self.lines.isChecked())
        state = self.settings.value(KEY_SPLITTER)
        if state is not None:
            self.splitter.restoreState(state)
        else:
            self.splitter.setSizes([700, 320])

    # -- host wiring -----------------------------------------------------------
    def set_project(self, project) -> None:
        """The open project, or ``None``; the map is rebuilt the next time the page is shown."""
        self.project = project
        self._reset()

    def set_recognizer(self, recognizer) -> None:
        """The recognizer bridge of the active model (its ``model_path`` embeds), or ``None``."""
        path = getattr(recognizer, "model_path", None)
        if self.embedder is not None and (path is None or self.embedder.model_path != path):
            self.embedder.shutdown()
            self.embedder.deleteLater()
            self.embedder = None
        self.recognizer = recognizer
        if self.embedder is None and path is not None:
            self.embedder = EmbeddingBridge(path, threads=self.threads, parent=self)
            self.embedder.progress.connect(self._on_progress)
            self.embedder.map_ready.connect(self._on_map)
            self.embedder.map_failed.connect(self._on_failed)
        self._reset()

    def _reset(self) -> None:
        if self.embedder is not None and self.embedder.running:
            self.embedder.cancel()
        self.result, self.rows, self.items, self._row_of = None, [], [], {}
        self._stale = True
        self.map.set_points(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0), [])
        self.panel.clear()
        self._busy(False)
        self._idle_status()
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt
        super().showEvent(event)
        if self._stale and self.project is not None and self.embedder is not None and not self.embedder.running:
            self.refresh()

    def _idle_status(self) -> None:
        if self.project is None:
            self.status.setText("Open a project (File → Open project…) to map its utterances.")
        elif self.embedder is None:
            self.status.setText("No model is loaded: choose one in the Train tab or with `sayso models use`.")
        elif self.result is None:
            self.status.setText("Embed the project to see its map.")

    # -- the run -----------------------------------------------------------------
    def refresh(self) -> None:
        """Embed the project's utterances (cached ones are instant) and project them with the chosen method."""
        if self.project is None or self.embedder is None:
            self._idle_status()
            return
        try:
            self.rows = project_rows(self.project)
            self.items = project_items(self.project, self.rows)
        except ProjectError as exc:
            self.status.setText(str(exc))
            return
        if not self.items:
            self.status.setText("The project has no utterances yet: record or import some in the Dataset tab.")
            self._stale = False
            return
        self._row_of = {r.id: r for r in self.rows}
        self._stale = False
        self.embedder.start_map(self.items, self.project.folder, self.method.currentData())
        self._busy(True)
        self.status.setText(f"Embedding {len(self.items)} utterances with {self.embedder.model_path.name}…")

    def cancel(self) -> None:
        if self.embedder is not None:
            self.embedder.cancel()

    def _busy(self, on: bool) -> None:
        self.progress.setVisible(on)
        self.cancel_button.setEnabled(on)
        self.refresh_button.setEnabled(not on)
        if on:
            self.progress.setRange(0, 0)

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"{STAGES.get(stage, stage)} %v/%m")
        if stage == "projection" and self.method.currentData() == "tsne":
            self.progress.setFormat("t-SNE iteration %v/%m")

    def _on_failed(self, kind: str, message: str) -> None:
        self._busy(False)
        self._stale = kind != "cancelled" and self._stale
        text = message.splitlines()[0] if kind != "internal" else message.split("\n")[0]
        self.status.setText(text + (" Press Embed project to continue." if kind == "cancelled" else ""))
        self.message.emit(text)

    def _on_map(self, result) -> None:
        self._busy(False)
        self.refresh_button.setText("Refresh")
        self.result = result
        emb = result.embeddings
        rows = [self._row_of.get(int(i)) for i in emb.ids]
        self._transcripts = [r.text if r else "" for r in rows]
        self._speakers = [(r.speaker or "") if r else "" for r in rows]
        self._splits = [r.split if r else None for r in rows]
        self._statuses = [r.status if r else None for r in rows]
        self.map.set_points(result.audio_xy, result.text_xy, emb.text_index, emb.texts, self._describe)
        self._apply_colours()
        self.panel.set_data(emb.audio, emb.text, emb.texts, self._transcripts, self._speakers, emb.text_space)
        self.lines.setEnabled(emb.text_space)
        self.open_button.setEnabled(False)
        failed = f"; {len(emb.failed)} could not be read ({emb.failed[0][1]})" if emb.failed else ""
        space = (f"{len(emb.texts)} distinct transcripts (★)" if emb.text_space else
                 f"{self.embedder.model_path.name}'s encoder states, averaged over each take (Whisper has no text "
                 "side: no ★, no search by text)")
        self.status.setText(
            f"{len(emb.ids)} utterances, {space} · {METHODS[result.method]} · "
            f"{emb.computed} new embeddings, {emb.cached} from the cache · {result.seconds:.1f} s{failed}. "
            "Hover a point for its transcript, click to play it and select it in the Dataset table, "
            "double-click to open it in the Dataset tab.")

    def _describe(self, i: int) -> str:
        speaker = self._speakers[i] or "no speaker"
        return f"{self._transcripts[i] or '(unlabeled)'}\n{speaker} · {self._splits[i] or 'no split'} · {self._statuses[i]}"

    # -- view options --------------------------------------------------------------
    def _on_method(self) -> None:
        self.settings.setValue(KEY_METHOD, self.method.currentData())
        if self.result is not None or (self.embedder is not None and self.embedder.running):
            self.refresh()

    def _on_colour_by(self) -> None:
        self.settings.setValue(KEY_COLOUR, self.colour_by.currentData())
        self._apply_colours()

    def _on_lines(self, on: bool) -> None:
        self.settings.setValue(KEY_LINES, "true" if on else "false")
        self.map.show_lines(on)

    def _apply_colours(self) -> None:
        if self.result is None:
            return
        by = self.colour_by.currentData()
        values = {"transcript": self._transcripts, "speaker": self._speakers, "split": self._splits,
                  "status": self._statuses}[by]
        order = {"split": ["train", "dev", "test", "none"], "status": ["unlabeled", "draft", "verified"]}.get(by)
        codes, names = categories(values, order)
        text_codes = None
        if by == "transcript":
            where = {n: i for i, n in enumerate(names)}
            text_codes = np.array([where.get(t, -1) for t in self.result.embeddings.texts], np.int64)
            text_codes[text_codes >= len(PALETTE)] = len(PALETTE)
        self.map.set_colours(codes, names, text_codes)

    # -- picking -------------------------------------------------------------------
    def choose(self, index: int) -> None:
        """Select utterance row ``index`` of the map: ring it, list its nearest transcripts, pick it, play it."""
        if self.result is None or not 0 <= index < len(self.result.embeddings.ids):
            return
        self.map.set_selected(index)
        self.panel.select(index)
        self.open_button.setEnabled(True)
        uid = int(self.result.embeddings.ids[index])
        self.utterance_picked.emit(uid)
        row = self._row_of.get(uid)
        if row is None:
            return
        try:
            audio = load_segment(self.project.recording(row.recording_id).file, row.start, row.end)
        except (AudioError, ProjectError) as exc:
            self.message.emit(f"Cannot play utterance {uid}: {exc}")
            return
        self.play_requested.emit(audio, 0.0, len(audio) / SAMPLE_RATE)

    def _open(self, index: int) -> None:
        if self.result is not None and 0 <= index < len(self.result.embeddings.ids):
            self.utterance_selected.emit(int(self.result.embeddings.ids[index]))

    def _embed_texts(self, texts: list[str], on_answer) -> None:
        if self.embedder is None:
            return
        self.embedder.embed_texts(texts, on_answer)

    def shutdown(self) -> None:
        """End the worker process (the host calls this when closing)."""
        if self.embedder is not None:
            self.embedder.shutdown()
