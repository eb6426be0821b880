"""Exports: a standalone checkpoint that loads back identically, and the encoder + CTC path as TorchScript/ONNX."""
from __future__ import annotations

import importlib.util

import pytest
import torch

from engine.registry.export import (
    DEFAULT_CLIP,
    EncoderCTC,
    ExportError,
    ExportUnavailable,
    clip_features,
    export_model,
    export_onnx,
    export_torchscript,
    load_torchscript,
    onnx_unavailable_reason,
)
from engine.registry.index import BUILTIN_ID, ModelRegistry
from engine.resources import BUNDLED_MODEL
from engine.train.checkpoint import load_checkpoint
from tests.helpers import SAMPLES

OTHER_CLIP = SAMPLES / "fsdd_7_nicolas_0.wav"  # 8 kHz FSDD, a different length from the default clip


def _outputs(model, clip):
    feats = clip_features(clip)
    with torch.inference_mode():
        enc = model.encode(feats, torch.tensor([feats.shape[1]]))
        targets = torch.tensor([[4, 5, 6]])
        logits, _ = model.decode_teacher_forced(enc, targets, torch.tensor([3]))
        emb = model.text_embedding(targets, torch.tensor([3]))
    return enc.ctc_log_probs, logits, emb


def test_export_round_trip_is_identical(tmp_path, checkpoint):
    reg = ModelRegistry(tmp_path / "reg")
    entry = reg.register(checkpoint, "My export", parent=BUILTIN_ID, notes="for the demo",
                         metrics={"dev": {"wer": 0.125, "cer": 0.05, "utterances": 8}})
    (checkpoint / "trainer.json").write_text("{}")  # training state is not exported
    out = export_model(entry, tmp_path / "exported")
    assert sorted(p.name for p in out.iterdir()) == ["MODEL_CARD.md", "config.json", "model.safetensors"]

    model, tok, meta = load_checkpoint(out)
    base, base_tok, _ = load_checkpoint(BUNDLED_MODEL)
    assert tok.symbols == base_tok.symbols
    for k, v in base.state_dict().items():
        assert torch.equal(v, model.state_dict()[k]), k
    for got, want in zip(_outputs(model, DEFAULT_CLIP), _outputs(base, DEFAULT_CLIP)):
        assert torch.equal(got, want)
    assert meta["name"] == "My export" and meta["registry"]["id"] == entry.id
    assert meta["registry"]["parent_id"] == BUILTIN_ID and meta["registry"]["metrics"]["dev"]["wer"] == 0.125

    card = (out / "MODEL_CARD.md").read_text()
    assert card.startswith("# My export") and f"`{entry.id}`" in card and "5.30M" in card
    assert "| dev | 12.50 % | 5.00 % | 8 |" in card and "for the demo" in card and "sayso-base" in card

    with pytest.raises(ExportError, match="already exists and is not empty"):
        export_model(entry, out)
    export_model(BUNDLED_MODEL, out, overwrite=True)  # a plain checkpoint folder works too
    assert load_checkpoint(out)[2]["name"] == "sayso-base" and "| fsdd-heldout (open) | 38.20 % |" in (
        out / "MODEL_CARD.md").read_text()
    assert not list(tmp_path.glob(".exported*"))  # no staging folders left behind


def test_export_of_a_broken_checkpoint(tmp_path):
    with pytest.raises(ExportError, match="not a Sayso checkpoint"):
        export_model(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_encoder_ctc_module_matches_the_model():
    model, _, _ = load_checkpoint(BUNDLED_MODEL)
    feats = clip_features(OTHER_CLIP)
    with torch.inference_mode():
        want = model.encode(feats, torch.tensor([feats.shape[1]])).ctc_log_probs
        assert torch.equal(EncoderCTC(model)(feats), want)
        assert (EncoderCTC(model, explicit_attention=True)(feats) - want).abs().max() < 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("method", ["trace", "script"])
def test_torchscript_parity_on_real_clips(tmp_path, method):
    r = export_torchscript(BUNDLED_MODEL, tmp_path / "encoder_ctc.pt", method=method)
    assert r.max_abs_diff is not None and r.max_abs_diff <= 1e-5 and r.frames == 101
    assert r.clip == str(DEFAULT_CLIP) and r.format == f"torchscript-{method}"
    module, info = load_torchscript(r.path)
    assert info["tokenizer"]["symbols"][4] == "a" and info["name"] == "sayso-base"
    model, tokenizer, _ = load_checkpoint(BUNDLED_MODEL)
    for clip in (DEFAULT_CLIP, OTHER_CLIP):  # another length than the one traced
        feats = clip_features(clip)
        with torch.inference_mode():
            got, want = module(feats), model.encode(feats, torch.tensor([feats.shape[1]])).ctc_log_probs
        assert got.shape == want.shape and float((got - want).abs().max()) <= 1e-5
    ids = [int(i) for i in module(clip_features(DEFAULT_CLIP))[0].argmax(-1).unique_consecutive() if i != 0]
    assert tokenizer.decode(ids).strip() == "yes"  # greedy CTC on the exported module hears the clip


@pytest.mark.slow
def test_onnx_export_or_a_clear_reason(tmp_path):
    reason = onnx_unavailable_reason()
    if reason:
        with pytest.raises(ExportUnavailable, match="'onnx' package is not installed"):
            export_onnx(BUNDLED_MODEL, tmp_path / "m.onnx")
        assert not (tmp_path / "m.onnx").exists()
        pytest.skip(reason)
    r = export_onnx(BUNDLED_MODEL, tmp_path / "m.onnx")
    assert r.path.is_file()
    if importlib.util.find_spec("onnxruntime") is None:
        assert "onnxruntime is not installed" in r.note
        pytest.skip("ONNX exported, but onnxruntime is not installed to check parity")
    assert r.max_abs_diff <= 1e-4
    import onnxruntime as ort

    session = ort.InferenceSession(str(r.path), providers=["CPUExecutionProvider"])
    model, _, _ = load_checkpoint(BUNDLED_MODEL)
    feats = clip_features(OTHER_CLIP)  # the frame axis is dynamic
    got = torch.from_numpy(session.run(["log_probs"], {"feats": feats.numpy()})[0])
    with torch.inference_mode():
        want = model.encode(feats, torch.tensor([feats.shape[1]])).ctc_log_probs
    assert float((got - want).abs().max()) <= 1e-4


def test_torchscript_bad_method(tmp_path):
    with pytest.raises(ExportError, match="method must be"):
        export_torchscript(BUNDLED_MODEL, tmp_path / "x.pt", method="compile")
