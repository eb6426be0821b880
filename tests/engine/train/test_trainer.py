"""A tiny real training run on real FSDD clips: the loss falls, checkpoints resume."""
import copy

import pytest

from engine.data.utterance import Utterance
from engine.model.config import ModelConfig
from engine.recipes.datasets import fsdd
from engine.train.checkpoint import load_checkpoint
from engine.train.trainer import TrainConfig, Trainer, TrainingError
from tests.helpers import shared_data


def _tiny(epochs):
    return TrainConfig(
        epochs=epochs, peak_lr=3e-3, warmup_steps=4, max_batch_seconds=12.0,
        model=ModelConfig(d_model=64, encoder_layers=2, decoder_layers=1, text_encoder_layers=1,
                          encoder_ffn=128, decoder_ffn=128, embed_dim=32, subsampling_channels=16),
    )


@pytest.fixture(scope="module")
def clips():
    shared_data()
    utts = [u for u in fsdd() if u.speaker == "fsdd-jackson"]
    return utts[:48:2], utts[1:12:2]


def test_loss_falls_and_resume_continues(tmp_path, clips):
    train, dev = clips
    events = []
    history = Trainer(_tiny(3), tmp_path, on_event=events.append).fit(train, dev)
    assert len(history) == 3
    assert history[-1].train_loss < 0.8 * history[0].train_loss
    assert any(e["type"] == "progress" and e.get("stage") == "train" for e in events)
    assert (tmp_path / "best" / "model.safetensors").exists()
    assert "dev WER" in (tmp_path / "train.log").read_text()

    resumed = Trainer(_tiny(4), tmp_path).fit(train, dev, resume=True)
    assert [h.epoch for h in resumed] == [1, 2, 3, 4]
    assert resumed[:3] == history
    _, _, meta = load_checkpoint(tmp_path / "last")
    assert meta["epoch"] == 4


def test_cancel_saves_a_resumable_checkpoint(tmp_path, clips):
    train, dev = clips
    calls = {"n": 0}

    def stop_soon():
        calls["n"] += 1
        return calls["n"] > 2

    cfg = _tiny(3)
    cfg.model.vocab_size = 99  # the trainer sizes the model for its tokenizer, in a copy of the config
    before = copy.deepcopy(cfg)
    history = Trainer(cfg, tmp_path, should_stop=stop_soon).fit(train, dev)
    assert len(history) == 1
    assert cfg == before  # the caller's config is not changed
    model, tokenizer, meta = load_checkpoint(tmp_path / "last")
    assert model.cfg.vocab_size == tokenizer.vocab_size == meta["train"]["model"]["vocab_size"] != 99
    resumed = Trainer(_tiny(2), tmp_path).fit(train, dev, resume=True)
    assert [h.epoch for h in resumed] == [1, 2]


def test_bad_datasets_are_refused_before_training(tmp_path, clips):
    train, dev = clips
    with pytest.raises(TrainingError, match="empty transcript"):
        Trainer(_tiny(1), tmp_path).fit(train + [Utterance(train[0].audio_path, " ")], dev)
    with pytest.raises(TrainingError, match="at least 2"):
        Trainer(_tiny(1), tmp_path).fit(train[:1], dev)
    with pytest.raises(TrainingError, match="shorter than 0.1 s"):
        Trainer(_tiny(1), tmp_path).fit(train + [Utterance(train[0].audio_path, "one", 0.0, 0.05)], dev)
