"""The Insight tab: attention and alignment of one utterance, and the project's embedding map with search.

A thin host: each page is its own widget and gets the open project and the
recognition worker from the main window.

Signals:
    play_requested(object, float, float): play ``(samples,)`` float32 16 kHz
        audio from ``start`` to ``end`` seconds.
    utterance_picked(int): select this utterance id in the Dataset table, the Insight tab staying in front.
    utterance_selected(int): show this utterance id in the Dataset tab.
    message(str): a line for the status bar.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from app.insight.attention_page import AttentionPage
from app.insight.embedding_page import EmbeddingPage
from engine.checkpoint_layout import SAYSO_FAMILY
from engine.whisper.folder import WHISPER_FAMILY

UNSUPPORTED = ("Insight cannot look inside the {family} model in use; switch to a Sayso or Whisper model "
               "(Models window).")
"""Why the pages are disabled while a model of a family Insight does not know is active."""
INSIGHT_FAMILIES = (SAYSO_FAMILY, WHISPER_FAMILY, None)
"""Families both pages show: a Sayso model's shared audio–text space, and Whisper's attention (its weights in
torch) and encoder states (audio only) on the map."""


class InsightView(QWidget):
    play_requested = Signal(object, float, float)
    utterance_picked = Signal(int)
    utterance_selected = Signal(int)
    message = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.project = None
        self.recognizer = None
        self.pages = QTabWidget(self)
        self.pages.setDocumentMode(True)
        self.attention = AttentionPage(self)
        self.attention.play_requested.connect(self.play_requested)
        self.attention.message.connect(self.message)
        self.pages.addTab(self.attention, "Attention && alignment")
        self.embedding = EmbeddingPage(self)
        self.embedding.play_requested.connect(self.play_requested)
        self.embedding.utterance_picked.connect(self.utterance_picked)
        self.embedding.utterance_selected.connect(self.utterance_selected)
        self.embedding.message.connect(self.message)
        self.pages.addTab(self.embedding, "Embedding map && search")
        self.reason = QLabel(self)
        self.reason.setWordWrap(True)
        self.reason.setVisible(False)
        self.disabled_reason: str | None = None
        """Why the pages are disabled (the active model is not a Sayso one), or None."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.reason)
        layout.addWidget(self.pages)

    def set_project(self, project) -> None:
        """The open :class:`engine.data.store.Project`, or ``None``."""
        self.project = project
        self.attention.set_project(project)
        self.embedding.set_project(project)

    def set_recognizer(self, recognizer, family: str | None = SAYSO_FAMILY) -> None:
        """The :class:`app.recognizer_bridge.RecognizerBridge` serving the active model, or ``None`` (no model),
        and the model's family. Both pages work with Sayso and Whisper models (Whisper's map shows its
        encoder states, with no text side); a family Insight does not know disables them, saying why
        (:attr:`disabled_reason`)."""
        self.recognizer = recognizer
        self.attention.set_recognizer(recognizer)
        self.embedding.set_recognizer(recognizer)
        on = family in INSIGHT_FAMILIES
        self.disabled_reason = None if on else UNSUPPORTED.format(family=str(family).title())
        for index, page in enumerate((self.attention, self.embedding)):
            page.setEnabled(on)
            self.pages.setTabEnabled(index, on)
            self.pages.setTabToolTip(index, "" if on else self.disabled_reason)
        self.reason.setText(self.disabled_reason or "")
        self.reason.setVisible(self.disabled_reason is not None)

    def show_utterance(self, utterance) -> None:
        """The Dataset tab's selected :class:`engine.data.query.UtteranceRow` (or None), for the attention page."""
        self.attention.show_utterance(utterance)
