"""The job queue runs training jobs in worker processes: real clips, a tiny model, real cancel, kill -9, NaN and a full disk."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import soundfile as sf

from engine.data.manifest import write_manifest
from engine.data.utterance import Utterance
from engine.jobs.events import JobFailed, JobFinished, JobStarted, LogLine, Metrics, Progress, read_log_tail
from engine.jobs.queue import JobRunner
from engine.jobs.specs import CompareJob, EvaluateJob, FineTuneJob, PersonalizeJob, TrainJob
from engine.model.config import ModelConfig
from engine.train.checkpoint import load_checkpoint
from engine.train.personalize import PersonalizeConfig
from engine.train.trainer import TrainConfig
from tests.helpers import SAMPLES, tiny_tmpfs

pytestmark = pytest.mark.slow  # every test spawns a worker that imports torch and trains a (tiny) model

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TIMEOUT = 240.0


def sample_utterances() -> list[Utterance]:
    """The repository's real clips (Speech Commands words and FSDD digits) with their transcripts."""
    out = []
    for p in sorted(SAMPLES.glob("*.wav")):
        corpus, word = p.stem.split("_")[:2]
        info = sf.info(str(p))
        out.append(Utterance(p, DIGITS[int(word)] if corpus == "fsdd" else word, 0.0, info.frames / info.samplerate))
    assert len(out) >= 8
    return out


def tiny(epochs: int, lr: float = 3e-3, width: int = 32) -> TrainConfig:
    return TrainConfig(
        epochs=epochs, peak_lr=lr, warmup_steps=2, max_batch_seconds=2.0, threads=1,
        model=ModelConfig(d_model=width, encoder_layers=1, encoder_heads=2, encoder_ffn=2 * width, decoder_layers=1,
                          decoder_heads=2, decoder_ffn=2 * width, text_encoder_layers=1, embed_dim=16,
                          subsampling_channels=8))


def trainer_epoch(out_dir: Path) -> int:
    return json.loads((out_dir / "last" / "trainer.json").read_text())["epoch"]


def of(events, job_id, kind=None):
    return [e for e in events if e.job_id == job_id and (kind is None or isinstance(e, kind))]


