"""Help → About Sayso: the version, the model in use, the versions Sayso runs on, where its files live,
and "Copy diagnostics" for bug reports.

:func:`diagnostics` is the report, plain text, one ``key: value`` per line. It
holds no personal audio or text: no transcripts, vocabularies, project or take
names, only versions, the model's registry name, id and family, and the folders
that :mod:`engine.paths` and :mod:`engine.resources` own.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import sys

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from engine import paths
from engine.registry.index import ModelEntry
from engine.resources import RESOURCES
from engine.version import version
from engine.whisper.runtime import whisper_missing

__all__ = ["AboutDialog", "diagnostics"]


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def diagnostics(model: ModelEntry | None, problem: str | None = None) -> str:
    """The plain-text report of "Copy diagnostics".

    Args:
        model: the registry entry of the model in use (:attr:`app.active_model.ActiveModel.entry`), or None.
        problem: why there is no model (a user message), if so.

    Returns:
        Lines ``key: value``: Sayso's version, the model (name, id, family, source), Python, the
        platform, torch, Qt (runtime and PySide6), faster-whisper and CTranslate2 (or what adds them),
        the CPU count, the Qt platform plugin, and the folders of projects, takes, models and the
        bundled resources. Never transcripts, vocabularies or file names of takes or projects.
    """
    import torch  # the studio has it loaded already

    if model is not None:
        model_line = f"{model.name} (id {model.id}, family {model.family}; {model.source or 'unregistered folder'})"
    else:
        model_line = f"none ({problem or 'no model'})"
    whisper = whisper_missing()
    lines = {
        "Sayso": version(),
        "model in use": model_line,
        "Python": f"{platform.python_version()} ({sys.executable})",
        "platform": platform.platform(),
        "torch": f"{torch.__version__} ({torch.get_num_threads()} threads in the studio)",
        "Qt": f"{qVersion()} (PySide6 {pyside_version}, platform plugin {QGuiApplication.platformName() or '-'})",
        "faster-whisper": _dist_version("faster-whisper") if not whisper else f"not installed ({whisper})",
        "CTranslate2": _dist_version("ctranslate2"),
        "CPUs": str(os.cpu_count()),
        "projects": str(paths.projects_dir()),
        "takes": str(paths.takes_dir()),
        "models": str(paths.models_dir()),
        "bundled files": str(RESOURCES),
    }
    return "\n".join(f"{k}: {v}" for k, v in lines.items()) + "\n"


class AboutDialog(QDialog):
    """The About box: :func:`diagnostics` shown, the application icon, and a "Copy diagnostics" button.

    Args:
        model: the model in use (its registry entry), or None.
        problem: why there is no model, if so.
        parent: the window.

    Attributes:
        text: the report shown and copied (:func:`diagnostics`).
        copy_button: puts :attr:`text` on the clipboard.
    """

    def __init__(self, model: ModelEntry | None, problem: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Sayso")
        self.text = diagnostics(model, problem)
        heading = QLabel(f"<h2>Sayso {version()}</h2><p>Your own speech recognizer, trained on your machine.</p>")
        icon = QLabel()
        icon.setPixmap(QGuiApplication.windowIcon().pixmap(64, 64))
        top = QHBoxLayout()
        top.addWidget(icon)
        top.addWidget(heading, 1)
        self.details = QLabel(self.text.rstrip("\n"))
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        note = QLabel("Copy diagnostics puts these lines on the clipboard for a bug report: versions and folders, "
                      "never your recordings, transcripts or file names.")
        note.setWordWrap(True)
        self.copy_button = QPushButton("Copy diagnostics")
        self.copy_button.clicked.connect(self.copy_diagnostics)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.details)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def copy_diagnostics(self) -> None:
        """Put :attr:`text` on the clipboard and say so on the button."""
        QGuiApplication.clipboard().setText(self.text)
        self.copy_button.setText("Copied")
