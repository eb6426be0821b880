"""Prompt-by-prompt recording: read each line of a prompt list into the project.

The flow of the Piper / Mimic recording studios, keyboard first:

1. the current prompt is shown in large text with "n / N";
2. **Record** (R) starts the shared :class:`~app.recorder.controller.RecorderController`,
   **Record** again stops it;
3. the take is checked (:func:`engine.audio.quality.check_take`: too quiet,
   clipped, cut off, no speech, too short) and trimmed to its speech plus
   :data:`~engine.audio.quality.TRIM_PAD_SECONDS` of silence (WebRTC VAD);
   its waveform shows the trimmed region, which can be dragged to adjust it;
4. **Accept** (A) adds the take to the project and moves on: the take's WAV
   becomes a recording (kept whole, nothing is cut away: the trim can be
   widened again later) and an utterance spanning the trimmed region, with
   the prompt as its transcript, status ``draft`` and the chosen speaker.
   A take with warnings is accepted only after a confirmation that lists
   them; the warnings are also shown in red while the take is reviewed.
   **Re-take** (Shift+R) discards the take and records again; **Skip**
   (Alt+Right) and **Previous** (Alt+Left) move without adding anything;
   **Play** (Shift+P) plays the trimmed take.

The place in the prompt list is stored in the project
(:class:`engine.data.prompts.PromptSession`): opening the project again and
loading the same list resumes at the same prompt.

A take belongs to this widget when this widget started it, or when the
recorder started (e.g. from the main window's Record) while this widget
is shown with a prompt to read; other takes are ignored.

Keys come from :data:`app.shortcuts.SHORTCUTS` (group "Prompt recording")
with the user's overrides from ``settings``; they are active while the focus
is in this widget (it takes the focus when shown and after each step; the
buttons never take it, and Enter in the speaker box hands it back).
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.playback.controller import PlaybackController
from app.recorder.controller import RecorderController
from app.shortcuts import Command, key_sequences, keys_for, native_text, shortcut
from app.widgets.level_meter import LevelMeter
from app.widgets.waveform_view import WaveformView
from engine.audio.errors import AudioError
from engine.audio.io import SAMPLE_RATE, load_audio, write_audio
from engine.audio.quality import TakeReport, check_take
from engine.data.errors import ProjectError
from engine.data.prompts import PromptSession, last_session, load_prompts
from engine.data.splits import default_split

log = logging.getLogger("sayso.prompts")

PROMPT_POINT_SIZE = 26
"""Font size (points) of the prompt to read."""
TRIM_BRUSH = pg.mkBrush(90, 200, 120, 50)
TRIM_PEN = pg.mkPen(90, 200, 120, 200)
WARNING_STYLE = ("QLabel { background: #6b1f1f; color: #ffffff; border: 2px solid #ff8a65; "
                 "border-radius: 4px; padding: 6px; font-weight: bold; }")
OK_STYLE = "QLabel { color: #7fd88f; padding: 6px; }"
ACCEPT_WARNING_STYLE = "QPushButton { background: #b24a2a; color: white; font-weight: bold; }"


NO_PROJECT = "Open or create a project first (File → New project…): accepted takes go into it."


class PromptRecorder(QWidget):
    """Records one take per prompt of a prompt list into a :class:`~engine.data.store.Project`.

    Args:
        project: the open project that accepted takes go into.
        recorder: the studio's recorder (shared with the main window).
        playback: the studio's playback, to hear a take.
        parent: the Qt parent.
        settings: a :class:`~app.settings.StudioSettings` with the user's
            shortcut overrides (None: the keys of the table).

    Signals:
        accepted(int): an utterance was added (its id).
        position_changed(int, int): the current prompt's index (0-based;
            ``total`` when all are done) and the number of prompts.
        take_checked(object): a take was recorded and checked (its
            :class:`~engine.audio.quality.TakeReport`).

    Attributes:
        session: the prompt session (None until :meth:`load_prompts`).
        take: the take being reviewed, ``(samples,)`` float32 16 kHz, or None.
        take_path: its WAV file (None if it could not be saved yet).
        report: its quality report.
        trim: ``(start, end)`` seconds of the take to keep.
    """

    accepted = Signal(int)
    position_changed = Signal(int, int)
    take_checked = Signal(object)

    def __init__(self, project, recorder: RecorderController, playback: PlaybackController,
                 parent: QWidget | None = None, settings=None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.settings = settings
        """A :class:`~app.settings.StudioSettings` whose shortcut overrides apply (None: the defaults)."""
        self.project = project
        self.recorder = recorder
        self.playback = playback
        self.session: PromptSession | None = None
        self.take: np.ndarray | None = None
        self.take_path: Path | None = None
        self.report: TakeReport | None = None
        self.trim: tuple[float, float] | None = None
        self._claimed = False      # the running take is ours
        self._discard_next = False  # the running take was re-taken: drop it when it arrives
        self._playing = False      # the playback running is our take's
        self._folder = ""
        self.actions_by_command: dict[Command, QAction] = {}
        self._build()
        recorder.recording_changed.connect(self._recording_changed)
        recorder.samples_arrived.connect(self._samples)
        recorder.level.connect(self._level)
        recorder.recorded.connect(self._recorded)
        recorder.error.connect(self._recorder_error)
        playback.position_changed.connect(self._play_position)
        playback.playing_changed.connect(self._playing_changed)
        self._refresh()

    # ------------------------------------------------------------ building

    def _action(self, command: Command, text: str, slot) -> QAction:
        action = QAction(text, self)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)  # while focus is in here
        action.setData(command.value)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        self.actions_by_command[command] = action
        return action

    def _keys(self, command: Command) -> str:
        """The keys of ``command`` as the platform writes them ("" if the user unbound them)."""
        return native_text(keys_for(command, self.settings))

    def _button(self, action: QAction) -> QPushButton:
        button = QPushButton(self)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys go to the shortcuts, not to a focused button
        button.clicked.connect(action.trigger)
        return button

    def _label(self, command: Command, text: str) -> str:
        keys = self._keys(command)
        return f"{text}  [{keys}]" if keys else text

    def apply_shortcuts(self) -> None:
        """Re-read the keys of every command (after the user customized them), with their tooltips."""
        for command, action in self.actions_by_command.items():
            action.setShortcuts(key_sequences(command, self.settings))
            keys, description = self._keys(command), shortcut(command).description
            action.setToolTip(f"{description} ({keys})" if keys else description)
        for command, button, text in (
                (Command.PROMPT_PREVIOUS, self.previous_button, "Previous"),
                (Command.PROMPT_RETAKE, self.retake_button, "Re-take"),
                (Command.PROMPT_PLAY, self.play_button, "Play"),
                (Command.PROMPT_SKIP, self.skip_button, "Skip")):
            button.setText(self._label(command, text))
        for command, button in ((Command.PROMPT_PREVIOUS, self.previous_button),
                                (Command.PROMPT_RECORD, self.record_button),
                                (Command.PROMPT_RETAKE, self.retake_button),
                                (Command.PROMPT_PLAY, self.play_button),
                                (Command.PROMPT_ACCEPT, self.accept_button),
                                (Command.PROMPT_SKIP, self.skip_button)):
            button.setToolTip(self.actions_by_command[command].toolTip())
        self._refresh()

    def _build(self) -> None:
        self.record_action = self._action(Command.PROMPT_RECORD, "Record", self.toggle_record)
        self.accept_action = self._action(Command.PROMPT_ACCEPT, "Accept", self.accept_take)
        self.retake_action = self._action(Command.PROMPT_RETAKE, "Re-take", self.retake)
        self.skip_action = self._action(Command.PROMPT_SKIP, "Skip", self.skip)
        self.previous_action = self._action(Command.PROMPT_PREVIOUS, "Previous", self.previous)
        self.play_action = self._action(Command.PROMPT_PLAY, "Play take", self.toggle_play)

        self.file_label = QLabel("No prompt list loaded.", self)
        self.counter_label = QLabel("", self)
        font = self.counter_label.font()
        font.setBold(True)
        self.counter_label.setFont(font)
        self.speaker_box = QComboBox(self)
        self.speaker_box.setEditable(True)
        self.speaker_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.speaker_box.lineEdit().setPlaceholderText("speaker (optional)")
        self.speaker_box.setMinimumWidth(160)
        self.speaker_box.setToolTip("Who is reading: stored with every accepted take")
        self.load_button = QPushButton("Load prompt list…", self)
        self.load_button.setToolTip("A UTF-8 text file with one prompt per line")
        self.load_button.clicked.connect(self.choose_prompt_file)
        top = QHBoxLayout()
        top.addWidget(self.load_button)
        top.addWidget(self.file_label, 1)
        top.addWidget(QLabel("Speaker:", self))
        top.addWidget(self.speaker_box)
        top.addWidget(self.counter_label)

        self.prompt_label = QLabel("Load a prompt list (one sentence per line) to start.", self)
        prompt_font = QFont(self.prompt_label.font())
        prompt_font.setPointSize(PROMPT_POINT_SIZE)
        self.prompt_label.setFont(prompt_font)
        self.prompt_label.setWordWrap(True)
        self.prompt_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.prompt_label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.prompt_label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.prompt_label.setMinimumHeight(120)

        self.level_meter = LevelMeter(self)
        self.waveform = WaveformView(self)
        self.trim_region = pg.LinearRegionItem((0.0, 0.0), movable=True, brush=TRIM_BRUSH, pen=TRIM_PEN)
        self.trim_region.setZValue(-10)
        self.trim_region.setToolTip("The part of the take that is kept; drag its edges to adjust")
        self.trim_region.hide()
        self.waveform.addItem(self.trim_region)
        self.trim_region.sigRegionChangeFinished.connect(self._trim_dragged)

        self.warning_label = QLabel("", self)
        self.warning_label.setWordWrap(True)
        self.warning_label.hide()
        self.status_label = QLabel("", self)
        self.status_label.setWordWrap(True)

        self.previous_button = self._button(self.previous_action)
        self.record_button = self._button(self.record_action)
        self.retake_button = self._button(self.retake_action)
        self.play_button = self._button(self.play_action)
        self.accept_button = self._button(self.accept_action)
        self.skip_button = self._button(self.skip_action)
        buttons = QHBoxLayout()
        for b in (self.previous_button, self.record_button, self.retake_button, self.play_button,
                  self.accept_button, self.skip_button):
            buttons.addWidget(b)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.prompt_label, 2)
        layout.addWidget(self.level_meter)
        layout.addWidget(self.waveform, 2)
        layout.addWidget(self.warning_label)
        layout.addLayout(buttons)
        layout.addWidget(self.status_label)
        self._fill_speakers("")
        self.speaker_box.lineEdit().returnPressed.connect(self.setFocus)
        self.apply_shortcuts()

    def showEvent(self, event) -> None:
        """Take the keyboard focus when shown (the shortcuts work while it is in here)."""
        super().showEvent(event)
        self._take_focus()

    def _take_focus(self) -> None:
        focused = QApplication.focusWidget()
        if focused is None or (focused is not self and not self.isAncestorOf(focused)):
            self.setFocus()

    def _fill_speakers(self, current: str) -> None:
        try:
            names = self.project.speakers() if self.project is not None else []
        except ProjectError as exc:
            log.warning("cannot read the speakers: %s", exc)
            names = []
        self.speaker_box.blockSignals(True)
        self.speaker_box.clear()
        self.speaker_box.addItems(names)
        self.speaker_box.setCurrentText(current)
        self.speaker_box.blockSignals(False)

    # ------------------------------------------------------------ state

    @property
    def is_recording(self) -> bool:
        """True while a take of this widget is being recorded."""
        return self._claimed and self.recorder.is_recording

    @property
    def speaker(self) -> str | None:
        """The chosen speaker name, or None."""
        return self.speaker_box.currentText().strip() or None

    @property
    def current_prompt(self) -> str | None:
        """The text of the prompt to read now (None before loading, or when all are done)."""
        prompt = self.session.current if self.session is not None else None
        return None if prompt is None else prompt.text

    # ------------------------------------------------------------ prompt list

    def load_prompts(self, path, quiet: bool = False) -> bool:
        """Load a prompt list (UTF-8, one prompt per line) and resume where it was left in this project.

        Args:
            path: the ``.txt`` file.
            quiet: show a problem only in the status line, not in a dialog.

        Returns:
            True if loaded; False (the problem shown, the previous list kept) otherwise.
        """
        if self.project is None:
            self._problem("Prompt list", NO_PROJECT, quiet)
            return False
        try:
            prompts = load_prompts(path)
            session = PromptSession(self.project, prompts)
        except ProjectError as exc:  # PromptFileError too
            self._problem("Prompt list", str(exc), quiet)
            return False
        self._drop_take()
        self.session = session
        self._folder = str(prompts.path.parent)
        self.file_label.setText(prompts.path.name)
        self.file_label.setToolTip(str(prompts.path))
        if session.speaker:
            self._fill_speakers(session.speaker)
        where = "from the start" if session.index == 0 else f"at prompt {session.index + 1}"
        self._status(f"{prompts.path.name}: {session.total} prompts; continuing {where}.")
        self._refresh()
        if self.isVisible():
            self.setFocus()
        self.position_changed.emit(session.index, session.total)
        return True

    def resume_last_session(self) -> bool:
        """Load the prompt list this project was last read from, if it still exists; True if loaded."""
        if self.project is None:
            return False
        try:
            info = last_session(self.project)
        except ProjectError as exc:
            log.warning("%s", exc)
            return False
        if info is None or not info.path.is_file():
            return False
        return self.load_prompts(info.path, quiet=True)

    def choose_prompt_file(self) -> bool:
        """Ask for a prompt list with a file dialog and load it."""
        path, _ = QFileDialog.getOpenFileName(self, "Load a prompt list", self._folder,
                                              "Prompt lists (*.txt);;All files (*)")
        return bool(path) and self.load_prompts(path)

    def set_project(self, project) -> None:
        """Switch to another project (the prompt list is unloaded; a take under review is dropped)."""
        if self.is_recording:
            self._discard_next = True
            self.recorder.stop()
        self._drop_take()
        self.project = project
        self.session = None
        self.file_label.setText("No prompt list loaded.")
        self._fill_speakers("")
        self._refresh()

    # ------------------------------------------------------------ commands

    def toggle_record(self) -> None:
        """Record the current prompt, or stop recording it."""
        if self.recorder.is_recording:
            if self._claimed:
                self.recorder.stop()
            else:
                self._status("Another recording is running; stop it first.")
            return
        self.start_recording()

    def start_recording(self) -> bool:
        """Start a take of the current prompt (a take under review is discarded); True if recording."""
        if self.session is None or self.session.done:
            self._status("Load a prompt list first." if self.session is None else "All prompts are done.")
            return False
        if self.recorder.is_recording:
            return self._claimed
        self._drop_take()
        self._claimed = True
        self.waveform.clear_audio()
        self.waveform.set_follow()
        if not self.recorder.start():
            self._claimed = False
            self._refresh()
            return False
        self._status("Recording… read the prompt, then press "
                     f"{self._keys(Command.PROMPT_RECORD)} to stop.")
        return True

    def retake(self) -> None:
        """Discard the take (the one under review or the one being recorded) and record again."""
        if self.session is None or self.session.done:
            return
        if self.is_recording:
            self._discard_next = True
            self.recorder.stop()
        elif self.recorder.is_recording:
            return
        self._drop_take()
        self._status("Take discarded.")
        self.start_recording()

    def accept_take(self) -> int | None:
        """Add the take under review to the project and go to the next prompt.

        A take with warnings is added only if the confirmation is answered yes.

        Returns:
            The new utterance's id, or None if nothing was added.
        """
        if self.take is None or self.session is None or self.session.current is None or self.is_recording:
            return None
        report = self.report
        if report is not None and report.warnings and not self._confirm(report):
            self._status("Not accepted: re-take it, or accept it anyway.")
            return None
        prompt = self.session.current
        try:
            path = self._take_file()
            rec = self.project.add_recording(path)
            start, end = self.trim or (0.0, rec.duration)
            start = min(max(0.0, start), rec.duration)
            end = min(max(start, end), rec.duration)
            if end - start <= 0.0:
                start, end = 0.0, rec.duration
            uid = self.project.add_utterance(rec.id, start, end, transcript=prompt.text, status="draft",
                                             speaker=self.speaker, split=default_split(rec.sha256))
            self.session.next(speaker=self.speaker or "")
        except (ProjectError, OSError) as exc:
            self._problem("Cannot add the take", str(exc) if isinstance(exc, ProjectError)
                          else f"The take could not be saved ({exc.strerror or exc}).", False)
            return None
        speaker = self.speaker or ""
        self._drop_take()
        self._fill_speakers(speaker)
        self._status(f"Added prompt {self.session.index} as utterance {uid} ({end - start:.2f} s).")
        self._refresh()
        self.accepted.emit(uid)
        self.position_changed.emit(self.session.index, self.session.total)
        return uid

    def skip(self) -> None:
        """Go to the next prompt without adding anything (a take under review is dropped)."""
        self._move(+1)

    def previous(self) -> None:
        """Go back to the previous prompt (a take under review is dropped)."""
        self._move(-1)

    def toggle_play(self) -> None:
        """Play the trimmed take, or stop playing it."""
        if self._playing and self.playback.is_playing:
            self.playback.stop()
            return
        if self.take is None or self.is_recording:
            return
        start, end = self.trim or (0.0, len(self.take) / SAMPLE_RATE)
        self._playing = True
        if not self.playback.play(self.take, start, end):
            self._playing = False

    # ------------------------------------------------------------ helpers

    def _move(self, step: int) -> None:
        if self.session is None or self.recorder.is_recording or step == 0:
            return
        try:
            self.session.go(self.session.index + step)
        except ProjectError as exc:
            self._problem("Prompt list", str(exc), False)
            return
        self._drop_take()
        self._status("")
        self._refresh()
        self.position_changed.emit(self.session.index, self.session.total)

    def _take_file(self) -> Path:
        """The take's WAV (written to the takes folder if the recorder could not save it)."""
        if self.take_path is not None and self.take_path.is_file():
            return self.take_path
        folder = Path(self.recorder.takes_dir)
        folder.mkdir(parents=True, exist_ok=True)
        self.take_path = write_audio(folder / f"prompt-take-{time.strftime('%Y%m%d-%H%M%S')}-"
                                              f"{int(time.time() * 1000) % 1000:03d}.wav", self.take)
        return self.take_path

    def _confirm(self, report: TakeReport) -> bool:
        text = ("This take has problems:\n\n" + "\n".join(f"• {m}" for m in report.messages) +
                "\n\nAccept it anyway?")
        answer = QMessageBox.warning(self, "Accept this take?", text,
                                     QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                     QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _problem(self, title: str, message: str, quiet: bool) -> None:
        self._status(message)
        if not quiet:
            QMessageBox.warning(self, title, message)

    def _status(self, text: str) -> None:
        self.status_label.setText(text)

    def _drop_take(self) -> None:
        if self._playing and self.playback.is_playing:
            self.playback.stop()
        self.take = self.take_path = self.report = self.trim = None
        self.trim_region.hide()
        self.warning_label.hide()
        self.warning_label.setText("")

    def _show_take(self) -> None:
        report, take = self.report, self.take
        self.waveform.set_follow(None)
        self.waveform.set_audio(take)
        start, end = self.trim
        self.trim_region.blockSignals(True)
        self.trim_region.setBounds((0.0, report.duration))
        self.trim_region.setRegion((start, end))
        self.trim_region.blockSignals(False)
        self.trim_region.show()
        if report.warnings:
            self.warning_label.setStyleSheet(WARNING_STYLE)
            self.warning_label.setText("\n".join(f"⚠ {m}" for m in report.messages))
        else:
            peak = "silent" if report.peak_dbfs == -math.inf else f"peak {report.peak_dbfs:.0f} dBFS"
            self.warning_label.setStyleSheet(OK_STYLE)
            self.warning_label.setText(f"✓ Good take: {peak}; keeping {end - start:.2f} s.")
        self.warning_label.show()
        self._status(f"Take of {report.duration:.2f} s, keeping {start:.2f}–{end:.2f} s. "
                     f"Accept ({self._keys(Command.PROMPT_ACCEPT)}) or re-take "
                     f"({self._keys(Command.PROMPT_RETAKE)}).")

    def _refresh(self) -> None:
        session = self.session
        ours = self.is_recording
        busy = self.recorder.is_recording
        has_take = self.take is not None
        can_record = session is not None and not session.done and (ours or not busy)
        self.load_button.setEnabled(self.project is not None and not busy)
        if session is None:
            self.counter_label.setText("")
            self.prompt_label.setText(NO_PROJECT if self.project is None else
                                      "Load a prompt list (one prompt per line) to start.")
        else:
            shown = min(session.index + 1, session.total)
            self.counter_label.setText(f"{shown} / {session.total}" if not session.done
                                       else f"{session.total} / {session.total} done")
            prompt = session.current
            self.prompt_label.setText(prompt.text if prompt is not None else
                                      f"All {session.total} prompts are done. Go back with "
                                      f"{self._keys(Command.PROMPT_PREVIOUS)} to redo one.")
        self.record_action.setEnabled(can_record)
        self.record_button.setEnabled(can_record)
        self.record_button.setText(self._label(Command.PROMPT_RECORD, "Stop" if ours else "Record"))
        warn = has_take and self.report is not None and bool(self.report.warnings)
        self.accept_button.setText(self._label(Command.PROMPT_ACCEPT, "Accept anyway…" if warn else "Accept"))
        self.accept_button.setStyleSheet(ACCEPT_WARNING_STYLE if warn else "")
        for action, button, enabled in (
                (self.accept_action, self.accept_button, has_take and not busy),
                (self.play_action, self.play_button, has_take and not busy),
                (self.retake_action, self.retake_button, (has_take or ours) and can_record),
                (self.skip_action, self.skip_button, session is not None and not session.done and not busy),
                (self.previous_action, self.previous_button, session is not None and session.index > 0
                 and not busy)):
            action.setEnabled(enabled)
            button.setEnabled(enabled)

    # ------------------------------------------------------------ recorder and playback signals

    def _recording_changed(self, recording: bool) -> None:
        if recording and not self._claimed and self.isVisible() and self.current_prompt is not None:
            self._drop_take()  # started elsewhere (the main window's Record) while we are shown: ours
            self._claimed = True
            self.waveform.clear_audio()
            self.waveform.set_follow()
        if not recording:
            self.level_meter.reset()
        self._refresh()

    def _samples(self, chunk) -> None:
        if self._claimed:
            self.waveform.append(chunk)

    def _level(self, db: float, clipped: bool) -> None:
        if self._claimed:
            self.level_meter.set_level(db, clipped)

    def _recorded(self, audio) -> None:
        if not self._claimed:
            return
        self._claimed = False
        path = self.recorder.last_take_path
        if self._discard_next:
            self._discard_next = False
            self._refresh()
            return
        take = np.asarray(audio, dtype=np.float32)
        if path is not None:
            try:  # the file is what goes into the project: check and trim exactly its samples
                take = load_audio(path, min_seconds=0.0)
            except AudioError as exc:
                log.warning("cannot read the take back (%s); using the recorded samples", exc)
                path = None
        if take.size == 0:
            self._status("The take is empty: nothing was recorded. Check the microphone and record again.")
            self._refresh()
            return
        self.take, self.take_path = take, path
        self.report = check_take(take, SAMPLE_RATE)
        self.trim = self.report.trim
        self._show_take()
        self._refresh()
        self.take_checked.emit(self.report)

    def _recorder_error(self, message: str) -> None:
        if self._claimed or self.take is not None or self.isVisible():
            self._status(message)
        if self._claimed and not self.recorder.is_recording:
            self._refresh()

    def _trim_dragged(self) -> None:
        if self.take is None:
            return
        lo, hi = self.trim_region.getRegion()
        duration = len(self.take) / SAMPLE_RATE
        lo, hi = max(0.0, float(lo)), min(duration, float(hi))
        if hi - lo < 0.05:
            return
        self.trim = (lo, hi)
        self._status(f"Keeping {lo:.2f}–{hi:.2f} s of the take.")

    def _play_position(self, seconds: float) -> None:
        if self._playing:
            self.waveform.set_playhead(seconds)

    def _playing_changed(self, playing: bool) -> None:
        if not playing and self._playing:
            self._playing = False
            self.waveform.set_playhead(None)
