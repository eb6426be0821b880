"""Help → About Sayso: version, model in use, versions, folders, and "Copy diagnostics" without personal data."""
from __future__ import annotations

import platform

import torch
from PySide6.QtCore import qVersion
from PySide6.QtGui import QGuiApplication

from app.about import AboutDialog
from app.main_window import MainWindow
from engine import paths
from engine.registry.index import ModelRegistry
from engine.resources import BUNDLED_MODEL, RESOURCES
from engine.version import version
from tests.helpers import SAMPLES

WORKER_TIMEOUT_MS = 180_000  # spawn + import torch + load the model + decode, on a busy 2-core machine


def test_about_from_the_help_menu_copies_diagnostics_without_personal_data(qtbot, temp_takes_dir):
    window = MainWindow(BUNDLED_MODEL)
    qtbot.addWidget(window)
    window.show()
    clip = SAMPLES / "sc_yes_03401e93.wav"
    assert window.open_file(clip)
    window.transcribe()  # a real transcript the report must not carry
    qtbot.waitUntil(lambda: window.recognition is not None, timeout=WORKER_TIMEOUT_MS)
    transcript = window.recognition.text
    assert transcript == "yes"

    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    about = next(a for a in help_menu.actions() if a.text() == "About Sayso…")
    about.trigger()
    dialog = window.commands.about_dialog
    assert isinstance(dialog, AboutDialog) and dialog.isVisible()
    QGuiApplication.clipboard().clear()
    dialog.copy_button.click()
    text = QGuiApplication.clipboard().text()
    assert text == dialog.text and dialog.copy_button.text() == "Copied"

    fields = dict(line.split(": ", 1) for line in text.splitlines())
    assert fields["Sayso"] == version()
    entry = ModelRegistry().resolve(BUNDLED_MODEL)
    assert fields["model in use"].startswith(f"{entry.name} (id sayso-base, family sayso;")
    assert fields["torch"].startswith(torch.__version__) and fields["Qt"].startswith(qVersion())
    assert fields["Python"].startswith(platform.python_version())
    assert fields["takes"] == str(temp_takes_dir) and fields["models"] == str(paths.models_dir())
    assert fields["projects"] == str(paths.projects_dir()) and fields["bundled files"] == str(RESOURCES)
    assert fields["faster-whisper"][0].isdigit()  # the test environment has the Whisper extra
    # nothing personal: no transcript, no audio file name or folder
    assert f": {transcript}" not in text and f" {transcript} " not in text
    assert clip.name not in text and clip.stem not in text and str(SAMPLES) not in text
    assert dialog.details.text() == text.rstrip("\n")


def test_about_without_a_model_says_why(qtbot, no_model):
    dialog = AboutDialog(None, "No model at /nowhere.")
    qtbot.addWidget(dialog)
    assert "model in use: none (No model at /nowhere.)" in dialog.text.splitlines()
