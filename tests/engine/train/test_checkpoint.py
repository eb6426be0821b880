import json

import pytest
import torch

from engine.model.config import ModelConfig
from engine.model.cross_modal import CrossModalModel
from engine.text.tokenizer import CharTokenizer
from engine.train.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_trainer_state,
    save_checkpoint,
)

SMALL = ModelConfig(d_model=64, encoder_layers=1, decoder_layers=1, text_encoder_layers=1,
                    encoder_ffn=64, decoder_ffn=64, embed_dim=16)


def test_round_trip_is_exact_and_pickle_free(tmp_path):
    m = CrossModalModel(SMALL)
    opt = torch.optim.AdamW(m.parameters())
    m.embedding.weight.sum().backward()
    opt.step()
    path = save_checkpoint(tmp_path / "ck", m, CharTokenizer(), meta={"epoch": 3}, optimizer=opt,
                           trainer_state={"epoch": 3, "step": 1})
    assert sorted(f.name for f in path.iterdir()) == ["config.json", "model.safetensors", "trainer.json", "trainer.safetensors"]
    back, tok, meta = load_checkpoint(path)
    assert meta["epoch"] == 3 and tok.vocab_size == 31
    for (k, a), (_, b) in zip(m.state_dict().items(), back.state_dict().items()):
        assert torch.equal(a, b), k
    assert back.decoder.embedding.weight is back.embedding.weight
    opt2 = torch.optim.AdamW(back.parameters())
    info = load_trainer_state(path, opt2)
    assert info["step"] == 1
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert all(torch.equal(s1[i]["exp_avg"], s2[i]["exp_avg"]) for i in s1)
    assert b"pickle" not in (path / "model.safetensors").read_bytes()[:200]


def test_overwrite_keeps_one_folder_and_survives_interrupted_swap(tmp_path):
    m = CrossModalModel(SMALL)
    save_checkpoint(tmp_path / "last", m, CharTokenizer(), meta={"v": 1})
    save_checkpoint(tmp_path / "last", m, CharTokenizer(), meta={"v": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
    # a kill between the two renames leaves only ".last.old": loading recovers it
    (tmp_path / "last").rename(tmp_path / ".last.old")
    _, _, meta = load_checkpoint(tmp_path / "last")
    assert meta["v"] == 2


def test_failed_write_leaves_old_checkpoint(tmp_path, monkeypatch):
    m = CrossModalModel(SMALL)
    save_checkpoint(tmp_path / "ck", m, CharTokenizer(), meta={"v": 1})

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("engine.train.checkpoint.save_file", disk_full)  # the real ENOSPC cannot be produced safely here
    with pytest.raises(OSError):
        save_checkpoint(tmp_path / "ck", m, CharTokenizer(), meta={"v": 2})
    assert load_checkpoint(tmp_path / "ck")[2]["v"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_bad_checkpoints_raise_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="not a Sayso checkpoint"):
        load_checkpoint(tmp_path)
    save_checkpoint(tmp_path / "ck", CrossModalModel(SMALL), CharTokenizer())
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    cfg["model"]["d_model"] = 32
    (tmp_path / "ck" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "ck")
    (tmp_path / "ck" / "model.safetensors").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(tmp_path / "ck")
