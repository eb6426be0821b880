"""Waveform augmentation (``engine/train/augment.py``) on a real 16 kHz Speech Commands clip."""
from __future__ import annotations

import numpy as np

from engine.audio.io import SAMPLE_RATE, load_audio
from engine.train.augment import AugmentConfig, WaveAugment, coloured_noises
from tests.helpers import SAMPLES

CLIP = SAMPLES / "sc_left_03401e93.wav"
NONE = dict(speed_factors=(1.0,), noise_prob=0.0, lowpass_prob=0.0, telephone_prob=0.0, highpass_prob=0.0,
            gain_db=(0.0, 0.0))


def share_above(x: np.ndarray, hz: float) -> float:
    """Fraction of ``x``'s energy above ``hz``."""
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SAMPLE_RATE)
    return float(power[freqs > hz].sum() / power.sum())


def test_the_telephone_channel_leaves_nothing_above_4_khz():
    """The telephone channel (to 8 kHz and back) empties the band above 4 kHz; noise is mixed in after it."""
    white = coloured_noises(seconds=1.0)[0]
    assert share_above(white, 4200) > 0.4
    out = WaveAugment(AugmentConfig(**{**NONE, "telephone_prob": 1.0}), seed=1)(white)
    assert out.shape == white.shape and out.dtype == np.float32
    assert share_above(out, 4500) < 2e-3  # (the resampler's transition band ends near 4.2 kHz)
    speech = load_audio(CLIP)
    noisy = AugmentConfig(**{**NONE, "noise_prob": 1.0, "snr_db": (5.0, 5.0), "telephone_prob": 1.0})
    assert share_above(WaveAugment(noisy, [white], seed=1)(speech), 4200) > 0.1  # the noise fills the band again


def test_without_augmentation_the_clip_is_unchanged_and_a_seed_repeats_itself():
    speech = load_audio(CLIP)
    assert np.array_equal(WaveAugment(AugmentConfig(**NONE), seed=3)(speech), np.clip(speech, -1, 1))
    noises = coloured_noises(seconds=2.0)
    a, b = WaveAugment(AugmentConfig(), noises, seed=7), WaveAugment(AugmentConfig(), noises, seed=7)
    for _ in range(5):
        x, y = a(speech), b(speech)
        assert np.array_equal(x, y) and np.abs(x).max() <= 1.0


def test_silence_is_added_around_a_clip_and_the_clip_is_kept_whole():
    speech = load_audio(CLIP)
    cfg = AugmentConfig(**{**NONE, "pad_prob": 1.0, "pad_s": 0.6})
    aug = WaveAugment(cfg, seed=2)
    lengths = set()
    for _ in range(5):
        out = aug(speech)
        extra = out.size - speech.size
        assert 0 <= extra <= 2 * 0.6 * SAMPLE_RATE
        start = int(np.flatnonzero(out)[0]) - int(np.flatnonzero(speech)[0])  # where the clip now begins
        assert np.array_equal(out[start: start + speech.size], speech)
        assert not out[:start].any() and not out[start + speech.size:].any()
        lengths.add(out.size)
    assert len(lengths) > 1  # random amounts
