"""The first-run tour: a band across the top of the main window (not a modal dialog) that walks a
new user through one bundled sample — open it, transcribe it, see where the model listened — and
offers the sample project (:mod:`engine.data.sample_project`) so every tab has something to show.

It starts on the first start (no settings yet) and from Help → Take the tour; "Skip tour" or
Esc ends it at any step. Its buttons take no keyboard focus, so Space and Enter keep their studio
meanings while it is shown.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from engine.resources import sample_path

if TYPE_CHECKING:
    from app.main_window import MainWindow

TOUR_SAMPLE = "sc_right_03401e93.wav"
"""The clip the tour opens: "right", a held-out Speech Commands speaker (resources/samples/README.md)."""
STEPS = ("welcome", "opened", "transcribing", "transcribed", "project", "done")


class TourBand(QFrame):
    """The tour, one step at a time. ``step`` is one of :data:`STEPS` (or "" when not running).

    Signals:
        finished(bool): the tour ended; True if it went to the end, False if skipped.
    """

    finished = Signal(bool)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.step = ""
        self.setObjectName("tour")
        self.setStyleSheet("#tour { background: #fff7d6; border-bottom: 1px solid #d8c27a; }"
                           "#tour QLabel { color: #3a3000; }")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.progress = QLabel()
        self.progress.setStyleSheet("color: #7a6a30")
        self.next_button = QPushButton()
        self.other_button = QPushButton()
        self.skip_button = QPushButton("Skip tour")
        self.skip_button.setToolTip("End the tour (Esc); Help → Take the tour starts it again")
        for b in (self.next_button, self.other_button, self.skip_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.progress)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.next_button)
        layout.addWidget(self.other_button)
        layout.addWidget(self.skip_button)
        self.next_button.clicked.connect(self._next)
        self.other_button.clicked.connect(self._other)
        self.skip_button.clicked.connect(lambda: self.finish(completed=False))
        esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), window)
        esc.setContext(Qt.ShortcutContext.WindowShortcut)
        esc.activated.connect(lambda: self.finish(completed=False) if self.step else None)
        self._recognizer = None
        self.hide()

    # -- steps -----------------------------------------------------------------
    def start(self) -> None:
        """Show the first step (again, if the tour already ran)."""
        w = self.window
        model = w.active_model.entry.name if w.active_model.entry is not None else "no model yet"
        self._show("welcome",
                   "<b>Welcome to Sayso</b>, your speech lab: record or open speech, recognize it "
                   f"(the model in use, <b>{model}</b>, is named in the status bar), label it, train your own "
                   "model, and see where it listens. This tour takes a minute.",
                   "Open a sample")

    def _next(self) -> None:
        {"welcome": self._open_sample, "opened": self._transcribe, "transcribed": self._offer_project,
         "project": lambda: self.finish(completed=True), "done": lambda: self.finish(completed=True)
         }.get(self.step, lambda: None)()

    def _other(self) -> None:
        if self.step == "project":
            self._create_project()

    def _open_sample(self) -> None:
        w = self.window
        w.tabs.setCurrentIndex(0)
        if not w.open_file(sample_path(TOUR_SAMPLE)):
            self.finish(completed=False)
            return
        self._show("opened",
                   "This is a bundled clip of a person saying “right”: its <b>waveform</b> and its "
                   "<b>log-mel spectrogram</b> (what the model hears) are on the left. Press Play (P) to hear it.",
                   "Transcribe it")

    def _transcribe(self) -> None:
        w = self.window
        rec = w.recognizer
        if rec is None:
            self._show("transcribed", f"No model could be loaded: {w.model_error}. Transcribe → Models… "
                       "lists the models you have.", "Next")
            return
        self._watch(rec)
        self._show("transcribing", "Transcribing…", "")
        w.transcribe()
        if not rec.busy:  # nothing was sent: a recording or another transcription is running
            self._unwatch()
            self._show("opened", "Sayso is busy (recording or transcribing): press <b>Transcribe it</b> again "
                       "in a moment.", "Transcribe it")

    def _watch(self, recognizer) -> None:
        self._unwatch()
        self._recognizer = recognizer
        recognizer.finished.connect(self._on_transcribed)
        recognizer.failed.connect(self._on_failed)

    def _unwatch(self) -> None:
        if self._recognizer is not None:
            self._recognizer.finished.disconnect(self._on_transcribed)
            self._recognizer.failed.disconnect(self._on_failed)
            self._recognizer = None

    def _on_transcribed(self, rec) -> None:
        self._unwatch()
        if self.step != "transcribing":
            return
        if rec.attention is not None:
            where = ("Below the spectrogram is the decoder's <b>cross-attention</b>: each row is a character "
                     "it wrote, bright cells the moments of audio it listened to. On the Insight tab, "
                     "hover a row to see its moments and click it to hear them.")
        else:
            where = (f"{rec.model} shows no attention map; Sayso's own models do (Transcribe → Models… "
                     "switches).")
        self._show("transcribed",
                   f"The model heard “<b>{rec.text or 'nothing'}</b>”. On the right: the transcript, each "
                   f"word's time and confidence. {where}", "Next")

    def _on_failed(self, message: str) -> None:
        self._unwatch()
        if self.step == "transcribing":
            self._show("transcribed", f"The transcription failed: {message.splitlines()[0]}", "Next")

    def _offer_project(self) -> None:
        self._show("project",
                   "Make it yours: a <b>sample project</b> holds the bundled clips, labeled and split by "
                   "speaker, so the Dataset, Train and Insight tabs have something to show. Your own "
                   "recordings go in projects too (File → New project…).",
                   "Finish", other="Create a sample project")

    def _create_project(self) -> None:
        if not self.window.projects.open_sample_project():
            return  # the controller said why; the step stays so the user can finish
        self.window.tabs.setCurrentWidget(self.window.labeling)
        self._show("done",
                   "The sample project is open in the <b>Dataset</b> tab. Help → Open sample project opens it "
                   "again; Help → Take the tour repeats this tour.", "Close")

    # -- display ---------------------------------------------------------------
    def _show(self, step: str, html: str, next_text: str, other: str = "") -> None:
        self.step = step
        number = {"welcome": 1, "opened": 2, "transcribing": 3, "transcribed": 3, "project": 4, "done": 4}[step]
        self.progress.setText(f"Tour {number}/4")
        self.text.setText(html)
        self.next_button.setText(next_text)
        self.next_button.setVisible(bool(next_text))
        self.other_button.setText(other)
        self.other_button.setVisible(bool(other))
        self.skip_button.setVisible(step != "done")
        self.show()

    def finish(self, completed: bool) -> None:
        """End the tour (hidden; Help → Take the tour starts it again)."""
        if not self.step:
            return
        self._unwatch()
        self.step = ""
        self.hide()
        self.finished.emit(completed)
