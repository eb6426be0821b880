"""Helpers shared by the capture and playback tests: the real speech clip,
cross-correlation alignment, and fresh interpreters (one with no audio device)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import ROOT, shared_data

NO_DEVICE_ALSA_CONF = """\
# Only PulseAudio PCMs (hardware cards are not defined, so they cannot open);
# with PULSE_SERVER pointing nowhere, PortAudio finds no device at all.
pcm.!default {
    type pulse
    hint { show on description "PulseAudio (unreachable)" }
}
ctl.!default { type pulse }
"""


def first_yes(dtype: str) -> np.ndarray:
    """The first (sorted) 'yes' of Speech Commands: a real 1 s, 16 kHz mono
    recording, as ``dtype`` (``"int16"`` or ``"float32"``). Skips the test
    without the shared data."""
    files = sorted((shared_data() / "speech_commands" / "yes").glob("*.wav"))
    if not files:
        pytest.skip("no speech_commands/yes clips in shared data")
    data, rate = sf.read(files[0], dtype=dtype)
    assert rate == 16_000 and data.ndim == 1
    return data


def align(take: np.ndarray, clip: np.ndarray) -> tuple[int, float]:
    """Offset of ``clip`` in ``take`` by FFT cross-correlation, and the normalized
    correlation of the aligned samples."""
    a = take.astype(np.float64)
    b = clip.astype(np.float64)
    n = 1 << (len(a) + len(b)).bit_length()
    xc = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)[:len(a) - len(b) + 1]
    off = int(np.argmax(xc))
    seg = a[off:off + len(b)]
    corr = float(seg @ b / (np.linalg.norm(seg) * np.linalg.norm(b) + 1e-12))
    return off, corr


def loaded_by_import(module: str) -> list[bool]:
    """``[Qt loaded, sounddevice loaded]`` after importing ``module`` in a fresh interpreter."""
    code = (f"import sys, {module}; "
            "print(any(m.startswith(('PySide6', 'PyQt')) for m in sys.modules), 'sounddevice' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return [word == "True" for word in out.stdout.split()]


def run_without_audio_devices(tmp_path: Path, code: str) -> dict:
    """Run ``code`` in a fresh interpreter where PortAudio finds no device at all.

    Args:
        tmp_path: a directory for the ALSA configuration.
        code: Python (dedented here) whose last printed line is a JSON object.

    Returns:
        That object. Fails the test if the interpreter exits with an error.
    """
    conf = tmp_path / "asound.conf"
    conf.write_text(NO_DEVICE_ALSA_CONF)
    env = dict(os.environ, ALSA_CONFIG_PATH=str(conf),
               PULSE_SERVER=f"unix:{tmp_path / 'no-such-socket'}")
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])
