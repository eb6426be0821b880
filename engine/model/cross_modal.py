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
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.model.audio_encoder import AudioEncoder
from engine.model.config import ModelConfig
from engine.model.decoder import AttentionDecoder
from engine.model.text_encoder import TextEncoder
from engine.text.tokenizer import BLANK, SOS_EOS


def pad_tokens(sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id lists → ``targets (batch, max(1, longest))`` long, padded with ``<blank>`` (0), and ``lengths (batch,)``.

    >>> targets, lengths = pad_tokens([[5, 6, 7], [], [8]])
    >>> targets.tolist(), lengths.tolist()
    ([[5, 6, 7], [0, 0, 0], [8, 0, 0]], [3, 0, 1])
    """
    lengths = torch.tensor([len(s) for s in sequences])
    targets = torch.zeros(len(sequences), max(1, int(lengths.max())), dtype=torch.long)
    for i, s in enumerate(sequences):
        targets[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return targets, lengths


def with_eos(targets: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What the attention decoder must predict: each row of ``targets`` followed by ``<eos>``.

    Args:
        targets: ``(batch, tokens)`` ids, padded.
        lengths: ``(batch,)`` valid tokens per row.

    Returns:
        ``(batch, tokens + 1)`` ids with ``<sos/eos>`` at position ``lengths``, and the
        ``(batch, tokens + 1)`` bool mask of the positions that count (``<= lengths``).

    >>> ids, valid = with_eos(torch.tensor([[5, 6], [7, 0]]), torch.tensor([2, 1]))
    >>> ids.tolist(), valid.tolist()
    ([[5, 6, 1], [7, 1, 0]], [[True, True, True], [True, True, False]])
    """
    eos_targets = torch.cat([targets, torch.zeros_like(targets[:, :1])], dim=1)
    eos_targets[torch.arange(targets.shape[0]), lengths] = SOS_EOS
    valid = torch.arange(eos_targets.shape[1], device=targets.device)[None, :] <= lengths[:, None]
    return eos_targets, valid


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

    def expand(self, n: int) -> EncoderOutput:
        """One utterance's output repeated ``n`` times along the batch (views, no copy), to score
        ``n`` candidate texts of it in one batch.

        Raises:
            ValueError: the batch holds more than one utterance.
        """
        if self.states.shape[0] != 1:
            raise ValueError(f"expand() repeats one utterance; this output holds {self.states.shape[0]}")
        return EncoderOutput(self.states.expand(n, -1, -1), self.lengths.expand(n), self.ctc_log_probs.expand(n, -1, -1))


class CrossModalModel(nn.Module):
    """Audio encoder, CTC head, attention decoder, text encoder and joint embedding heads.

    >>> m = CrossModalModel(ModelConfig())
    >>> out = m.encode(torch.randn(2, 100, 80), torch.tensor([100, 60]))
    >>> tuple(out.ctc_log_probs.shape), out.lengths.tolist()  # 100 frames → ((100 - 1) // 2 - 1) // 2 = 24
    ((2, 24, 31), [24, 14])
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

    def ctc_log_likelihood(self, enc: EncoderOutput, targets: torch.Tensor, target_lengths: torch.Tensor,
                           zero_infinity: bool = False) -> torch.Tensor:
        """``log p_CTC(targets | audio)`` per row ``(batch,)``: the CTC forward score (Graves et al. 2006).

        Args:
            targets: ``(batch, tokens)`` ids padded with ``<blank>`` (:func:`pad_tokens`).
            target_lengths: ``(batch,)``.
            zero_infinity: a row whose targets cannot fit in its frames scores 0
                (and gets no gradient) instead of ``-inf``, as training wants.
        """
        return -F.ctc_loss(enc.ctc_log_probs.transpose(0, 1), targets, enc.lengths, target_lengths,
                           blank=BLANK, reduction="none", zero_infinity=zero_infinity)

    def attention_log_likelihood(self, enc: EncoderOutput, targets: torch.Tensor,
                                 target_lengths: torch.Tensor) -> torch.Tensor:
        """``log p_att(targets, <eos> | audio)`` per row ``(batch,)``: the teacher-forced decoder's
        log-probabilities of each token and of the final ``<eos>`` (:func:`with_eos`), summed."""
        logits, _ = self.decode_teacher_forced(enc, targets, target_lengths)
        eos_targets, valid = with_eos(targets, target_lengths)
        token_lp = logits.log_softmax(-1).gather(2, eos_targets.unsqueeze(-1)).squeeze(-1)  # (batch, tokens + 1)
        return (token_lp * valid).sum(1)
