"""Where the files that ship with Sayso are: the bundled model, sample clips, icons, examples.

This module is the only place that knows where they live (today the
``resources/`` folder of the source tree, beside ``engine/`` and ``app/``).
Every other module asks it, so shipping them inside the wheel
(``importlib.resources``) changes this module only.

Nothing here reads the files or imports torch or Qt.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["BUNDLED_MODEL", "CALIBRATIONS", "EXAMPLES", "ICONS", "RESOURCES", "SAMPLES", "icon_path", "sample_path"]

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
"""The folder of bundled resources."""
BUNDLED_MODEL = RESOURCES / "models" / "base"
"""The base model that ships with Sayso (a checkpoint folder, see :mod:`engine.checkpoint_layout`)."""
SAMPLES = RESOURCES / "samples"
"""Short real speech clips (16 kHz WAV) with their attribution in ``README.md``."""
ICONS = RESOURCES / "icons"
"""The studio's toolbar icons (SVG)."""
CALIBRATIONS = RESOURCES / "calibration"
"""Confidence calibration tables of the packaged models, ``<model name>.json`` (:mod:`engine.decode.confidence`)."""
EXAMPLES = RESOURCES / "examples"
"""Sample input files, e.g. ``job.toml`` for ``sayso train --config``."""


def sample_path(name: str) -> Path:
    """The bundled sample clip ``name`` (e.g. ``"sc_yes_03401e93.wav"``); not checked to exist."""
    return SAMPLES / name


def icon_path(name: str) -> Path:
    """The bundled icon ``<name>.svg`` (e.g. ``"record"``); not checked to exist."""
    return ICONS / f"{name}.svg"
