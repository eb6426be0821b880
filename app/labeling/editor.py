"""The labeling editor: the selected utterance's audio, boundaries, transcript and metadata.

:class:`UtteranceEditor` shows one :class:`~engine.data.query.UtteranceRow`:
its recording's waveform and spectrogram around the segment
(:class:`~app.labeling.segment_plots.SegmentPlots`, audio cached per recording
by :class:`~app.labeling.audio_cache.AudioCache`), a transcript field meant
for the keyboard (:class:`TranscriptField`), and its speaker and split. It
plays the segment through the shared
:class:`~app.playback.controller.PlaybackController`, moving the playhead
and the split cursor with it.

The editor does not write to the project: it emits what the user changed
(boundaries, speaker, split) and the labeling view
(:class:`app.labeling.view.LabelingView`) writes it, one undoable edit each.
"""
from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.labeling.audio_cache import AudioCache, RecordingAudio
from app.labeling.segment_plots import SegmentPlots
from app.playback.controller import PlaybackController
from engine.audio.errors import AudioError
from engine.data.query import SPLITS, UtteranceRow
from engine.data.recordings import Recording

log = logging.getLogger("sayso.labeling")

NO_SPLIT = "(no split)"
TRANSCRIPT_POINT_SIZE = 15


class TranscriptField(QLineEdit):
    """The transcript line edit, keyboard first.

    * Up / Down (no modifier) emit :attr:`step` (-1 / +1): move between utterances.
    * Escape reverts unsaved typing; with nothing to revert it emits :attr:`escape`.
    * The project's undo/redo keys (:attr:`project_keys`) go to the project
      while the text is unchanged since it was loaded; while it holds unsaved
      typing they undo that typing, as in any text field.
    """

    step = Signal(int)
    escape = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.saved_text = ""
        """The transcript as stored (what :meth:`revert` goes back to)."""
        self.project_keys: list[QKeySequence] = []
        font = self.font()
        font.setPointSize(TRANSCRIPT_POINT_SIZE)
        self.setFont(font)
        self.setPlaceholderText("Type what is said, then Enter")
        self.setClearButtonEnabled(True)

    @property
    def dirty(self) -> bool:
        """True while the text differs from the stored transcript."""
        return self.text() != self.saved_text

    def load(self, text: str) -> None:
        """Show the stored transcript ``text`` (forgetting unsaved typing)."""
        self.saved_text = text
        self.setText(text)
        self.setModified(False)

    def revert(self) -> None:
        self.setText(self.saved_text)
        self.setModified(False)

    def _is_project_key(self, event) -> bool:
        pressed = QKeySequence(event.keyCombination())
        return any(pressed.matches(k) == QKeySequence.SequenceMatch.ExactMatch for k in self.project_keys)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and not self.dirty and self._is_project_key(event):
            event.ignore()  # not ours: let the project's Undo/Redo action have it
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        key, mods = event.key(), event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if mods == Qt.KeyboardModifier.NoModifier and key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self.step.emit(-1 if key == Qt.Key.Key_Up else 1)
            return
        if mods == Qt.KeyboardModifier.NoModifier and key == Qt.Key.Key_Escape:
            if self.dirty:
                self.revert()
            else:
                self.escape.emit()
            return
        super().keyPressEvent(event)


