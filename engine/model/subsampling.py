"""Convolutional subsampling ×4 in time (two stride-2 3×3 convolutions).

As in the Conformer front end (Gulati et al. 2020) and ESPnet's
``Conv2dSubsampling``: log-mel at 100 frames/s becomes 25 frames/s.
"""
from __future__ import annotations

import torch
from torch import nn

SUBSAMPLING = 4
"""Input frames per output frame (two stride-2 convolutions)."""


def subsampled_lengths(lengths: torch.Tensor) -> torch.Tensor:
    """Frame count after subsampling: ``((n - 1) // 2 - 1) // 2``, at least 1."""
    return (((lengths - 1) // 2 - 1) // 2).clamp_min(1)


class ConvSubsampling(nn.Module):
    """``(batch, frames, n_mels)`` → ``(batch, frames // 4, d_model)``."""

    def __init__(self, n_mels: int, channels: int, d_model: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2), nn.SiLU(),
            nn.Conv2d(channels, channels, 3, stride=2), nn.SiLU(),
        )
        freq = ((n_mels - 1) // 2 - 1) // 2
        self.out = nn.Linear(channels * freq, d_model)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if feats.shape[1] < 7:  # the two convolutions need at least 7 input frames
            feats = nn.functional.pad(feats, (0, 0, 0, 7 - feats.shape[1]))
        x = self.conv(feats.unsqueeze(1))  # (batch, channels, frames/4, freq/4)
        b, c, t, f = x.shape
        x = self.out(x.transpose(1, 2).reshape(b, t, c * f))  # (batch, frames/4, d_model)
        return x, subsampled_lengths(lengths).clamp_max(t)
