"""Evaluate and compare jobs across model families: a Whisper folder and the offline Whisper entries in workers."""
from __future__ import annotations

import json

import pytest

from engine.data.utterance import Utterance
from engine.jobs.events import JobFailed, JobFinished, Progress
from engine.jobs.queue import JobRunner
from engine.jobs.specs import CompareJob, EvaluateJob
from engine.registry.index import BUILTIN_ID, ModelRegistry
from tests.helpers import SAMPLES

pytestmark = pytest.mark.slow  # workers load torch and CTranslate2 and decode real clips

TIMEOUT = 240.0
CLIPS = [("sc_yes_03401e93.wav", "yes"), ("sc_stop_18f8afd5.wav", "stop"), ("sc_left_03401e93.wav", "left")]


@pytest.fixture
def runner():
    r = JobRunner(cancel_timeout=10.0)
    yield r
    r.close()


def test_evaluate_a_whisper_folder_and_compare_it_with_the_bundled_model(runner, tmp_path, tiny_folder):
    utts = [Utterance(SAMPLES / name, text) for name, text in CLIPS]
    ev = runner.submit(EvaluateJob(tmp_path / "eval", tiny_folder, utts, threads=1))
    cmp = runner.submit(CompareJob(tmp_path / "cmp", BUILTIN_ID, "whisper-tiny.en", utts, vocabulary=("yes", "stop",
                                   "left", "right"), registry=tmp_path / "registry", threads=1))
    events = runner.wait(cmp, timeout=TIMEOUT)
    terminal = [e for e in events if isinstance(e, (JobFinished, JobFailed))]
    assert [type(e) for e in terminal] == [JobFinished, JobFinished], terminal

    evaluated = terminal[0].report
    assert evaluated["utterances"] == 3 and evaluated["wer"] == 0.0 and evaluated["rtf"] > 0
    assert json.loads((tmp_path / "eval" / "eval.json").read_text())["wer"] == 0.0
    assert [p.stage for p in events if isinstance(p, Progress) and p.job_id == ev][-1] == "evaluate"

    compared = terminal[1].report
    assert (compared["a"]["id"], compared["b"]["id"]) == (BUILTIN_ID, "whisper-tiny.en")
    assert compared["b"]["wer"] == 0.0 and compared["utterances"] == 3 and "+vocab-" in compared["set"]
    assert [u["hypothesis_b"] for u in compared["per_utterance"]] == ["yes", "stop", "left"]
    reg = ModelRegistry(tmp_path / "registry")  # the figures are kept in both read-only entries
    assert reg.get("whisper-tiny.en").metrics[compared["set"]]["vocabulary"] == 4
    assert compared["set"] in reg.get(BUILTIN_ID).metrics
    assert (tmp_path / "registry" / "whisper-tiny.en" / "model.bin").is_file()  # assembled by the worker
