"""Every keyboard shortcut of the studio, declared once.

:data:`SHORTCUTS` is the single table: the main window binds its actions from
it and Help → Keyboard shortcuts lists it, so the two never disagree.
Rows belong to a group: :data:`STUDIO` (bound on the main window) or
:data:`LABELING` (bound on the labeling view, see :mod:`app.labeling.view`).

Users may rebind any command: :func:`keys_for` / :func:`key_sequences` with a
:class:`~app.settings.StudioSettings` apply the overrides stored there (one
QSettings key per command), and :mod:`app.shortcut_editor` edits them.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)


class Command(Enum):
    """User commands that have a shortcut."""

    RECORD = "record"
    OPEN = "open"
    SAVE = "save"
    EXPORT_TRANSCRIPT = "export_transcript"
    ADD_TO_PROJECT = "add_to_project"
    PLAY = "play"
    TRANSCRIBE = "transcribe"
    LIVE = "live"
    LOAD_VOCABULARY = "load_vocabulary"
    MODELS = "models"
    ZOOM_FIT = "zoom_fit"
    SHORTCUTS = "shortcuts"
    QUIT = "quit"
    # labeling view (group LABELING)
    LABEL_PLAY = "label_play"
    LABEL_ACCEPT_NEXT = "label_accept_next"
    LABEL_VERIFY_NEXT = "label_verify_next"
    LABEL_PREVIOUS = "label_previous"
    LABEL_NEXT = "label_next"
    LABEL_EDIT_TEXT = "label_edit_text"
    LABEL_FIND = "label_find"
    LABEL_SPLIT = "label_split"
    LABEL_MERGE = "label_merge"
    LABEL_DELETE = "label_delete"
    LABEL_START_EARLIER = "label_start_earlier"
    LABEL_START_LATER = "label_start_later"
    LABEL_END_EARLIER = "label_end_earlier"
    LABEL_END_LATER = "label_end_later"
    LABEL_START_EARLIER_MORE = "label_start_earlier_more"
    LABEL_START_LATER_MORE = "label_start_later_more"
    LABEL_END_EARLIER_MORE = "label_end_earlier_more"
    LABEL_END_LATER_MORE = "label_end_later_more"
    UNDO = "undo"
    REDO = "redo"
    LABEL_HELP = "label_help"
    # prompt-by-prompt recording (app/labeling/prompt_mode.py)
    PROMPT_RECORD = "prompt_record"
    PROMPT_ACCEPT = "prompt_accept"
    PROMPT_RETAKE = "prompt_retake"
    PROMPT_SKIP = "prompt_skip"
    PROMPT_PREVIOUS = "prompt_previous"
    PROMPT_PLAY = "prompt_play"


STUDIO = "Studio"
"""Group of the main window's commands."""
LABELING = "Labeling"
"""Group of the labeling view's commands (active while it has focus)."""
PROMPTS = "Prompt recording"
"""Group of the prompt recorder's commands (active while it has focus, see :mod:`app.labeling.prompt_mode`)."""


