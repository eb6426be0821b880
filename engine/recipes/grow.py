"""Grow a trained checkpoint into a deeper one: the start of a bigger model that need not learn from scratch.

A new encoder of ``N`` Conformer layers starts from an old one of ``M < N`` layers by layer
duplication in place: new layer ``i`` is a copy of old layer ``⌊i · M / N⌋`` (with ``N = 2M`` each
layer twice in a row). Everything outside the encoder's layers (subsampling, CTC head, decoder, text
encoder, projections) is copied unchanged. The grown model is not the old function (each duplicated
residual step is applied twice) but close to it, and recovers within an epoch of training instead of
the tens a new model needs. After progressive stacking (Gong et al., "Efficient Training of BERT by
Progressively Stacking", ICML 2019), here per layer rather than the whole stack at once.
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


def deepen(checkpoint: str | os.PathLike, out: str | os.PathLike, encoder_layers: int) -> Path:
    """Write ``checkpoint`` grown to ``encoder_layers`` Conformer layers as a new checkpoint ``out``.

    The meta is kept, with ``grown_from`` = ``{"checkpoint": path, "encoder_layers": old}`` added.

    Raises:
        engine.checkpoint_layout.CheckpointError: ``checkpoint`` is unreadable.
        ValueError: ``encoder_layers`` is not more than the checkpoint's layers.
        OSError: ``out`` cannot be written (see :func:`engine.train.checkpoint.save_checkpoint`).
    """
    from engine.model.cross_modal import CrossModalModel
    from engine.train.checkpoint import load_checkpoint, save_checkpoint

    old, tokenizer, meta = load_checkpoint(checkpoint)
    m = old.cfg.encoder_layers
    if encoder_layers <= m:
        raise ValueError(f"{checkpoint} already has {m} encoder layers; grow it to more than {m}, not {encoder_layers}.")
    new = CrossModalModel(replace(old.cfg, encoder_layers=encoder_layers))
    old_state = old.state_dict()
    state = {}
    for key in new.state_dict():
        match = ENCODER_LAYER.match(key)
        if match:
            src = source_layer(int(match.group(1)), m, encoder_layers)
            key_old = f"encoder.conformer.conformer_layers.{src}.{match.group(2)}"
        else:
            key_old = key
        state[key] = old_state[key_old].clone()
    new.load_state_dict(state)
    meta = {**meta, "grown_from": {"checkpoint": str(checkpoint), "encoder_layers": m}}
    return save_checkpoint(out, new, tokenizer, meta)
