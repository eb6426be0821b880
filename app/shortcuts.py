"""Every keyboard shortcut of the studio, declared once.

:data:`SHORTCUTS` is the single table: the main window binds its actions from
it and Help → Keyboard shortcuts lists it, so the two never disagree.
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
    PLAY = "play"
    TRANSCRIBE = "transcribe"
    LIVE = "live"
    LOAD_VOCABULARY = "load_vocabulary"
    ZOOM_FIT = "zoom_fit"
    SHORTCUTS = "shortcuts"
    QUIT = "quit"


@dataclass(frozen=True)
class Shortcut:
    """``keys`` in :class:`QKeySequence` portable text (``"Ctrl+R"``); the first one is shown in menus."""

    command: Command
    keys: tuple[str, ...]
    description: str


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut(Command.RECORD, ("Ctrl+R", "Space"), "Start or stop recording"),
    Shortcut(Command.OPEN, ("Ctrl+O",), "Open an audio file (WAV, FLAC, OGG)"),
    Shortcut(Command.SAVE, ("Ctrl+S",), "Save the current audio as WAV"),
    Shortcut(Command.PLAY, ("P",), "Play the audio, or stop playing"),
    Shortcut(Command.TRANSCRIBE, ("Ctrl+T",), "Transcribe the current audio"),
    Shortcut(Command.LIVE, ("Ctrl+Shift+T",), "Transcribe live while recording (on/off)"),
    Shortcut(Command.LOAD_VOCABULARY, ("Ctrl+L",), "Load a vocabulary file"),
    Shortcut(Command.ZOOM_FIT, ("Ctrl+0",), "Show the whole recording"),
    Shortcut(Command.SHORTCUTS, ("F1",), "Show this list of shortcuts"),
    Shortcut(Command.QUIT, ("Ctrl+Q",), "Quit Sayso studio"),
)


def shortcut(command: Command) -> Shortcut:
    """The table row of ``command``."""
    return next(s for s in SHORTCUTS if s.command is command)


def key_sequences(command: Command) -> list[QKeySequence]:
    """The key sequences bound to ``command``, for ``QAction.setShortcuts``."""
    return [QKeySequence(k) for k in shortcut(command).keys]


def native_text(keys: tuple[str, ...]) -> str:
    """Keys as the platform writes them (``"Ctrl+R, Space"``)."""
    return ", ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in keys)


class ShortcutsDialog(QDialog):
    """Help → Keyboard shortcuts: a read-only table of :data:`SHORTCUTS`."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        table = QTableWidget(len(SHORTCUTS), 2, self)
        table.setHorizontalHeaderLabels(["Keys", "Action"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for row, s in enumerate(SHORTCUTS):
            table.setItem(row, 0, QTableWidgetItem(native_text(s.keys)))
            table.setItem(row, 1, QTableWidgetItem(s.description))
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setStretchLastSection(True)
        self.table = table
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(460, 320)
