"""Shared test helpers: paths to real audio and models."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "resources" / "samples"
BUNDLED = ROOT / "resources" / "models" / "base"


def shared_data() -> Path:
    """``../shared/data`` (or ``$SAYSO_DATA``); skips the test when absent."""
    p = Path(os.environ.get("SAYSO_DATA", ROOT.parent / "shared" / "data"))
    if not p.is_dir():
        pytest.skip("../shared/data is not present")
    return p


def bundled_model() -> Path:
    """The bundled base model; fails (not skips) when missing: it ships with the repo."""
    assert (BUNDLED / "model.safetensors").exists(), "resources/models/base is missing: run `make base-model`"
    return BUNDLED