def poll_until(runner: JobRunner, seen: list, predicate, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = runner.poll(timeout=0.02)
        if event is None:
            continue
        seen.append(event)
        if predicate(event):
            return event
        assert not isinstance(event, (JobFinished, JobFailed)), event
    raise TimeoutError("the awaited event did not arrive")


@pytest.fixture
def runner():
    r = JobRunner(cancel_timeout=10.0)
    yield r
    r.close()


@pytest.fixture(scope="module")
def utts():
    return sample_utterances()


def test_jobs_run_in_worker_processes_one_at_a_time(runner, tmp_path, utts, model_path):
    train_manifest = write_manifest(tmp_path / "train.jsonl", utts * 2)
    a = runner.submit(TrainJob(tmp_path / "a", train_manifest, utts[:4], tiny(2)))
    b = runner.submit(EvaluateJob(tmp_path / "eval", tmp_path / "a" / "best", utts[:4], threads=1))
    c = runner.submit(FineTuneJob(tmp_path / "ft", utts * 2, utts[:4], tiny(1), init_from=tmp_path / "a" / "best"))
    d = runner.submit(PersonalizeJob(tmp_path / "me", model_path, utts[3:6],
                                     config=PersonalizeConfig(steps=3, top_layers=1, batch_base=0, threads=1)))
    assert runner.running == a and runner.queued == (b, c, d)
    events = runner.wait(d, timeout=TIMEOUT)

    terminal = [e for e in events if isinstance(e, (JobFinished, JobFailed))]
    assert [type(e) for e in terminal] == [JobFinished] * 4, terminal
    starts = [e for e in events if isinstance(e, JobStarted)]
    assert [s.job_id for s in starts] == [a, b, c, d]
    assert len({s.pid for s in starts}) == 4 and os.getpid() not in {s.pid for s in starts}
    for prev, nxt in zip([a, b, c], [b, c, d]):  # FIFO, one at a time: a job starts after the previous one ended
        assert events.index(of(events, prev, JobFinished)[0]) < events.index(of(events, nxt, JobStarted)[0])
    assert all(runner.status(j) == "finished" for j in (a, b, c, d)) and runner.running is None

    # training: loading and batch progress with an ETA, metrics per epoch, log lines, real checkpoints
    progress = of(events, a, Progress)
    assert {p.stage for p in progress} == {"loading", "train"}
    train = [p for p in progress if p.stage == "train"]
    assert train[-1].epoch == 2 and train[-1].done == train[-1].total and train[-1].epochs == 2
    assert any(p.eta_seconds is not None for p in train) and all(p.loss > 0 for p in train)
    assert [m.epoch for m in of(events, a, Metrics)] == [1, 2]
    assert all(0.0 <= m.dev_wer and m.train_loss > 0 for m in of(events, a, Metrics))
    assert any("epoch 2/2" in line.message for line in of(events, a, LogLine))
    done_a = of(events, a, JobFinished)[0]
    assert done_a.checkpoint == str(tmp_path / "a" / "best")
    assert [h["epoch"] for h in done_a.report["history"]] == [1, 2]
    load_checkpoint(done_a.checkpoint)
    assert "epoch 2/2" in (tmp_path / "a" / "job.log").read_text()

    # evaluation of the trained model (queued before it existed)
    done_b = of(events, b, JobFinished)[0]
    assert done_b.report["utterances"] == 4 and 0.0 <= done_b.report["cer"]
    assert json.loads((tmp_path / "eval" / "eval.json").read_text())["wer"] == done_b.report["wer"]
    assert of(events, b, Progress)[-1].stage == "evaluate"

    # fine-tuning starts from a's checkpoint
    _, _, meta = load_checkpoint(of(events, c, JobFinished)[0].checkpoint)
    assert meta["train"]["init_from"] == str(tmp_path / "a" / "best")

    # personalization of the bundled model
    done_d = of(events, d, JobFinished)[0]
    assert done_d.report["steps"] == 3 and Path(done_d.checkpoint) == tmp_path / "me" / "model"
    _, _, meta = load_checkpoint(done_d.checkpoint)
    assert meta["personalized"]["steps"] == 3
    assert [p.done for p in of(events, d, Progress)][-1] == 3


def test_cancel_mid_epoch_keeps_the_last_checkpoint(runner, tmp_path, utts):
    out = tmp_path / "run"
    job = runner.submit(TrainJob(out, utts * 12, utts[:4], tiny(3, width=48)))
    waiting = runner.submit(TrainJob(tmp_path / "never", utts, utts[:4], tiny(1)))
    assert runner.cancel(waiting)  # a queued job fails at once, without a worker
    seen: list = []
    first = poll_until(runner, seen, lambda e: isinstance(e, JobFailed))
    assert first.job_id == waiting and first.kind == "cancelled" and not (tmp_path / "never").exists()

    poll_until(runner, seen, lambda e: isinstance(e, Progress) and e.stage == "train" and e.epoch == 2 and e.done >= 2)
    t0 = time.monotonic()
    assert runner.cancel(job)
    events = runner.wait(job, timeout=60)
    elapsed = time.monotonic() - t0
    failed = events[-1]
    assert isinstance(failed, JobFailed) and failed.kind == "cancelled", failed
    assert elapsed < 5.0, f"cooperative cancel took {elapsed:.1f} s"
    assert "after epoch 1" in failed.message and "Traceback" not in failed.message
    assert "stopped on request" in failed.log_tail
    assert [m.epoch for m in of(seen + events, job, Metrics)] == [1]  # the unfinished epoch is no result
    assert trainer_epoch(out) == 1
    load_checkpoint(out / "last")
    load_checkpoint(out / "best")
    assert not runner.cancel(job)  # already ended
    assert runner.status(job) == "failed" and not runner.busy


def test_cancel_that_overruns_its_timeout_is_a_hard_kill(tmp_path, utts):
    out = tmp_path / "run"
    with JobRunner(cancel_timeout=0.0) as runner:  # no time to stop cooperatively: killed at the next poll
        job = runner.submit(TrainJob(out, utts * 12, utts[:4], tiny(3, width=48)))
        seen: list = []
        poll_until(runner, seen, lambda e: isinstance(e, Progress) and e.stage == "train" and e.epoch == 2)
        pid = runner.pid
        assert runner.cancel(job)
        failed = runner.wait(job, timeout=30)[-1]
        assert isinstance(failed, JobFailed) and failed.kind == "cancelled", failed
        assert "stopped forcibly" in failed.message and "epoch 1/3" in failed.log_tail
        assert not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2]
        assert trainer_epoch(out) == 1
        load_checkpoint(out / "last")


