"""Live transcription in the studio: real speech through the virtual microphone, partials then finals."""
from __future__ import annotations

import pytest
import srt
from PySide6.QtWidgets import QMessageBox

from app.live.transcript_view import FINAL_COLOR, PARTIAL_COLOR, LiveTranscriptView
from app.main_window import MainWindow
from engine.audio.io import SAMPLE_RATE
from engine.decode.protocol import Final, Partial
from engine.decode.recognizer import SaysoRecognizer
from tests.helpers import SAMPLES

WORKER_TIMEOUT_MS = 180_000


@pytest.mark.audio_device
@pytest.mark.slow
def test_words_appear_while_speaking_and_finals_export(qtbot, virtual_mic, model_path, tmp_path, monkeypatch):
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda parent, title, text, *a: warnings.append(text)))
    window = MainWindow(model_path, preload_model=True)
    qtbot.addWidget(window)
    window.show()
    window.recorder.device = virtual_mic.device
    window.live_view.set_live_enabled(True)
    assert window.commands.live.isChecked()
    seen: list = []
    window.recognizer.live_events.connect(lambda events: seen.extend(events))

    window.commands.record.trigger()
    assert window.recorder.is_recording and window.recognizer.live, warnings
    for name in ("sc_yes_03401e93.wav", "sc_left_03401e93.wav"):
        playback = virtual_mic.play(SAMPLES / name, lead_seconds=0.4, tail_seconds=0.8)
        qtbot.waitUntil(lambda p=playback: p.wait(0), timeout=20_000)
    qtbot.waitUntil(lambda: sum(isinstance(e, Final) for e in seen) >= 2, timeout=WORKER_TIMEOUT_MS)
    window.commands.record.trigger()
    qtbot.waitUntil(lambda: not window.recognizer.live, timeout=30_000)

    finals = [e for e in seen if isinstance(e, Final)]
    assert [f.text for f in finals] == ["yes", "left"]
    # each final is what offline decoding of the same stretch of the recorded take gives
    offline = SaysoRecognizer.from_checkpoint(model_path)
    take = window.audio
    for f in finals:
        segment = take[round(f.start * SAMPLE_RATE):round(f.end * SAMPLE_RATE)]
        assert offline.transcribe(segment, attention=False).text == f.text
    assert any(isinstance(e, Partial) for e in seen)  # words were shown before each pause ended them
    view = window.live_view
    assert view.list.count() == 2 and view.partial_rows == 0
    assert view.list.item(0).text().endswith("yes") and view.list.item(0).foreground().color() == FINAL_COLOR
    out = tmp_path / "live.srt"
    assert view.export(out)
    assert [s.content for s in srt.parse(out.read_text())] == ["yes", "left"]
    # one transcript per take: the live finals are the take's transcript (was: an empty Transcript pane)
    qtbot.waitUntil(lambda: window.panel.transcript == "yes left", timeout=10_000)
    assert window.recognition is window.live_recognition and "Live transcript" in window.panel.text_area.toPlainText()
    assert [w.word for w in window.recognition.words] == ["yes", "left"]
    with qtbot.waitSignal(window.recognizer.finished, timeout=WORKER_TIMEOUT_MS):
        window.commands.transcribe.trigger()  # decoded again, and shown as such
    assert "Re-transcribed" in window.panel.text_area.toPlainText() and window.live_recognition.text == "yes left"
    assert not warnings


def test_partials_grey_finals_black(qtbot):
    view = LiveTranscriptView()
    qtbot.addWidget(view)
    view.add_events([Partial(0, 1.0, 1.4, "ye")])
    assert view.list.item(0).foreground().color() == PARTIAL_COLOR and view.list.item(0).font().italic()
    assert view.list.item(0).text() == "00:01.0  ye …" and view.partial_rows == 1
    assert not view.export_button.isEnabled()  # nothing final to export yet
    view.add_events([Final(0, 1.0, 1.9, "yes", 0.9), Partial(1, 2.5, 2.8, "no")])
    assert view.list.count() == 2 and view.list.item(0).text() == "00:01.0  yes"
    assert view.list.item(0).foreground().color() == FINAL_COLOR and not view.list.item(0).font().italic()
    assert view.export_button.isEnabled() and [c.text for c in view.captions] == ["yes"]
    with qtbot.waitSignal(view.seek) as blocker:
        view.list.itemClicked.emit(view.list.item(0))
    assert blocker.args == [1.0, 1.9]


def test_live_settings_validate_and_persist(qtbot, no_model, monkeypatch):
    from PySide6.QtWidgets import QDialogButtonBox

    from app.live.endpoint_dialog import EndpointDialog
    from engine.audio.endpoint import EndpointConfig

    dialog = EndpointDialog(EndpointConfig())
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.editors["pad_s"].setValue(0.9)  # longer than the 0.3 s pause that ends an utterance
    assert not ok.isEnabled() and "padding (0.9 s) must not be longer" in dialog.problem.text()
    dialog.editors["end_silence_s"].setValue(1.0)
    dialog.editors["aggressiveness"].setValue(1)
    assert ok.isEnabled() and dialog.problem.text() == ""
    cfg = dialog.config()
    assert (cfg.pad_s, cfg.end_silence_s, cfg.aggressiveness) == (0.9, 1.0, 1)

    window = MainWindow(no_model)
    qtbot.addWidget(window)
    monkeypatch.setattr(EndpointDialog, "exec", lambda self: (self.editors["end_silence_s"].setValue(0.5), 1)[1])
    window.recording.edit_live_settings()
    window.close()
    again = MainWindow(no_model)  # a restart reads the saved settings
    qtbot.addWidget(again)
    assert again.recording.endpoint_config().end_silence_s == 0.5
    assert not again.live_view.enable_box.isChecked()  # no model: live transcription stays off


@pytest.mark.audio_device
def test_play_a_clip_with_a_moving_playhead(qtbot, virtual_mic, no_model):
    window = MainWindow(no_model)
    qtbot.addWidget(window)
    window.show()
    assert not window.commands.play.isEnabled()  # nothing to play yet
    assert window.open_file(SAMPLES / "sc_yes_03401e93.wav")
    positions: list[float] = []
    window.playback.position_changed.connect(positions.append)
    window.commands.play.trigger()
    assert window.commands.play.isChecked() and window.commands.play.text() == "Stop playing"
    qtbot.waitUntil(lambda: not window.playback.is_playing, timeout=15_000)
    assert not window.commands.play.isChecked()
    assert positions == sorted(positions) and positions[-1] == pytest.approx(window.waveform.duration, abs=0.05)
    assert any(0.1 < p < 0.9 for p in positions)  # the playhead moved through the clip
    window.play_segment(0.2, 0.5)
    qtbot.waitUntil(lambda: not window.playback.is_playing, timeout=15_000)
    assert window.playback.position == pytest.approx(0.5, abs=0.02)
