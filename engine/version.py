"""Sayso's version: the installed distribution's, else (a source checkout never installed) pyproject.toml's.

>>> import re; bool(re.fullmatch(r"\\d+\\.\\d+\\.\\d+.*", version()))
True
"""
from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

__all__ = ["DISTRIBUTION", "version"]

DISTRIBUTION = "sayso"
"""The distribution name (``pip install sayso``)."""


def version() -> str:
    """``importlib.metadata.version("sayso")``, else the ``version`` of the checkout's ``pyproject.toml``
    (beside ``engine/``), else ``"unknown"``."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        with open(Path(__file__).resolve().parents[1] / "pyproject.toml", "rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"
