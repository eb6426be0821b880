"""A training writer to be killed: ``python -m tests.faults.drive_train OUT_DIR [EPOCHS]``.

A tiny real model (the fastest setup of ``tests/engine/train``) on 8 real FSDD clips, one or two
steps per epoch, always ``resume=True`` (a first run starts from scratch). One flushed line each:
``resumed <E>`` when it resumed after epoch ``E``; ``epoch <E>`` when epoch ``E`` starts training
(so ``last/`` already holds every epoch before it); ``done`` at the end.
"""
from __future__ import annotations

import sys

from engine.model.config import ModelConfig
from engine.recipes.datasets import fsdd
from engine.train.trainer import TrainConfig, Trainer


def config(epochs: int) -> TrainConfig:
    return TrainConfig(
        epochs=epochs, peak_lr=3e-3, warmup_steps=4, max_batch_seconds=6.0, threads=1,
        model=ModelConfig(d_model=32, encoder_layers=1, decoder_layers=1, text_encoder_layers=1,
                          encoder_ffn=64, decoder_ffn=64, embed_dim=16, subsampling_channels=8))


def data():
    utts = [u for u in fsdd() if u.speaker == "fsdd-jackson"]
    return utts[:16:2], utts[1:6:2]


def main(argv: list[str]) -> None:
    out, epochs = argv[0], int(argv[1]) if len(argv) > 1 else 100_000
    seen = {"epoch": 0}

    def on_event(e: dict) -> None:
        if e["type"] == "log" and e["message"].startswith("resumed from"):
            print(f"resumed {e['message'].rsplit(' ', 1)[1]}", flush=True)
        elif e["type"] == "progress" and e.get("stage") == "train" and e["epoch"] != seen["epoch"]:
            seen["epoch"] = e["epoch"]
            print(f"epoch {e['epoch']}", flush=True)

    train, dev = data()
    Trainer(config(epochs), out, on_event=on_event).fit(train, dev, resume=True)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
