"""The studio recovers a take that a crash left unfinished, and says so."""
from __future__ import annotations

import numpy as np

from app.main_window import MainWindow
from engine.audio.io import SAMPLE_RATE, load_audio
from engine.audio.take import TakeWriter, find_unfinished
from tests.helpers import SAMPLES


def test_unfinished_take_is_recovered_and_shown_at_start(qtbot, no_model, temp_takes_dir):
    speech = load_audio(SAMPLES / "sc_yes_03401e93.wav")
    writer = TakeWriter(temp_takes_dir, device_name="test mic")
    for i in range(0, len(speech), 240):
        writer.write(speech[i:i + 240])
    writer.close()  # what a killed studio leaves: the partial file and its sidecar, never finished
    assert len(find_unfinished(temp_takes_dir)) == 1

    window = MainWindow(no_model)
    qtbot.addWidget(window)
    assert find_unfinished(temp_takes_dir) == []
    assert window.audio is not None and window.audio_name.endswith(".wav")
    np.testing.assert_allclose(window.audio, speech, atol=1 / 32767)  # 16-bit PCM on disk
    message = window.statusBar().currentMessage()
    assert "Recovered an unfinished recording" in message and f"{len(speech) / SAMPLE_RATE:.1f} s" in message
    assert window.commands.play.isEnabled() and window.commands.transcribe.isEnabled() is False  # no model here


def test_nothing_to_recover_says_nothing(qtbot, no_model):
    window = MainWindow(no_model)
    qtbot.addWidget(window)
    assert window.audio is None and "Recovered" not in window.statusBar().currentMessage()