class UtteranceEditor(QWidget):
    """Plots, transcript, speaker and split of one utterance.

    Args:
        playback: the studio's shared playback controller.
        parent: the parent widget.

    Signals:
        bounds_edited(float, float): the user dragged the segment to new start, end seconds.
        speaker_edited(str): the user chose or typed a speaker ("" = none).
        split_edited(object): the user chose a split (``"train"``, ``"dev"``, ``"test"`` or None).
        step(int): the transcript field asked for the previous (-1) or next (+1) utterance.
        message(str): something to tell the user (status bar).
    """

    bounds_edited = Signal(float, float)
    speaker_edited = Signal(str)
    split_edited = Signal(object)
    step = Signal(int)
    message = Signal(str)

    def __init__(self, playback: PlaybackController, parent=None) -> None:
        super().__init__(parent)
        self.playback = playback
        self.cache = AudioCache()
        self.utterance: UtteranceRow | None = None
        self.recording: Recording | None = None
        self.data: RecordingAudio | None = None
        self.audio_error = ""
        self._playing_ours = False
        self._starting = False

        self.header = QLabel()
        self.header.setTextFormat(Qt.TextFormat.PlainText)
        self.plots = SegmentPlots()
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #b00020")
        self.problem.setWordWrap(True)
        self.problem.hide()
        self.transcript = TranscriptField()
        self.play_button = QPushButton("Play")
        self.play_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.play_button.clicked.connect(self.play)
        self.autoplay_box = QCheckBox("Auto-play")
        self.autoplay_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.autoplay_box.setToolTip("Play each utterance when it is selected")
        self.speaker_box = QComboBox()
        self.speaker_box.setEditable(True)
        self.speaker_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.speaker_box.lineEdit().setPlaceholderText("speaker")
        self.speaker_box.setMinimumWidth(120)
        self.speaker_box.setToolTip("Speaker of this utterance (type a new name to add one)")
        self.split_box = QComboBox()
        self.split_box.addItems([NO_SPLIT, *SPLITS])
        self.split_box.setToolTip("Data split of this utterance")

        self.plots.bounds_edited.connect(self.bounds_edited)
        self.transcript.step.connect(self.step)
        self.transcript.escape.connect(self.playback.stop)
        self.speaker_box.activated.connect(lambda _i: self._speaker_done())
        self.speaker_box.lineEdit().editingFinished.connect(self._speaker_done)
        self.split_box.activated.connect(lambda _i: self._split_done())
        self.playback.position_changed.connect(self._on_position)
        self.playback.playing_changed.connect(self._on_playing)

        row = QHBoxLayout()
        row.addWidget(self.play_button)
        row.addWidget(self.transcript, 1)
        row.addWidget(self.speaker_box)
        row.addWidget(self.split_box)
        row.addWidget(self.autoplay_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.plots, 1)
        layout.addWidget(self.problem)
        layout.addLayout(row)
        self.transcript.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.show_utterance(None, None)

    # -- content -----------------------------------------------------------------
    def set_speakers(self, names: list[str]) -> None:
        """The speaker names offered in the speaker box."""
        current = self.speaker_box.currentText()
        self.speaker_box.blockSignals(True)
        self.speaker_box.clear()
        self.speaker_box.addItems(names)
        self.speaker_box.setEditText(current)
        self.speaker_box.blockSignals(False)

    def show_utterance(self, row: UtteranceRow | None, recording: Recording | None, keep_view: bool = False) -> None:
        """Show ``row`` of ``recording`` (None: nothing selected).

        Args:
            keep_view: the same utterance after a small change: keep the
                zoom and the unsaved text of the transcript field.
        """
        same = row is not None and self.utterance is not None and row.id == self.utterance.id
        self.utterance, self.recording = row, recording
        enabled = row is not None
        for w in (self.transcript, self.speaker_box, self.split_box, self.play_button):
            w.setEnabled(enabled)
        if row is None:
            self.header.setText("No utterance selected")
            self.transcript.load("")
            self.speaker_box.setEditText("")
            self.split_box.setCurrentIndex(0)
            self.plots.clear()
            self._set_problem("")
            return
        if not (same and keep_view and self.transcript.dirty):
            self.transcript.load(row.text)
        else:
            self.transcript.saved_text = row.text
        self.speaker_box.setEditText(row.speaker or "")
        self.split_box.setCurrentIndex(0 if row.split is None else 1 + SPLITS.index(row.split))
        name = recording.file.name if recording is not None else f"recording {row.recording_id}"
        self.header.setText(f"Utterance {row.id}  ·  {name}  ·  {row.start:.2f}–{row.end:.2f} s "
                            f"({row.duration:.2f} s)  ·  {row.status}")
        self._load_audio()
        if self.data is not None:
            self.plots.show_segment(self.data, row.start, row.end, zoom=not (same and keep_view))

    def _load_audio(self) -> None:
        rec = self.recording
        if rec is None:
            self.data = None
            self._set_problem("The recording of this utterance is not in the project.")
            return
        try:
            self.data = self.cache.get(rec.file, rec.sha256)
        except AudioError as exc:
            self.data = None
            self.plots.clear()
            self._set_problem(f"Cannot show the audio: {exc} The transcript can still be edited.")
            return
        self._set_problem("")

    def _set_problem(self, text: str) -> None:
        if text and text != self.audio_error:
            self.message.emit(text)
        self.audio_error = text
        self.problem.setText(text)
        self.problem.setVisible(bool(text))

    # -- transcript and metadata ---------------------------------------------------------
    def focus_transcript(self, select_all: bool = False) -> None:
        self.transcript.setFocus(Qt.FocusReason.ShortcutFocusReason)
        if select_all:
            self.transcript.selectAll()
        else:
            self.transcript.end(False)

    def pending_speaker(self) -> str | None:
        """The speaker typed but not yet saved, or None."""
        if self.utterance is None:
            return None
        text = self.speaker_box.currentText().strip()
        return text if text != (self.utterance.speaker or "") else None

    def _speaker_done(self) -> None:
        text = self.pending_speaker()
        if text is not None:
            self.speaker_edited.emit(text)

    def _split_done(self) -> None:
        if self.utterance is None:
            return
        text = self.split_box.currentText()
        split = None if text == NO_SPLIT else text
        if split != self.utterance.split:
            self.split_edited.emit(split)

    # -- playback ------------------------------------------------------------------
    @property
    def autoplay(self) -> bool:
        return self.autoplay_box.isChecked()

    def play(self) -> bool:
        """Play the segment from its start (again, if it plays already). False if there is nothing to play."""
        if self.utterance is None:
            self.message.emit("Select an utterance to play it.")
            return False
        if self.data is None:
            self.message.emit(self.audio_error or "The audio of this utterance cannot be played.")
            return False
        start, end = self.plots.segment
        self._starting = self._playing_ours = True
        try:
            started = self.playback.play(self.data.audio, start, end)
        finally:
            self._starting = False
        if not started:
            self._playing_ours = False
        return started

    def stop(self) -> None:
        if self._playing_ours:
            self.playback.stop()

    @property
    def playing(self) -> bool:
        """True while this editor's segment plays."""
        return self._playing_ours and self.playback.is_playing

    def split_point(self) -> float | None:
        """Where to split: the playback position while the segment plays, else the cursor or
        the mouse pointer (whichever moved last); None if there is none."""
        if self.playing:
            return float(self.playback.position)
        return self.plots.split_point()

    def _on_position(self, seconds: float) -> None:
        if self._playing_ours:
            self.plots.set_playhead(seconds)
            self.plots.set_cursor(seconds)

    def _on_playing(self, playing: bool) -> None:
        if not playing and self._playing_ours and not self._starting:
            self._playing_ours = False
            self.plots.set_playhead(None)
