"""Text encoder: a bidirectional Transformer over characters.

It shares the token embedding with the attention decoder, and its pooled
output is projected into the joint audio–text space (CLIP-style, Radford et
al. 2021).
"""
from __future__ import annotations

import torch
from torch import nn

from engine.model.config import ModelConfig
from engine.model.positional import PositionalEncoding


class TextEncoder(nn.Module):
    """``(batch, tokens)`` ids → ``(batch, tokens, d_model)`` states."""

    def __init__(self, cfg: ModelConfig, embedding: nn.Embedding) -> None:
        super().__init__()
        self.embedding = embedding
        self.positions = PositionalEncoding(cfg.d_model, cfg.max_text_len + 2)
        layer = nn.TransformerEncoderLayer(
            cfg.d_model, cfg.decoder_heads, cfg.decoder_ffn, cfg.dropout, activation="gelu",
            batch_first=True, norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.text_encoder_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.scale = cfg.d_model ** 0.5

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        pad = torch.arange(tokens.shape[1], device=tokens.device)[None, :] >= lengths[:, None]
        x = self.positions(self.embedding(tokens) * self.scale)
        return self.norm(self.encoder(x, src_key_padding_mask=pad))
