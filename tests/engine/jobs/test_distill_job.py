"""A training job with a teacher (the Train tab's "Distil from"): Whisper tiny.en transcribes unlabeled
sentences in the worker, the model trains on them beside the labelled clips, and a cancel keeps the labels."""
from __future__ import annotations

import json

import pytest
import soundfile as sf

from engine.data.utterance import Utterance
from engine.jobs.events import JobFailed, JobFinished, LogLine, Progress
from engine.jobs.queue import JobRunner
from engine.jobs.specs import TrainJob
from engine.recipes.distill import PSEUDO_LABELS
from tests.engine.jobs.test_queue import sample_utterances, tiny
from tests.helpers import shared_data

pytestmark = pytest.mark.slow  # a worker imports torch and CTranslate2, transcribes and trains


def shortest_sentences(n: int) -> list[Utterance]:
    """The ``n`` shortest LibriSpeech sentences of the shared data, without transcripts."""
    files = sorted((shared_data() / "librispeech_unlabeled").rglob("*.flac"), key=lambda p: sf.info(str(p)).frames)
    return [Utterance(p, "", 0.0, sf.info(str(p)).duration, "reader") for p in files[:n]]


def test_the_teacher_labels_unlabeled_sentences_and_the_model_trains_on_them(tmp_path, tiny_folder):
    labelled = sample_utterances()
    unlabeled = shortest_sentences(2)
    with JobRunner() as runner:
        job_id = runner.submit(TrainJob(tmp_path / "run", labelled, labelled, tiny(1), teacher=tiny_folder,
                                        unlabeled=unlabeled))
        events = runner.wait(job_id, timeout=300)
    assert isinstance(events[-1], JobFinished), events[-1]
    teacher_progress = [e for e in events if isinstance(e, Progress) and e.stage == "teacher"]
    assert teacher_progress and teacher_progress[-1].done == teacher_progress[-1].total == 2
    log = "\n".join(e.message for e in events if isinstance(e, LogLine))
    assert "the teacher whisper-tiny.en transcribes 2 unlabeled utterance(s)" in log
    assert f"{len(labelled) + 2} training and {len(labelled)} validation utterances" in log
    report = events[-1].report["distillation"]
    assert report["pseudo_labels"] == 2 and report["teacher"] == str(tiny_folder)
    rows = [json.loads(line) for line in (tmp_path / "run" / PSEUDO_LABELS).read_text().splitlines()]
    assert [r["audio_filepath"] for r in rows] == [str(u.audio_path) for u in unlabeled]
    assert all(len(r["text"].split()) >= 2 for r in rows), rows


def test_a_teacher_without_unlabeled_audio_is_one_clear_data_error(tmp_path, tiny_folder):
    labelled = sample_utterances()
    with JobRunner() as runner:
        job_id = runner.submit(TrainJob(tmp_path / "run", labelled, labelled, tiny(1), teacher=tiny_folder))
        events = runner.wait(job_id, timeout=300)
    failed = events[-1]
    assert isinstance(failed, JobFailed) and failed.kind == "data", failed
    assert failed.message == ("Distillation needs unlabeled utterances for the teacher to transcribe; "
                              "there are none.")
