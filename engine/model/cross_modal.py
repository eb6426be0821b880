"""The cross-modal (audio ↔ text) recognizer.

    log-mel (batch, frames, 80)
      └─ AudioEncoder: conv subsampling ×4 + Conformer  → (batch, frames/4, d)
           ├─ CTC head                                   → (batch, frames/4, vocab)
           ├─ AttentionDecoder (cross-attention)         → (batch, tokens, vocab)
           └─ masked mean pool + projection              → audio embedding (batch, embed_dim)
    tokens (batch, tokens)
      └─ TextEncoder (embedding shared with the decoder) → mean pool + projection
                                                          → text embedding (batch, embed_dim)

Both embeddings are L2-normalized into one space and trained with a
symmetric InfoNCE loss (CLIP, Radford et al. 2021). The recognizer is the
hybrid CTC/attention model of Watanabe et al. 2017 ("Hybrid CTC/Attention
Architecture for End-to-End Speech Recognition") with a Conformer encoder
(Gulati et al. 2020).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.model.audio_encoder import AudioEncoder
from engine.model.config import ModelConfig
from engine.model.decoder import AttentionDecoder
from engine.model.text_encoder import TextEncoder
from engine.text.tokenizer import SOS_EOS


def masked_mean(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``(batch, time, d)`` averaged over each row's first ``lengths`` steps → ``(batch, d)``."""
    mask = (torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]).unsqueeze(-1).float()
    return (x * mask).sum(1) / mask.sum(1).clamp_min(1.0)


@dataclass
class EncoderOutput:
    """``states (batch, frames, d_model)``, ``lengths (batch,)``, ``ctc_log_probs (batch, frames, vocab)``."""

    states: torch.Tensor
    lengths: torch.Tensor
    ctc_log_probs: torch.Tensor


class CrossModalModel(nn.Module):
    """Audio encoder, CTC head, attention decoder, text encoder and joint embedding heads.

    >>> m = CrossModalModel(ModelConfig())
    >>> out = m.encode(torch.randn(2, 100, 80), torch.tensor([100, 60]))
    >>> tuple(out.ctc_log_probs.shape)
    (2, 23, 31)
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.d_model)
        nn.init.normal_(self.embedding.weight, std=cfg.d_model ** -0.5)
        self.encoder = AudioEncoder(cfg)
        self.ctc_head = nn.Linear(cfg.d_model, cfg.vocab_size)
        self.decoder = AttentionDecoder(cfg, self.embedding)
        self.text_encoder = TextEncoder(cfg, self.embedding)
        self.audio_proj = nn.Sequential(nn.LayerNorm(cfg.d_model), nn.Linear(cfg.d_model, cfg.embed_dim))
        self.text_proj = nn.Sequential(nn.LayerNorm(cfg.d_model), nn.Linear(cfg.d_model, cfg.embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def encode(self, feats: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:
        """Log-mel ``(batch, frames, n_mels)`` → encoder states and CTC log-probs."""
        states, out_lengths = self.encoder(feats, lengths)
        return EncoderOutput(states, out_lengths, F.log_softmax(self.ctc_head(states), dim=-1))

    def audio_embedding(self, enc: EncoderOutput) -> torch.Tensor:
        """Pooled, L2-normalized audio embedding ``(batch, embed_dim)``."""
        return F.normalize(self.audio_proj(masked_mean(enc.states, enc.lengths)), dim=-1)

    def text_embedding(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Token ids ``(batch, tokens)`` (no ``<sos>``) → L2-normalized ``(batch, embed_dim)``."""
        states = self.text_encoder(tokens, lengths)
        return F.normalize(self.text_proj(masked_mean(states, lengths)), dim=-1)

    def decode_teacher_forced(
        self, enc: EncoderOutput, targets: torch.Tensor, target_lengths: torch.Tensor, return_attention: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Decoder logits for ``<sos> + targets`` ``(batch, tokens + 1, vocab)`` and optional attention.

        Row ``i`` of the logits predicts ``targets[i]`` and, at position
        ``target_lengths``, ``<eos>``.
        """
        sos = torch.full((targets.shape[0], 1), SOS_EOS, dtype=targets.dtype, device=targets.device)
        return self.decoder(
            torch.cat([sos, targets], dim=1), target_lengths + 1, enc.states, enc.lengths, return_attention
        )
