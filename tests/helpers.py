"""Shared test helpers: paths to real audio and models."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.checkpoint_layout import is_checkpoint
from engine.resources import BUNDLED_MODEL
from engine.resources import SAMPLES as SAMPLES  # re-exported: the tests take it from here

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SAYSO_DATA", ROOT.parent / "shared" / "data"))
"""``../shared/data`` beside the checkout (or ``$SAYSO_DATA``); may be absent (see :func:`shared_data`)."""


def shared_data() -> Path:
    """``../shared/data`` (or ``$SAYSO_DATA``); skips the test when absent."""
    p = SHARED_DATA
    if not p.is_dir():
        pytest.skip("../shared/data is not present")
    return p


def bundled_model() -> Path:
    """The bundled base model; fails (not skips) when missing: it ships with the repo."""
    assert is_checkpoint(BUNDLED_MODEL), "resources/models/base is missing: run `make base-model`"
    return BUNDLED_MODEL


@contextmanager
def tiny_tmpfs(path: Path, size_bytes: int) -> Iterator[Path]:
    """Mount a ``size_bytes`` tmpfs on ``path`` (created) for a real "disk full" (ENOSPC).

    Needs root (or CAP_SYS_ADMIN); skips the test cleanly when mounting fails.
    Unmounted (lazily, so open files cannot block it) on exit.
    """
    path.mkdir(parents=True, exist_ok=True)
    if sys.platform != "linux" or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs Linux and mount(8)")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes},mode=0755", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (root needed): {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def speech_phrase(words: tuple[str, ...] = ("yes", "no", "up", "down")):
    """Real speech: the first (sorted) Speech Commands clip of each word, concatenated.

    Returns:
        ``(samples,)`` int16 at 16 kHz (about 1 s per word). Skips the test
        when the shared data is absent.
    """
    import numpy as np
    import soundfile as sf

    parts = []
    for word in words:
        clips = sorted((shared_data() / "speech_commands" / word).glob("*.wav"))
        if not clips:
            pytest.skip(f"no speech_commands/{word} clips in the shared data")
        data, rate = sf.read(clips[0], dtype="int16")
        assert rate == 16_000 and data.ndim == 1, clips[0]
        parts.append(data)
    return np.concatenate(parts)
