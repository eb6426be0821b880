"""Prompt mode without a microphone: loading prompt lists, moving through them with the keyboard,
the place kept in the project, and its shortcuts in the one table."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.labeling.prompt_mode import PromptRecorder
from app.playback.controller import PlaybackController
from app.recorder.controller import RecorderController
from app.shortcuts import SHORTCUTS, Command, key_sequences
from engine.data.store import Project

PROMPTS = ["yes", "down", "right"]


@pytest.fixture
def warnings_shown(monkeypatch) -> list[str]:
    """QMessageBox.warning texts (a modal box would block the test); answers No."""
    shown: list[str] = []

    def warning(parent, title, text, *args):
        shown.append(text)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(warning))
    return shown


def make(qtbot, project, tmp_path) -> PromptRecorder:
    recorder = RecorderController(takes_dir=tmp_path / "takes")
    playback = PlaybackController()
    widget = PromptRecorder(project, recorder, playback)
    recorder.setParent(widget)
    playback.setParent(widget)
    qtbot.addWidget(widget)
    widget.show()
    widget.activateWindow()
    qtbot.waitUntil(widget.isActiveWindow, timeout=5_000)
    return widget


def test_prompt_mode_commands_are_in_the_shortcut_table():
    commands = {s.command for s in SHORTCUTS}
    mine = {Command.PROMPT_RECORD, Command.PROMPT_ACCEPT, Command.PROMPT_RETAKE, Command.PROMPT_SKIP,
            Command.PROMPT_PREVIOUS, Command.PROMPT_PLAY}
    assert mine <= commands and commands == set(Command)
    keys = [k for s in SHORTCUTS for k in s.keys]
    assert len(keys) == len(set(keys))


def test_keys_move_through_the_prompts_and_the_place_is_kept(qtbot, tmp_path, warnings_shown):
    path = tmp_path / "prompts.txt"
    path.write_text("# three words\n" + "\n".join(PROMPTS) + "\n", encoding="utf-8")
    project = Project.create(tmp_path / "p")
    widget = make(qtbot, project, tmp_path)
    assert widget.counter_label.text() == "" and not widget.record_action.isEnabled()
    assert widget.load_prompts(path)
    assert (widget.counter_label.text(), widget.prompt_label.text()) == ("1 / 3", "yes")
    assert widget.record_action.shortcuts() == key_sequences(Command.PROMPT_RECORD)
    assert not widget.previous_action.isEnabled() and not widget.accept_action.isEnabled()

    with qtbot.waitSignal(widget.position_changed) as moved:
        qtbot.keyClick(widget, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)  # skip
    assert moved.args == [1, 3] and widget.prompt_label.text() == "down"
    qtbot.keyClick(widget, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(widget, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert widget.session.done and widget.counter_label.text() == "3 / 3 done"
    assert "All 3 prompts are done" in widget.prompt_label.text() and not widget.record_action.isEnabled()
    qtbot.keyClick(widget, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)  # previous
    assert widget.prompt_label.text() == "right" and widget.counter_label.text() == "3 / 3"
    assert project.count() == 0  # skipping adds nothing
    project.close()

    again = Project.open(tmp_path / "p")
    other = make(qtbot, again, tmp_path)
    assert other.resume_last_session()  # the last list of this project, at its place
    assert (other.counter_label.text(), other.current_prompt) == ("3 / 3", "right")
    assert not warnings_shown
    again.close()


def test_a_bad_prompt_file_is_refused_with_its_line(qtbot, tmp_path, warnings_shown):
    project = Project.create(tmp_path / "p")
    widget = make(qtbot, project, tmp_path)
    good = tmp_path / "good.txt"
    good.write_text("one\ntwo\n", encoding="utf-8")
    assert widget.load_prompts(good)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\nna\xefve\n")
    assert not widget.load_prompts(bad)
    assert warnings_shown and "bad.txt, line 2: not UTF-8" in warnings_shown[0]
    assert widget.current_prompt == "one" and widget.file_label.text() == "good.txt"  # the old list stays
    assert not widget.load_prompts(tmp_path / "missing.txt", quiet=True)
    assert len(warnings_shown) == 1 and "no such prompt file" in widget.status_label.text()
    project.close()


def test_record_without_a_microphone_says_so(qtbot, tmp_path, warnings_shown, monkeypatch):
    from app.recorder import controller

    monkeypatch.setattr(controller, "list_input_devices", list)
    project = Project.create(tmp_path / "p")
    widget = make(qtbot, project, tmp_path)
    widget.recorder.check_devices()
    path = tmp_path / "prompts.txt"
    path.write_text("yes\n", encoding="utf-8")
    widget.load_prompts(path)
    qtbot.keyClick(widget, Qt.Key.Key_R)
    assert not widget.recorder.is_recording and not widget.is_recording
    assert "No microphone" in widget.status_label.text()
    assert widget.record_action.isEnabled()  # it can be tried again after plugging one in
    project.close()


def test_a_take_started_elsewhere_is_reviewed_trimmed_and_accepted(qtbot, tmp_path, warnings_shown):
    """A take the main window records while prompt mode is shown is the prompt's; one the recorder
    could not save to disk is written at accept; a dragged trim is what is stored; a quiet take
    asks first."""
    import numpy as np

    from engine.audio.io import load_audio
    from engine.audio.quality import Issue
    from tests.helpers import SAMPLES

    path = tmp_path / "prompts.txt"
    path.write_text("yes\nno\n", encoding="utf-8")
    project = Project.create(tmp_path / "p")
    widget = make(qtbot, project, tmp_path)
    widget.load_prompts(path)
    silence = np.zeros(8000, np.float32)
    quiet = np.concatenate([silence, load_audio(SAMPLES / "sc_yes_03401e93.wav") * 0.1, silence])

    widget.recorder.recording_changed.emit(True)  # as when the main window's Record starts the recorder
    with qtbot.waitSignal(widget.take_checked) as checked:
        widget.recorder.recorded.emit(quiet)  # the recorder could not save it: no last_take_path
    report = checked.args[0]
    assert report.issues == {Issue.TOO_QUIET} and widget.take_path is None
    assert "Too quiet" in widget.warning_label.text() and "Accept anyway" in widget.accept_button.text()
    start, end = report.trim
    widget.trim_region.setRegion((start - 0.1, end + 0.05))  # the user widens it by dragging
    assert widget.trim == pytest.approx((start - 0.1, end + 0.05))

    qtbot.keyClick(widget, Qt.Key.Key_A)  # asks; the stand-in answers No
    assert len(warnings_shown) == 1 and "Too quiet" in warnings_shown[0] and project.count() == 0
    widget._confirm = lambda report: True
    with qtbot.waitSignal(widget.accepted) as added:
        qtbot.keyClick(widget, Qt.Key.Key_A)
    row = project.utterance(added.args[0])
    assert (row.text, row.status, row.speaker) == ("yes", "draft", None)
    assert (row.start, row.end) == pytest.approx((start - 0.1, end + 0.05))
    rec = project.recordings()[0]
    assert rec.duration == pytest.approx(len(quiet) / 16_000) and rec.file.is_file()
    assert widget.take_path is None and widget.current_prompt == "no"
    # another take arriving while prompt mode is hidden is not the prompt's
    widget.hide()
    widget.recorder.recording_changed.emit(True)
    widget.recorder.recorded.emit(quiet)
    assert widget.take is None
    project.close()


def test_keys_need_the_focus_in_prompt_mode_and_follow_the_users_overrides(qtbot, tmp_path, warnings_shown):
    from PySide6.QtGui import QKeySequence

    from app.settings import StudioSettings

    settings = StudioSettings()
    settings.set_shortcut_override(Command.PROMPT_SKIP.value, ["Ctrl+Shift+N"])
    path = tmp_path / "prompts.txt"
    path.write_text("one\ntwo\nthree\n", encoding="utf-8")
    project = Project.create(tmp_path / "p")
    recorder, playback = RecorderController(takes_dir=tmp_path / "takes"), PlaybackController()
    widget = PromptRecorder(project, recorder, playback, settings=settings)
    qtbot.addWidget(widget)
    widget.show()
    widget.activateWindow()
    qtbot.waitUntil(widget.isActiveWindow, timeout=5_000)
    widget.load_prompts(path)
    assert widget.hasFocus()
    assert widget.skip_action.shortcuts() == [QKeySequence("Ctrl+Shift+N")]
    assert "Ctrl+Shift+N" in widget.skip_button.text()
    qtbot.keyClick(widget, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)  # the default: no longer bound
    assert widget.current_prompt == "one"
    qtbot.keyClick(widget, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert widget.current_prompt == "two"
    # typing a speaker name: its letters go into the box, not to the shortcuts; Enter hands the keys back
    box = widget.speaker_box.lineEdit()
    box.setFocus()
    qtbot.keyClicks(box, "rosa")  # R is Record and A is Accept outside the box
    assert widget.speaker == "rosa" and widget.current_prompt == "two"
    assert recorder.recorder is None and not recorder.is_recording
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert widget.hasFocus()
    settings.set_shortcut_override(Command.PROMPT_SKIP.value, None)
    widget.apply_shortcuts()
    assert widget.skip_action.shortcuts() == key_sequences(Command.PROMPT_SKIP)
    qtbot.keyClick(widget, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert widget.current_prompt == "three"
    project.close()
