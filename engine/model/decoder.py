"""Transformer attention decoder over the audio encoder (Vaswani et al. 2017).

Pre-norm layers: causal self-attention over tokens, cross-attention over
encoder frames, feed-forward. The token embedding is passed in so that the
text encoder can share it (cross-modal weight sharing).

Cross-attention weights are returned per layer and head when asked for
(``return_attention=True``); otherwise the fast fused attention path runs and
nothing is stored.
"""
from __future__ import annotations

import torch
from torch import nn

from engine.model.config import ModelConfig
from engine.model.positional import PositionalEncoding


class DecoderLayer(nn.Module):
    def __init__(self, d_model: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.self_norm = nn.LayerNorm(d_model)
        self.self_attn = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        self.cross_norm = nn.LayerNorm(d_model)
        self.cross_attn = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        self.ffn_norm = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(nn.Linear(d_model, ffn), nn.SiLU(), nn.Dropout(dropout), nn.Linear(ffn, d_model))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, memory, causal_mask, token_pad, memory_pad, return_attention: bool):
        h = self.self_norm(x)
        h, _ = self.self_attn(h, h, h, attn_mask=causal_mask, key_padding_mask=token_pad, need_weights=False)
        x = x + self.dropout(h)
        h = self.cross_norm(x)
        h, weights = self.cross_attn(
            h, memory, memory, key_padding_mask=memory_pad,
            need_weights=return_attention, average_attn_weights=False,
        )  # weights: (batch, heads, tokens, frames) when asked for
        x = x + self.dropout(h)
        x = x + self.dropout(self.ffn(self.ffn_norm(x)))
        return x, weights


class AttentionDecoder(nn.Module):
    """Tokens ``(batch, tokens)`` + encoder memory ``(batch, frames, d_model)`` → logits ``(batch, tokens, vocab)``."""

    def __init__(self, cfg: ModelConfig, embedding: nn.Embedding) -> None:
        super().__init__()
        self.embedding = embedding
        self.positions = PositionalEncoding(cfg.d_model, cfg.max_text_len + 2)
        self.layers = nn.ModuleList(
            DecoderLayer(cfg.d_model, cfg.decoder_heads, cfg.decoder_ffn, cfg.dropout) for _ in range(cfg.decoder_layers)
        )
        self.norm = nn.LayerNorm(cfg.d_model)
        self.scale = cfg.d_model ** 0.5

    def forward(
        self,
        tokens: torch.Tensor,
        token_lengths: torch.Tensor,
        memory: torch.Tensor,
        memory_lengths: torch.Tensor,
        return_attention: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher-forced decoding.

        Args:
            tokens: ``(batch, tokens)`` ids starting with ``<sos/eos>``.
            token_lengths: ``(batch,)`` valid tokens per row.
            memory: ``(batch, frames, d_model)`` encoder output.
            memory_lengths: ``(batch,)`` valid frames per row.
            return_attention: also return cross-attention.

        Returns:
            ``logits (batch, tokens, vocab)`` and, if asked, cross-attention
            ``(layers, batch, heads, tokens, frames)`` (rows sum to 1 over frames).
        """
        t = tokens.shape[1]
        x = self.positions(self.embedding(tokens) * self.scale)
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool, device=tokens.device), diagonal=1)
        token_pad = torch.arange(t, device=tokens.device)[None, :] >= token_lengths[:, None]
        memory_pad = torch.arange(memory.shape[1], device=memory.device)[None, :] >= memory_lengths[:, None]
        maps = []
        for layer in self.layers:
            x, weights = layer(x, memory, causal, token_pad, memory_pad, return_attention)
            if return_attention:
                maps.append(weights)
        logits = self.norm(x) @ self.embedding.weight.T  # tied output projection
        return logits, (torch.stack(maps) if return_attention else None)
