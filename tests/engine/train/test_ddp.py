"""DistributedDataParallel: the same Trainer under ``torchrun`` on 2 CPU processes (gloo).

The slow tests launch ``python -m torch.distributed.run --nproc_per_node=2 --standalone``
as a subprocess on real Speech Commands clips, through a small wrapper around
``engine.cli.main`` that records, per rank, the training batches it drew, the
checkpoints it wrote and a hash of its final weights.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from engine.train import distributed
from engine.train.dataset import DurationBatchSampler
from tests.helpers import ROOT, shared_data

WORDS = ["yes", "no", "up", "down", "left", "right", "on", "off"]

# Runs engine.cli.main under torchrun and records what this rank did in $SAYSO_TEST_RECORD/rank<R>.json.
WRAPPER = textwrap.dedent('''
    import hashlib, json, os, sys
    import engine.cli, engine.train.trainer as trainer
    from engine.train.dataset import DurationBatchSampler

    rank = int(os.environ["RANK"])
    record = {"saves": [], "epochs": {}, "model_sha1": None}
    models = []

    _iter = DurationBatchSampler.__iter__
    def _recording_iter(self):  # the batches this rank actually trained on, per epoch
        for batch in _iter(self):
            if self.world_size > 1:  # the training sampler (not validation, not a look-ahead)
                record["epochs"].setdefault(str(self.epoch), []).append(batch)
            yield batch
    DurationBatchSampler.__iter__ = _recording_iter

    _save = trainer.save_checkpoint
    def _recording_save(path, *args, **kwargs):
        record["saves"].append(os.path.basename(str(path)))
        return _save(path, *args, **kwargs)
    trainer.save_checkpoint = _recording_save

    _model = trainer.CrossModalModel
    def _keep_model(cfg):
        models.append(_model(cfg))
        return models[-1]
    trainer.CrossModalModel = _keep_model

    stop_after = int(os.environ.get("SAYSO_TEST_STOP_AFTER", 0))
    if stop_after:  # cancel requested on rank 0 only, after that many polls; rank 1 never asks
        _init = trainer.Trainer.__init__
        def _init_with_stop(self, *args, **kwargs):
            _init(self, *args, **kwargs)
            polls = [0]
            def should_stop():
                polls[0] += 1
                return rank == 0 and polls[0] >= stop_after
            self.should_stop = should_stop
        trainer.Trainer.__init__ = _init_with_stop

    nan_at = int(os.environ.get("SAYSO_TEST_NAN_AT", 0))
    if nan_at and rank == 1:  # the loss turns NaN on rank 1 only, at that step
        import dataclasses
        _forward, calls = trainer.JointLoss.forward, [0]
        def _nan_forward(self, *args, **kwargs):
            out = _forward(self, *args, **kwargs)
            calls[0] += 1
            return dataclasses.replace(out, total=out.total * float("nan")) if calls[0] == nan_at else out
        trainer.JointLoss.forward = _nan_forward

    try:
        code = engine.cli.main(sys.argv[1:])
    finally:
        if models:
            h = hashlib.sha1()
            for name, tensor in sorted(models[-1].named_parameters()):  # (BatchNorm buffers are per rank)
                h.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
            record["model_sha1"] = h.hexdigest()
        with open(os.path.join(os.environ["SAYSO_TEST_RECORD"], f"rank{rank}.json"), "w") as fh:
            json.dump(record, fh)
    sys.exit(code)
''')


def _job(path: Path, out: str, batch_seconds: float, epochs: int = 2, seed: int = 0) -> Path:
    """A tiny-model job (0.24M parameters) on the manifests beside ``path``, no augmentation."""
    path.write_text(textwrap.dedent(f'''
        train = "train.jsonl"
        dev = "dev.jsonl"
        out = "{out}"
        epochs = {epochs}
        lr = 3e-3
        warmup_steps = 2
        batch_seconds = {batch_seconds}
        threads = 1
        augment = false
        seed = {seed}
        device = "cpu"

        [model]
        d_model = 64
        encoder_layers = 2
        decoder_layers = 1
        text_encoder_layers = 1
        encoder_ffn = 128
        decoder_ffn = 128
        embed_dim = 32
        subsampling_channels = 16
    '''))
    return path


def _manifests(folder: Path, per_word: int) -> list[str]:
    """``per_word`` 1.0 s Speech Commands clips of each of 8 words (train) and 4 others (dev)."""
    root = shared_data() / "speech_commands"
    train, dev = [], []
    for i, word in enumerate(WORDS):
        clips = sorted((root / word).glob("*.wav"))
        if len(clips) < per_word + 1:
            pytest.skip(f"too few speech_commands/{word} clips")
        train += [{"audio_filepath": str(c), "text": word, "duration": 1.0} for c in clips[:per_word]]
        if i < 4:
            dev.append({"audio_filepath": str(clips[per_word]), "text": word, "duration": 1.0})
    for name, rows in (("train", train), ("dev", dev)):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return [r["audio_filepath"] for r in train]


def _run(cmd: list[str], cwd: Path, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run ``cmd`` in its own session; on timeout kill the whole session (torchrun's workers too)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(cmd[:6])}… hung for {timeout} s (ranks disagree?)\n{err[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _torchrun(folder: Path, job: Path, env: dict | None = None,
              ok: bool = True) -> tuple[subprocess.CompletedProcess, list[dict]]:
    wrapper = folder / "ddp_wrapper.py"
    wrapper.write_text(WRAPPER)
    record = folder / f"record-{job.stem}"
    record.mkdir()
    out = _run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
                str(wrapper), "train", "--config", str(job)], cwd=folder,
               env={"SAYSO_TEST_RECORD": str(record), **(env or {})})
    if ok:
        assert out.returncode == 0, "\n".join(line for line in out.stderr.splitlines() if "batch/s" not in line)
    return out, [json.loads((record / f"rank{r}.json").read_text()) for r in (0, 1)]


def _losses(run: Path) -> list[float]:
    return [h["train_loss"] for h in json.loads((run / "last" / "trainer.json").read_text())["history"]]


@pytest.mark.slow
def test_two_process_ddp_matches_one_process_with_the_same_global_batch(tmp_path):
    """2 ranks × 2 s batches against 1 process × 4 s batches: same global batch, seed and step count.

    32 one-second clips, so 8 steps per epoch either way (2 clips per rank-batch, 4 per batch in
    one process), 2 epochs. Tolerance 5 % relative on the final epoch's mean training loss: the
    runs differ only in noise — which clips share a step (two 2-clip batches vs one 4-clip batch),
    BatchNorm statistics over 2 clips per rank instead of 4, InfoNCE negatives (1 per rank vs 3)
    and dropout masks. Measured on this machine with these clips over seeds 0–3: DDP vs one
    process 0.4–0.7 % apart (0.6 % at seed 0); one process alone varies 11.04–11.43 across seeds
    (3.6 %). A run with twice the steps (what a DDP that gave each rank all the data would do)
    ends 6–9 % lower, outside the tolerance. The loss must also have fallen by more than 40 %
    from epoch 1, so two barely trained models cannot agree by default.
    """
    clips = _manifests(tmp_path, per_word=4)
    t0 = time.monotonic()
    out, ranks = _torchrun(tmp_path, _job(tmp_path / "ddp.toml", "ddp", batch_seconds=2.0))
    t_ddp = time.monotonic() - t0
    single = _run([sys.executable, "-m", "engine.cli", "train", "--config",
                   str(_job(tmp_path / "single.toml", "single", batch_seconds=4.0))], cwd=tmp_path)
    t_single = time.monotonic() - t0 - t_ddp
    assert single.returncode == 0, single.stderr[-4000:]

    ddp_loss, one_loss = _losses(tmp_path / "ddp"), _losses(tmp_path / "single")
    print(f"\nfinal train loss: 2-process DDP {ddp_loss[-1]:.3f}, 1 process {one_loss[-1]:.3f} "
          f"({abs(ddp_loss[-1] / one_loss[-1] - 1):.1%} apart); epoch 1: {ddp_loss[0]:.3f} / {one_loss[0]:.3f}; "
          f"DDP run {t_ddp:.1f} s, one-process run {t_single:.1f} s")
    assert len(ddp_loss) == len(one_loss) == 2
    assert ddp_loss[-1] < 0.6 * ddp_loss[0] and one_loss[-1] < 0.6 * one_loss[0]
    assert ddp_loss[-1] == pytest.approx(one_loss[-1], rel=0.05)

    # Each epoch: both ranks drew the same number of batches, disjoint, together every clip once.
    for epoch in ("0", "1"):
        b0, b1 = ranks[0]["epochs"][epoch], ranks[1]["epochs"][epoch]
        assert len(b0) == len(b1) == 8
        seen0, seen1 = [i for b in b0 for i in b], [i for b in b1 for i in b]
        assert not set(seen0) & set(seen1) and sorted(seen0 + seen1) == list(range(len(clips)))
    # Gradients were averaged: both ranks end with bit-identical weights.
    assert ranks[0]["model_sha1"] == ranks[1]["model_sha1"] is not None
    # Only rank 0 validated, logged and wrote checkpoints.
    assert ranks[1]["saves"] == []
    assert ranks[0]["saves"].count("last") == 2 and "best" in ranks[0]["saves"]
    assert out.stdout.count("best dev WER") == 1
    log = (tmp_path / "ddp" / "train.log").read_text()
    assert log.count("epoch 2/2") == 1 and "2 processes (global batch 2 × 2 s)" in log
    assert not list((tmp_path / "ddp").glob(".*tmp*"))


@pytest.mark.slow
def test_cancel_on_rank_0_stops_every_rank_at_the_same_step(tmp_path):
    """should_stop() answers True on rank 0 only; its answer is broadcast, nobody hangs."""
    _manifests(tmp_path, per_word=2)  # 16 clips: 4 steps per epoch on each rank
    job = _job(tmp_path / "job.toml", "run", batch_seconds=2.0, epochs=3)
    out, ranks = _torchrun(tmp_path, job, env={"SAYSO_TEST_STOP_AFTER": "3"})
    assert len(ranks[0]["epochs"]["0"]) == len(ranks[1]["epochs"]["0"]) == 3  # both broke after step 3
    assert "1" not in ranks[0]["epochs"] and "1" not in ranks[1]["epochs"]  # no second epoch anywhere
    assert ranks[0]["model_sha1"] == ranks[1]["model_sha1"] is not None
    assert ranks[1]["saves"] == [] and ranks[0]["saves"] == ["last"]
    log = (tmp_path / "run" / "train.log").read_text()
    assert "(stopped early)" in log and "stopped on request" in log
    state = json.loads((tmp_path / "run" / "last" / "trainer.json").read_text())
    assert state["epoch"] == 0 and state["step"] == 3  # 3 steps taken, the epoch runs again on resume


@pytest.mark.slow
def test_a_nan_loss_on_one_rank_stops_every_rank(tmp_path):
    """Rank 1 alone sees a NaN loss at its 2nd step; both ranks raise the same clear error, nobody hangs."""
    _manifests(tmp_path, per_word=2)
    out, ranks = _torchrun(tmp_path, _job(tmp_path / "job.toml", "run", batch_seconds=2.0),
                           env={"SAYSO_TEST_NAN_AT": "2"}, ok=False)
    assert out.returncode != 0
    # One error per rank (the two processes share stderr, so the lines may interleave).
    assert out.stderr.count("sayso: error:") == 2
    assert out.stderr.count("sayso: error: The loss became nan at epoch 1, step 1. Lower the learning rate") == 2
    assert len(ranks[0]["epochs"]["0"]) == len(ranks[1]["epochs"]["0"]) == 2
    assert ranks[0]["saves"] == ranks[1]["saves"] == []


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_sampler_gives_every_rank_the_same_number_of_batches(world_size):
    rng = random.Random(world_size)
    durations = [rng.uniform(0.3, 6.0) for _ in range(157)]
    for epoch in range(3):
        shards = []
        for rank in range(world_size):
            sampler = DurationBatchSampler(durations, 12.0, 8, seed=1, rank=rank, world_size=world_size)
            sampler.set_epoch(epoch)
            shards.append(list(sampler))
            assert len(sampler) == len(shards[-1])
        full = DurationBatchSampler(durations, 12.0, 8, seed=1)
        full.set_epoch(epoch)
        batches = list(full)
        assert {len(s) for s in shards} == {-(-len(batches) // world_size)}
        seen = [i for s in shards for b in s for i in b]
        assert set(seen) == set(range(len(durations)))  # nothing dropped; padding repeats a few batches
        assert len(seen) - len(durations) <= (world_size - 1) * 8


def test_sampler_with_fewer_batches_than_ranks_still_feeds_every_rank():
    shards = [list(DurationBatchSampler([1.0, 1.0, 1.0], 4.0, rank=r, world_size=4)) for r in range(4)]
    assert [len(s) for s in shards] == [1, 1, 1, 1]  # the one batch, repeated: no rank idles, none waits
    assert all(sorted(s[0]) == [0, 1, 2] for s in shards)


def test_helpers_answer_as_one_process_outside_torchrun(monkeypatch):
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert distributed.init() is False
    assert distributed.world_size() == 1 and distributed.rank() == 0 and distributed.is_main()
    assert distributed.broadcast_flag(True) is True and distributed.broadcast_flag(False) is False
    assert distributed.broadcast_floats([1.5, float("nan")])[0] == 1.5
    x = torch.tensor([1.0, 2.0])
    y = distributed.all_reduce_mean(x)
    assert torch.equal(x, y) and y is not x
    distributed.barrier()
    distributed.cleanup()
