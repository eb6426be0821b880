"""Where the files that ship with Sayso are: the bundled model, sample clips, icons, examples.

This module is the only place that knows where they live. Their source is the
``resources/`` folder of the source tree; ``setup.py`` ships it inside the wheel
and the sdist as the package :data:`PACKAGE` (``sayso_resources``), and this
module finds that package with ``importlib.resources`` wherever it is installed
(an editable install maps it to the checkout's ``resources/``). A checkout run
without installing it (e.g. an editable install made before the package existed)
falls back to the ``resources/`` folder beside ``engine/``. Every other module
asks this one.

Nothing here reads the files or imports torch or Qt.
"""
from __future__ import annotations

import importlib.resources
from pathlib import Path

__all__ = ["APP_ICON", "BUNDLED_MODEL", "BUNDLED_MODELS", "CALIBRATIONS", "EXAMPLES", "ICONS", "PACKAGE", "RESOURCES", "SAMPLES",
           "icon_path", "sample_path"]

PACKAGE = "sayso_resources"
"""The installed package that holds the resources (``setup.py`` maps it to the source tree's ``resources/``)."""


def _resources_folder() -> Path:
    try:  # a folder on disk: wheels install unpacked, so no temporary extraction (as_file) is needed
        return Path(str(importlib.resources.files(PACKAGE)))
    except ModuleNotFoundError:  # a source checkout whose install predates the package
        return Path(__file__).resolve().parents[1] / "resources"


RESOURCES = _resources_folder()
"""The folder of bundled resources (the installed :data:`PACKAGE`, else the checkout's ``resources/``)."""
BUNDLED_MODELS = RESOURCES / "models"
"""The folder of the Sayso models that ship with it, one checkpoint folder each (see
:mod:`engine.checkpoint_layout`): :data:`BUNDLED_MODEL` and any shipped beside it."""
BUNDLED_MODEL = BUNDLED_MODELS / "base"
"""The base model that ships with Sayso: the default of its family, the one personalization and
training start from unless told otherwise."""
SAMPLES = RESOURCES / "samples"
"""Short real speech clips (16 kHz WAV) with their attribution in ``README.md``."""
ICONS = RESOURCES / "icons"
"""The studio's toolbar icons (SVG) and the application icon (:data:`APP_ICON`)."""
APP_ICON = "sayso"
"""The application icon's name: ``icons/sayso.svg`` and its renderings ``icons/sayso-<size>.png``
(see :func:`icon_path`); also its name in the desktop's icon theme (``--install-desktop``)."""
CALIBRATIONS = RESOURCES / "calibration"
"""Confidence calibration tables of the packaged models, ``<model name>.json`` (:mod:`engine.decode.confidence`)."""
EXAMPLES = RESOURCES / "examples"
"""Sample input files, e.g. ``job.toml`` for ``sayso train --config``."""


def sample_path(name: str) -> Path:
    """The bundled sample clip ``name`` (e.g. ``"sc_yes_03401e93.wav"``); not checked to exist."""
    return SAMPLES / name


def icon_path(name: str, size: int | None = None) -> Path:
    """The bundled icon ``<name>.svg`` (e.g. ``"record"``), or with ``size`` its PNG rendering
    ``<name>-<size>.png`` (pixels square; the application icon has 16, 24, 32, 48, 64, 128 and 256);
    not checked to exist."""
    return ICONS / (f"{name}.svg" if size is None else f"{name}-{size}.png")
