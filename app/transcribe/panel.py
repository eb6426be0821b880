"""Transcript, confidence, timings and the optional vocabulary."""
from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from engine.decode.vocabulary import Vocabulary, VocabularyError

PLACEHOLDER = "Record or open audio, then press Transcribe (Ctrl+T)."
NOTHING_HEARD = "(no speech recognized)"
CONFIDENCE_NOTE = ("Confidence: about how often words at that level were right for speakers the model "
                   "never heard; a transcript's is the mean of its words' (the model card says how it was measured).")


def headline(text: str, confidence: float) -> str:
    """The first line shown: ``"yes — confidence 0.93"``."""
    return f"{text or NOTHING_HEARD} — confidence {confidence:.2f}"


class TranscriptPanel(QWidget):
    """Right-hand panel: a read-only transcript area, a busy bar and the vocabulary controls.

    Signals:
        vocabulary_changed(str, bool): the vocabulary file path ("" = none) and whether to use it.
        better_model_requested(str): the registry id the model hint offers (its link was clicked).
    """

    vocabulary_changed = Signal(str, bool)
    better_model_requested = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.text_area = QTextEdit(self)
        self.text_area.setReadOnly(True)
        self.text_area.setPlaceholderText(PLACEHOLDER)
        self.busy = QProgressBar(self)
        self.busy.setRange(0, 0)  # indeterminate
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(10)
        self.busy.setVisible(False)
        self.transcript: str | None = None
        """The text of the recognition on display (None before the first)."""
        self.idle_message = PLACEHOLDER
        """Shown in the empty transcript area (e.g. why there is no model)."""

        self.model_hint = QLabel(self)
        """What the model in use is made for, and the better model to use, when it matters (else hidden)."""
        self.model_hint.setWordWrap(True)
        self.model_hint.setStyleSheet("background: #fff4d6; color: #5c4400; padding: 4px; border-radius: 3px")
        self.model_hint.linkActivated.connect(lambda href: self.better_model_requested.emit(href.removeprefix("use:")))
        self.model_hint.setVisible(False)

        result_box = QGroupBox("Transcript", self)
        rl = QVBoxLayout(result_box)
        rl.addWidget(self.busy)
        rl.addWidget(self.text_area, 1)
        rl.addWidget(self.model_hint)

        self.load_button = QPushButton("Load vocabulary…", self)
        self.load_button.setToolTip("A text file with one word or phrase per line (Ctrl+L)")
        self.load_button.clicked.connect(self.choose_vocabulary)
        self.use_box = QCheckBox("Use vocabulary", self)
        self.use_box.setToolTip("Constrain recognition to the loaded words and phrases")
        self.use_box.setEnabled(False)
        self.use_box.toggled.connect(lambda _: self._emit_vocabulary())
        self.vocab_label = QLabel("No vocabulary loaded.", self)
        self.vocab_label.setWordWrap(True)
        vocab_box = QGroupBox("Vocabulary (optional)", self)
        vl = QVBoxLayout(vocab_box)
        row = QHBoxLayout()
        row.addWidget(self.load_button)
        row.addWidget(self.use_box)
        row.addStretch(1)
        vl.addLayout(row)
        vl.addWidget(self.vocab_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(result_box, 1)
        layout.addWidget(vocab_box)

        self.vocabulary: Vocabulary | None = None
        self.vocabulary_path = ""
        self.folder = str(Path.home())

    # transcript -------------------------------------------------------------
    def set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        if busy:
            self.text_area.setPlaceholderText("Transcribing…")

    def set_model_hint(self, text: str = "", better: tuple[str, str] | None = None) -> None:
        """Show ``text`` under the transcript (empty: hide it), with a link to use ``better`` = (id, name)."""
        link = f" <a href='use:{html.escape(better[0])}'>Use {html.escape(better[1])}</a>" if better else ""
        self.model_hint.setText(html.escape(text) + link)
        self.model_hint.setVisible(bool(text))

    def set_idle_message(self, message: str) -> None:
        self.idle_message = message
        self.text_area.setPlaceholderText(message)

    def clear(self) -> None:
        self.transcript = None
        self.set_model_hint()
        self.text_area.clear()
        self.text_area.setPlaceholderText(self.idle_message)

    def show_recognition(self, rec, note: str = "") -> None:
        """Display a :class:`~engine.decode.protocol.Recognition`: text, confidence, RTF, model, word times;
        ``note`` (e.g. where it came from: live, or re-transcribed) above it."""
        self.transcript = rec.text
        vocab = f" · vocabulary ({len(self.vocabulary.phrases)})" if self.active_vocabulary() else ""
        words = "".join(
            f"<tr><td>{html.escape(w.word)}</td><td align='right'>{w.start:.2f}–{w.end:.2f} s</td>"
            f"<td align='right'>{w.confidence:.2f}</td></tr>" for w in rec.words)
        self.text_area.setHtml(
            (f"<p style='color:#6a4c00'>{html.escape(note)}</p>" if note else "")
            + f"<p style='font-size:17pt'><b>{html.escape(rec.text or NOTHING_HEARD)}</b>"
            f" — confidence {rec.confidence:.2f}</p>"
            f"<p style='color:#555'>RTF {rec.rtf:.3f} · model <b>{html.escape(rec.model)}</b> · "
            f"{rec.duration:.2f} s audio · decoded in {rec.decode_seconds:.2f} s{vocab}</p>"
            + (f"<table cellspacing='6'><tr><th align='left'>word</th><th>time</th><th>conf.</th></tr>{words}</table>"
               if words else "")
            + f"<p style='color:#666; font-size:9pt'>{CONFIDENCE_NOTE}</p>")

    def show_error(self, message: str) -> None:
        """Show a failure in the transcript area (the previous result is cleared)."""
        self.transcript = None
        self.text_area.setHtml(f"<p style='color:#b00020'>{html.escape(message)}</p>")

    def shown_headline(self) -> str:
        """The first line of the area's plain text (what the user reads first)."""
        return self.text_area.toPlainText().split("\n", 1)[0]

    # vocabulary -------------------------------------------------------------
    def active_vocabulary(self) -> Vocabulary | None:
        """The loaded vocabulary if "Use vocabulary" is checked, else None."""
        return self.vocabulary if self.use_box.isChecked() else None

    def choose_vocabulary(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load vocabulary", self.folder,
                                              "Text files (*.txt);;All files (*)")
        if path:
            self.load_vocabulary(path, use=True)

    def load_vocabulary(self, path: str, use: bool = True, quiet: bool = False) -> bool:
        """Read a vocabulary file; a ``VocabularyError`` is shown in a warning (or only the label if ``quiet``)."""
        try:
            vocab = Vocabulary.from_file(path)
        except VocabularyError as exc:
            if quiet:
                self.vocab_label.setText(f"Vocabulary not loaded: {exc}")
            else:
                QMessageBox.warning(self, "Vocabulary", str(exc))
            return False
        self.vocabulary, self.vocabulary_path = vocab, str(path)
        self.folder = str(Path(path).parent)
        self.vocab_label.setText(f"{Path(path).name}: {len(vocab.phrases)} phrases, {len(vocab.words)} words")
        self.vocab_label.setToolTip(", ".join(vocab.phrases[:50]) + (" …" if len(vocab.phrases) > 50 else ""))
        self.use_box.setEnabled(True)
        self.use_box.blockSignals(True)
        self.use_box.setChecked(use)
        self.use_box.blockSignals(False)
        self._emit_vocabulary()
        return True

    def _emit_vocabulary(self) -> None:
        self.vocabulary_changed.emit(self.vocabulary_path, self.use_box.isChecked())
