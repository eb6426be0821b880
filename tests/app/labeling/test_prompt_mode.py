"""Prompt-by-prompt recording through a real capture device (the PulseAudio virtual microphone)
into a real project: record, check, trim, accept, re-take, resume after reopening; a clipped take
is flagged before it is accepted."""
from __future__ import annotations

import sqlite3

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.labeling.prompt_mode import PromptRecorder
from app.playback.controller import PlaybackController
from app.recorder.controller import RecorderController
from engine.audio.io import load_audio
from engine.audio.quality import Issue
from engine.data.store import Project
from tests.audio_device import drain_playback
from tests.helpers import SAMPLES

pytestmark = pytest.mark.audio_device

YES = SAMPLES / "sc_yes_03401e93.wav"    # "yes", speech ~0.42–0.87 s of 1 s
DOWN = SAMPLES / "sc_down_0f250098.wav"  # "down", speech ~0.18–0.66 s
STOP = SAMPLES / "sc_stop_18f8afd5.wav"  # "stop", peak -7.5 dBFS


class Answers:
    """Stands in for QMessageBox.warning (a modal box would block the test): records the
    texts and answers with ``reply``."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.reply = QMessageBox.StandardButton.No

    def __call__(self, parent, title, text, *args):
        self.texts.append(text)
        return self.reply


@pytest.fixture
def answers(monkeypatch) -> Answers:
    a = Answers()
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(a))
    return a


def make(qtbot, project, mic, tmp_path) -> PromptRecorder:
    recorder = RecorderController(takes_dir=tmp_path / "takes")
    recorder.device = mic.device
    playback = PlaybackController()
    widget = PromptRecorder(project, recorder, playback)
    recorder.setParent(widget)
    playback.setParent(widget)
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    widget.activateWindow()
    qtbot.waitUntil(widget.isActiveWindow, timeout=5_000)
    return widget


def record(qtbot, widget: PromptRecorder, mic, clip, key=Qt.Key.Key_R,
           modifier=Qt.KeyboardModifier.NoModifier):
    """Press ``key`` to start recording, speak ``clip`` into the microphone, press R to stop; the report."""
    qtbot.keyClick(widget, key, modifier)
    assert widget.is_recording, widget.status_label.text()
    playing = mic.play(clip, lead_seconds=0.6, tail_seconds=0.6)
    try:
        qtbot.waitUntil(lambda: playing.wait(0), timeout=20_000)
        qtbot.wait(400)  # what PulseAudio and PortAudio still buffer
        with qtbot.waitSignal(widget.take_checked, timeout=10_000) as checked:
            qtbot.keyClick(widget, Qt.Key.Key_R)
    finally:
        drain_playback(mic, playing)
    assert not widget.recorder.is_recording
    return checked.args[0]


def rows(project: Project) -> list[tuple]:
    """The utterances as stored in the SQLite file (read with a separate connection)."""
    conn = sqlite3.connect(project.path)
    try:
        return conn.execute(
            'SELECT u.transcript, u.status, s.name, u.start, u."end", r.duration, r.path '
            "FROM utterances u JOIN recordings r ON r.id = u.recording_id "
            "LEFT JOIN speakers s ON s.id = u.speaker_id ORDER BY u.id").fetchall()
    finally:
        conn.close()


def test_record_accept_retake_and_resume(qtbot, virtual_mic, tmp_path, answers):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# words of the Speech Commands clips\nyes\n\ndown\nright\n", encoding="utf-8")
    project = Project.create(tmp_path / "p")
    widget = make(qtbot, project, virtual_mic, tmp_path)
    assert widget.load_prompts(prompts)
    assert (widget.counter_label.text(), widget.prompt_label.text()) == ("1 / 3", "yes")
    widget.speaker_box.setCurrentText("ann")

    # prompt 1: record "yes" through the microphone
    report = record(qtbot, widget, virtual_mic, YES)
    assert report.ok, report.messages
    assert widget.warning_label.isVisible() and "Good take" in widget.warning_label.text()
    take = widget.take_path
    assert take is not None and take.parent == tmp_path / "takes" and take.is_file()
    duration = sf.info(str(take)).duration
    assert duration == pytest.approx(report.duration, abs=1e-3) and duration > 1.8  # 0.6 s + 1 s + 0.6 s
    start, end = widget.trim
    first, last = report.speech_span
    assert 0.0 < start < first < last < end < duration  # trimmed around the speech, inside the take
    assert widget.trim_region.isVisible() and widget.trim_region.getRegion() == pytest.approx((start, end))
    assert widget.waveform.duration == pytest.approx(duration, abs=1e-3)
    assert "Accept anyway" not in widget.accept_button.text()

    with qtbot.waitSignal(widget.accepted) as added:
        qtbot.keyClick(widget, Qt.Key.Key_A)
    assert not answers.texts  # a good take needs no confirmation
    stored = rows(project)
    assert len(stored) == 1
    text, status, speaker, u_start, u_end, rec_duration, rec_path = stored[0]
    assert (text, status, speaker) == ("yes", "draft", "ann")
    assert (u_start, u_end) == pytest.approx((start, end))
    assert 0.0 <= u_start < u_end <= rec_duration == pytest.approx(duration, abs=1e-3)
    assert rec_path.startswith("audio/") and (project.folder / rec_path).is_file()
    # the speech the VAD found is inside the stored utterance, and it is the clip we played
    audio = load_audio(project.folder / rec_path)
    kept = audio[int(u_start * 16_000):int(u_end * 16_000)]
    assert np.abs(kept).max() > 0.1 and np.abs(audio[:int(0.3 * 16_000)]).max() < 0.01
    assert project.utterance(added.args[0]).text == "yes"
    assert (widget.counter_label.text(), widget.prompt_label.text()) == ("2 / 3", "down")
    assert widget.take is None and not widget.accept_action.isEnabled()

    # prompt 2: a take, then Shift+R: it is discarded and a new take starts at once
    record(qtbot, widget, virtual_mic, DOWN)
    first_take = widget.take_path
    second = record(qtbot, widget, virtual_mic, DOWN, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)
    assert widget.take_path != first_take and second.ok, second.messages
    assert len(rows(project)) == 1  # nothing of prompt 2 was added
    assert widget.prompt_label.text() == "down"
    project.close()

    # reopening the project resumes at prompt 2, with the same speaker
    again = Project.open(tmp_path / "p")
    resumed = make(qtbot, again, virtual_mic, tmp_path)
    assert resumed.load_prompts(prompts)
    assert (resumed.counter_label.text(), resumed.prompt_label.text()) == ("2 / 3", "down")
    assert resumed.speaker == "ann"
    assert again.count() == 1
    again.close()


def test_a_clipped_take_is_flagged_before_it_is_accepted(qtbot, virtual_mic, tmp_path, answers):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("stop\ngo\n", encoding="utf-8")
    project = Project.create(tmp_path / "p")
    widget = make(qtbot, project, virtual_mic, tmp_path)
    assert widget.load_prompts(prompts)
    loud = np.clip(load_audio(STOP) * 8.0, -1.0, 1.0)  # +18 dB: "stop" flattened at full scale

    report = record(qtbot, widget, virtual_mic, loud)
    assert Issue.CLIPPED in report.issues, report.messages
    assert report.clipped_samples >= 100
    # the warning is shown prominently while the take is reviewed, before any accept
    assert widget.warning_label.isVisible() and "Clipped" in widget.warning_label.text()
    assert "Accept anyway" in widget.accept_button.text()
    assert not answers.texts and project.count() == 0

    answers.reply = QMessageBox.StandardButton.No
    qtbot.keyClick(widget, Qt.Key.Key_A)
    assert len(answers.texts) == 1 and "Clipped" in answers.texts[0]
    assert project.count() == 0 and widget.current_prompt == "stop" and widget.take is not None

    answers.reply = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(widget.accepted):
        qtbot.keyClick(widget, Qt.Key.Key_A)
    assert len(answers.texts) == 2
    (text, status, _, start, end, duration, _), = rows(project)
    assert (text, status) == ("stop", "draft") and 0.0 <= start < end <= duration
    assert widget.current_prompt == "go"
    project.close()
