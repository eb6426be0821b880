"""Recordings' audio and display features, loaded once per recording and cached.

Labeling walks from one utterance to the next, mostly within one recording:
:class:`AudioCache` keeps the samples of the last few recordings (16 kHz mono
float32, via :func:`engine.audio.io.load_audio`) so moving to the next
utterance costs nothing. A recording's log-mel spectrogram
(:func:`engine.audio.features.log_mel_db`) is computed once for the whole
recording when it is short (up to :data:`FULL_FEATURES_MAX_S`) and sliced per
view; a longer one is computed for the stretch on screen only.

Times are in seconds. Loading may raise :class:`~engine.audio.errors.AudioError`
(missing or unreadable file) with a message for the user.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import numpy as np

from engine.audio.features import FRAME_SHIFT_S, HOP_LENGTH, N_MELS, log_mel_db
from engine.audio.io import SAMPLE_RATE, load_audio

FULL_FEATURES_MAX_S = 600.0
"""Recordings up to this long get their spectrogram computed once, whole (≤ 19 MB)."""
MAX_RECORDINGS = 4
"""Recordings whose samples are kept."""
MAX_CACHED_SAMPLES = 200_000_000
"""Also keep no more than this many samples in all (800 MB of float32); the current one always stays."""
MIN_FEATURE_SAMPLES = 512


class RecordingAudio:
    """The samples of one recording and its display spectrogram.

    Attributes:
        key: what identifies the file (path and checksum).
        audio: ``(samples,)`` float32 at 16 kHz.
    """

    def __init__(self, key: tuple, audio: np.ndarray) -> None:
        self.key = key
        self.audio = audio
        self._features: np.ndarray | None = None

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return len(self.audio) / SAMPLE_RATE

    def features(self, t0: float, t1: float) -> tuple[float, np.ndarray]:
        """Display log-mel dB frames covering ``t0``…``t1`` seconds.

        Returns:
            ``(start, frames)``: the time in seconds where the first frame's
            column begins and ``(n, 80)`` float32 dB, one frame per 10 ms.
        """
        n_total = len(self.audio) // HOP_LENGTH + 1
        f0 = max(0, min(n_total - 1, int(math.floor(t0 / FRAME_SHIFT_S))))
        f1 = max(f0 + 1, min(n_total, int(math.ceil(t1 / FRAME_SHIFT_S))))
        if self.duration <= FULL_FEATURES_MAX_S:
            if self._features is None:
                self._features = _log_mel(self.audio)
            return f0 * FRAME_SHIFT_S, self._features[f0:f1]
        a, b = f0 * HOP_LENGTH, min(len(self.audio), (f1 - 1) * HOP_LENGTH + 1)
        frames = _log_mel(self.audio[a:b])[: f1 - f0]
        return f0 * FRAME_SHIFT_S, frames


def _log_mel(audio: np.ndarray) -> np.ndarray:
    if len(audio) < MIN_FEATURE_SAMPLES:  # log_mel_db's reflection padding needs a few hundred samples
        n = len(audio) // HOP_LENGTH + 1
        padded = np.zeros(MIN_FEATURE_SAMPLES, np.float32)
        padded[: len(audio)] = audio
        return log_mel_db(padded)[:n] if len(audio) else np.zeros((0, N_MELS), np.float32)
    return log_mel_db(audio)


class AudioCache:
    """The last few recordings' :class:`RecordingAudio`, least recently used dropped first."""

    def __init__(self, max_recordings: int = MAX_RECORDINGS, max_samples: int = MAX_CACHED_SAMPLES) -> None:
        self.max_recordings = max_recordings
        self.max_samples = max_samples
        self._items: OrderedDict[tuple, RecordingAudio] = OrderedDict()
        self.loads = 0
        """Files read so far (for tests)."""

    def get(self, file: str | Path, checksum: str = "") -> RecordingAudio:
        """The audio of ``file`` (read and resampled to 16 kHz on first use).

        Args:
            file: the recording's audio file.
            checksum: its SHA-256 (so a replaced file is read again).

        Raises:
            AudioError: the file is missing or unreadable.
        """
        key = (str(file), checksum)
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
            return item
        audio = load_audio(file, min_seconds=0.0)
        self.loads += 1
        item = RecordingAudio(key, audio)
        self._items[key] = item
        while len(self._items) > 1 and (len(self._items) > self.max_recordings or
                                        sum(len(i.audio) for i in self._items.values()) > self.max_samples):
            self._items.popitem(last=False)
        return item

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
