"""Splitting a long real recording of a project at its pauses, and storing a model's labels."""
from __future__ import annotations

import numpy as np
import pytest

from engine.audio.errors import AudioError
from engine.audio.io import SAMPLE_RATE, load_audio, load_segment, write_audio
from engine.data.errors import ProjectError
from engine.data.segmentation import segment_recording
from engine.data.store import Project
from tests.helpers import SAMPLES

WORDS = ["sc_yes_03401e93.wav", "sc_left_03401e93.wav", "sc_stop_18f8afd5.wav", "sc_go_0f250098.wav"]


@pytest.fixture
def long_take(tmp_path):
    gap = np.zeros(SAMPLE_RATE, np.float32)
    audio = np.concatenate([gap] + [np.concatenate([load_audio(SAMPLES / w), gap]) for w in WORDS])
    return write_audio(tmp_path / "long.wav", audio)


def test_long_recording_becomes_one_utterance_per_word(tmp_path, long_take):
    project = Project.create(tmp_path / "p")
    rec = project.add_recording(long_take)
    ids = segment_recording(project, rec.id, speaker="me")
    assert len(ids) == len(WORDS)
    rows = [project.utterance(i) for i in ids]
    assert [r.status for r in rows] == ["unlabeled"] * 4 and {r.speaker for r in rows} == {"me"}
    starts = [r.start for r in rows]
    assert starts == sorted(starts) and all(r.end - r.start < 2.0 for r in rows)
    assert project.undo().startswith("split") and project.count() == 0  # one undo step for the whole split
    project.redo()
    assert project.count() == 4


def test_model_labels_fill_only_empty_transcripts(tmp_path, long_take):
    project = Project.create(tmp_path / "p")
    rec = project.add_recording(long_take)
    a, b, *_ = segment_recording(project, rec.id)
    project.update_utterance(b, transcript="left", status="verified")
    changed = project.apply_model_labels([(a, "yes", 0.9), (b, "lift", 0.4)], model="base")
    assert changed == 2
    ra, rb = project.utterance(a), project.utterance(b)
    assert (ra.text, ra.status, ra.confidence) == ("yes", "draft", 0.9)
    assert (rb.text, rb.status, rb.confidence) == ("left", "verified", 0.4)  # a person's text stays
    assert project.undo() == "pre-label 2 utterances with base"
    assert project.utterance(a).text == "" and project.utterance(a).confidence is None
    with pytest.raises(ProjectError, match="confidence"):
        project.apply_model_labels([(a, "yes", 1.5)])
    assert project.utterance(a).text == ""  # nothing changed


def test_load_segment_reads_only_that_stretch(long_take):
    whole = load_audio(long_take)
    part = load_segment(long_take, 1.0, 2.0)
    np.testing.assert_array_equal(part, whole[SAMPLE_RATE:2 * SAMPLE_RATE])
    with pytest.raises(AudioError, match="outside the file"):
        load_segment(long_take, 30.0, 31.0)
