"""The studio window end to end: open, look, transcribe, errors, devices, settings."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QMimeData, QSize, Qt, QUrl
from PySide6.QtWidgets import QToolBar

from app.main_window import MainWindow
from app.recorder import controller
from app.shortcuts import SHORTCUTS, Command, ShortcutsDialog, key_sequences
from app.transcribe.panel import headline
from app.widgets.head_chooser import select_map
from engine.audio.capture import InputDevice
from engine.audio.features import FRAME_SHIFT_S
from engine.audio.io import SAMPLE_RATE, load_audio
from tests.helpers import SAMPLES

WORKER_TIMEOUT_MS = 180_000  # spawn + import torch + load the model + decode, on a busy 2-core machine


def make_window(qtbot, model) -> MainWindow:
    window = MainWindow(model)
    qtbot.addWidget(window)  # closed at teardown: saves settings and stops the worker
    window.show()
    return window


def toolbar_button(window: MainWindow, action):
    return window.findChild(QToolBar).widgetForAction(action)


def test_open_real_sample_fills_waveform_and_spectrogram(qtbot, no_model, fsdd_clip):
    window = make_window(qtbot, no_model)
    assert window.open_file(fsdd_clip)
    audio = load_audio(fsdd_clip)
    assert window.waveform.duration == pytest.approx(len(audio) / SAMPLE_RATE)
    x, y = window.waveform.curve.getData()
    assert len(y) == len(audio) and x[-1] == pytest.approx((len(audio) - 1) / SAMPLE_RATE)
    features = window.spectrogram.features
    assert features.shape == (len(audio) // 160 + 1, 80)
    assert window.spectrogram.duration == pytest.approx(len(audio) / SAMPLE_RATE, abs=2 * FRAME_SHIFT_S)
    assert window.spectrogram.image.image is not None
    rect = window.spectrogram.image.mapRectToParent(window.spectrogram.image.boundingRect())
    assert rect.width() == pytest.approx(len(features) * FRAME_SHIFT_S)
    # one time axis: the spectrogram and attention plots follow the waveform's x range
    wave_box = window.waveform.getViewBox()
    assert window.spectrogram.getViewBox().linkedView(0) is wave_box
    assert window.attention.plot.getViewBox().linkedView(0) is wave_box
    assert fsdd_clip.name in window.windowTitle()
    assert window.commands.transcribe.isEnabled() is False  # no model here


def test_transcribe_shows_transcript_and_attention(qtbot, model_path):
    window = make_window(qtbot, model_path)
    assert window.open_file(SAMPLES / "sc_yes_03401e93.wav")  # a speaker the model never heard
    with qtbot.waitSignal(window.recognizer.finished, timeout=WORKER_TIMEOUT_MS) as blocker:
        qtbot.mouseClick(toolbar_button(window, window.commands.transcribe), Qt.MouseButton.LeftButton)
        assert window.recognizer.busy and not window.commands.transcribe.isEnabled()
        assert window.panel.busy.isVisible()
    rec = blocker.args[0]
    assert rec.text == "yes"
    assert window.panel.transcript == "yes"
    assert window.panel.shown_headline() == headline(rec.text, rec.confidence)
    assert rec.model in window.panel.text_area.toPlainText()
    assert not window.panel.busy.isVisible() and window.commands.transcribe.isEnabled()

    layers, heads, n_tokens, n_frames = rec.attention.shape
    view = window.attention
    assert view.image.image.shape == (n_tokens, n_frames)  # rows = tokens, columns = encoder frames
    assert view.tokens == rec.attention_tokens
    rect = view.image.mapRectToParent(view.image.boundingRect())
    assert rect.width() == pytest.approx(n_frames * rec.frame_shift)
    assert rect.height() == pytest.approx(n_tokens)
    assert view.combo.count() == 1 + layers * heads
    np.testing.assert_allclose(view.image.image, rec.attention.mean(axis=(0, 1)), rtol=1e-5)
    view.combo.setCurrentText("layer 1 head 2" if heads > 1 else "layer 1 head 1")
    np.testing.assert_allclose(view.image.image, select_map(rec.attention, view.current_view))
    assert len(view.plot.getAxis("left")._tickLevels[0]) >= 1


def test_corrupt_empty_and_short_files_show_warnings(qtbot, no_model, tmp_path, warnings_shown, speech_clip):
    window = make_window(qtbot, no_model)
    assert window.open_file(speech_clip)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4000))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    short = tmp_path / "short.wav"
    sf.write(str(short), np.zeros(SAMPLE_RATE // 50, np.float32), SAMPLE_RATE)  # 20 ms
    for path in (corrupt, empty, short):
        assert window.open_file(path) is False
    assert len(warnings_shown) == 3
    assert all(p.name in text for p, text in zip((corrupt, empty, short), warnings_shown))
    assert "too short" in warnings_shown[2]
    assert not any("Traceback" in t for t in warnings_shown)
    assert speech_clip.name in window.windowTitle()  # the good clip is still shown
    assert window.waveform.duration == pytest.approx(1.0, abs=0.01)


def test_no_input_device_disables_record(qtbot, no_model, monkeypatch, speech_clip):
    # The test must control device presence (CI machines may or may not have a
    # microphone), so the device list is replaced with an empty one.
    monkeypatch.setattr(controller, "list_input_devices", list)
    window = make_window(qtbot, no_model)
    assert not window.commands.record.isEnabled()
    assert window.commands.record.toolTip() == controller.NO_DEVICE_MESSAGE
    assert window.device_label.text() == "No microphone"
    assert "No microphone found" in window.statusBar().currentMessage()
    assert not window.level_meter.isEnabled() and "No microphone found" in window.level_meter.toolTip()
    window.commands.record.trigger()  # Ctrl+R / Space on a disabled action: nothing happens
    assert not window.recorder.is_recording
    assert window.open_file(speech_clip)  # everything else still works
    monkeypatch.setattr(controller, "list_input_devices", lambda: [fake_device("a microphone plugged in later")])
    window.commands.rescan.trigger()
    assert window.commands.record.isEnabled() and window.device_label.text() == ""
    assert window.level_meter.isEnabled() and "dBFS" in window.level_meter.toolTip()


def fake_device(name: str) -> InputDevice:
    return InputDevice(index=0, name=name, default_samplerate=16000.0, max_input_channels=1, is_default=True)


class FakeRecorder:
    """Stands in for engine.audio.capture.Recorder: a 440 Hz tone, 30 ms per read."""

    def __init__(self, *args, **kwargs):
        self.is_recording, self.error, self.level_dbfs, self.clipped = False, None, -6.0, False
        self.taken: list[np.ndarray] = []

    def start(self):
        self.is_recording = True

    def read_new(self):
        if not self.is_recording:
            return np.zeros(0, np.float32)
        n = sum(len(c) for c in self.taken)
        t = (n + np.arange(480)) / SAMPLE_RATE
        chunk = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        self.taken.append(chunk)
        return chunk

    def stop(self):
        self.is_recording = False
        return np.concatenate(self.taken) if self.taken else np.zeros(0, np.float32)


class FakeCapture:
    Recorder = FakeRecorder

    class CaptureError(RuntimeError):
        pass


def test_record_and_stop_with_a_fake_device(qtbot, no_model, monkeypatch):
    # The test must control device presence, so both the device list and the recorder are fakes.
    monkeypatch.setattr(controller, "list_input_devices", lambda: [fake_device("fake microphone")])
    monkeypatch.setattr(controller, "_capture_module", lambda: FakeCapture)
    window = make_window(qtbot, no_model)
    assert window.commands.record.isEnabled()
    levels = []
    window.recorder.level.connect(lambda db, clip: levels.append(db))
    window.commands.record.trigger()
    assert window.recorder.is_recording and window.commands.record.text() == "Stop"
    qtbot.waitUntil(lambda: window.waveform.duration > 0.3, timeout=5000)
    assert -6.0 in levels
    with qtbot.waitSignal(window.recorder.recorded) as blocker:
        window.commands.record.trigger()
    audio = blocker.args[0]
    assert not window.recorder.is_recording and window.commands.record.text() == "Record"
    assert window.audio is audio and window.waveform.duration == pytest.approx(len(audio) / SAMPLE_RATE)
    assert window.spectrogram.features.shape[0] == len(audio) // 160 + 1


def test_lost_device_keeps_the_take_and_says_why(qtbot, no_model, monkeypatch, warnings_shown):
    # The test must control device presence: a fake device that disappears after a few reads.
    class LosingRecorder(FakeRecorder):
        def read_new(self):
            chunk = super().read_new()
            if len(self.taken) >= 5:
                self.error = "The microphone was disconnected."
            return chunk

    class LosingCapture(FakeCapture):
        Recorder = LosingRecorder

    monkeypatch.setattr(controller, "list_input_devices", lambda: [fake_device("fake microphone")])
    monkeypatch.setattr(controller, "_capture_module", lambda: LosingCapture)
    window = make_window(qtbot, no_model)
    window.commands.record.trigger()
    qtbot.waitUntil(lambda: not window.recorder.is_recording, timeout=5000)
    assert warnings_shown == ["The microphone was disconnected."]
    assert window.audio is not None and len(window.audio) >= 5 * 480  # the take so far is kept
    assert not window.commands.record.isChecked()


def test_drop_a_file_opens_it(qtbot, no_model, speech_clip):
    window = make_window(qtbot, no_model)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(speech_clip))])

    class Drop:
        accepted = False

        def mimeData(self):
            return mime

        def acceptProposedAction(self):
            Drop.accepted = True

    window.dropEvent(Drop())
    assert Drop.accepted and window.audio_name == speech_clip.name


def test_missing_model_keeps_the_window_usable(qtbot, no_model, speech_clip):
    window = make_window(qtbot, no_model)
    assert window.recognizer is None
    assert str(no_model) in window.commands.transcribe.toolTip()
    assert str(no_model) in window.panel.text_area.placeholderText()  # said inline, not only in a tooltip
    assert window.open_file(speech_clip)
    assert not window.commands.transcribe.isEnabled()
    window.transcribe()  # the shortcut path: a message, no exception
    assert "No model" in window.statusBar().currentMessage()


def test_settings_persist_across_windows(qtbot, no_model, speech_clip, tmp_path, temp_settings):
    vocab_file = tmp_path / "commands.txt"
    vocab_file.write_text("yes\nno\n# comment\nturn on the light\n", encoding="utf-8")
    first = make_window(qtbot, no_model)
    first.resize(QSize(720, 540))
    assert first.open_file(speech_clip)
    assert first.panel.load_vocabulary(str(vocab_file))
    first.attention.set_view("layer 2 head 3")  # remembered even before a map with that head exists
    first.close()
    assert list(temp_settings.rglob("*.ini")), "settings were not written to the temp folder"

    second = make_window(qtbot, no_model)
    assert second.size() == QSize(720, 540)
    assert second.settings.last_folder == str(speech_clip.parent)
    assert second.panel.vocabulary_path == str(vocab_file)
    assert second.panel.vocabulary.phrases == ["yes", "no", "turn on the light"]
    assert second.panel.use_box.isChecked()
    assert "3 phrases" in second.panel.vocab_label.text()
    assert second.attention.wanted_view == "layer 2 head 3"


def test_bad_vocabulary_file_shows_its_message(qtbot, no_model, tmp_path, warnings_shown):
    window = make_window(qtbot, no_model)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n", encoding="utf-8")
    assert window.panel.load_vocabulary(str(empty)) is False
    assert warnings_shown and "empty.txt" in warnings_shown[0]
    assert window.panel.active_vocabulary() is None


def test_shortcuts_are_declared_once_and_bound(qtbot, no_model):
    assert {s.command for s in SHORTCUTS} == set(Command) and len(SHORTCUTS) == len(Command)
    keys = [k for s in SHORTCUTS for k in s.keys]
    assert len(keys) == len(set(keys))
    window = make_window(qtbot, no_model)
    assert window.commands.record.shortcuts() == key_sequences(Command.RECORD)
    assert window.commands.transcribe.shortcuts() == key_sequences(Command.TRANSCRIBE)
    assert window.commands.open.shortcuts() == key_sequences(Command.OPEN)
    dialog = ShortcutsDialog(window)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == len(SHORTCUTS)
    assert dialog.table.item(0, 1).text() == SHORTCUTS[0].description
