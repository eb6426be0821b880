"""Pseudo-labels from the Whisper teacher, on real audio: training speakers only, resumable, never empty."""
from __future__ import annotations

import json

import pytest

from engine.recipes.base import PSEUDO_PREFIX, pseudo_labelled
from engine.recipes.datasets import real_splits
from engine.recipes.distill import librispeech_unlabeled, pseudo_label, unlabeled
from tests.helpers import shared_data


@pytest.fixture(scope="module")
def splits():
    if not (shared_data() / "librispeech_unlabeled").is_dir():
        pytest.skip("../shared/data with librispeech_unlabeled is not here")
    return real_splits()


def test_the_teacher_hears_no_heldout_or_dev_speaker(splits):
    libri = librispeech_unlabeled()
    assert len(libri) == 351 and len({u.speaker for u in libri}) == 261
    audio = unlabeled(["librispeech", "an4", "sc"])
    never = {u.speaker for utts in [splits.dev, *splits.test.values()] for u in utts}
    assert not {u.speaker for u in audio} & never
    assert sum(u.speaker.startswith("an4-") for u in audio) == sum(u.speaker.startswith("an4-") for u in splits.train)


@pytest.mark.slow
def test_pseudo_labels_are_written_once_and_train(splits, tmp_path):
    """whisper-tiny.en (an offline package, faster than base) labels two LibriSpeech utterances."""
    from engine.whisper.sources import assemble

    teacher = assemble("whisper-tiny.en", tmp_path / "models")
    libri = librispeech_unlabeled()[:2]
    out = tmp_path / "pseudo.jsonl"
    pseudo_label(libri, out, "whisper-tiny.en", threads=1, folder=teacher)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and all(len(r["text"].split()) > 5 for r in rows)
    assert rows[0]["speaker"] == PSEUDO_PREFIX + libri[0].speaker and rows[0]["teacher"] == "whisper-tiny.en"
    pseudo_label(libri, out, "whisper-tiny.en", threads=1, folder=teacher)  # resumes: nothing left to do
    assert len(out.read_text().splitlines()) == 2
    assert len(pseudo_labelled(out, splits)) == 2