@dataclass(frozen=True)
class Shortcut:
    """``keys`` in :class:`QKeySequence` portable text (``"Ctrl+R"``); the first one is shown in menus."""

    command: Command
    keys: tuple[str, ...]
    description: str
    group: str = STUDIO


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut(Command.RECORD, ("Ctrl+R", "Space"), "Start or stop recording"),
    Shortcut(Command.OPEN, ("Ctrl+O",), "Open an audio file (WAV, FLAC, OGG)"),
    Shortcut(Command.SAVE, ("Ctrl+S",), "Save the current audio as WAV"),
    Shortcut(Command.EXPORT_TRANSCRIPT, ("Ctrl+E",), "Export the transcript as subtitles (SRT, WebVTT), text or JSON"),
    Shortcut(Command.ADD_TO_PROJECT, ("Ctrl+Shift+A",),
             "Add the current take or file to the open project (its transcript as the draft label)"),
    Shortcut(Command.PLAY, ("P",), "Play the audio, or stop playing"),
    Shortcut(Command.TRANSCRIBE, ("Ctrl+T",), "Transcribe the current audio"),
    Shortcut(Command.LIVE, ("Ctrl+Shift+T",), "Transcribe live while recording (on/off)"),
    Shortcut(Command.LOAD_VOCABULARY, ("Ctrl+L",), "Load a vocabulary file"),
    Shortcut(Command.MODELS, ("Ctrl+Shift+M",), "Manage models: use, compare, export"),
    Shortcut(Command.ZOOM_FIT, ("Ctrl+0",), "Show the whole recording"),
    Shortcut(Command.SHORTCUTS, ("F1",), "Show this list of shortcuts"),
    Shortcut(Command.QUIT, ("Ctrl+Q",), "Quit Sayso studio"),
    Shortcut(Command.LABEL_PLAY, ("Ctrl+Space",), "Play the segment (again from its start)", LABELING),
    Shortcut(Command.LABEL_ACCEPT_NEXT, ("Return", "Enter"),
             "Save the transcript (unlabeled becomes draft) and go to the next utterance", LABELING),
    Shortcut(Command.LABEL_VERIFY_NEXT, ("Ctrl+Return", "Ctrl+Enter"),
             "Save the transcript as verified and go to the next utterance", LABELING),
    Shortcut(Command.LABEL_PREVIOUS, ("Alt+Up",), "Previous utterance (also Up in the table or transcript)",
             LABELING),
    Shortcut(Command.LABEL_NEXT, ("Alt+Down",), "Next utterance (also Down in the table or transcript)", LABELING),
    Shortcut(Command.LABEL_EDIT_TEXT, ("F2",), "Edit the transcript", LABELING),
    Shortcut(Command.LABEL_FIND, ("Ctrl+F",), "Search the transcripts", LABELING),
    Shortcut(Command.LABEL_SPLIT, ("Ctrl+K",), "Split the segment at the playback cursor or the mouse", LABELING),
    Shortcut(Command.LABEL_MERGE, ("Ctrl+M",), "Merge the segment with the next one of its recording", LABELING),
    Shortcut(Command.LABEL_DELETE, ("Ctrl+Shift+Del",), "Delete the utterance (undo brings it back)", LABELING),
    Shortcut(Command.LABEL_START_EARLIER, ("Alt+Shift+Left",), "Move the start 10 ms earlier", LABELING),
    Shortcut(Command.LABEL_START_LATER, ("Alt+Shift+Right",), "Move the start 10 ms later", LABELING),
    Shortcut(Command.LABEL_END_EARLIER, ("Ctrl+Alt+Left",), "Move the end 10 ms earlier", LABELING),
    Shortcut(Command.LABEL_END_LATER, ("Ctrl+Alt+Right",), "Move the end 10 ms later", LABELING),
    Shortcut(Command.LABEL_START_EARLIER_MORE, ("Alt+Shift+PgUp",), "Move the start 50 ms earlier", LABELING),
    Shortcut(Command.LABEL_START_LATER_MORE, ("Alt+Shift+PgDown",), "Move the start 50 ms later", LABELING),
    Shortcut(Command.LABEL_END_EARLIER_MORE, ("Ctrl+Alt+PgUp",), "Move the end 50 ms earlier", LABELING),
    Shortcut(Command.LABEL_END_LATER_MORE, ("Ctrl+Alt+PgDown",), "Move the end 50 ms later", LABELING),
    Shortcut(Command.UNDO, ("Ctrl+Z",), "Undo the last edit of the project", LABELING),
    Shortcut(Command.REDO, ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo the edit undone last", LABELING),
    Shortcut(Command.LABEL_HELP, ("Ctrl+/", "?"), "Show or hide the labeling shortcuts", LABELING),
    # prompt-by-prompt recording (app/labeling/prompt_mode.py)
    Shortcut(Command.PROMPT_RECORD, ("R",), "Record the prompt, or stop", PROMPTS),
    Shortcut(Command.PROMPT_ACCEPT, ("A",), "Accept the take and go to the next prompt", PROMPTS),
    Shortcut(Command.PROMPT_RETAKE, ("Shift+R",), "Discard the take and record again", PROMPTS),
    Shortcut(Command.PROMPT_SKIP, ("Alt+Right",), "Skip to the next prompt", PROMPTS),
    Shortcut(Command.PROMPT_PREVIOUS, ("Alt+Left",), "Back to the previous prompt", PROMPTS),
    Shortcut(Command.PROMPT_PLAY, ("Shift+P",), "Play the trimmed take, or stop", PROMPTS),
)


def shortcut(command: Command) -> Shortcut:
    """The table row of ``command``."""
    return next(s for s in SHORTCUTS if s.command is command)


def keys_for(command: Command, settings=None) -> tuple[str, ...]:
    """The keys bound to ``command``: the user's override stored in ``settings``
    (a :class:`~app.settings.StudioSettings`) if any, else the table's."""
    if settings is not None:
        override = settings.shortcut_override(command.value)
        if override is not None:
            return override
    return shortcut(command).keys


def key_sequences(command: Command, settings=None) -> list[QKeySequence]:
    """The key sequences bound to ``command`` (with the overrides in ``settings``), for ``QAction.setShortcuts``."""
    return [QKeySequence(k) for k in keys_for(command, settings)]


def portable(key: str | QKeySequence) -> str:
    """One canonical spelling of a key sequence (``"shift+ctrl+k"`` → ``"Ctrl+Shift+K"``)."""
    seq = key if isinstance(key, QKeySequence) else QKeySequence(key)
    return seq.toString(QKeySequence.SequenceFormat.PortableText)


def conflicts(assignment: dict[Command, tuple[str, ...]]) -> dict[str, list[Command]]:
    """Keys bound to more than one command in ``assignment`` (command → keys): canonical key → commands."""
    users: dict[str, list[Command]] = {}
    for command, keys in assignment.items():
        for key in dict.fromkeys(portable(k) for k in keys if k):
            if key:
                users.setdefault(key, []).append(command)
    return {k: cs for k, cs in users.items() if len(cs) > 1}


def native_text(keys: tuple[str, ...]) -> str:
    """Keys as the platform writes them (``"Ctrl+R, Space"``)."""
    return ", ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in keys)


class ShortcutsDialog(QDialog):
    """Help → Keyboard shortcuts: a read-only table of :data:`SHORTCUTS` (keys, action, group),
    showing the user's overrides when given ``settings``. The editable variant is
    :class:`app.shortcut_editor.ShortcutEditorDialog`."""

    def __init__(self, parent=None, settings=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        table = QTableWidget(len(SHORTCUTS), 3, self)
        table.setHorizontalHeaderLabels(["Keys", "Action", "Where"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for row, s in enumerate(SHORTCUTS):
            table.setItem(row, 0, QTableWidgetItem(native_text(keys_for(s.command, settings))))
            table.setItem(row, 1, QTableWidgetItem(s.description))
            table.setItem(row, 2, QTableWidgetItem(s.group))
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table = table
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.buttons = buttons
        self.resize(620, 520)
