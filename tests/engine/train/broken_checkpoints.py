"""Broken copies of the bundled checkpoint, one per validation gap of issue 14 item 5
(shared by the load, register and CLI tests)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from engine.resources import BUNDLED_MODEL


def _config(edit):
    def apply(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        edit(config)
        (folder / "config.json").write_text(json.dumps(config))
    return apply


BROKEN = {  # case → (edit of a copy of the bundled checkpoint, what the one-line message says)
    "no weights": (lambda f: (f / "model.safetensors").unlink(), "model.safetensors"),
    "short tokenizer": (_config(lambda c: c["tokenizer"].update(symbols=c["tokenizer"]["symbols"][:20])),
                        "has 20 symbols but the model's vocab_size is 31"),
    "negative size": (_config(lambda c: c["model"].update(d_model=-144)), "d_model must be a positive integer, got -144"),
    "zero size": (_config(lambda c: c["model"].update(encoder_layers=0)), "encoder_layers must be a positive integer"),
    "heads do not divide": (_config(lambda c: c["model"].update(encoder_heads=5)), "encoder_heads (5) must divide d_model"),
    "even kernel": (_config(lambda c: c["model"].update(conv_kernel=14)), "conv_kernel must be odd"),
    "string size": (_config(lambda c: c["model"].update(d_model="144")), "d_model must be a positive integer, got '144'"),
    "meta null": (_config(lambda c: c.update(meta=None)), '"meta" in config.json must be a JSON object, got null'),
    "unknown decode key": (_config(lambda c: c["meta"]["decode"].update(foo=1)), "unknown decoding setting 'foo'"),
    "beam size 0": (_config(lambda c: c["meta"]["decode"].update(beam_size=0)),
                    "beam_size must be an integer of at least 1, got 0"),
    "beam size float": (_config(lambda c: c["meta"]["decode"].update(beam_size=2.5)), "beam_size must be an integer"),
}


def broken_checkpoint(case: str, folder: Path) -> Path:
    """A copy of the bundled checkpoint in ``folder/<case>``, broken as :data:`BROKEN` says."""
    dst = folder / case.replace(" ", "-")
    shutil.copytree(BUNDLED_MODEL, dst)
    BROKEN[case][0](dst)
    return dst
