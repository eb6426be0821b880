"""Persistent studio settings (QSettings, organization "Sayso", application "Sayso studio").

The file format and location follow ``QSettings.defaultFormat()`` and
``QSettings.setPath``, so tests can redirect everything to a temporary folder.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from app.desktop import WM_CLASS

ORGANIZATION = "Sayso"
APPLICATION = WM_CLASS
"""The settings file's application name: Qt's application name, which is also the window class (``app.desktop``)."""


class StudioSettings:
    """Typed access to the keys the studio stores."""

    GEOMETRY = "window/geometry"
    STATE = "window/state"
    SPLITTER = "window/splitter"
    LAST_FOLDER = "files/last_folder"
    VOCABULARY_PATH = "vocabulary/path"
    USE_VOCABULARY = "vocabulary/enabled"
    ATTENTION_VIEW = "attention/view"
    LIVE = "live/enabled"
    PROJECT_FOLDER = "project/folder"
    ENDPOINT = "live/endpoint"
    INPUT_DEVICE = "record/input_device"
    RIGHT_SPLITTER = "window/right_splitter"
    SHORTCUT_GROUP = "shortcuts"
    """One key per rebound command: ``shortcuts/<command value>`` = JSON list of portable key texts."""
    LABELING_SPLITTER = "labeling/splitter"
    LABELING_HEADER = "labeling/header"
    LABELING_AUTOPLAY = "labeling/autoplay"

    def __init__(self) -> None:
        self.qsettings = QSettings(QSettings.defaultFormat(), QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)

    @property
    def first_start(self) -> bool:
        """No setting was ever stored: Sayso starts for the first time here (the tour then starts)."""
        return not self.qsettings.allKeys()

    def _bytes(self, key: str) -> QByteArray | None:
        value = self.qsettings.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def _str(self, key: str, default: str = "") -> str:
        value = self.qsettings.value(key, default)
        return value if isinstance(value, str) else default

    # window -----------------------------------------------------------------
    @property
    def geometry(self) -> QByteArray | None:
        return self._bytes(self.GEOMETRY)

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self.qsettings.setValue(self.GEOMETRY, value)

    @property
    def window_state(self) -> QByteArray | None:
        return self._bytes(self.STATE)

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self.qsettings.setValue(self.STATE, value)

    @property
    def splitter(self) -> QByteArray | None:
        return self._bytes(self.SPLITTER)

    @splitter.setter
    def splitter(self, value: QByteArray) -> None:
        self.qsettings.setValue(self.SPLITTER, value)

    # files ------------------------------------------------------------------
    @property
    def last_folder(self) -> str:
        """The folder of the last opened or saved file ("" = home)."""
        folder = self._str(self.LAST_FOLDER)
        return folder if folder and Path(folder).is_dir() else str(Path.home())

    @last_folder.setter
    def last_folder(self, value: str | Path) -> None:
        self.qsettings.setValue(self.LAST_FOLDER, str(value))

    # vocabulary -------------------------------------------------------------
    @property
    def vocabulary_path(self) -> str:
        return self._str(self.VOCABULARY_PATH)

    @vocabulary_path.setter
    def vocabulary_path(self, value: str | Path) -> None:
        self.qsettings.setValue(self.VOCABULARY_PATH, str(value))

    @property
    def use_vocabulary(self) -> bool:
        return str(self.qsettings.value(self.USE_VOCABULARY, "false")).lower() == "true"

    @use_vocabulary.setter
    def use_vocabulary(self, value: bool) -> None:
        self.qsettings.setValue(self.USE_VOCABULARY, "true" if value else "false")

    # attention --------------------------------------------------------------
    @property
    def attention_view(self) -> str:
        """``"average"`` or ``"layer L head H"`` (1-based)."""
        return self._str(self.ATTENTION_VIEW, "average")

    @attention_view.setter
    def attention_view(self, value: str) -> None:
        self.qsettings.setValue(self.ATTENTION_VIEW, value)

    # live recognition and input ----------------------------------------------
    @property
    def live_enabled(self) -> bool:
        """Transcribe while recording."""
        return str(self.qsettings.value(self.LIVE, "true")).lower() == "true"

    @live_enabled.setter
    def live_enabled(self, value: bool) -> None:
        self.qsettings.setValue(self.LIVE, "true" if value else "false")

    @property
    def endpoint(self) -> dict:
        """Saved :class:`~engine.audio.endpoint.EndpointConfig` fields ({} = defaults)."""
        try:
            value = json.loads(self._str(self.ENDPOINT, "{}"))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @endpoint.setter
    def endpoint(self, value: dict) -> None:
        self.qsettings.setValue(self.ENDPOINT, json.dumps(value))

    @property
    def project_folder(self) -> str:
        """The last open project's folder ("" = none)."""
        return self._str(self.PROJECT_FOLDER)

    @project_folder.setter
    def project_folder(self, value: str) -> None:
        self.qsettings.setValue(self.PROJECT_FOLDER, value)

    @property
    def input_device(self) -> str:
        """Name of the chosen input device ("" = the system default)."""
        return self._str(self.INPUT_DEVICE)

    @input_device.setter
    def input_device(self, value: str) -> None:
        self.qsettings.setValue(self.INPUT_DEVICE, value)

    @property
    def right_splitter(self) -> QByteArray | None:
        return self._bytes(self.RIGHT_SPLITTER)

    @right_splitter.setter
    def right_splitter(self, value: QByteArray) -> None:
        self.qsettings.setValue(self.RIGHT_SPLITTER, value)

    # shortcuts ----------------------------------------------------------------
    def shortcut_override(self, command_id: str) -> tuple[str, ...] | None:
        """The keys the user bound to the command ``command_id`` (``Command.value``);
        ``()`` = deliberately unbound, None = no override (use the default)."""
        raw = self.qsettings.value(f"{self.SHORTCUT_GROUP}/{command_id}")
        if not isinstance(raw, str):
            return None
        try:
            keys = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            return None
        return tuple(k for k in keys if k)

    def set_shortcut_override(self, command_id: str, keys: Sequence[str] | None) -> None:
        """Bind ``keys`` to the command ``command_id``; None removes the override (back to the default)."""
        key = f"{self.SHORTCUT_GROUP}/{command_id}"
        if keys is None:
            self.qsettings.remove(key)
        else:
            self.qsettings.setValue(key, json.dumps([str(k) for k in keys if k]))

    def shortcut_overrides(self) -> dict[str, tuple[str, ...]]:
        """Every stored override: command id → keys."""
        self.qsettings.beginGroup(self.SHORTCUT_GROUP)
        try:
            ids = list(self.qsettings.childKeys())
        finally:
            self.qsettings.endGroup()
        out = {}
        for command_id in ids:
            keys = self.shortcut_override(command_id)
            if keys is not None:
                out[command_id] = keys
        return out

    # labeling view ------------------------------------------------------------
    @property
    def labeling_splitter(self) -> QByteArray | None:
        return self._bytes(self.LABELING_SPLITTER)

    @labeling_splitter.setter
    def labeling_splitter(self, value: QByteArray) -> None:
        self.qsettings.setValue(self.LABELING_SPLITTER, value)

    @property
    def labeling_header(self) -> QByteArray | None:
        """Column widths of the utterance table."""
        return self._bytes(self.LABELING_HEADER)

    @labeling_header.setter
    def labeling_header(self, value: QByteArray) -> None:
        self.qsettings.setValue(self.LABELING_HEADER, value)

    @property
    def labeling_autoplay(self) -> bool:
        """Play each utterance when it is selected."""
        return str(self.qsettings.value(self.LABELING_AUTOPLAY, "false")).lower() == "true"

    @labeling_autoplay.setter
    def labeling_autoplay(self, value: bool) -> None:
        self.qsettings.setValue(self.LABELING_AUTOPLAY, "true" if value else "false")

    def sync(self) -> None:
        self.qsettings.sync()
