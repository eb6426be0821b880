"""Growing a trained checkpoint into a deeper one (engine.recipes.grow), on the bundled model."""
from __future__ import annotations

import pytest
import torch

from engine.audio.io import load_audio
from engine.decode.recognizer import SaysoRecognizer
from engine.recipes.grow import deepen, source_layer
from engine.train.checkpoint import load_checkpoint
from tests.engine.registry.model_helpers import test_clips
from tests.helpers import bundled_model


def test_source_layers_duplicate_each_layer_in_place():
    assert [source_layer(i, 8, 16) for i in range(16)] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]
    assert [source_layer(i, 8, 12) for i in range(12)] == [0, 0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7]


def test_duplication_copies_every_weight_from_its_source(tmp_path):
    old, _, meta = load_checkpoint(bundled_model())
    grown_path = deepen(bundled_model(), tmp_path / "grown", 12, method="duplicate")
    grown, tok, grown_meta = load_checkpoint(grown_path)
    assert grown.cfg.encoder_layers == 12 and old.cfg.encoder_layers == 8
    assert grown_meta["grown_from"] == {"checkpoint": str(bundled_model()), "encoder_layers": 8, "method": "duplicate"}
    assert grown_meta["dev_wer"] == meta["dev_wer"] and tok.vocab_size == 31
    assert grown.num_parameters() - old.num_parameters() == 4 * sum(
        p.numel() for p in old.encoder.conformer.conformer_layers[0].parameters())
    new_layers, old_layers = grown.encoder.conformer.conformer_layers, old.encoder.conformer.conformer_layers
    for i, layer in enumerate(new_layers):
        src = old_layers[source_layer(i, 8, 12)]
        assert all(torch.equal(a, b) for a, b in zip(layer.state_dict().values(), src.state_dict().values())), i
    assert not torch.equal(new_layers[2].ffn1.sequential[1].weight, new_layers[1].ffn1.sequential[1].weight)
    outside = {k: v for k, v in old.state_dict().items() if ".conformer_layers." not in k}
    grown_state = grown.state_dict()
    assert all(torch.equal(grown_state[k], v) for k, v in outside.items())


def test_identity_growth_adds_layers_that_add_nothing_and_keeps_what_the_model_hears(tmp_path):
    old, _, _ = load_checkpoint(bundled_model())
    grown, _, meta = load_checkpoint(deepen(bundled_model(), tmp_path / "grown", 12))
    assert meta["grown_from"]["method"] == "identity"
    layers, old_layers = grown.encoder.conformer.conformer_layers, old.encoder.conformer.conformer_layers
    repeats = [i for i in range(1, 12) if source_layer(i, 8, 12) == source_layer(i - 1, 8, 12)]
    assert repeats == [1, 4, 7, 10]
    for i, layer in enumerate(layers):
        outputs = [layer.ffn1.sequential[4], layer.ffn2.sequential[4], layer.self_attn.out_proj,
                   layer.conv_module.sequential[5]]
        zeroed = all(not p.any() for m in outputs for p in m.parameters())
        assert zeroed == (i in repeats), i
        src = old_layers[source_layer(i, 8, 12)]
        assert torch.equal(layer.final_layer_norm.weight, src.final_layer_norm.weight)
        x = torch.randn(1, 30, 144)
        if i in repeats:  # the residual branches add nothing: the layer only renormalizes its input
            y = layer(x, None)
            assert torch.allclose(y, layer.final_layer_norm(x), atol=1e-5)


def test_identity_growth_starts_where_the_model_was_and_duplication_does_not(tmp_path):
    """Per-frame KL divergence of the grown models' CTC posteriors from the bundled model's on real clips
    (measured: identity ≤ 0.024, duplication 0.5–2.8)."""
    recs = {name: SaysoRecognizer.from_checkpoint(path) for name, path in [
        ("old", bundled_model()), ("identity", deepen(bundled_model(), tmp_path / "identity", 12)),
        ("duplicate", deepen(bundled_model(), tmp_path / "duplicate", 12, method="duplicate"))]}
    for clip in test_clips():
        audio = torch.from_numpy(load_audio(clip.audio_path))
        with torch.no_grad():
            lp = {name: rec.model.encode(*rec.frontend(audio)).ctc_log_probs[0] for name, rec in recs.items()}
        kl = {name: float((lp["old"].exp() * (lp["old"] - lp[name])).sum(-1).mean()) for name in ("identity", "duplicate")}
        assert kl["identity"] < 0.05 and kl["duplicate"] > 10 * kl["identity"], (clip.text, kl)


def test_deepen_refuses_to_shrink_and_unknown_methods(tmp_path):
    with pytest.raises(ValueError, match="already has 8 encoder layers; grow it to more than 8, not 8"):
        deepen(bundled_model(), tmp_path / "same", 8)
    with pytest.raises(ValueError, match="unknown growth method 'wider'"):
        deepen(bundled_model(), tmp_path / "same", 12, method="wider")
    assert not (tmp_path / "same").exists()


def test_the_recipe_grows_only_a_checkpoint_it_starts_from(capsys):
    from engine.recipes.base import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--encoder-layers", "12"])
    assert exit_info.value.code == 2
    assert "--encoder-layers grows the --init-from checkpoint: give --init-from too" in capsys.readouterr().err
