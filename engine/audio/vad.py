"""Voice activity detection with the WebRTC VAD (webrtcvad-wheels).

The WebRTC VAD (Google's GMM-based detector from WebRTC) classifies 10/20/30
ms frames of 16-bit PCM as speech or not. Here frames are 30 ms at 16 kHz;
speech regions closer than ``min_pause`` seconds are merged, regions shorter
than ``min_speech`` seconds are dropped. All times are in seconds.
"""
from __future__ import annotations

import numpy as np
import webrtcvad

from engine.audio.io import SAMPLE_RATE

FRAME_S = 0.03


def speech_regions(audio: np.ndarray, aggressiveness: int = 3, min_pause: float = 0.3,
                   min_speech: float = 0.1) -> list[tuple[float, float]]:
    """Speech regions of ``(samples,)`` float32 16 kHz audio as ``(start, end)`` seconds.

    Args:
        aggressiveness: 0 (keeps most) … 3 (drops most non-speech).
        min_pause: gaps shorter than this (seconds) do not split speech.
        min_speech: regions shorter than this (seconds) are dropped.
    """
    vad = webrtcvad.Vad(aggressiveness)
    n = int(FRAME_S * SAMPLE_RATE)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    flags = [vad.is_speech(pcm[i: i + n].tobytes(), SAMPLE_RATE) for i in range(0, len(pcm) - n + 1, n)]
    regions: list[list[float]] = []
    for k, is_speech in enumerate(flags):
        if not is_speech:
            continue
        t = k * FRAME_S
        if regions and t - regions[-1][1] < min_pause:
            regions[-1][1] = t + FRAME_S
        else:
            regions.append([t, t + FRAME_S])
    return [(a, b) for a, b in regions if b - a >= min_speech]
