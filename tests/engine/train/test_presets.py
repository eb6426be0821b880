"""Run presets and the warmup policy: stated once in the engine, used by the studio and `sayso train`."""
from __future__ import annotations

import pytest

from engine.data.utterance import Utterance
from engine.train.personalize import PersonalizeConfig
from engine.train.presets import PRESETS, preset, scaled_warmup, steps_per_epoch
from engine.train.trainer import TrainConfig


def clips(n: int, seconds: float | None = 1.0) -> list[Utterance]:
    return [Utterance(f"clip{i}.wav", "yes", 0.0 if seconds else None, seconds) for i in range(n)]


def test_presets_take_their_defaults_from_the_configs():
    assert [p.key for p in PRESETS] == ["personalize", "finetune", "train"]
    quick, full = preset("personalize"), preset("train")
    assert (quick.length, quick.lr) == (PersonalizeConfig().steps, PersonalizeConfig().lr)
    assert (full.length, full.lr) == (TrainConfig().epochs, TrainConfig().peak_lr)
    assert quick.needs_base and not full.needs_base and full.patience > 0
    with pytest.raises(KeyError):
        preset("nope")


def test_warmup_is_about_a_tenth_of_a_small_run_and_the_config_is_not_changed():
    cfg = TrainConfig(epochs=5, max_batch_seconds=10.0)
    small = clips(40)  # 40 s: 4 batches of 10 s an epoch, 20 steps in all
    assert steps_per_epoch(small, cfg.max_batch_seconds, cfg.max_batch) == 4
    fitted = scaled_warmup(cfg, small)
    assert fitted.warmup_steps == 2 and cfg.warmup_steps == 400 and fitted.epochs == cfg.epochs
    assert scaled_warmup(TrainConfig(epochs=30), clips(20_000, 2.0)).warmup_steps == 400  # a large run keeps it
    assert scaled_warmup(cfg, clips(3, None)).warmup_steps == 1  # unknown durations: at least one step
