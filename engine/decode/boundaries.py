"""Word boundaries from CTC spikes, moved onto the speech they belong to.

CTC posteriors are peaky (Graves et al. 2006): each character fires on one
or two frames, usually not where its sound starts or ends, and a model
trained on tightly trimmed clips (FSDD, Speech Commands) learns to fire the
first characters at the very first frames, whatever silence precedes them.
A Viterbi forced alignment (``torchaudio.functional.forced_align``) then
puts the first word's start at 0 s and cuts word ends short.

The spikes still give the order and rough place of every word. This module
keeps them as anchors and takes the edges from the audio itself:

1. a speech/pause mask from short-time energy (20 ms windows every 10 ms,
   speech = louder than ``max(peak − 35 dB, floor + 3 dB)``, tuned on steady room noise, pauses under
   :data:`MERGE_GAP_S` inside a word — stop closures — bridged);
2. each word takes the speech runs its spikes fall in (mostly), a run
   shared by several words (no pause between them) is cut between their
   spikes (see :func:`refine_spans`);
3. a word none of whose spikes hits speech takes the nearest free run, or
   keeps its CTC span;
4. its characters are placed in the new span at the same relative
   positions their spikes had in the old one, each lasting until the next.

All times are in seconds; audio is ``(samples,)`` float32 at 16 kHz.
"""
from __future__ import annotations

import numpy as np

from engine.audio.io import SAMPLE_RATE

HOP_S = 0.01
"""Seconds between energy frames."""
WINDOW_S = 0.02
"""Seconds of audio per energy frame."""
BELOW_PEAK_DB = 35.0
"""Frames this many dB under the loudest frame are pauses."""
ABOVE_FLOOR_DB = 3.0
"""Frames must be this many dB above the noise floor (10th percentile) to be speech."""
FLOOR_DB = -90.0
"""Digital silence counts as this level (dBFS)."""
MERGE_GAP_S = 0.05
"""Pauses shorter than this (seconds) do not split speech."""
MIN_RUN_S = 0.03
"""Speech shorter than this (seconds) is taken as a click."""


def speech_runs(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> list[tuple[float, float]]:
    """Stretches of speech of ``(samples,)`` audio as ``(start, end)`` seconds, in time order.

    An energy detector, not a speech/noise classifier: anything clearly
    louder than the recording's floor counts. Empty for silent audio.
    """
    hop, win = int(HOP_S * sample_rate), int(WINDOW_S * sample_rate)
    x = np.asarray(audio, dtype=np.float64)
    if len(x) < win:
        return []
    n = 1 + (len(x) - win) // hop
    power = np.convolve(x ** 2, np.ones(win) / win, mode="valid")[::hop][:n]
    db = np.maximum(10 * np.log10(np.maximum(power, 1e-30)), FLOOR_DB)
    threshold = max(db.max() - BELOW_PEAK_DB, np.percentile(db, 10) + ABOVE_FLOOR_DB)
    loud = db > threshold
    runs: list[list[float]] = []
    for i in np.flatnonzero(loud):
        t = i * HOP_S
        if runs and t - runs[-1][1] < MERGE_GAP_S:
            runs[-1][1] = t + WINDOW_S
        else:
            runs.append([t, t + WINDOW_S])
    return [(a, b) for a, b in runs if b - a >= MIN_RUN_S]


def speech_frames(runs: list[tuple[float, float]], n_frames: int, frame_shift: float) -> np.ndarray:
    """``(n_frames,)`` bool: encoder frame ``i`` (``[i·frame_shift, (i+1)·frame_shift)`` s) touches a run."""
    starts = np.arange(n_frames) * frame_shift
    mask = np.zeros(n_frames, dtype=bool)
    for a, b in runs:
        mask |= (starts < b) & (starts + frame_shift > a)
    return mask


def refine_spans(words: list[list[tuple[float, float]]], runs: list[tuple[float, float]],
                 duration: float) -> list[tuple[float, float]]:
    """Move words onto the speech ``runs`` (see module doc).

    Args:
        words: per word, in order, its characters' CTC spike spans ``(start, end)`` in seconds.
        runs: :func:`speech_runs` of the audio.
        duration: seconds of audio.

    Returns:
        One ``(start, end)`` per word, in order and not overlapping. A word
        spans the speech runs its spikes fall in; a run shared by two words
        is cut midway between their spikes; a word none of whose spikes hits
        speech takes the nearest unclaimed run between its neighbours'
        spikes, or keeps its CTC span.

    A word's *home* is the run holding most of its spikes; it also takes
    runs with some of its spikes that are no word's home and lie between
    its neighbours' homes (a word split by a closure). Runs with no spikes
    (noise, breaths) belong to no word, and a stray spike in a neighbour's
    home does not pull a word there.
    """
    n = len(words)
    hits = [[sum(s < r[1] and e > r[0] for s, e in chars) for r in runs] for chars in words]  # (words, runs)
    homes = [int(np.argmax(h)) if runs and max(h) > 0 else None for h in hits]
    home_set = set(h for h in homes if h is not None)
    spans: list[tuple[float, float]] = []
    for k, chars in enumerate(words):
        if homes[k] is not None:
            prev = max([homes[j] for j in range(k) if homes[j] is not None], default=-1)
            nxt = min([homes[j] for j in range(k + 1, n) if homes[j] is not None], default=len(runs))
            mine = [i for i in range(len(runs)) if i == homes[k]
                    or (hits[k][i] and i not in home_set and prev < i < nxt)]
            spans.append((runs[mine[0]][0], runs[mine[-1]][1]))
            continue
        lo = 0.0 if k == 0 else words[k - 1][-1][1]
        hi = duration if k == n - 1 else words[k + 1][0][0]
        centre = (chars[0][0] + chars[-1][1]) / 2
        free = [r for i, r in enumerate(runs) if i not in home_set and r[1] > lo and r[0] < hi]
        if free:
            best = min(free, key=lambda r: 0.0 if r[0] <= centre <= r[1] else min(abs(r[0] - centre), abs(r[1] - centre)))
            spans.append((max(best[0], lo), min(best[1], hi)))
        else:
            spans.append((chars[0][0], chars[-1][1]))
    for k in range(n - 1):  # a shared run (or a fallback overlap): cut between the two words' spikes
        (a, b), (c, d) = spans[k], spans[k + 1]
        if b > c:
            cut = min(max((words[k][-1][1] + words[k + 1][0][0]) / 2, a), d)
            spans[k], spans[k + 1] = (a, max(a, cut)), (max(a, cut), d)
    return [(min(a, duration), min(max(a, b), duration)) for a, b in spans]
