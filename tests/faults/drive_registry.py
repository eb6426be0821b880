"""A model-registry writer to be killed: ``python -m tests.faults.drive_registry ROOT SOURCE RUN SEED``.

Registers ``SOURCE`` (a tiny Sayso checkpoint; made with ``--make-checkpoint SOURCE`` first) with
``copy=True`` under ids ``<RUN>-m<k>``, removes random entries and sets the active model, in a loop.
One flushed line each: ``ready``; ``intent reg|rm|act <id>`` before, ``ok reg|rm|act <id>`` after.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

from engine.registry.index import ModelRegistry


def registry(root: str | Path) -> ModelRegistry:
    """The registry at ``root`` with no offline Whisper packages and no Hugging Face cache."""
    return ModelRegistry(root, packaged=(), hf_cache=Path(root) / ".no-hf-cache")


def make_checkpoint(path: str) -> None:
    from engine.model.config import ModelConfig
    from engine.model.cross_modal import CrossModalModel
    from engine.text.tokenizer import CharTokenizer
    from engine.train.checkpoint import save_checkpoint
    tok = CharTokenizer()
    cfg = ModelConfig(d_model=32, encoder_layers=1, decoder_layers=1, text_encoder_layers=1, encoder_ffn=64,
                      decoder_ffn=64, embed_dim=16, subsampling_channels=8, vocab_size=tok.vocab_size)
    save_checkpoint(path, CrossModalModel(cfg), tok, meta={"epoch": 1})


def main(argv: list[str]) -> None:
    if argv[0] == "--make-checkpoint":
        make_checkpoint(argv[1])
        return
    root, src, run, seed = argv[0], argv[1], argv[2], int(argv[3])
    rng = random.Random(seed)
    reg = registry(root)
    print("ready", flush=True)
    k = 0
    while True:
        ids = [e.id for e in reg.list() if not e.read_only]
        roll = rng.random()
        if roll < 0.5 or len(ids) < 2:
            mid = f"{run}-m{k}"
            print(f"intent reg {mid}", flush=True)
            reg.register(src, f"model {k}", copy=True, check=False, model_id=mid)
            print(f"ok reg {mid}", flush=True)
            k += 1
        elif roll < 0.85:
            mid = rng.choice(ids)
            print(f"intent rm {mid}", flush=True)
            reg.remove(mid)
            print(f"ok rm {mid}", flush=True)
        else:
            mid = rng.choice(ids)
            print(f"intent act {mid}", flush=True)
            reg.set_active(mid)
            print(f"ok act {mid}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
