"""Customize shortcuts: the editable variant of :class:`app.shortcuts.ShortcutsDialog`.

Every command of :data:`app.shortcuts.SHORTCUTS` gets two key editors (a main
key and an alternative). A key bound to two commands is a conflict: both rows
turn red, the conflict is spelled out under the table, and OK stays disabled
until it is resolved. "Restore defaults" puts the table's keys back. OK writes
one QSettings key per command that differs from its default (and removes the
keys of those that are back at their default) through
:class:`app.settings.StudioSettings`; whoever built actions from
:func:`app.shortcuts.key_sequences` re-applies them afterwards (see
:func:`app.actions.apply_shortcuts`).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeySequence
from PySide6.QtWidgets import (
    QDialogButtonBox,
    QHBoxLayout,
    QKeySequenceEdit,
    QLabel,
    QWidget,
)

from app.shortcuts import SHORTCUTS, Command, ShortcutsDialog, conflicts, keys_for, portable, shortcut

CONFLICT_BRUSH = QBrush(QColor(176, 0, 32, 90))
KEYS_PER_COMMAND = 2


def _edit(key: str | None) -> QKeySequenceEdit:
    edit = QKeySequenceEdit()
    edit.setMaximumSequenceLength(1)  # one chord per key; alternatives get their own editor
    edit.setClearButtonEnabled(True)
    if key:
        edit.setKeySequence(QKeySequence(key))
    return edit


class ShortcutEditorDialog(ShortcutsDialog):
    """Edit the keys of every command; conflicts are shown and block OK.

    Args:
        settings: the :class:`~app.settings.StudioSettings` holding the overrides.
        parent: the parent widget.

    Attributes:
        editors: command → its key editors (main key, alternative).

    Signals:
        applied(): the new keys were saved (OK).
    """

    applied = Signal()

    def __init__(self, settings, parent=None) -> None:
        super().__init__(parent, settings)
        self.setWindowTitle("Customize shortcuts")
        self.settings = settings
        self.table.setSelectionMode(self.table.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.editors: dict[Command, tuple[QKeySequenceEdit, ...]] = {}
        for row, s in enumerate(SHORTCUTS):
            keys = list(keys_for(s.command, settings))[:KEYS_PER_COMMAND]
            keys += [None] * (KEYS_PER_COMMAND - len(keys))
            edits = tuple(_edit(k) for k in keys)
            cell = QWidget()
            box = QHBoxLayout(cell)
            box.setContentsMargins(2, 1, 2, 1)
            for e in edits:
                e.keySequenceChanged.connect(self._check)
                box.addWidget(e)
            self.table.item(row, 0).setText("")
            self.table.setCellWidget(row, 0, cell)
            self.editors[s.command] = edits
        self.table.horizontalHeaderItem(0).setText("Keys (main, alternative)")
        self.table.resizeRowsToContents()
        self.table.setColumnWidth(0, 330)

        self.conflict_label = QLabel()
        self.conflict_label.setWordWrap(True)
        self.conflict_label.setStyleSheet("color: #b00020")
        self.layout().insertWidget(1, self.conflict_label)
        b = QDialogButtonBox.StandardButton
        self.buttons.setStandardButtons(b.Ok | b.Cancel | b.RestoreDefaults)
        self.buttons.accepted.connect(self.accept)
        self.buttons.button(b.RestoreDefaults).clicked.connect(self.restore_defaults)
        self.resize(860, 640)
        self._check()

    # -- state -------------------------------------------------------------------
    def assignment(self) -> dict[Command, tuple[str, ...]]:
        """The keys in the editors: command → portable key texts (empty editors left out)."""
        out = {}
        for command, edits in self.editors.items():
            keys = [portable(e.keySequence()) for e in edits]
            out[command] = tuple(dict.fromkeys(k for k in keys if k))
        return out

    def conflicts(self) -> dict[str, list[Command]]:
        """Keys bound to more than one command in the editors."""
        return conflicts(self.assignment())

    def set_keys(self, command: Command, *keys: str) -> None:
        """Put ``keys`` (portable text, up to two) into the editors of ``command``."""
        edits = self.editors[command]
        for i, e in enumerate(edits):
            e.setKeySequence(QKeySequence(keys[i]) if i < len(keys) and keys[i] else QKeySequence())

    def restore_defaults(self) -> None:
        """Every command back to the keys of :data:`~app.shortcuts.SHORTCUTS` (saved on OK)."""
        for command in self.editors:
            self.set_keys(command, *shortcut(command).keys)

    def _check(self, *_args) -> list[str]:
        found = self.conflicts()
        clashing = {c for cs in found.values() for c in cs}
        for row, s in enumerate(SHORTCUTS):
            brush = CONFLICT_BRUSH if s.command in clashing else QBrush()
            for col in (1, 2):
                self.table.item(row, col).setBackground(brush)
        lines = []
        for key, commands in found.items():
            names = " and ".join(f"“{shortcut(c).description}”" for c in commands)
            text = QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)
            lines.append(f"{text} is bound to both {names}.")
        self.conflict_label.setText("\n".join(lines) + ("\nChange one of them to save." if lines else ""))
        self.conflict_label.setVisible(bool(lines))
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not lines)
        ok.setToolTip("Resolve the conflicts first" if lines else "")
        return lines

    # -- saving ------------------------------------------------------------------
    def save(self) -> bool:
        """Write the keys to the settings (overrides only where they differ from the defaults).

        Returns:
            False (nothing saved) while there are conflicts.
        """
        if self.conflicts():
            return False
        for command, keys in self.assignment().items():
            default = tuple(portable(k) for k in shortcut(command).keys)
            self.settings.set_shortcut_override(command.value, None if keys == default else keys)
        self.settings.sync()
        self.applied.emit()
        return True

    def accept(self) -> None:
        if self.save():
            super().accept()
