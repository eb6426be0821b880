"""Few-shot personalization of the bundled model on real takes of a held-out speaker."""
from __future__ import annotations

import pytest
import torch

from engine.data.utterance import Utterance
from engine.train.checkpoint import load_checkpoint
from engine.train.personalize import PersonalizeConfig, personalize
from engine.train.trainer import TrainingError
from tests.helpers import SAMPLES

pytestmark = pytest.mark.slow


def takes():
    return [Utterance(SAMPLES / name, text, speaker="me") for name, text in
            [("sc_yes_03401e93.wav", "yes"), ("sc_no_03401e93.wav", "no"), ("sc_left_03401e93.wav", "left")]]


def test_only_the_top_trains_and_the_loss_falls(model_path):
    base, _, _ = load_checkpoint(model_path)
    cfg = PersonalizeConfig(steps=12, top_layers=2, batch_base=0, lr=2e-3)
    model, tokenizer, meta, report = personalize(model_path, takes(), cfg=cfg)
    assert report.steps == 12 and report.last_loss < report.first_loss
    assert 0 < report.trainable < report.total == model.num_parameters()
    layers, old_layers = model.encoder.conformer.conformer_layers, base.encoder.conformer.conformer_layers
    assert torch.equal(layers[0].ffn1.sequential[1].weight, old_layers[0].ffn1.sequential[1].weight)  # frozen
    assert not torch.equal(layers[-1].ffn1.sequential[1].weight, old_layers[-1].ffn1.sequential[1].weight)
    assert torch.equal(model.text_proj[1].weight, base.text_proj[1].weight)
    assert not model.training and not any(p.requires_grad for p in model.parameters())


def test_stop_early_and_bad_input(model_path):
    seen = []
    _, _, _, report = personalize(model_path, takes(), cfg=PersonalizeConfig(steps=50, batch_base=0),
                                  on_step=lambda step, steps, loss: seen.append(step) or step == 3)
    assert report.steps == 3 and seen == [1, 2, 3]
    with pytest.raises(TrainingError, match="at least one take"):
        personalize(model_path, [])
    with pytest.raises(TrainingError, match="empty transcript"):
        personalize(model_path, [Utterance(SAMPLES / "sc_yes_03401e93.wav", "")])
