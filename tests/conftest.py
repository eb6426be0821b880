"""Shared fixtures: the bundled model, real clips, and the PulseAudio virtual microphone (tests/audio_device.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import bundled_model, shared_data


def pytest_sessionstart(session) -> None:
    """The tests' own torch work runs on the threads a worker would choose now
    (:func:`engine.workers.child.fitting_threads`): torch's default of one per core oversubscribes a
    loaded machine (the chunked-scoring test took over 600 s at load 4 with 2 threads)."""
    import torch

    from engine.workers.child import fitting_threads

    torch.set_num_threads(fitting_threads(torch.get_num_threads()))


@pytest.fixture(scope="session")
def model_path() -> Path:
    """``$SAYSO_TEST_MODEL`` if set, else the bundled base model (which ships, so it must exist)."""
    env = os.environ.get("SAYSO_TEST_MODEL")
    return Path(env) if env else bundled_model()


@pytest.fixture(scope="session")
def speech_clip() -> Path:
    """A real 1 s, 16 kHz Speech Commands clip of "yes"."""
    clips = sorted((shared_data() / "speech_commands" / "yes").glob("*.wav"))
    assert clips, "no Speech Commands clips in the shared data"
    return clips[0]


@pytest.fixture(scope="session")
def virtual_mic():
    """A real capture device: PulseAudio's ``sayso_mic`` pipe source, seen by PortAudio as ``pulse``.

    Starts ``scripts/virtual_mic.sh`` if the daemon is not running (and stops it
    at the end of the session only then; a private daemon if another test
    process is already feeding the shared one), keeps silence flowing into the FIFO,
    and yields a :class:`tests.audio_device.VirtualMic` (``.device`` index,
    ``.device_name``, ``.play(clip)``). Skips when PulseAudio is not installed.
    """
    from tests.audio_device import (
        pulseaudio_missing_reason,
        start_virtual_mic,
        stop_virtual_mic,
    )

    reason = pulseaudio_missing_reason()
    if reason:
        pytest.skip(reason)
    mic = start_virtual_mic()
    yield mic
    stop_virtual_mic(mic)