def test_killed_worker_is_a_crash_and_resume_continues(runner, tmp_path, utts):
    out = tmp_path / "run"
    job = runner.submit(TrainJob(out, utts * 12, utts[:4], tiny(3, width=48)))
    seen: list = []
    started = poll_until(runner, seen, lambda e: isinstance(e, JobStarted))
    assert started.pid == runner.pid != os.getpid()
    poll_until(runner, seen, lambda e: isinstance(e, Progress) and e.stage == "train" and e.epoch == 2 and e.done >= 2)
    os.kill(started.pid, signal.SIGKILL)
    t0 = time.monotonic()
    crashed = runner.wait(job, timeout=30)[-1]
    assert time.monotonic() - t0 < 5.0
    assert isinstance(crashed, JobFailed) and crashed.kind == "crashed", crashed
    assert "crashed" in crashed.message and "signal 9" in crashed.message
    assert "epoch 1/3" in crashed.log_tail and "started in process" in crashed.log_tail  # from job.log
    saved = trainer_epoch(out)
    assert saved >= 1  # killed during epoch 2: at most that epoch is lost
    load_checkpoint(out / "last")

    again = runner.resume(job)
    assert again != job and runner.job(again).resume
    events = runner.wait(again, timeout=TIMEOUT)
    done = events[-1]
    assert isinstance(done, JobFinished), done
    assert of(events, again, JobStarted)[0].resume
    assert [m.epoch for m in of(events, again, Metrics)] == list(range(saved + 1, 4))  # nothing rerun
    assert [h["epoch"] for h in done.report["history"]] == [1, 2, 3]
    assert trainer_epoch(out) == 3
    log = (out / "job.log").read_text()
    assert "resumed in process" in log and f"resumed from {out / 'last'} after epoch {saved}" in log
    assert read_log_tail(out, 3).count("\n") == 2


def test_nan_loss_and_bad_data_fail_with_clear_kinds(runner, tmp_path, utts):
    nan = runner.submit(TrainJob(tmp_path / "nan", utts, utts[:4], tiny(2, lr=1e9)))
    bad = runner.submit(TrainJob(tmp_path / "bad", tmp_path / "missing.jsonl", utts[:4], tiny(1)))
    empty = runner.submit(TrainJob(tmp_path / "empty", utts + [Utterance(utts[0].audio_path, " ")],
                                   utts[:4], tiny(1)))
    events = runner.wait(empty, timeout=TIMEOUT)
    failures = {e.job_id: e for e in events if isinstance(e, JobFailed)}
    assert failures[nan].kind == "nan" and "loss became nan" in failures[nan].message.lower()
    assert "Lower the learning rate" in failures[nan].message and "Traceback" not in failures[nan].message
    assert "loss became" in failures[nan].log_tail
    assert failures[bad].kind == "data" and "missing.jsonl" in failures[bad].message
    assert failures[empty].kind == "data" and "empty transcript" in failures[empty].message
    with pytest.raises(ValueError, match="init_from"):
        runner.submit(FineTuneJob(tmp_path / "x", utts, utts))


def test_full_disk_never_corrupts_a_checkpoint(runner, tmp_path, utts):
    from engine.model.cross_modal import CrossModalModel
    from engine.text.tokenizer import CharTokenizer

    cfg = tiny(3)
    model_cfg = ModelConfig(**{**cfg.model.to_json(), "vocab_size": CharTokenizer().vocab_size})
    weights = sum(p.numel() for p in CrossModalModel(model_cfg).parameters()) * 4
    # Room for epoch 1 (best = weights, last = weights + AdamW's 2 x weights) plus half a model: never a second save.
    size = 4 * weights + weights // 2 + 64 * 1024
    with tiny_tmpfs(tmp_path / "disk", size) as disk:
        out = disk / "run"
        job = runner.submit(TrainJob(out, utts * 2, utts[:4], cfg))
        events = runner.wait(job, timeout=TIMEOUT)
        failed = events[-1]
        assert isinstance(failed, JobFailed) and failed.kind == "disk", failed
        assert "disk is full" in failed.message and "after epoch 1" in failed.message
        assert [m.epoch for m in of(events, job, Metrics)][:1] == [1]
        assert trainer_epoch(out) == 1
        _, _, meta = load_checkpoint(out / "last")
        assert meta["epoch"] == 1
        load_checkpoint(out / "best")
        assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no half-written folders
        runner.close()


def test_compare_of_an_unknown_model_fails_with_a_clear_message(runner, tmp_path, utts):
    """The registry's error reaches the user as a data failure naming the model (no traceback)."""
    job = runner.submit(CompareJob(tmp_path / "cmp", "sayso-base", "no-such-model", utts[:2],
                                   registry=tmp_path / "registry", threads=1))
    failed = [e for e in runner.wait(job, timeout=TIMEOUT) if isinstance(e, JobFailed)]
    assert failed and failed[0].kind == "data" and "no-such-model" in failed[0].message
    assert "Traceback" not in failed[0].message and not (tmp_path / "cmp" / "compare.json").exists()
    with pytest.raises(ValueError, match="two models"):
        runner.submit(CompareJob(tmp_path / "x", "sayso-base", "", utts))
