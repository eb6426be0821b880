"""A tiny real training run on real FSDD clips: the loss falls, checkpoints resume."""
import copy
import json

import pytest

from engine.data.utterance import Utterance
from engine.model.config import ModelConfig
from engine.recipes.datasets import fsdd
from engine.train.checkpoint import CheckpointError, load_checkpoint
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


def test_orphan_temp_checkpoints_are_removed_and_bad_trainer_state_is_one_line(tmp_path, clips):
    """Issue 14 item 10: the ``.last.tmp*``/``.best.tmp*`` folders that kills during checkpoint writes leave
    are removed when training resumes (before: they piled up), and nothing else; item 8: a malformed
    ``last/trainer.json`` is a CheckpointError (before: JSONDecodeError, KeyError or TypeError)."""
    train, dev = clips
    Trainer(_tiny(1), tmp_path).fit(train, dev)
    orphans = [tmp_path / ".last.tmp3k2j_x", tmp_path / ".best.tmpq9z1"]
    kept = [tmp_path / "notes", tmp_path / ".last.keep", tmp_path / "last.tmpx"]
    for folder in orphans + kept:
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"half written")
    Trainer(_tiny(2), tmp_path).fit(train, dev, resume=True)
    assert not any(f.exists() for f in orphans) and all(f.is_dir() for f in kept)
    assert load_checkpoint(tmp_path / "last")[2]["epoch"] == 2 and load_checkpoint(tmp_path / "best")
    log = (tmp_path / "train.log").read_text()
    assert "removed .last.tmp3k2j_x" in log and "removed .best.tmpq9z1" in log

    state = tmp_path / "last" / "trainer.json"
    good = json.loads(state.read_text())
    for text, msg in [("{not json", "unreadable trainer state"), ("[]", "not a JSON object"),
                      (json.dumps({**good, "epoch": "2"}), "epoch must be a count, got '2'"),
                      (json.dumps({k: v for k, v in good.items() if k != "optimizer"}), "missing 'optimizer'"),
                      (json.dumps({**good, "history": [{"epoch": 1}]}), "best_wer or history")]:
        state.write_text(text)
        with pytest.raises(CheckpointError, match="malformed trainer state|unreadable trainer state") as err:
            Trainer(_tiny(3), tmp_path).fit(train, dev, resume=True)
        assert msg in str(err.value) and "\n" not in str(err.value)


def test_resume_after_a_kill_between_the_checkpoint_renames_keeps_the_saved_epochs(tmp_path, clips):
    """Found by the fault-injection soak (tests/faults): save_checkpoint renames last/ to .last.old, then
    the new folder to last/; a kill between the two left only .last.old, and resume trained from epoch 1
    (then deleted .last.old). The test failed before the fix (no "resumed", epoch 1 again)."""
    train, dev = clips
    Trainer(_tiny(2), tmp_path).fit(train, dev)
    (tmp_path / "last").rename(tmp_path / ".last.old")  # what that kill leaves
    Trainer(_tiny(3), tmp_path).fit(train, dev, resume=True)
    assert "after epoch 2" in (tmp_path / "train.log").read_text()
    assert load_checkpoint(tmp_path / "last")[2]["epoch"] == 3 and not (tmp_path / ".last.old").exists()
