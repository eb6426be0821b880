"""The studio's main window: layout and wiring only.

Plots (waveform, log-mel spectrogram, cross-attention) are stacked on the
left and share one time axis in seconds; the transcript panel is on the
right of a splitter, above the live transcript. The window's parts live in
:mod:`app.window`: its commands, menus and toolbar
(:class:`~app.window.commands.WindowCommands`), audio files
(:class:`~app.window.audio_files.AudioFiles`), recording and live
transcription (:class:`~app.window.recording.RecordingWiring`, through
:class:`app.recorder.controller.RecorderController`), transcribing the clip
(:class:`~app.window.transcription.TranscriptionWiring`, in a worker process
via :class:`app.recognizer_bridge.RecognizerBridge`) and the active model
(:class:`~app.window.model_switch.ModelSwitching`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.active_model import ActiveModel
from app.insight.view import InsightView
from app.labeling.prompt_mode import PromptRecorder
from app.labeling.view import LabelingView
from app.live.transcript_view import LiveTranscriptView
from app.playback.controller import PlaybackController
from app.project.controller import ProjectController
from app.recognizer_bridge import RecognizerBridge
from app.recorder.controller import RecorderController
from app.settings import StudioSettings
from app.shortcut_editor import ShortcutEditorDialog
from app.shortcuts import ShortcutsDialog
from app.tour import TourBand
from app.training.job_queue import TrainingJobQueue
from app.training.panel import TrainingPanel
from app.transcribe.panel import TranscriptPanel
from app.widgets.attention_view import AttentionView
from app.widgets.level_meter import LevelMeter
from app.widgets.live_feed import LiveFeed
from app.widgets.live_spectrogram import LiveSpectrogramView
from app.widgets.spectrogram_view import SpectrogramView
from app.widgets.waveform_view import WaveformView
from app.window.audio_files import AudioFiles, dropped_audio_file
from app.window.commands import WindowCommands
from app.window.model_switch import ModelSwitching
from app.window.recording import RecordingWiring
from app.window.transcription import TranscriptionWiring
from engine.audio.features import log_mel_db
from engine.audio.io import SAMPLE_RATE
from engine.whisper.folder import WHISPER_FAMILY

TITLE = "Sayso studio"
DEFAULT_SIZE = QSize(1280, 860)


class MainWindow(QMainWindow):
    """One window: record or open audio, look at it, transcribe it.

    Args:
        model_path: checkpoint folder for recognition (see :func:`app.active_model.resolve_model_path`).
        preload_model: start the worker (and load the model) right away.
        first_run: start the tour (:mod:`app.tour`); the launcher passes True when there are no settings yet.

    Attributes:
        audio: the clip shown in the Studio tab, ``(samples,)`` float32 16 kHz, or None.
        audio_name: its file (or take) name.
        commands: the studio's QActions, menus and toolbar.
        files, recording, transcription, model_switch: the window's parts (see :mod:`app.window`).
    """

    def __init__(self, model_path: Path, preload_model: bool = False, first_run: bool = False) -> None:
        super().__init__()
        self.setWindowTitle(TITLE)
        self.setAcceptDrops(True)
        self.settings = StudioSettings()
        self.audio: np.ndarray | None = None
        self.audio_name = ""
        self.recognition = None
        self.audio_source: Path | None = None
        self.live_recognition = None
        """The last take's live transcript (kept when the take is transcribed again), or None."""
        """The shown clip's file (opened, or the take just recorded), or None."""
        """The shown clip's :class:`~engine.decode.protocol.Recognition` (File → Export transcript), or None."""
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
        # the Train tab personalizes the model in use, of either family (Whisper: LoRA, engine/whisper/personalize.py)
        self.training.set_base_model(self.model_path)
        self.insight = InsightView()
        self.insight.set_recognizer(self.recognizer, self.active_model.family)
        self.attention.set_model_has_maps(self.active_model.family != WHISPER_FAMILY)

        self.files = AudioFiles(self)
        self.recording = RecordingWiring(self)
        self.transcription = TranscriptionWiring(self)
        self.model_switch = ModelSwitching(self)
        self.tour = TourBand(self)
        self.commands = WindowCommands(self)
        self._build_layout()
        self._connect()
        self._restore_settings()
        self.recorder.check_devices()
        self.recording.recover_takes()
        self.commands.update()
        if preload_model:
            self.active_model.warm_up()
        if first_run:
            QTimer.singleShot(0, self.tour.start)

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
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.tour)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

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
        self.model_switch.show_model()

    def _connect(self) -> None:
        self.recording.connect()
        self.connect_recognizer()
        self.model_switch.connect()
        self.training.message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.playback.playing_changed.connect(self._on_playing_changed)
        self.projects.project_changed.connect(self._on_project_changed)
        self.projects.rows_changed.connect(self.labeling.refresh)  # rows, counts, speakers, undo
        self.projects.rows_changed.connect(self.training.data_choice.refresh)
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
        self.panel.better_model_requested.connect(self.model_switch.use_registered)

    def connect_recognizer(self) -> None:
        """Listen to the active recognizer's answers and live events (at start and after a model change)."""
        if self.recognizer is None:
            return
        self.transcription.connect_recognizer(self.recognizer)
        self.recording.connect_recognizer(self.recognizer)

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
        """Remember the window's geometry, splitters and attention view."""
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
        self.commands.update()

    # -- the clip ------------------------------------------------------------
    def open_file(self, path: str | Path) -> bool:
        """Load and show an audio file (:meth:`AudioFiles.open_file`); True on success."""
        return self.files.open_file(path)

    def set_audio(self, audio: np.ndarray, name: str, source: Path | None = None) -> None:
        """Show ``(samples,)`` float32 16 kHz audio in all views and forget the previous transcript;
        ``source`` is its file (an opened file or a recorded take; File → Add to project adds it)."""
        self.audio, self.audio_name, self.recognition, self.audio_source = audio, name, None, source
        self.spectrograms.setCurrentWidget(self.spectrogram)
        self.waveform.set_audio(audio)
        self.spectrogram.set_features(log_mel_db(audio) if len(audio) else np.zeros((0, 80), np.float32))
        self.attention.clear_attention()
        self.panel.clear()
        self.setWindowTitle(f"{name} — {TITLE}")
        self.statusBar().showMessage(f"{name}: {len(audio) / SAMPLE_RATE:.2f} s", 5000)
        self.commands.update()

    def add_to_project(self) -> int | None:
        """File → Add to project: the shown take or file becomes an utterance of the open project, with
        its transcript (the last Transcribe, else the take's live finals) as the draft label. Returns its id."""
        if self.audio_source is None:
            return None
        text, confidence = "", None
        if self.recognition is not None:
            text, confidence = self.recognition.text, self.recognition.confidence
        elif self.audio_source == self.recorder.last_take_path:
            text = " ".join(c.text for c in self.live_view.captions if c.text)
        return self.projects.add_clip(self.audio_source, text, confidence)

    def transcribe(self) -> None:
        """Transcribe the shown clip (:meth:`TranscriptionWiring.transcribe`)."""
        self.transcription.transcribe()

    def dragEnterEvent(self, event) -> None:
        if dropped_audio_file(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = dropped_audio_file(event)
        if path is not None:
            event.acceptProposedAction()
            self.files.open_file(path)

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
            self.commands.play.setChecked(False)
            return
        self.playback.play(self.audio, start, end)

    def _on_playing_changed(self, playing: bool) -> None:
        self.commands.play.setChecked(playing)
        self.commands.play.setText("Stop playing" if playing else "Play")

    def _on_playback_error(self, message: str) -> None:
        self.commands.play.setChecked(False)
        self.statusBar().showMessage(message, 10000)

    # -- the model -----------------------------------------------------------
    def switch_model(self, path: str | Path) -> bool:
        """Transcribe with the checkpoint at ``path`` from now on (:meth:`ModelSwitching.switch_model`)."""
        return self.model_switch.switch_model(path)

    # -- tabs and dialogs ----------------------------------------------------
    def show_shortcuts(self) -> None:
        ShortcutsDialog(self).exec()

    def customize_shortcuts(self) -> None:
        """Edit the keys of every command; saved in the settings and applied at once."""
        if ShortcutEditorDialog(self.settings, self).exec():
            self.commands.apply_shortcuts()
            self.labeling.commands.apply_shortcuts()
            self.prompts.apply_shortcuts()

    def _on_project_changed(self, project) -> None:
        if project is None:
            self.labeling.commit_pending()
            self.labeling.save_state()
        self.labeling.set_project(project)
        self.prompts.set_project(project)
        self.training.set_project(project)
        self.insight.set_project(project)
        self.commands.update()  # Add to project needs one
        if project is not None:
            self.prompts.resume_last_session()
            read_only = " (read-only)" if project.read_only else ""
            self.tabs.setTabText(1, f"Dataset — {project.folder.name}{read_only}")
            self.setWindowTitle(f"{project.folder.name}{read_only} — {TITLE}")
            if project.read_only:
                self.statusBar().showMessage(f"{project.folder} is read-only: you can browse, listen and export, "
                                             "not edit. Copy the folder somewhere writable to edit it.", 15000)
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

    def closeEvent(self, event) -> None:
        self.projects.close_project()
        self.playback.stop()
        if self.recorder.is_recording:
            self.recorder.stop()
        self.save_settings()
        self.active_model.shutdown()
        self.projects.shutdown()
        self.training_queue.shutdown()
        super().closeEvent(event)
