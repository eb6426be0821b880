"""Grow a trained checkpoint into a deeper one: the start of a bigger model that need not learn from scratch.

A new encoder of ``N`` Conformer layers starts from an old one of ``M < N`` layers: new layer ``i``
comes from old layer ``⌊i · M / N⌋`` (with ``N = 2M`` each layer twice in a row). Everything outside
the encoder's layers (subsampling, CTC head, decoder, text encoder, projections) is copied unchanged.
The second copy of a layer is made one of two ways:

- ``identity`` (the default): a copy whose four residual branches (both feed-forward modules, the
  self-attention, the convolution module) end in zeroed output projections, so it adds nothing and
  passes its input through its final LayerNorm (the copied one). The grown model starts where the old
  one was: 60.3 % open-vocabulary WER on 60 validation utterances grown to 12 layers, 59.6 % before
  (the bundled 8-layer model). Function-preserving growth after Net2DeeperNet (Chen et al., "Net2Net", ICLR 2016),
  with zero-initialized residual branches as in Fixup/ReZero; the zeroed projections get gradients
  at once and the rest of the layer as soon as they move.
- ``duplicate``: an exact copy, as in progressive stacking (Gong et al., "Efficient Training of BERT
  by Progressively Stacking", ICML 2019), here per layer. Each duplicated residual step is applied
  twice, so the grown model is not the old function: 86.3 % WER on the same 60 utterances, and after
  5 epochs of the recipe's second stage its validation WER was 31.6 % where the 8-layer model's was
  26.7 %.
"""
from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

ENCODER_LAYER = re.compile(r"^encoder\.conformer\.conformer_layers\.(\d+)\.(.+)$")
"""A state-dict key of one Conformer layer of the audio encoder: ``(layer index, rest)``."""


def source_layer(new_index: int, old_layers: int, new_layers: int) -> int:
    """The old layer that new layer ``new_index`` starts from: ``⌊new_index · old_layers / new_layers⌋``."""
    return new_index * old_layers // new_layers


METHODS = ("identity", "duplicate")
"""How the second copy of a layer starts (see the module docstring)."""
RESIDUAL_OUTPUTS = ("ffn1.sequential.4.", "ffn2.sequential.4.", "self_attn.out_proj.", "conv_module.sequential.5.")
"""The last projection of each residual branch of a ``torchaudio`` ConformerLayer (state-dict key prefixes)."""


def deepen(checkpoint: str | os.PathLike, out: str | os.PathLike, encoder_layers: int,
           method: str = "identity") -> Path:
    """Write ``checkpoint`` grown to ``encoder_layers`` Conformer layers as a new checkpoint ``out``.

    The meta is kept, with ``grown_from`` = ``{"checkpoint": path, "encoder_layers": old, "method": method}``
    added.

    Raises:
        engine.checkpoint_layout.CheckpointError: ``checkpoint`` is unreadable.
        ValueError: ``encoder_layers`` is not more than the checkpoint's layers, or an unknown ``method``.
        OSError: ``out`` cannot be written (see :func:`engine.train.checkpoint.save_checkpoint`).
    """
    import torch

    from engine.model.cross_modal import CrossModalModel
    from engine.train.checkpoint import load_checkpoint, save_checkpoint

    if method not in METHODS:
        raise ValueError(f"unknown growth method {method!r} (known: {', '.join(METHODS)})")
    old, tokenizer, meta = load_checkpoint(checkpoint)
    m = old.cfg.encoder_layers
    if encoder_layers <= m:
        raise ValueError(f"{checkpoint} already has {m} encoder layers; grow it to more than {m}, not {encoder_layers}.")
    new = CrossModalModel(replace(old.cfg, encoder_layers=encoder_layers))
    old_state = old.state_dict()
    state = {}
    for key in new.state_dict():
        match = ENCODER_LAYER.match(key)
        zero = False
        if match:
            i, rest = int(match.group(1)), match.group(2)
            src = source_layer(i, m, encoder_layers)
            key_old = f"encoder.conformer.conformer_layers.{src}.{rest}"
            repeat = i > 0 and source_layer(i - 1, m, encoder_layers) == src
            zero = method == "identity" and repeat and rest.startswith(RESIDUAL_OUTPUTS)
        else:
            key_old = key
        state[key] = torch.zeros_like(old_state[key_old]) if zero else old_state[key_old].clone()
    new.load_state_dict(state)
    meta = {**meta, "grown_from": {"checkpoint": str(checkpoint), "encoder_layers": m, "method": method}}
    return save_checkpoint(out, new, tokenizer, meta)
