"""The studio's main window: layout and wiring only.

Plots (waveform, log-mel spectrogram, cross-attention) are stacked on the
left and share one time axis in seconds; the transcript panel is on the
right of a splitter, above the live transcript. Recognition (of a whole
clip, and live while recording) runs in a worker process via
:class:`app.recognizer_bridge.RecognizerBridge`; recording via
:class:`app.recorder.controller.RecorderController`.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QIcon
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QToolButton,
)

from app.active_model import ActiveModel, model_problem
from app.insight.view import InsightView
from app.labeling.prompt_mode import PromptRecorder
from app.labeling.view import LabelingView
from app.live.endpoint_dialog import EndpointDialog
from app.live.transcript_view import LiveTranscriptView
from app.playback.controller import PlaybackController
from app.project.controller import ProjectController
from app.recognizer_bridge import RecognizerBridge
from app.recorder.controller import RecorderController
from app.settings import StudioSettings
from app.shortcut_editor import ShortcutEditorDialog
from app.shortcuts import Command, ShortcutsDialog, key_sequences, native_text, shortcut
from app.training.job_queue import TrainingJobQueue
from app.training.panel import TrainingPanel
from app.transcribe.panel import TranscriptPanel
from app.widgets.attention_view import AttentionView
from app.widgets.level_meter import LevelMeter
from app.widgets.live_feed import LiveFeed
from app.widgets.live_spectrogram import LiveSpectrogramView
from app.widgets.spectrogram_view import SpectrogramView
from app.widgets.waveform_view import WaveformView
from engine.audio.endpoint import EndpointConfig
from engine.audio.errors import AudioError
from engine.audio.features import log_mel_db
from engine.audio.io import SAMPLE_RATE, load_audio, write_audio
from engine.resources import icon_path

if TYPE_CHECKING:
    from app.models_window.dialog import ModelsDialog

TITLE = "Sayso studio"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
AUDIO_FILTER = "Audio files (*.wav *.flac *.ogg);;All files (*)"
DEFAULT_SIZE = QSize(1280, 860)


def icon(name: str) -> QIcon:
    """The bundled toolbar icon ``name`` (:func:`engine.resources.icon_path`); an empty icon if it is missing."""
    path = icon_path(name)
    return QIcon(str(path)) if path.exists() else QIcon()


class MainWindow(QMainWindow):
    """One window: record or open audio, look at it, transcribe it.

    Args:
        model_path: checkpoint folder for recognition (see :func:`app.active_model.resolve_model_path`).
        preload_model: start the worker (and load the model) right away.
    """

    def __init__(self, model_path: Path, preload_model: bool = False) -> None:
        super().__init__()
        self.setWindowTitle(TITLE)
        self.setAcceptDrops(True)
        self.settings = StudioSettings()
        self.audio: np.ndarray | None = None
        self.audio_name = ""
        self._submitted_audio: np.ndarray | None = None
        self.active_model = ActiveModel(model_path, parent=self)

        self.waveform = WaveformView()
        self.spectrogram = SpectrogramView()
        self.live_spectrogram = LiveSpectrogramView()
        self.attention = AttentionView()
        for view in (self.spectrogram, self.live_spectrogram, self.attention.plot):
            view.setXLink(self.waveform)
        self.waveform.set_follow(self.live_spectrogram.span_s)
        self.panel = TranscriptPanel()
        self.live_view = LiveTranscriptView()
        self.level_meter = LevelMeter()
        self.recorder = RecorderController(self)
        self.live_feed = LiveFeed(self.waveform, self.live_spectrogram, parent=self)
        self.playback = PlaybackController(self)
        self.playback.attach(self.waveform, self.spectrogram)
        self.projects = ProjectController(self, self.settings, self.recognizer)
        self.labeling = LabelingView(None, self.playback, self.settings)
        self.prompts = PromptRecorder(None, self.recorder, self.playback, settings=self.settings)
        self.training_queue = TrainingJobQueue(parent=self)
        self.training = TrainingPanel(self.training_queue, self.playback, self.settings)
        self.training.set_base_model(self.model_path)
        self.insight = InsightView()
        self.insight.set_jobs(self.recognizer)

        self._build_actions()
        self._build_layout()
        self._connect()
        self._restore_settings()
        self.recorder.check_devices()
        self.recover_takes()
        self._update_actions()
        if preload_model:
            self.active_model.warm_up()

    @property
    def recognizer(self) -> RecognizerBridge | None:
        """The active model's recognizer (:attr:`ActiveModel.recognizer`), or None without a model."""
        return self.active_model.recognizer

    @property
    def model_path(self) -> Path:
        """The active model's checkpoint folder."""
        return self.active_model.path

    @property
    def model_error(self) -> str | None:
        """Why the studio has no model (a user message), or None."""
        return self.active_model.problem

    # -- construction --------------------------------------------------------
    def _action(self, command: Command, text: str, slot, icon_name: str | None = None) -> QAction:
        action = QAction(icon(icon_name) if icon_name else QIcon(), text, self)
        action.setShortcuts(key_sequences(command, self.settings))
        action.setData(command)
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        sc = shortcut(command)
        action.setToolTip(f"{sc.description} ({native_text(sc.keys)})")
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.record_action = self._action(Command.RECORD, "Record", self.recorder.toggle, "record")
        self.record_action.setCheckable(True)
        self.open_action = self._action(Command.OPEN, "Open…", self.choose_file, "open")
        self.save_action = self._action(Command.SAVE, "Save audio…", self.choose_save_path, "save")
        self.play_action = self._action(Command.PLAY, "Play", self.toggle_playback, "play")
        self.play_action.setCheckable(True)
        self.transcribe_action = self._action(Command.TRANSCRIBE, "Transcribe", self.transcribe, "transcribe")
        self.live_action = self._action(Command.LIVE, "Transcribe while recording", self.live_view.set_live_enabled)
        self.live_action.setCheckable(True)
        self.live_settings_action = QAction("Live settings…", self)
        self.live_settings_action.triggered.connect(self.edit_live_settings)
        self.vocab_action = self._action(Command.LOAD_VOCABULARY, "Load vocabulary…", self.panel.choose_vocabulary)
        self.models_action = self._action(Command.MODELS, "Models…", self.show_models)
        self.zoom_action = self._action(Command.ZOOM_FIT, "Zoom to fit", self.waveform.zoom_to_fit)
        self.help_action = self._action(Command.SHORTCUTS, "Keyboard shortcuts", self.show_shortcuts)
        self.customize_action = QAction("Customize shortcuts…", self)
        self.customize_action.triggered.connect(self.customize_shortcuts)
        self.quit_action = self._action(Command.QUIT, "Quit", self.close)
        self.rescan_action = QAction("Rescan input devices", self)
        self.rescan_action.triggered.connect(self.recorder.rescan)
        self.device_menu = None
        self.device_group = QActionGroup(self)
        self.device_group.setExclusive(True)

        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addActions([self.open_action, self.save_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        record_menu = menus.addMenu("&Record")
        record_menu.addActions([self.record_action, self.play_action])
        self.device_menu = record_menu.addMenu("Input device")
        record_menu.addAction(self.rescan_action)
        transcribe_menu = menus.addMenu("&Transcribe")
        transcribe_menu.addActions([self.transcribe_action, self.live_action, self.live_settings_action,
                                    self.vocab_action])
        transcribe_menu.addSeparator()
        transcribe_menu.addAction(self.models_action)
        menus.addMenu("&View").addAction(self.zoom_action)
        menus.addMenu("&Help").addActions([self.help_action, self.customize_action])
        self.projects.add_actions(file_menu, transcribe_menu)

        bar = QToolBar("Main", self)
        bar.setObjectName("main_toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.setIconSize(QSize(20, 20))
        bar.addActions([self.record_action, self.play_action, self.open_action, self.save_action])
        bar.addSeparator()
        bar.addAction(self.transcribe_action)
        bar.addSeparator()
        bar.addWidget(QLabel(" Input "))
        bar.addWidget(self.level_meter)
        for button in bar.findChildren(QToolButton):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space belongs to Record, not to a focused button
        self.addToolBar(bar)

    def _build_layout(self) -> None:
        plots = QSplitter(Qt.Orientation.Vertical)
        self.spectrograms = QStackedWidget()  # the clip's spectrogram, or the scrolling one while recording
        self.spectrograms.addWidget(self.spectrogram)
        self.spectrograms.addWidget(self.live_spectrogram)
        plots.addWidget(self.waveform)
        plots.addWidget(self.spectrograms)
        plots.addWidget(self.attention)
        plots.setSizes([240, 240, 280])
        plots.setChildrenCollapsible(False)
        self.right = QSplitter(Qt.Orientation.Vertical)
        self.right.addWidget(self.panel)
        self.right.addWidget(self.live_view)
        self.right.setSizes([480, 320])
        self.right.setChildrenCollapsible(False)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(plots)
        self.splitter.addWidget(self.right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([900, 360])
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.splitter, "Studio")
        self.tabs.addTab(self.labeling, "Dataset")
        self.tabs.addTab(self.prompts, "Prompts")
        train_scroll = QScrollArea()  # the panel's forms and curves stay usable in a small window
        train_scroll.setWidgetResizable(True)
        train_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        train_scroll.setWidget(self.training)
        self.tabs.addTab(train_scroll, "Train")
        self.tabs.addTab(self.insight, "Insight")
        self.setCentralWidget(self.tabs)

        self.device_label = QLabel()
        self.device_label.setStyleSheet("color: #b00020")
        self.overflow_label = QLabel()
        self.overflow_label.setStyleSheet("color: #b00020")
        self.overflow_label.setToolTip("Audio the system dropped because it was read too late "
                                       "(input overflows); the take has gaps there.")
        self.model_label = QLabel()
        status = self.statusBar()
        status.addPermanentWidget(self.projects.task_bar)
        status.addPermanentWidget(self.overflow_label)
        status.addPermanentWidget(self.device_label)
        status.addPermanentWidget(self.model_label)
        if self.model_error:
            self.model_label.setText("Model: none")
            self.model_label.setStyleSheet("color: #b00020")
            self.model_label.setToolTip(self.model_error)
            self.panel.set_idle_message(f"Transcription is off. {self.model_error}\n\n"
                                        "Recording, opening and viewing audio still work.")
            status.showMessage(self.model_error)
        else:
            self.model_label.setText(f"Model: {self.model_path.name}")
            self.model_label.setToolTip(str(self.model_path))

    def _connect(self) -> None:
        rec = self.recorder
        rec.recording_changed.connect(self._on_recording_changed)
        self.live_feed.attach(rec)  # live waveform and spectrogram
        rec.samples_arrived.connect(self._feed_live)
        rec.overflows_changed.connect(self._on_overflows)
        rec.level.connect(self.level_meter.set_level)
        rec.recorded.connect(self._on_recorded)
        rec.error.connect(self._on_record_error)
        rec.availability_changed.connect(self._on_availability)
        self._connect_jobs()
        self._connect_model()
        self.training.message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.training.model_ready.connect(self._on_model_ready)
        self.live_view.enabled_changed.connect(self._on_live_toggled)
        self.live_view.seek.connect(self.play_segment)
        self.playback.playing_changed.connect(self._on_playing_changed)
        self.projects.project_changed.connect(self._on_project_changed)
        self.projects.rows_changed.connect(self.labeling.model.refresh)
        self.projects.mislabels_scored.connect(self.show_mislabels)
        self.projects.message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.labeling.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.insight.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.insight.play_requested.connect(lambda audio, start, end: self.playback.play(audio, start, end))
        self.insight.utterance_picked.connect(self.labeling.select_utterance)
        self.insight.utterance_selected.connect(self.show_utterance)
        self.labeling.current_changed.connect(lambda _id: self.insight.show_utterance(self.labeling.current))
        self.playback.error.connect(self._on_playback_error)
        self.attention.view_changed.connect(lambda v: setattr(self.settings, "attention_view", v))
        self.panel.vocabulary_changed.connect(self._on_vocabulary_changed)

    # -- settings ------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.settings
        if s.geometry is None or not self.restoreGeometry(s.geometry):
            self.resize(DEFAULT_SIZE)
        if s.window_state is not None:
            self.restoreState(s.window_state)
        if s.splitter is not None:
            self.splitter.restoreState(s.splitter)
        self.panel.folder = s.last_folder
        self.attention.set_view(s.attention_view)
        if s.right_splitter is not None:
            self.right.restoreState(s.right_splitter)
        self.live_view.set_live_enabled(s.live_enabled and self.recognizer is not None)
        self.live_view.folder = s.last_folder
        self.recorder.device = s.input_device or None
        if s.project_folder:
            self.projects.open_folder(s.project_folder, quiet=True)
        if s.vocabulary_path:
            self.panel.load_vocabulary(s.vocabulary_path, use=s.use_vocabulary, quiet=True)

    def save_settings(self) -> None:
        s = self.settings
        s.geometry = self.saveGeometry()
        s.window_state = self.saveState()
        s.splitter = self.splitter.saveState()
        s.right_splitter = self.right.saveState()
        s.attention_view = self.attention.wanted_view
        s.sync()

    def _on_vocabulary_changed(self, path: str, enabled: bool) -> None:
        self.settings.vocabulary_path = path
        self.settings.use_vocabulary = enabled
        self._update_actions()

    # -- audio ---------------------------------------------------------------
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open audio", self.settings.last_folder, AUDIO_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path: str | Path) -> bool:
        """Load and show a WAV/FLAC/OGG file; an ``AudioError`` becomes a warning box. True on success."""
        path = Path(path)
        if self.recorder.is_recording:
            self.recorder.stop()
        try:
            audio = load_audio(path)
        except AudioError as exc:
            QMessageBox.warning(self, "Cannot open audio", str(exc))
            return False
        self.settings.last_folder = str(path.parent)
        self.set_audio(audio, path.name)
        return True

    def set_audio(self, audio: np.ndarray, name: str) -> None:
        """Show ``(samples,)`` float32 16 kHz audio in all views and forget the previous transcript."""
        self.audio, self.audio_name = audio, name
        self.spectrograms.setCurrentWidget(self.spectrogram)
        self.waveform.set_audio(audio)
        self.spectrogram.set_features(log_mel_db(audio) if len(audio) else np.zeros((0, 80), np.float32))
        self.attention.clear_attention()
        self.panel.clear()
        self.setWindowTitle(f"{name} — {TITLE}")
        self.statusBar().showMessage(f"{name}: {len(audio) / SAMPLE_RATE:.2f} s", 5000)
        self._update_actions()

    def choose_save_path(self) -> None:
        if self.audio is None:
            return
        stem = Path(self.audio_name).stem or "recording"
        path, _ = QFileDialog.getSaveFileName(self, "Save audio", str(Path(self.settings.last_folder) / f"{stem}.wav"),
                                              "WAV (*.wav);;FLAC (*.flac)")
        if not path:
            return
        try:
            write_audio(path, self.audio)
        except OSError as exc:
            QMessageBox.warning(self, "Cannot save audio", f"{Path(path).name}: {exc.strerror or exc}")
            return
        self.settings.last_folder = str(Path(path).parent)
        self.statusBar().showMessage(f"Saved {path}", 5000)

    def dragEnterEvent(self, event) -> None:
        if self._dropped_file(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = self._dropped_file(event)
        if path is not None:
            event.acceptProposedAction()
            self.open_file(path)

    @staticmethod
    def _dropped_file(event) -> Path | None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        files = [Path(u.toLocalFile()) for u in urls if u.isLocalFile()]
        return next((f for f in files if f.suffix.lower() in AUDIO_SUFFIXES), None)

    # -- playback ------------------------------------------------------------
    def toggle_playback(self) -> None:
        """Play the current audio from the start, or stop playing."""
        if self.playback.is_playing:
            self.playback.stop()
        else:
            self.play_segment(0.0, None)

    def play_segment(self, start: float, end: float | None) -> None:
        """Play ``start``–``end`` seconds of the current audio (not while recording)."""
        if self.audio is None or len(self.audio) == 0 or self.recorder.is_recording:
            self.play_action.setChecked(False)
            return
        self.playback.play(self.audio, start, end)

    def _on_playing_changed(self, playing: bool) -> None:
        self.play_action.setChecked(playing)
        self.play_action.setText("Stop playing" if playing else "Play")

    def _on_playback_error(self, message: str) -> None:
        self.play_action.setChecked(False)
        self.statusBar().showMessage(message, 10000)

    # -- recording -----------------------------------------------------------
    def _on_availability(self, available: bool, reason: str) -> None:
        self._fill_device_menu()
        self.device_label.setText("" if available else "No microphone")
        self.device_label.setToolTip(reason)
        self.level_meter.setEnabled(available)
        self.level_meter.setToolTip(LevelMeter.TOOLTIP if available else reason)
        if not available:
            self.statusBar().showMessage(reason)
        self._update_actions()

    def _fill_device_menu(self) -> None:
        """Record → Input device: the system default plus every input device, the chosen one checked."""
        from app.recorder.controller import list_input_devices

        self.device_menu.clear()
        for action in self.device_group.actions():
            self.device_group.removeAction(action)
        try:
            devices = list_input_devices()
        except Exception:  # no audio backend: the availability message already says so
            devices = []
        chosen = self.recorder.device
        names = [None] + [d.name for d in devices]
        if chosen and chosen not in names:
            names.append(chosen)  # remembered but absent now: keep it visible
        for name in names:
            label = "System default" if name is None else name
            if name is not None and name not in [d.name for d in devices]:
                label += " (not connected)"
            action = self.device_menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(name == chosen)
            action.setData(name)
            action.triggered.connect(lambda _=False, n=name: self.choose_input_device(n))
            self.device_group.addAction(action)

    def choose_input_device(self, name: str | None) -> None:
        """Record from the device called ``name`` (None = system default) from the next take on; persisted."""
        self.recorder.device = name
        self.settings.input_device = name or ""
        self.statusBar().showMessage(f"Input device: {name or 'system default'}", 5000)

    def _on_recording_changed(self, recording: bool) -> None:
        self.record_action.setChecked(recording)
        self.record_action.setText("Stop" if recording else "Record")
        self.record_action.setIcon(icon("stop" if recording else "record"))
        if recording:
            self.playback.stop()
            self.overflow_label.setText("")
            self.spectrograms.setCurrentWidget(self.live_spectrogram)
            self.spectrogram.clear_features()
            self.attention.clear_attention()
            self.panel.clear()
            self.audio = None
            self.statusBar().showMessage("Recording…")
            if self.live_view.enable_box.isChecked() and self.recognizer is not None:
                vocab = self.panel.active_vocabulary()
                self.live_view.begin_session()
                self.recognizer.live_start(vocab.phrases if vocab else None, self.endpoint_config().to_json())
        else:
            self.level_meter.reset()
            self.spectrograms.setCurrentWidget(self.spectrogram)
            if self.recognizer is not None and self.recognizer.live:
                self.recognizer.live_stop()
        self._update_actions()

    def _on_overflows(self, count: int) -> None:
        self.overflow_label.setText(f"{count} input overflow{'s' if count != 1 else ''}")

    def recover_takes(self) -> list:
        """Finish takes a crash left behind (see :meth:`RecorderController.recover_unfinished`),
        open the newest and say so; returns ``(path, seconds)`` pairs."""
        recovered = self.recorder.recover_unfinished()
        if recovered:
            path, seconds = recovered[-1]
            try:
                self.set_audio(load_audio(path), path.name)
            except AudioError:
                pass
            more = f" and {len(recovered) - 1} more" if len(recovered) > 1 else ""
            message = (f"Recovered an unfinished recording from the last session: {path.name} "
                       f"({seconds:.1f} s){more}, saved in {path.parent}.")
            self.statusBar().showMessage(message)
            self.panel.set_idle_message(message)
        return recovered

    def _on_recorded(self, audio: np.ndarray) -> None:
        if len(audio) == 0:
            self.statusBar().showMessage("Nothing was recorded.", 5000)
            return
        take = self.recorder.last_take_path
        self.set_audio(audio, take.name if take is not None else "recording")
        if take is not None:
            self.statusBar().showMessage(f"Take saved: {take}", 8000)

    def _feed_live(self, chunk: np.ndarray) -> None:
        if self.recognizer is not None and self.recognizer.live and self.recorder.is_recording:
            self.recognizer.live_feed(chunk)

    def _on_live_toggled(self, on: bool) -> None:
        if on and self.recognizer is None:
            self.live_view.set_live_enabled(False)
            self.statusBar().showMessage(self.model_error or "No model.", 8000)
            return
        self.live_action.setChecked(on)
        self.settings.live_enabled = on
        if not on and self.recognizer is not None and self.recognizer.live:
            self.recognizer.live_stop()
        elif on and self.recorder.is_recording and self.recognizer is not None and not self.recognizer.live:
            vocab = self.panel.active_vocabulary()
            self.recognizer.live_start(vocab.phrases if vocab else None, self.endpoint_config().to_json())

    def endpoint_config(self) -> EndpointConfig:
        """The saved endpointing settings (defaults if none or unusable)."""
        try:
            return EndpointConfig(**self.settings.endpoint)
        except (TypeError, ValueError):
            return EndpointConfig()

    def edit_live_settings(self) -> None:
        dialog = EndpointDialog(self.endpoint_config(), self)
        if dialog.exec():
            self.settings.endpoint = dialog.config().to_json()
            self.statusBar().showMessage("Live settings saved; they apply from the next recording.", 5000)

    def _on_live_failed(self, message: str) -> None:
        self.live_view.show_error(message)
        self.statusBar().showMessage(message.splitlines()[0], 10000)

    def _on_record_error(self, message: str) -> None:
        self.record_action.setChecked(self.recorder.is_recording)
        self.statusBar().showMessage(message)
        QMessageBox.warning(self, "Recording", message)

    # -- recognition ---------------------------------------------------------
    def transcribe(self) -> None:
        """Send the current audio to the worker (no-op while busy or without audio or model)."""
        if self.recognizer is None:
            self.statusBar().showMessage(self.model_error or "No model.")
            return
        if self.audio is None or self.recognizer.busy or self.recorder.is_recording:
            return
        vocab = self.panel.active_vocabulary()
        self._submitted_audio = self.audio
        self.recognizer.submit(self.audio, vocab.phrases if vocab else None)

    def _on_job_started(self) -> None:
        self.panel.set_busy(True)
        self.statusBar().showMessage("Transcribing…")
        self._update_actions()

    def _on_recognition(self, rec) -> None:
        self.panel.set_busy(False)
        self._update_actions()
        if self._submitted_audio is not self.audio:  # opened or recorded something else meanwhile
            self.statusBar().showMessage("The audio changed while transcribing; press Transcribe again.", 8000)
            return
        self.panel.show_recognition(rec)
        self.waveform.set_words(rec.words)
        self.attention.set_attention(rec.attention, rec.attention_tokens, rec.frame_shift)
        self.model_label.setText(f"Model: {rec.model}")
        self.statusBar().showMessage(f"Transcribed {rec.duration:.2f} s in {rec.decode_seconds:.2f} s "
                                     f"(RTF {rec.rtf:.3f})", 8000)

    def _on_job_failed(self, message: str) -> None:
        self.panel.set_busy(False)
        self.panel.show_error(message)
        self.statusBar().showMessage(message.splitlines()[0], 10000)
        self._update_actions()

    # -- state ---------------------------------------------------------------
    def _update_actions(self) -> None:
        recording = self.recorder.is_recording
        busy = self.recognizer is not None and self.recognizer.busy
        self.record_action.setEnabled(self.recorder.available or recording)
        self.record_action.setToolTip(
            self.recorder.unavailable_reason or f"Start or stop recording ({native_text(shortcut(Command.RECORD).keys)})")
        self.save_action.setEnabled(self.audio is not None and not recording)
        self.play_action.setEnabled(self.audio is not None and not recording)
        can = self.recognizer is not None and self.audio is not None and not busy and not recording
        self.transcribe_action.setEnabled(can)
        if self.model_error:
            self.transcribe_action.setToolTip(self.model_error)
        elif busy:
            self.transcribe_action.setToolTip("Transcribing…")
        elif self.audio is None:
            self.transcribe_action.setToolTip("Record or open audio first")
        else:
            self.transcribe_action.setToolTip(f"Transcribe the current audio "
                                              f"({native_text(shortcut(Command.TRANSCRIBE).keys)})")

    def show_shortcuts(self) -> None:
        ShortcutsDialog(self).exec()

    def _on_project_changed(self, project) -> None:
        if project is None:
            self.labeling.commit_pending()
            self.labeling.save_state()
        self.labeling.set_project(project)
        self.prompts.set_project(project)
        self.training.set_project(project)
        self.insight.set_project(project)
        if project is not None:
            self.prompts.resume_last_session()
            self.tabs.setTabText(1, f"Dataset — {project.folder.name}")
        else:
            self.tabs.setTabText(1, "Dataset")

    def show_utterance(self, utterance_id: int) -> None:
        """The Dataset tab with utterance ``utterance_id`` selected."""
        self.tabs.setCurrentWidget(self.labeling)
        if not self.labeling.select_utterance(utterance_id):
            self.statusBar().showMessage("That utterance is hidden by the Dataset filter or was deleted.", 8000)

    def show_mislabels(self) -> None:
        """The Dataset tab, sorted by "possible mislabel", most likely first."""
        from app.labeling.table_model import Column

        self.tabs.setCurrentWidget(self.labeling)
        self.labeling.sort_by(int(Column.MISLABEL), Qt.SortOrder.DescendingOrder)

    def _connect_jobs(self) -> None:
        if self.recognizer is None:
            return
        self.recognizer.started.connect(self._on_job_started)
        self.recognizer.finished.connect(self._on_recognition)
        self.recognizer.failed.connect(self._on_job_failed)
        self.recognizer.live_events.connect(self.live_view.add_events)
        self.recognizer.live_failed.connect(self._on_live_failed)

    def _on_model_ready(self, path: str) -> None:
        """A training job finished: register the model and offer it for transcription."""
        from engine.registry.index import ModelRegistry, RegistryError

        try:
            # written atomically by the job just now; loading it here would stall the GUI (~0.3-0.7 s), and
            # the worker that loads it next (evaluation, transcription) reports any problem
            entry = ModelRegistry().register(path, Path(path).parent.name, parent=str(self.model_path), check=False)
        except RegistryError as exc:
            self.statusBar().showMessage(f"The new model was not registered: {exc}", 10000)
            return
        answer = QMessageBox.question(self, "New model", f"{entry.name} is trained. Use it for transcription now?")
        if answer == QMessageBox.StandardButton.Yes and self.switch_model(path):
            try:
                ModelRegistry().set_active(entry.id)  # the studio starts with it next time
            except RegistryError as exc:
                self.statusBar().showMessage(f"The new model is used now but not remembered: {exc}", 10000)

    def _connect_model(self) -> None:
        """Everything that follows the active model listens to its one ``model_changed`` signal."""
        model = self.active_model
        model.model_changed.connect(self._on_model_changed)
        model.model_changed.connect(lambda _entry: self.projects.set_jobs(model.recognizer))
        model.model_changed.connect(lambda _entry: self.insight.set_jobs(model.recognizer))
        model.model_changed.connect(lambda _entry: self.training.set_base_model(model.path))

    def _on_model_changed(self, _entry) -> None:
        """The window's own part of a model change: the new recognizer's signals, the model label, the actions."""
        self._connect_jobs()
        self.model_label.setText(f"Model: {self.model_path.name}")
        self.model_label.setToolTip(str(self.model_path))
        self.model_label.setStyleSheet("")
        self._update_actions()
        self.statusBar().showMessage(f"Transcribing with {self.model_path}", 8000)

    def switch_model(self, path: str | Path) -> bool:
        """Transcribe with the checkpoint at ``path`` from now on (:meth:`ActiveModel.use`: a new worker
        process loads it, and ``model_changed`` tells everything that follows the model).

        Returns:
            False (and a warning or a status message) if ``path`` is not a model, or while transcribing.
        """
        path = Path(path)
        problem = model_problem(path)
        if problem:
            QMessageBox.warning(self, "Model", problem)
            return False
        if self.active_model.busy:
            self.statusBar().showMessage("Wait for the transcription to finish before switching models.", 8000)
            return False
        return self.active_model.use(path)

    def show_models(self) -> ModelsDialog:
        """The Models window (registry: use, compare, export, remove); one at a time."""
        from app.models_window.dialog import ModelsDialog

        if getattr(self, "models_dialog", None) is None:
            vocabulary = self.panel.active_vocabulary()
            self.models_dialog = ModelsDialog(self.training_queue, self.playback, self.projects.project,
                                              self.model_path, vocabulary=vocabulary.phrases if vocabulary else None,
                                              parent=self)
            self.models_dialog.use_model.connect(self.switch_model)
            self.models_dialog.message.connect(lambda text: self.statusBar().showMessage(text, 10000))
            self.models_dialog.finished.connect(lambda *_: setattr(self, "models_dialog", None))
            self.models_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.models_dialog.show()
        self.models_dialog.raise_()
        return self.models_dialog

    def customize_shortcuts(self) -> None:
        """Edit the keys of every command; saved in the settings and applied at once."""
        if ShortcutEditorDialog(self.settings, self).exec():
            for action in self.actions():
                command = action.data()
                if isinstance(command, Command):
                    action.setShortcuts(key_sequences(command, self.settings))
            self.labeling.apply_shortcuts()
            self.prompts.apply_shortcuts()

    def closeEvent(self, event) -> None:
        self.projects.close_project()
        self.playback.stop()
        if self.recorder.is_recording:
            self.recorder.stop()
        self.save_settings()
        self.active_model.shutdown()
        self.training_queue.shutdown()
        super().closeEvent(event)
