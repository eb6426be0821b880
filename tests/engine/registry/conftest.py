"""Fixtures of the model registry tests (helpers: model_helpers.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.data.utterance import Utterance
from tests.engine.registry.model_helpers import copy_checkpoint, test_clips


@pytest.fixture(autouse=True)
def no_hugging_face_cache(tmp_path_factory, monkeypatch) -> Path:
    """An empty Hugging Face cache, so the machine's own downloads are not listed."""
    cache = tmp_path_factory.mktemp("hf-hub")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    """A real checkpoint folder in a run folder of its own."""
    return copy_checkpoint(tmp_path / "run" / "best")


@pytest.fixture
def test_utterances() -> list[Utterance]:
    return test_clips()
