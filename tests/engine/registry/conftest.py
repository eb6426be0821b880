"""Fixtures of the model registry tests (helpers: model_helpers.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.data.utterance import Utterance
from tests.engine.registry.model_helpers import copy_checkpoint, test_clips


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    """A real checkpoint folder in a run folder of its own."""
    return copy_checkpoint(tmp_path / "run" / "best")


@pytest.fixture
def test_utterances() -> list[Utterance]:
    return test_clips()
