"""Audio encoder: conv subsampling ×4, then a Conformer (Gulati et al. 2020).

Uses ``torchaudio.models.Conformer`` (macaron feed-forward, MHSA, depthwise
convolution module). Sinusoidal positions are added after subsampling.
"""
from __future__ import annotations

import torch
from torch import nn
from torchaudio.models import Conformer

from engine.audio.features import HOP_LENGTH
from engine.audio.io import SAMPLE_RATE
from engine.model.config import ModelConfig
from engine.model.positional import PositionalEncoding
from engine.model.subsampling import SUBSAMPLING, ConvSubsampling

ENCODER_FRAME_S = HOP_LENGTH * SUBSAMPLING / SAMPLE_RATE
"""Seconds per encoder frame: the log-mel hop (10 ms) × :data:`SUBSAMPLING` (4) = 0.04 s.
Encoder frame ``i`` (a CTC or attention column) starts at ``i · ENCODER_FRAME_S`` seconds."""


class AudioEncoder(nn.Module):
    """``(batch, frames, n_mels)`` log-mel → ``(batch, frames // 4, d_model)``."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.subsampling = ConvSubsampling(cfg.n_mels, cfg.subsampling_channels, cfg.d_model)
        self.positions = PositionalEncoding(cfg.d_model)
        self.dropout = nn.Dropout(cfg.dropout)
        self.conformer = Conformer(
            input_dim=cfg.d_model, num_heads=cfg.encoder_heads, ffn_dim=cfg.encoder_ffn,
            num_layers=cfg.encoder_layers, depthwise_conv_kernel_size=cfg.conv_kernel, dropout=cfg.dropout,
        )

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(encoded (batch, frames', d_model), lengths' (batch,))``."""
        x, lengths = self.subsampling(feats, lengths)
        x = self.dropout(self.positions(x))
        x, lengths = self.conformer(x, lengths)
        return x, lengths
