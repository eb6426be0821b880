import json
import subprocess
import sys
import textwrap
from pathlib import Path

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
from tests.engine.train.broken_checkpoints import BROKEN, broken_checkpoint
from tests.helpers import ROOT, bundled_model

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


def test_float16_weights_take_half_the_space_and_decode_the_same(tmp_path):
    from engine.checkpoint_layout import read_header
    from engine.decode.recognizer import SaysoRecognizer
    from tests.engine.registry.model_helpers import test_clips

    model, tok, meta = load_checkpoint(bundled_model())
    full = save_checkpoint(tmp_path / "full", model, tok, meta)
    half = save_checkpoint(tmp_path / "half", model, tok, meta, float16=True)
    assert (half / "model.safetensors").stat().st_size < 0.51 * (full / "model.safetensors").stat().st_size
    dtypes = {v["dtype"] for k, v in read_header(half).items() if k != "__metadata__"}
    assert dtypes == {"F16", "I64"}  # floats halved; BatchNorm's step counter stays an integer
    back, _, back_meta = load_checkpoint(half)
    assert back_meta == meta
    for (k, a), (_, b) in zip(model.state_dict().items(), back.state_dict().items()):
        assert b.dtype == a.dtype and torch.equal(b, a.half().to(a.dtype) if a.is_floating_point() else a), k
    clips = test_clips()
    texts = [SaysoRecognizer.from_checkpoint(p).transcribe_file(c.audio_path).text for p in (full, half) for c in clips]
    assert texts[:len(clips)] == texts[len(clips):] == [c.text for c in clips]


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


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_invalid_checkpoints_are_refused_with_one_clear_line(tmp_path, case):
    """Each gap of issue 14 item 5 (before: TypeError, IndexError while decoding, RuntimeError,
    AssertionError, AttributeError, or a silently different output) is a CheckpointError."""
    from engine.decode.recognizer import SaysoRecognizer

    bundled_model()
    folder = broken_checkpoint(case, tmp_path)
    with pytest.raises(CheckpointError) as err:
        SaysoRecognizer.from_checkpoint(folder)
    assert type(err.value) is CheckpointError
    assert BROKEN[case][1] in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith(str(folder))


def test_full_disk_is_an_os_error_with_one_line(tmp_path):
    """A write that the OS refuses. A real ENOSPC needs a full file system (no tiny tmpfs can be mounted
    here), so the real limit used is RLIMIT_FSIZE, in a child process: the kernel then fails safetensors'
    write with EFBIG, which safetensors reports as SafetensorError "… (os error 27)", the same path as
    ENOSPC ("os error 28", worded "the disk is full")."""
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from engine.model.cross_modal import CrossModalModel
        from engine.text.tokenizer import CharTokenizer
        from engine.train.checkpoint import save_checkpoint
        from tests.engine.train.test_checkpoint import SMALL
        m = CrossModalModel(SMALL)
        save_checkpoint({str(tmp_path / "ck")!r}, m, CharTokenizer(), meta={{"v": 1}})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
        try:
            save_checkpoint({str(tmp_path / "ck")!r}, m, CharTokenizer(), meta={{"v": 2}})
        except OSError as exc:
            print(type(exc).__name__, exc.errno, exc.strerror)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"OSError 27 cannot write the checkpoint {tmp_path / 'ck'}: File too large"
    assert load_checkpoint(tmp_path / "ck")[2]["v"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_full_disk_is_worded_as_such():
    """safetensors' own message for ENOSPC (as the issue's probe printed it) becomes "the disk is full"."""
    from safetensors import SafetensorError

    from engine.train.checkpoint import _write_error

    exc = SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
    err = _write_error(Path("run/last"), exc)
    assert err.errno == 28 and err.strerror == "cannot write the checkpoint run/last: the disk is full"
