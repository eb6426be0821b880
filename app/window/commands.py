"""The main window's commands: one QAction per studio command, the menus and the toolbar.

Keys come from :data:`app.shortcuts.SHORTCUTS` with the user's overrides, through
:func:`app.actions.make_action` like the labeling view's commands, and
are active anywhere in the window. :meth:`WindowCommands.update` enables what
can be done now (a clip to play or transcribe, a device to record from, a model).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QIcon
from PySide6.QtWidgets import QLabel, QToolBar, QToolButton

from app.actions import apply_shortcuts, make_action
from app.shortcuts import Command, keys_for, native_text
from engine.resources import icon_path

if TYPE_CHECKING:
    from app.main_window import MainWindow


def icon(name: str) -> QIcon:
    """The bundled toolbar icon ``name`` (:func:`engine.resources.icon_path`); an empty icon if it is missing."""
    path = icon_path(name)
    return QIcon(str(path)) if path.exists() else QIcon()


class WindowCommands:
    """The studio's QActions (attributes named after their command), added to ``window``'s menu bar and toolbar.

    Attributes:
        actions: every action that has a :class:`~app.shortcuts.Command`, for re-applying keys.
        device_menu: Record → Input device (filled by :class:`app.window.recording.RecordingWiring`).
        device_group: the exclusive group of that menu's entries.
    """

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        w = window
        self.actions: dict[Command, QAction] = {}
        self.record = self._action(Command.RECORD, "Record", w.recorder.toggle, "record")
        self.record.setCheckable(True)
        self.open = self._action(Command.OPEN, "Open…", w.files.choose_file, "open")
        self.save = self._action(Command.SAVE, "Save audio…", w.files.choose_save_path, "save")
        self.export_transcript = self._action(Command.EXPORT_TRANSCRIPT, "Export transcript…",
                                              lambda: w.files.export_transcript())
        self.add_to_project = self._action(Command.ADD_TO_PROJECT, "Add to project", w.add_to_project)
        self.play = self._action(Command.PLAY, "Play", w.toggle_playback, "play")
        self.play.setCheckable(True)
        self.transcribe = self._action(Command.TRANSCRIBE, "Transcribe", w.transcription.transcribe, "transcribe")
        self.live = self._action(Command.LIVE, "Transcribe while recording",
                                 lambda: w.live_view.set_live_enabled(self.live.isChecked()))
        self.live.setCheckable(True)
        self.live_settings = self._plain_action("Live settings…", w.recording.edit_live_settings)
        self.vocabulary = self._action(Command.LOAD_VOCABULARY, "Load vocabulary…", w.panel.choose_vocabulary)
        self.models = self._action(Command.MODELS, "Models…", w.model_switch.show_models)
        self.zoom = self._action(Command.ZOOM_FIT, "Zoom to fit", w.waveform.zoom_to_fit)
        self.help = self._action(Command.SHORTCUTS, "Keyboard shortcuts", w.show_shortcuts)
        self.customize = self._plain_action("Customize shortcuts…", w.customize_shortcuts)
        self.tour = self._plain_action("Take the tour", lambda: w.tour.start())
        self.sample_project = self._plain_action("Open sample project", lambda: w.projects.open_sample_project())
        self.sample_project.setToolTip("The bundled clips as a labeled project, split by speaker")
        self.about = self._plain_action("About Sayso…", self.show_about)
        self.about.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_dialog = None
        """The About box once shown (:class:`app.about.AboutDialog`)."""
        self.quit = self._action(Command.QUIT, "Quit", w.close)
        self.rescan = self._plain_action("Rescan input devices", w.recorder.rescan)
        self.device_group = QActionGroup(w)
        self.device_group.setExclusive(True)
        self._build_menus()
        self._build_toolbar()

    def _action(self, command: Command, text: str, slot, icon_name: str | None = None) -> QAction:
        action = make_action(self.window, command, text, slot, self.window.settings,
                             context=Qt.ShortcutContext.WindowShortcut)
        if icon_name:
            action.setIcon(icon(icon_name))
        self.actions[command] = action
        return action

    def _plain_action(self, text: str, slot) -> QAction:
        action = QAction(text, self.window)
        action.triggered.connect(slot)
        return action

    def _build_menus(self) -> None:
        menus = self.window.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addActions([self.open, self.save, self.export_transcript, self.add_to_project])
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        record_menu = menus.addMenu("&Record")
        record_menu.addActions([self.record, self.play])
        self.device_menu = record_menu.addMenu("Input device")
        record_menu.addAction(self.rescan)
        transcribe_menu = menus.addMenu("&Transcribe")
        transcribe_menu.addActions([self.transcribe, self.live, self.live_settings, self.vocabulary])
        transcribe_menu.addSeparator()
        transcribe_menu.addAction(self.models)
        menus.addMenu("&View").addAction(self.zoom)
        help_menu = menus.addMenu("&Help")
        help_menu.addActions([self.tour, self.sample_project])
        help_menu.addSeparator()
        help_menu.addActions([self.help, self.customize])
        help_menu.addSeparator()
        help_menu.addAction(self.about)
        self.window.projects.add_actions(file_menu, transcribe_menu)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main", self.window)
        bar.setObjectName("main_toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.setIconSize(QSize(20, 20))
        bar.addActions([self.record, self.play, self.open, self.save])
        bar.addSeparator()
        bar.addAction(self.transcribe)
        bar.addSeparator()
        bar.addWidget(QLabel(" Input "))
        bar.addWidget(self.window.level_meter)
        for button in bar.findChildren(QToolButton):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space belongs to Record, not to a focused button
        self.window.addToolBar(bar)

    def show_about(self) -> None:
        """Open Help → About Sayso (window-modal) for the model in use now."""
        from app.about import AboutDialog

        model = self.window.active_model
        self.about_dialog = AboutDialog(model.entry, model.problem, self.window)
        self.about_dialog.open()

    def apply_shortcuts(self) -> None:
        """Re-read every command's keys from the settings (after the user changed them)."""
        apply_shortcuts(self.actions, self.window.settings)

    def update(self) -> None:
        """Enable what can be done now and say in the tooltips why the rest cannot."""
        w = self.window
        recording = w.recorder.is_recording
        busy = w.recognizer is not None and w.recognizer.busy
        self.record.setEnabled(w.recorder.available or recording)
        self.record.setToolTip(w.recorder.unavailable_reason
                               or f"Start or stop recording ({self._keys(Command.RECORD)})")
        self.save.setEnabled(w.audio is not None and not recording)
        self.export_transcript.setEnabled(w.recognition is not None and not recording)
        self.add_to_project.setEnabled(w.audio_source is not None and w.projects.project is not None
                                       and not recording)
        self.add_to_project.setToolTip(
            "Open or create a project first (File → New project…)" if w.projects.project is None else
            "Record or open audio first" if w.audio_source is None else
            f"Add {w.audio_name} to {w.projects.project.folder.name} (its transcript as the draft label)")
        self.export_transcript.setToolTip("Save the transcript as subtitles (SRT, WebVTT), timed text or JSON"
                                          if w.recognition is not None else "Transcribe the audio first")
        self.play.setEnabled(w.audio is not None and not recording)
        self.transcribe.setEnabled(w.recognizer is not None and w.audio is not None and not busy and not recording)
        if w.model_error:
            self.transcribe.setToolTip(w.model_error)
        elif busy:
            self.transcribe.setToolTip("Transcribing…")
        elif w.audio is None:
            self.transcribe.setToolTip("Record or open audio first")
        else:
            self.transcribe.setToolTip(f"Transcribe the current audio ({self._keys(Command.TRANSCRIBE)})")

    def _keys(self, command: Command) -> str:
        return native_text(keys_for(command, self.window.settings))
