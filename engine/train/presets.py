"""Kinds of training run and the policies every front end applies to them.

- :data:`PRESETS`: the three runs the studio's Train tab offers (quick
  personalization, fine-tuning, full training) with their default length and
  learning rate. Defaults that are a config's own defaults are read from that
  config (:class:`~engine.train.personalize.PersonalizeConfig`,
  :class:`~engine.train.trainer.TrainConfig`), so they are stated once.
- :func:`scaled_warmup`: the warmup of a training run cut to about a tenth of
  the run, applied by the studio and by ``sayso train`` alike whenever the
  user did not set the warmup.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from engine.data.utterance import Utterance
from engine.train.personalize import PersonalizeConfig
from engine.train.trainer import TrainConfig

__all__ = ["PRESETS", "Preset", "WARMUP_SHARE", "preset", "scaled_warmup", "steps_per_epoch"]


@dataclass(frozen=True)
class Preset:
    """A kind of run and its defaults.

    Attributes:
        key: ``"personalize"``, ``"finetune"`` or ``"train"``.
        title: the name in the preset menu.
        description: one or two sentences for the user.
        length: optimizer steps (personalization) or epochs (training).
        lr: learning rate (the peak of the schedule when training).
        patience: epochs without a better validation WER before stopping (0: never).
        needs_base: always starts from the base model.
    """

    key: str
    title: str
    description: str
    length: int
    lr: float
    patience: int = 0
    needs_base: bool = True


_PERSONALIZE, _TRAIN = PersonalizeConfig(), TrainConfig()

PRESETS: tuple[Preset, ...] = (
    Preset("personalize", "Quick personalization",
           "A few dozen steps on the encoder blocks and the decoders of the base model, for a few takes "
           "of one voice, with some of the base model's data replayed so it keeps what it knew. "
           "Takes seconds to a minute; the front end and the text side stay as they are.",
           length=_PERSONALIZE.steps, lr=_PERSONALIZE.lr),
    Preset("finetune", "Fine-tune",
           "A few epochs of the whole base model at a low learning rate, for tens to hundreds of "
           "utterances. The checkpoint with the best validation WER is kept.", length=3, lr=2e-4),
    Preset("train", "Full training",
           "Every layer, many epochs, stopping early when the validation WER stops improving; from "
           "scratch or from the base model. For thousands of utterances: hours on a CPU.",
           length=_TRAIN.epochs, lr=_TRAIN.peak_lr, patience=5, needs_base=False),
)
"""The runs the Train tab offers, in menu order."""


def preset(key: str) -> Preset:
    """The :data:`PRESETS` entry with this key.

    Raises:
        KeyError: no such preset.
    """
    for p in PRESETS:
        if p.key == key:
            return p
    raise KeyError(key)


WARMUP_SHARE = 0.1
"""At most this share of a run's optimizer steps is warmup (see :func:`scaled_warmup`)."""


def steps_per_epoch(train: Sequence[Utterance], max_batch_seconds: float, max_batch: int) -> int:
    """Optimizer steps of one epoch over ``train``, estimated from its audio seconds
    (batches of ``max_batch_seconds``) and its count (batches of at most ``max_batch``); at least 1.

    Utterances without a known duration (None: to the end of the file) count one second each when none has one.
    """
    seconds = sum(u.duration or 0.0 for u in train) or len(train)
    return max(1, math.ceil(seconds / max_batch_seconds), math.ceil(len(train) / max_batch))


def scaled_warmup(cfg: TrainConfig, train: Sequence[Utterance]) -> TrainConfig:
    """``cfg`` with its warmup cut to about a tenth of the run (a copy; ``cfg`` is not changed).

    The recipe's 400 warmup steps (:class:`TrainConfig` default) would be the
    whole run on a small data set, so the warmup becomes
    ``min(cfg.warmup_steps, max(1, WARMUP_SHARE · epochs · steps per epoch))``
    steps, with :func:`steps_per_epoch` of ``train``. A large run keeps its
    warmup. Apply it only when the user did not choose the warmup.

    >>> cfg = scaled_warmup(TrainConfig(epochs=3), [Utterance("a.wav", "yes", 0.0, 1.0)] * 200)
    >>> cfg.warmup_steps  # 200 s in 80 s batches, 64 clips a batch: 4 steps an epoch, 12 in all
    1
    """
    steps = WARMUP_SHARE * cfg.epochs * steps_per_epoch(train, cfg.max_batch_seconds, cfg.max_batch)
    return dataclasses.replace(cfg, warmup_steps=int(min(cfg.warmup_steps, max(1, steps))))
