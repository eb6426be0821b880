"""The studio's personalization recipe (a PersonalizeJob as the Train tab submits it) improves a held-out speaker."""
from __future__ import annotations

import numpy as np
import pytest

from engine.decode.recognizer import SaysoRecognizer
from engine.decode.vocabulary import Vocabulary
from engine.jobs.events import JobFinished, LogLine
from engine.jobs.queue import JobRunner
from engine.jobs.specs import PersonalizeJob
from engine.recipes.datasets import DIGITS, FSDD_HELDOUT_SPEAKERS, fsdd
from tests.helpers import shared_data

pytestmark = pytest.mark.slow  # fine-tunes the real model for 60 steps and decodes 100 clips twice (~40 s)


def accuracy(recognizer: SaysoRecognizer, utterances) -> float:
    vocab = Vocabulary(DIGITS)
    return float(np.mean([recognizer.transcribe_file(u.audio_path, vocab, attention=False).text == u.text
                          for u in utterances]))


def test_one_take_per_digit_makes_the_held_out_speaker_better_understood(tmp_path, model_path):
    shared_data()  # skips without the corpora
    take = lambda u: int(u.audio_path.stem.split("_")[2])  # noqa: E731
    his = [u for u in fsdd() if u.speaker == f"fsdd-{FSDD_HELDOUT_SPEAKERS[0]}"]  # never in the base model's training
    takes = [u for u in his if take(u) == 0]
    others = [u for u in his if 10 <= take(u) < 20]
    assert len(takes) == 10 and len(others) == 100

    with JobRunner() as runner:
        job_id = runner.submit(PersonalizeJob(tmp_path / "me", model_path, takes, noises=True, rehearse=True))
        events = runner.wait(job_id, timeout=600)
    assert isinstance(events[-1], JobFinished), events[-1]
    log = "\n".join(e.message for e in events if isinstance(e, LogLine))
    assert "rehearsal: 400 base training utterances" in log

    before = accuracy(SaysoRecognizer.from_checkpoint(model_path), others)
    after = accuracy(SaysoRecognizer.from_checkpoint(events[-1].checkpoint), others)
    # measured: 0.77 -> 0.85 on these takes; without rehearsal and noise the recipe gained nothing (73.5 % vs 73.8 %)
    assert after >= before + 0.05, (before, after)
