"""Utterances with known word times: real FSDD digits of the held-out speaker, joined with pauses.

FSDD clips are trimmed to their speech, so a clip's first and last sample are
its word's boundaries; placing clips at chosen offsets makes every word's
start and end known to the sample.
"""
from __future__ import annotations

import numpy as np

from engine.audio.io import SAMPLE_RATE, load_audio
from tests.helpers import shared_data

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
HELD_OUT = "nicolas"
"""The FSDD speaker the bundled model never heard."""
NOISE = "1245.wav"
"""A steady background clip (its 10 ms levels vary by 0.3 dB); clicks and bursts would be heard as speech."""


def digit_utterance(digits: tuple[int, ...], take: int, gaps: tuple[float, ...], noise_dbfs: float | None = None,
                    speaker: str = HELD_OUT) -> tuple[np.ndarray, str, list[tuple[str, float, float]]]:
    """``digits`` spoken by ``speaker`` (take ``take``), with ``gaps`` seconds of pause before each and after the last.

    ``noise_dbfs``: also mix a real background-noise clip (Speech Commands
    ``_background_/`` :data:`NOISE`, steady room noise) at this RMS level
    over the whole utterance.

    Returns:
        ``(audio (samples,) float32 16 kHz, transcript, [(word, start s, end s), ...])``.
    """
    assert len(gaps) == len(digits) + 1
    recordings = shared_data() / "fsdd" / "recordings"
    parts, truth, t = [], [], 0.0
    for d, gap in zip(digits, gaps):
        parts.append(np.zeros(int(round(gap * SAMPLE_RATE)), np.float32))
        t += len(parts[-1]) / SAMPLE_RATE
        clip = load_audio(recordings / f"{d}_{speaker}_{take}.wav")
        truth.append((DIGITS[d], t, t + len(clip) / SAMPLE_RATE))
        parts.append(clip)
        t += len(clip) / SAMPLE_RATE
    parts.append(np.zeros(int(round(gaps[-1] * SAMPLE_RATE)), np.float32))
    audio = np.concatenate(parts)
    if noise_dbfs is not None:
        noise = load_audio(shared_data() / "speech_commands" / "_background_" / NOISE)
        noise = np.resize(noise, len(audio))
        noise *= 10 ** (noise_dbfs / 20) / (np.sqrt(np.mean(noise ** 2)) + 1e-12)
        audio = np.clip(audio + noise, -1, 1).astype(np.float32)
    return audio, " ".join(w for w, _, _ in truth), truth
