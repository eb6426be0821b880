"""16-bit PCM: the one conversion between float samples and int16.

Full scale is 32768: a float sample ``x`` in [-1, 1] becomes
``clip(rint(x · 32768), -32768, 32767)`` and an int16 sample ``s`` becomes
``s / 32768``. This is what libsndfile (``soundfile``), PulseAudio and
PortAudio use, so int16 audio read as float and written back here comes back
bit-exact (takes, captures), and ``from_pcm16(to_pcm16(x))`` differs from a
float ``x`` in [-1, 1) by at most half a step (1/65536). The one asymmetry
of two's complement: +1.0 is stored as 32767 (0.99997).

>>> to_pcm16(np.array([0.0, 0.5, -1.0, 1.0, 2.0, np.nan])).tolist()
[0, 16384, -32768, 32767, 32767, 0]
>>> from_pcm16(np.array([16384, -32768], dtype=np.int16)).tolist()
[0.5, -1.0]
"""
from __future__ import annotations

import numpy as np

FULL_SCALE = 32768.0
"""int16 steps per unit of float amplitude."""


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] (any shape, e.g. ``(samples,)``) → little-endian int16 of the same shape.

    Scaled by :data:`FULL_SCALE` and rounded to the nearest step; values out
    of range are clipped, NaN becomes 0 (and ±inf full scale).
    """
    x = np.nan_to_num(np.asarray(audio, dtype=np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(np.rint(x * np.float32(FULL_SCALE)), -32768, 32767).astype("<i2")


def from_pcm16(pcm: np.ndarray) -> np.ndarray:
    """int16 samples (any shape) → float32 of the same shape, ``pcm / 32768``, in [-1, 1)."""
    return np.asarray(pcm).astype(np.float32) / np.float32(FULL_SCALE)
