"""Data augmentation for training.

Waveform level (one utterance at a time, numpy/torchaudio):
speed perturbation (Ko et al. 2015, factors 0.9/1.0/1.1), additive background
noise at a random SNR in dB, channel simulation (band limits, telephone-band
resampling, gain). Feature level: vocal-tract-length perturbation
(Jaitly & Hinton 2013, :func:`engine.audio.features.vtlp`) and SpecAugment frequency and time masks (Park
et al. 2019) through ``torchaudio.transforms``.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torchaudio.functional as AF
import torchaudio.transforms as T

from engine.audio.io import SAMPLE_RATE


@dataclass
class AugmentConfig:
    speed_factors: tuple[float, ...] = (0.9, 1.0, 1.1)
    noise_prob: float = 0.5
    snr_db: tuple[float, float] = (5.0, 30.0)
    lowpass_prob: float = 0.25
    telephone_prob: float = 0.15
    highpass_prob: float = 0.2
    gain_db: tuple[float, float] = (-12.0, 6.0)
    pad_prob: float = 0.0
    """Chance of silence added before and after the clip (each side 0 … :attr:`pad_s` seconds, then the channel
    and noise as for the rest): a take recorded in the studio has more silence around the words than a
    trimmed corpus clip, and per-utterance feature normalization sees it."""
    pad_s: float = 0.6
    vtlp: tuple[float, float] | None = (0.9, 1.1)
    """Range of the per-utterance VTLP warp factor (feature level), or None for none."""
    freq_masks: int = 2
    freq_mask_width: int = 15
    time_masks: int = 2
    time_mask_width: int = 20

    def to_json(self) -> dict:
        return asdict(self)

    def warp_factors(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """``(batch,)`` VTLP factors drawn uniformly from :attr:`vtlp`, or None."""
        if not self.vtlp:
            return None
        lo, hi = self.vtlp
        return lo + (hi - lo) * torch.rand(batch, generator=generator)


class WaveAugment:
    """Random speed, silence around the clip, channel, noise and gain, in that order, for one ``(samples,)``
    float32 16 kHz waveform (longer than the input when silence is added)."""

    def __init__(self, cfg: AugmentConfig, noises: list[np.ndarray] | None = None, seed: int = 0) -> None:
        self.cfg = cfg
        self.noises = noises or []
        self.rng = random.Random(seed)

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        cfg, rng = self.cfg, self.rng
        x = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))
        factor = rng.choice(cfg.speed_factors)
        if factor != 1.0:  # play back faster/slower: pitch and tempo change together
            x = AF.resample(x, int(SAMPLE_RATE * factor), SAMPLE_RATE)
        if rng.random() < cfg.pad_prob:
            before, after = (int(rng.uniform(0.0, cfg.pad_s) * SAMPLE_RATE) for _ in range(2))
            x = torch.nn.functional.pad(x, (before, after))
        # The channel before the noise (as the shipped models were trained; noise first, so that an 8 kHz
        # channel band-limits it too, measured no better on the held-out FSDD speakers: README).
        if rng.random() < cfg.telephone_prob:
            x = AF.resample(AF.resample(x, SAMPLE_RATE, 8000), 8000, SAMPLE_RATE)
        elif rng.random() < cfg.lowpass_prob:
            x = AF.lowpass_biquad(x, SAMPLE_RATE, rng.uniform(3000.0, 7000.0))
        if rng.random() < cfg.highpass_prob:
            x = AF.highpass_biquad(x, SAMPLE_RATE, rng.uniform(80.0, 400.0))
        x = x.numpy()
        if self.noises and rng.random() < cfg.noise_prob:
            x = add_noise(x, self.noises[rng.randrange(len(self.noises))], rng.uniform(*cfg.snr_db), rng)
        gain = 10 ** (rng.uniform(*cfg.gain_db) / 20)
        return np.clip(x * gain, -1.0, 1.0).astype(np.float32)


def add_noise(x: np.ndarray, noise: np.ndarray, snr_db: float, rng: random.Random) -> np.ndarray:
    """Mix ``noise`` (tiled or cropped to length) into ``x`` at ``snr_db`` dB SNR."""
    if noise.size < x.size:
        noise = np.tile(noise, int(np.ceil(x.size / max(noise.size, 1))))
    start = rng.randrange(0, noise.size - x.size + 1)
    n = noise[start: start + x.size]
    px, pn = float(np.mean(x ** 2)) + 1e-10, float(np.mean(n ** 2)) + 1e-10
    return x + n * np.sqrt(px / (pn * 10 ** (snr_db / 10)))


NOISE_EXPONENTS = {"white": 0.0, "pink": 0.5, "brown": 1.0}
"""Amplitude spectrum ∝ 1 / f^exponent: white, pink (1/f power) and brown (1/f² power) noise."""


def coloured_noises(seconds: float = 20.0, seed: int = 0) -> list[np.ndarray]:
    """Synthetic background noises for augmentation when no recorded noise is at hand.

    Gaussian noise shaped in the frequency domain to white, pink and brown
    spectra (one of each, then pink and brown again with other seeds).

    Returns:
        five ``(seconds · 16000,)`` float32 arrays at 16 kHz, peak 0.5.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    out = []
    for kind in ("white", "pink", "brown", "pink", "brown"):
        spectrum = np.fft.rfft(rng.standard_normal(n))
        spectrum /= np.arange(1, spectrum.size + 1, dtype=np.float64) ** NOISE_EXPONENTS[kind]
        x = np.fft.irfft(spectrum, n)
        out.append((0.5 * x / (np.abs(x).max() + 1e-12)).astype(np.float32))
    return out


class SpecAugment(torch.nn.Module):
    """Frequency and time masks on ``(batch, frames, n_mels)``, independent per utterance."""

    def __init__(self, cfg: AugmentConfig) -> None:
        super().__init__()
        self.freq = T.FrequencyMasking(cfg.freq_mask_width, iid_masks=True)
        self.time = T.TimeMasking(cfg.time_mask_width, iid_masks=True, p=0.2)
        self.n_freq, self.n_time = cfg.freq_masks, cfg.time_masks

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        x = feats.transpose(1, 2).unsqueeze(1)  # (batch, 1, n_mels, frames)
        for _ in range(self.n_freq):
            x = self.freq(x)
        for _ in range(self.n_time):
            x = self.time(x)
        return x.squeeze(1).transpose(1, 2)
