"""Fixtures for the studio tests: isolated QSettings, real clips, a real checkpoint."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from tests.helpers import shared_data


@pytest.fixture(autouse=True)
def temp_settings(tmp_path_factory):
    """Every test writes its QSettings (INI) under a fresh temp folder, never to the user's config."""
    folder = tmp_path_factory.mktemp("settings")
    old = QSettings.defaultFormat()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    yield folder
    QSettings.setDefaultFormat(old)


@pytest.fixture(autouse=True)
def temp_user_data(tmp_path_factory, monkeypatch):
    """The user data folder (model registry, takes) is a fresh temp folder in every studio test."""
    folder = tmp_path_factory.mktemp("xdg_data")
    monkeypatch.setenv("XDG_DATA_HOME", str(folder))
    return folder


@pytest.fixture(autouse=True)
def temp_takes_dir(tmp_path_factory, monkeypatch):
    """Takes recorded by any window in a test go to a fresh temp folder, never to the user's data folder."""
    from engine import paths

    folder = tmp_path_factory.mktemp("takes")
    monkeypatch.setattr(paths, "takes_dir", lambda: folder)
    return folder


@pytest.fixture(scope="session")
def fsdd_clip() -> Path:
    """A real 8 kHz spoken digit (FSDD); the studio resamples it to 16 kHz."""
    clips = sorted((shared_data() / "fsdd" / "recordings").glob("7_*.wav"))
    if not clips:
        pytest.skip("no FSDD recordings in the shared data")
    return clips[0]


@pytest.fixture
def no_model(tmp_path) -> Path:
    """A model path that does not exist: the window then never starts a worker process."""
    return tmp_path / "no-model"


@pytest.fixture
def warnings_shown(monkeypatch):
    """Capture QMessageBox.warning texts instead of opening modal boxes (they would block a test)."""
    shown: list[str] = []

    def fake_warning(parent, title, text, *args, **kwargs):
        shown.append(text)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(fake_warning))
    return shown
