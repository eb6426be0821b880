"""User-configurable shortcuts: overrides stored in QSettings and applied to the labeling view's
actions, the editor dialog with conflict detection and "Restore defaults"."""
from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialogButtonBox

from app.settings import StudioSettings
from app.shortcut_editor import ShortcutEditorDialog
from app.shortcuts import LABELING, SHORTCUTS, Command, conflicts, key_sequences, keys_for, shortcut
from tests.app.labeling.labeling_support import key, make_view


def ok_button(dialog):
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)


def test_the_table_declares_the_labeling_commands_once():
    labeling = {s.command for s in SHORTCUTS if s.group == LABELING}
    assert {Command.LABEL_ACCEPT_NEXT, Command.LABEL_SPLIT, Command.UNDO, Command.REDO} <= labeling
    assert not conflicts({s.command: s.keys for s in SHORTCUTS})
    assert shortcut(Command.REDO).keys == ("Ctrl+Shift+Z", "Ctrl+Y")


def test_an_override_is_stored_per_command_and_applied_when_actions_are_built(qtbot, labeling_project):
    settings = StudioSettings()
    settings.set_shortcut_override(Command.LABEL_MERGE.value, ["Ctrl+J"])
    settings.sync()
    again = StudioSettings()  # a fresh reader of the same file
    assert again.shortcut_override("label_merge") == ("Ctrl+J",)
    assert again.shortcut_override("label_split") is None
    assert keys_for(Command.LABEL_MERGE, again) == ("Ctrl+J",)
    view = make_view(qtbot, labeling_project, again)
    assert view.commands.actions[Command.LABEL_MERGE].shortcuts() == [QKeySequence("Ctrl+J")]
    assert "Ctrl+J" in view.commands.actions[Command.LABEL_MERGE].toolTip()
    view.table.setFocus()
    key(qtbot, view.table, "Ctrl+M")  # the default no longer merges
    assert labeling_project.count() == 5
    key(qtbot, view.table, "Ctrl+J")
    assert labeling_project.count() == 4
    # an unbound command: an empty override
    again.set_shortcut_override(Command.LABEL_MERGE.value, [])
    view.commands.apply_shortcuts()
    assert view.commands.actions[Command.LABEL_MERGE].shortcuts() == []
    again.set_shortcut_override(Command.LABEL_MERGE.value, None)
    view.commands.apply_shortcuts()
    assert view.commands.actions[Command.LABEL_MERGE].shortcuts() == key_sequences(Command.LABEL_MERGE)


def test_the_dialog_saves_overrides_that_the_view_applies(qtbot, labeling_project):
    settings = StudioSettings()
    view = make_view(qtbot, labeling_project, settings)
    dialog = ShortcutEditorDialog(settings, view)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == len(SHORTCUTS)
    assert dialog.table.item(0, 1).text() == SHORTCUTS[0].description
    dialog.set_keys(Command.LABEL_SPLIT, "Ctrl+B", "F6")
    assert dialog.save()
    assert StudioSettings().shortcut_override("label_split") == ("Ctrl+B", "F6")
    assert StudioSettings().shortcut_overrides() == {"label_split": ("Ctrl+B", "F6")}  # only what changed
    view.commands.apply_shortcuts()
    assert view.commands.actions[Command.LABEL_SPLIT].shortcuts() == [QKeySequence("Ctrl+B"), QKeySequence("F6")]
    view.editor.plots.set_cursor(0.5)
    view.table.setFocus()
    key(qtbot, view.table, "F6")
    assert labeling_project.count() == 6
    # the help overlay shows the keys that work
    view.commands.toggle_help()
    assert any("Ctrl+B" in k for k, _ in view.overlay.rows)


def test_conflicts_are_shown_and_block_saving_until_resolved(qtbot):
    settings = StudioSettings()
    dialog = ShortcutEditorDialog(settings)
    qtbot.addWidget(dialog)
    assert not dialog.conflicts() and ok_button(dialog).isEnabled()
    dialog.set_keys(Command.LABEL_MERGE, "Ctrl+K")  # Split's key
    found = dialog.conflicts()
    assert found == {"Ctrl+K": [Command.LABEL_SPLIT, Command.LABEL_MERGE]}
    assert not ok_button(dialog).isEnabled()
    assert not dialog.conflict_label.isHidden() and "Ctrl+K" in dialog.conflict_label.text()
    assert shortcut(Command.LABEL_MERGE).description in dialog.conflict_label.text()
    row = next(i for i, s in enumerate(SHORTCUTS) if s.command is Command.LABEL_SPLIT)
    assert dialog.table.item(row, 1).background().color().alpha() > 0  # highlighted
    assert not dialog.save() and settings.shortcut_override("label_merge") is None
    dialog.set_keys(Command.LABEL_PLAY, "Ctrl+Q")  # also against a studio-wide command
    assert "Ctrl+Q" in dialog.conflicts()
    dialog.restore_defaults()
    assert not dialog.conflicts() and ok_button(dialog).isEnabled()
    assert dialog.conflict_label.isHidden()
    assert dialog.assignment()[Command.LABEL_MERGE] == ("Ctrl+M",)


def test_restore_defaults_removes_the_overrides(qtbot):
    settings = StudioSettings()
    settings.set_shortcut_override(Command.UNDO.value, ["Ctrl+U"])
    dialog = ShortcutEditorDialog(settings)
    qtbot.addWidget(dialog)
    assert dialog.assignment()[Command.UNDO] == ("Ctrl+U",)
    dialog.restore_defaults()
    dialog.accept()
    assert settings.shortcut_overrides() == {}
    assert keys_for(Command.UNDO, settings) == ("Ctrl+Z",)
