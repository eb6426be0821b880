"""The Qt bridge to the training jobs: typed events arrive as signals (real clips, tiny model, real worker)."""
from __future__ import annotations

import os

import pytest
import soundfile as sf

from app.training.job_queue import TrainingJobQueue
from engine.data.utterance import Utterance
from engine.jobs.events import JobFailed, JobFinished, JobStarted, LogLine, Metrics, Progress
from engine.jobs.specs import TrainJob
from engine.model.config import ModelConfig
from engine.train.checkpoint import load_checkpoint
from engine.train.trainer import TrainConfig
from tests.helpers import SAMPLES

TIMEOUT_MS = 240_000


def sample_utterances() -> list[Utterance]:
    digits = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    out = []
    for p in sorted(SAMPLES.glob("*.wav")):
        corpus, word = p.stem.split("_")[:2]
        out.append(Utterance(p, digits[int(word)] if corpus == "fsdd" else word, 0.0, sf.info(str(p)).duration))
    return out


def tiny(epochs: int) -> TrainConfig:
    return TrainConfig(epochs=epochs, warmup_steps=2, max_batch_seconds=2.0, threads=1,
                       model=ModelConfig(d_model=32, encoder_layers=1, encoder_heads=2, encoder_ffn=64,
                                         decoder_layers=1, decoder_heads=2, decoder_ffn=64, text_encoder_layers=1,
                                         embed_dim=16, subsampling_channels=8))


@pytest.mark.slow
def test_bridge_emits_typed_events_as_signals(qtbot, tmp_path):
    utts = sample_utterances()
    jobs = TrainingJobQueue(cancel_timeout=10.0)
    seen: dict[str, list] = {name: [] for name in ("started", "progress", "metrics", "log", "finished", "failed")}
    for name, items in seen.items():
        getattr(jobs, name).connect(items.append)
    try:
        good = jobs.submit(TrainJob(tmp_path / "good", utts * 2, utts[:4], tiny(2)))
        bad = jobs.submit(TrainJob(tmp_path / "bad", tmp_path / "missing.jsonl", utts[:4], tiny(1)))
        later = jobs.submit(TrainJob(tmp_path / "later", utts, utts[:4], tiny(1)))
        assert jobs.running == good and jobs.queued == (bad, later) and jobs.busy

        with qtbot.waitSignal(jobs.failed, timeout=2_000) as blocker:  # a queued job: no worker needed
            assert jobs.cancel(later)
        assert blocker.args[0].job_id == later and blocker.args[0].kind == "cancelled"

        with qtbot.waitSignal(jobs.idle, timeout=TIMEOUT_MS):
            pass
        assert not jobs.busy and jobs.running is None

        assert [e.job_id for e in seen["started"]] == [good, bad]
        assert all(isinstance(e, JobStarted) and e.pid != os.getpid() for e in seen["started"])
        assert all(isinstance(e, Progress) for e in seen["progress"])
        assert any(e.stage == "train" and e.epoch == 2 for e in seen["progress"])
        assert [(e.job_id, e.epoch) for e in seen["metrics"]] == [(good, 1), (good, 2)]
        assert all(isinstance(e, Metrics) for e in seen["metrics"])
        assert any(isinstance(e, LogLine) and "epoch 2/2" in e.message for e in seen["log"])

        [finished] = seen["finished"]
        assert isinstance(finished, JobFinished) and finished.job_id == good
        load_checkpoint(finished.checkpoint)
        assert [(e.job_id, e.kind) for e in seen["failed"]] == [(later, "cancelled"), (bad, "data")]
        assert all(isinstance(e, JobFailed) for e in seen["failed"])
        assert "missing.jsonl" in seen["failed"][1].message
        assert jobs.status(good) == "finished" and jobs.status(bad) == "failed"

        again = jobs.resume(good)  # a finished run resumed: nothing left to train, the same checkpoint
        with qtbot.waitSignal(jobs.finished, timeout=TIMEOUT_MS) as blocker:
            pass
        assert blocker.args[0].job_id == again and blocker.args[0].report["epochs"] == 2
        assert [h["epoch"] for h in blocker.args[0].report["history"]] == [1, 2]
    finally:
        jobs.shutdown()
    assert jobs.running is None
