"""Voice activity detection with the WebRTC VAD (webrtcvad-wheels).

The WebRTC VAD (Google's GMM-based detector from WebRTC) classifies 10/20/30
ms frames of 16-bit PCM as speech or not. Here frames are 30 ms at 16 kHz;
speech regions closer than ``min_pause`` seconds are merged, regions shorter
than ``min_speech`` seconds are dropped. All times are in seconds.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import webrtcvad

from engine.audio.io import SAMPLE_RATE
from engine.audio.pcm import to_pcm16

FRAME_S = 0.03


def speech_regions(audio: np.ndarray | Iterable[np.ndarray], aggressiveness: int = 3, min_pause: float = 0.3,
                   min_speech: float = 0.1) -> list[tuple[float, float]]:
    """Speech regions of ``(samples,)`` float32 16 kHz audio as ``(start, end)`` seconds.

    Args:
        audio: the samples, or consecutive pieces of them (a file read block by block:
            the same regions, holding one piece at a time).
        aggressiveness: 0 (keeps most) … 3 (drops most non-speech).
        min_pause: gaps shorter than this (seconds) do not split speech.
        min_speech: regions shorter than this (seconds) are dropped.
    """
    vad = webrtcvad.Vad(aggressiveness)
    n = int(FRAME_S * SAMPLE_RATE)
    flags, rest = [], np.zeros(0, np.int16)
    for piece in [audio] if isinstance(audio, np.ndarray) else audio:
        pcm = np.concatenate([rest, to_pcm16(piece)]) if len(rest) else to_pcm16(piece)
        end = len(pcm) - len(pcm) % n
        flags += [vad.is_speech(pcm[i: i + n].tobytes(), SAMPLE_RATE) for i in range(0, end, n)]
        rest = pcm[end:]
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


def split_windows(audio: np.ndarray, window_s: float, search_s: float = 4.0) -> list[tuple[int, int]]:
    """Cut ``(samples,)`` audio into windows of at most ``window_s`` seconds.

    Each cut falls at the quietest 50 ms frame within the last ``search_s``
    seconds (at most half the window) of a window. Returns ``(start, stop)`` sample indices.
    """
    win = int(window_s * SAMPLE_RATE)
    out, start = [], 0
    while len(audio) - start > win:
        cut = start + window_cut(audio[start: start + win], window_s, search_s)
        out.append((start, cut))
        start = cut
    out.append((start, len(audio)))
    if len(out) > 1 and out[-1][1] - out[-1][0] < SAMPLE_RATE * 0.1:  # fold a sliver into the previous window
        out[-2] = (out[-2][0], out[-1][1])
        out.pop()
    return out


def window_cut(window: np.ndarray, window_s: float, search_s: float = 4.0) -> int:
    """Where :func:`split_windows` ends a window of ``window_s`` seconds starting at ``window[0]``
    (``window`` holds at least that much): the middle of the quietest 50 ms frame within its
    last ``search_s`` seconds (at most half the window), as a sample offset into ``window``."""
    win, hop = int(window_s * SAMPLE_RATE), SAMPLE_RATE // 20
    search = int(min(search_s, window_s / 2) * SAMPLE_RATE)
    seg = window[win - search: win]
    energy = np.convolve(seg ** 2, np.ones(hop), mode="valid")[::hop // 4]
    return win - search + int(np.argmin(energy)) * (hop // 4) + hop // 2


def speech_units(audio: np.ndarray, pad_s: float = 0.25, max_s: float = 20.0) -> list[tuple[int, int, bool]]:
    """Cut a long recording into units of speech as ``(start, stop, has_speech)`` sample indices.

    Each stretch of speech (:func:`speech_regions`) gets ``pad_s`` seconds of
    context on each side, never past the middle of the pause to its
    neighbour; stretches longer than ``max_s`` seconds are cut into windows at
    their quietest points (:func:`split_windows`). A recording with no speech
    yields windows of the whole audio marked ``has_speech=False``.
    """
    spans = speech_spans(speech_regions(audio), len(audio), pad_s)
    if not spans:
        return [(a, b, False) for a, b in split_windows(audio, max_s)]
    units = []
    for a, b in spans:
        units += [(a + s, a + e, True) for s, e in split_windows(audio[a:b], max_s)]
    return units


def speech_spans(regions: list[tuple[float, float]], n_samples: int, pad_s: float = 0.25) -> list[tuple[int, int]]:
    """Speech regions (:func:`speech_regions`, seconds) of ``n_samples`` of audio → ``(start, stop)``
    sample indices with ``pad_s`` seconds of context on each side, never past the middle of the
    pause to the neighbouring region (the stretches :func:`speech_units` then cuts into windows)."""
    regions = [(int(a * SAMPLE_RATE), int(b * SAMPLE_RATE)) for a, b in regions]
    mids = [(a_end + b_start) // 2 for (_, a_end), (b_start, _) in zip(regions, regions[1:])]
    lows, highs = [0] + mids, mids + [n_samples]
    pad = int(pad_s * SAMPLE_RATE)
    return [(max(lo, rs - pad), min(hi, re + pad)) for (rs, re), lo, hi in zip(regions, lows, highs)]
