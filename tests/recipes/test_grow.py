"""Growing a trained checkpoint into a deeper one (engine.recipes.grow), on the bundled model."""
from __future__ import annotations

import pytest
import torch

from engine.recipes.grow import deepen, source_layer
from engine.train.checkpoint import load_checkpoint
from tests.helpers import bundled_model


def test_source_layers_duplicate_each_layer_in_place():
    assert [source_layer(i, 8, 16) for i in range(16)] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]
    assert [source_layer(i, 8, 12) for i in range(12)] == [0, 0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7]


def test_deepen_copies_every_weight_from_its_source(tmp_path):
    old, _, meta = load_checkpoint(bundled_model())
    grown_path = deepen(bundled_model(), tmp_path / "grown", 12)
    grown, tok, grown_meta = load_checkpoint(grown_path)
    assert grown.cfg.encoder_layers == 12 and old.cfg.encoder_layers == 8
    assert grown_meta["grown_from"] == {"checkpoint": str(bundled_model()), "encoder_layers": 8}
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


def test_deepen_refuses_to_shrink(tmp_path):
    with pytest.raises(ValueError, match="already has 8 encoder layers; grow it to more than 8, not 8"):
        deepen(bundled_model(), tmp_path / "same", 8)
    assert not (tmp_path / "same").exists()


def test_the_recipe_grows_only_a_checkpoint_it_starts_from(capsys):
    from engine.recipes.base import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--encoder-layers", "12"])
    assert exit_info.value.code == 2
    assert "--encoder-layers grows the --init-from checkpoint: give --init-from too" in capsys.readouterr().err
