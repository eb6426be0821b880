import numpy as np

from engine.audio.io import SAMPLE_RATE
from engine.audio.vad import split_windows


def test_long_audio_is_cut_at_silence_into_bounded_windows():
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.3, SAMPLE_RATE * 50).astype(np.float32)
    quiet = [18.0, 35.5]
    for q in quiet:
        audio[int(q * SAMPLE_RATE): int((q + 0.3) * SAMPLE_RATE)] = 0
    windows = split_windows(audio, window_s=20.0)
    assert windows[0][0] == 0 and windows[-1][1] == len(audio)
    assert all(b - a <= 20 * SAMPLE_RATE for a, b in windows)
    assert all(w1[1] == w2[0] for w1, w2 in zip(windows, windows[1:]))
    cuts = [b / SAMPLE_RATE for _, b in windows[:-1]]
    assert len(cuts) == 2
    for c, q in zip(cuts, quiet):
        assert q <= c <= q + 0.3


def test_short_audio_is_one_window():
    assert split_windows(np.zeros(SAMPLE_RATE * 3, np.float32), 20.0) == [(0, SAMPLE_RATE * 3)]
