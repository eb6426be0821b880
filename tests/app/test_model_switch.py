"""Switching the studio's model: a window opened without one starts transcribing after switch_model."""
from __future__ import annotations

import pytest

from app.main_window import MainWindow
from tests.helpers import SAMPLES

pytestmark = pytest.mark.slow


def test_switch_from_no_model_to_the_bundled_one(qtbot, no_model, model_path, tmp_path):
    window = MainWindow(no_model)
    qtbot.addWidget(window)
    assert window.recognizer is None and not window.commands.transcribe.isEnabled()
    assert "Train" in [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert window.switch_model(model_path)
    assert window.model_label.text() == "Model: sayso-base"  # its registry name, not the folder's ("base")
    assert window.projects.prelabel_run is not None and window.projects.prelabel_run.recognizer is window.recognizer
    assert window.open_file(SAMPLES / "sc_yes_03401e93.wav")
    with qtbot.waitSignal(window.recognizer.finished, timeout=180_000):
        window.commands.transcribe.trigger()
    assert window.panel.transcript == "yes"


def test_switch_to_a_folder_without_a_model_warns(qtbot, no_model, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda parent, title, text, *a: shown.append(text)))
    window = MainWindow(no_model)
    qtbot.addWidget(window)
    assert not window.switch_model(tmp_path)
    assert shown and "not a Sayso model" in shown[0]
