"""Sinusoidal positional encoding (Vaswani et al. 2017, "Attention Is All You Need")."""
from __future__ import annotations

import math

import torch
from torch import nn


class PositionalEncoding(nn.Module):
    """Adds ``sin``/``cos`` positions to ``(batch, time, d_model)``; ``offset`` shifts them."""

    def __init__(self, d_model: int, max_len: int = 10_000) -> None:
        super().__init__()
        pos = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10_000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        return x + self.pe[offset: offset + x.shape[1]].unsqueeze(0)
