"""The joint loss: λ·CTC + (1−λ)·attention cross-entropy + μ·symmetric InfoNCE.

CTC: Graves et al. 2006. Attention CE with label smoothing: Szegedy et al.
2016. InfoNCE: van den Oord et al. 2018, symmetric as in CLIP (Radford et al.
2021); utterances in a batch that share a transcript count as positives of
each other, so repeated words ("yes", "yes") are not pushed apart.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from engine.model.cross_modal import CrossModalModel, with_eos


@dataclass
class LossConfig:
    ctc_weight: float = 0.5
    """λ: share of CTC against attention cross-entropy."""
    contrastive_weight: float = 0.1
    """μ: weight of the symmetric InfoNCE term."""
    label_smoothing: float = 0.1

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class LossOutput:
    total: torch.Tensor
    ctc: torch.Tensor
    attention: torch.Tensor
    contrastive: torch.Tensor


def joint_loss(
    model: CrossModalModel,
    feats: torch.Tensor,
    feat_lengths: torch.Tensor,
    targets: torch.Tensor,
    target_lengths: torch.Tensor,
    text_ids: list[int] | torch.Tensor,
    cfg: LossConfig,
) -> LossOutput:
    """Compute the training loss for one batch.

    Args:
        feats: ``(batch, frames, n_mels)`` normalized log-mel.
        feat_lengths: ``(batch,)`` frames.
        targets: ``(batch, tokens)`` ids padded with ``<blank>`` (0).
        target_lengths: ``(batch,)``.
        text_ids: ``(batch,)`` an id per distinct transcript, equal ids are positives.
        cfg: the loss weights.

    Returns:
        The weighted total and each term, mean over the batch.
    """
    enc = model.encode(feats, feat_lengths)
    ctc = -model.ctc_log_likelihood(enc, targets, target_lengths, zero_infinity=True).sum() / targets.shape[0]

    logits, _ = model.decode_teacher_forced(enc, targets, target_lengths)
    eos_targets, valid = with_eos(targets, target_lengths)
    att = F.cross_entropy(
        logits[valid], eos_targets[valid], label_smoothing=cfg.label_smoothing, reduction="sum"
    ) / targets.shape[0]

    if cfg.contrastive_weight > 0 and targets.shape[0] > 1:
        a = model.audio_embedding(enc)
        t = model.text_embedding(targets, target_lengths)
        scale = model.logit_scale.clamp(max=math.log(100.0)).exp()
        sim = scale * a @ t.T  # (batch, batch)
        ids = torch.as_tensor(text_ids, device=targets.device)
        pos = (ids[:, None] == ids[None, :]).float()
        pos = pos / pos.sum(dim=1, keepdim=True)
        con = 0.5 * (torch.sum(-pos * F.log_softmax(sim, 1), 1).mean()
                     + torch.sum(-pos * F.log_softmax(sim.T, 1), 1).mean())
    else:
        con = torch.zeros((), device=feats.device)

    total = cfg.ctc_weight * ctc + (1 - cfg.ctc_weight) * att + cfg.contrastive_weight * con
    return LossOutput(total, ctc.detach(), att.detach(), con.detach())


class JointLoss(torch.nn.Module):
    """:func:`joint_loss` as a module, so DistributedDataParallel can wrap it."""

    def __init__(self, model: CrossModalModel, cfg: LossConfig) -> None:
        super().__init__()
        self.model, self.cfg = model, cfg

    def forward(self, feats, feat_lengths, targets, target_lengths, text_ids) -> LossOutput:
        return joint_loss(self.model, feats, feat_lengths, targets, target_lengths, text_ids, self.cfg)
