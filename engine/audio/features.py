"""Log-mel filterbank features.

80 mel bins, 25 ms Hann window (400 samples), 10 ms hop (160 samples) at
16 kHz, natural log of power with a 1e-6 floor, then per-utterance mean and
variance normalization (CMVN). This is the front end of Conformer-style
recognizers (Gulati et al. 2020, "Conformer"; features as in Kaldi/ESPnet).
"""
from __future__ import annotations

import numpy as np
import torch
import torchaudio

from engine.audio.io import SAMPLE_RATE

N_MELS = 80
WIN_LENGTH = 400  # 25 ms at 16 kHz
HOP_LENGTH = 160  # 10 ms at 16 kHz
N_FFT = 512
FRAME_SHIFT_S = HOP_LENGTH / SAMPLE_RATE
"""Seconds between log-mel frames (0.01 s)."""
LOG_FLOOR = 1e-6


class LogMel(torch.nn.Module):
    """Waveform → log-mel, optionally normalized per utterance.

    Input ``(batch, samples)`` float32 at 16 kHz with ``lengths`` in samples;
    output ``(batch, frames, n_mels)`` with ``frames = samples // 160 + 1`` and
    frame lengths ``(batch,)``. Normalization uses only each utterance's valid
    frames; padded frames are set to 0.
    """

    def __init__(self, n_mels: int = N_MELS, normalize: bool = True) -> None:
        super().__init__()
        self.normalize = normalize
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE, n_fft=N_FFT, win_length=WIN_LENGTH, hop_length=HOP_LENGTH,
            n_mels=n_mels, power=2.0, center=True,
        )

    def forward(self, wav: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if wav.dim() == 1:
            wav = wav.unsqueeze(0)
        if lengths is None:
            lengths = torch.full((wav.shape[0],), wav.shape[1], dtype=torch.long, device=wav.device)
        feats = torch.log(self.mel(wav).clamp_min(LOG_FLOOR)).transpose(1, 2)  # (batch, frames, n_mels)
        frames = lengths // HOP_LENGTH + 1
        mask = torch.arange(feats.shape[1], device=wav.device)[None, :] < frames[:, None]  # (batch, frames)
        if self.normalize:
            m = mask.unsqueeze(-1).float()
            count = m.sum(dim=1, keepdim=True).clamp_min(1.0)
            mean = (feats * m).sum(dim=1, keepdim=True) / count
            var = (((feats - mean) * m) ** 2).sum(dim=1, keepdim=True) / count
            feats = (feats - mean) / torch.sqrt(var + 1e-5)
        feats = feats.masked_fill(~mask.unsqueeze(-1), 0.0)
        return feats, frames


_display = None


def log_mel_db(audio: np.ndarray) -> np.ndarray:
    """Log-mel in dB for display (not normalized).

    Args:
        audio: ``(samples,)`` float32 at 16 kHz.

    Returns:
        ``(frames, 80)`` float32 in dB (10·log10 power, floor -120 dB); one
        frame per 10 ms.
    """
    global _display
    if _display is None:
        _display = LogMel(normalize=False)
    with torch.inference_mode():
        feats, _ = _display(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)))
    return (feats[0].numpy() * (10.0 / np.log(10.0))).astype(np.float32)
