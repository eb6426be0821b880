"""Fixtures for the inference worker tests: a real checkpoint and real clips."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import BUNDLED, shared_data


def find_test_model() -> Path | None:
    """``$SAYSO_TEST_MODEL``, else the bundled base model, else the development run ``/tmp/learnrun/best``."""
    env = os.environ.get("SAYSO_TEST_MODEL")
    candidates = [Path(env)] if env else [BUNDLED, Path("/tmp/learnrun/best")]
    for path in candidates:
        if (path / "model.safetensors").exists() and (path / "config.json").exists():
            return path
    return None


@pytest.fixture(scope="session")
def model_path() -> Path:
    path = find_test_model()
    if path is None:
        pytest.skip("no checkpoint: set SAYSO_TEST_MODEL or build resources/models/base")
    return path


@pytest.fixture(scope="session")
def speech_clip() -> Path:
    """A real 1 s, 16 kHz Speech Commands clip."""
    clips = sorted((shared_data() / "speech_commands" / "yes").glob("*.wav"))
    if not clips:
        pytest.skip("no Speech Commands clips in the shared data")
    return clips[0]
