"""Recording in the window through a real capture device: the PulseAudio virtual microphone."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from app.main_window import MainWindow
from engine.audio.io import SAMPLE_RATE

pytestmark = pytest.mark.audio_device


def test_record_a_clip_played_into_the_virtual_microphone(qtbot, virtual_mic, speech_clip, tmp_path, monkeypatch):
    warnings: list[str] = []  # a modal box would block the test forever: record its text instead
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda parent, title, text, *a: warnings.append(text)))
    window = MainWindow(tmp_path / "no-model")
    qtbot.addWidget(window)
    window.show()
    assert window.commands.record.isEnabled(), window.recorder.unavailable_reason
    window.recorder.device = virtual_mic.device
    levels: list[float] = []
    window.recorder.level.connect(lambda db, clipped: levels.append(db))

    window.commands.record.trigger()
    assert window.recorder.is_recording, warnings
    playback = virtual_mic.play(speech_clip, lead_seconds=0.3, tail_seconds=0.3)
    qtbot.waitUntil(lambda: playback.wait(0) or bool(warnings), timeout=15_000)
    qtbot.wait(300)
    assert not warnings
    assert window.waveform.duration > 1.0  # the live waveform grew while recording
    assert window.spectrograms.currentWidget() is window.live_spectrogram
    assert window.live_spectrogram.count > 100  # and the live spectrogram scrolled with it
    with qtbot.waitSignal(window.recorder.recorded, timeout=10_000) as blocker:
        window.commands.record.trigger()

    audio = blocker.args[0]
    assert len(audio) / SAMPLE_RATE >= 1.5  # 0.3 s + 1 s clip + 0.3 s
    take = window.recorder.last_take_path
    assert window.audio is audio and window.audio_name == take.name  # streamed to disk while recording
    assert take.exists() and take.parent == window.recorder.takes_dir
    assert window.spectrogram.features.shape[0] == len(audio) // 160 + 1
    assert max(levels) > -30.0 and np.abs(audio).max() > 0.05  # the speech came through
