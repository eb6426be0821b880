"""QActions for commands of the shortcut table, with the user's key overrides.

The labeling view (:mod:`app.labeling.commands`) and the main window
(:mod:`app.window.commands`) build their actions here so that keys always
come from :data:`app.shortcuts.SHORTCUTS` plus the overrides stored in
:class:`app.settings.StudioSettings`, and are
re-applied in one call after the user customized them
(:class:`app.shortcut_editor.ShortcutEditorDialog`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from app.shortcuts import Command, key_sequences, keys_for, native_text, shortcut


def make_action(owner: QWidget, command: Command, text: str, slot: Callable[[], object], settings=None,
                context: Qt.ShortcutContext = Qt.ShortcutContext.WidgetWithChildrenShortcut) -> QAction:
    """An action of ``owner`` for ``command``: its keys (with ``settings``' overrides) are active
    while focus is in ``owner`` (``context``); triggering it calls ``slot()``."""
    action = QAction(text, owner)
    action.setShortcutContext(context)
    action.setData(command.value)
    action.triggered.connect(lambda _checked=False: slot())
    owner.addAction(action)
    _apply(action, command, settings)
    return action


def apply_shortcuts(actions: Mapping[Command, QAction], settings=None) -> None:
    """Re-read the keys of every action (after the user changed them)."""
    for command, action in actions.items():
        _apply(action, command, settings)


def _apply(action: QAction, command: Command, settings) -> None:
    action.setShortcuts(key_sequences(command, settings))
    keys = keys_for(command, settings)
    description = shortcut(command).description
    action.setToolTip(f"{description} ({native_text(keys)})" if keys else description)
