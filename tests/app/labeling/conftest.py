"""Fixtures of the labeling tests: real projects of real clips (see :mod:`labeling_support`)."""
from __future__ import annotations

import pytest

from app.playback.controller import PlaybackController
from engine.data.store import Project
from engine.data.utterance import Utterance
from tests.app.labeling.labeling_support import BIG_ROWS, WORDS, session_wav
from tests.helpers import SAMPLES


@pytest.fixture
def labeling_project(tmp_path):
    """A project with one 4 s recording cut into 4 unlabeled utterances (0–1, 1–2, 2–3, 3–4 s)
    and a second recording (a real FSDD digit) with one draft utterance."""
    project = Project.create(tmp_path / "project")
    rec = project.add_recording(session_wav(tmp_path))
    for i in range(4):
        project.add_utterance(rec.id, float(i), float(i + 1), speaker="alice" if i < 2 else "bob")
    digit = project.add_recording(SAMPLES / "fsdd_7_nicolas_0.wav")
    project.add_utterance(digit.id, 0.0, digit.duration, transcript="seven", status="draft", speaker="nicolas",
                          split="train")
    # the add_utterance calls are setup, not the user's edits
    project._db().execute("DELETE FROM history")
    yield project
    project.close()


@pytest.fixture(scope="module")
def big_project(tmp_path_factory):
    """100k utterances of the real sample clips (one import transaction, a few seconds), read-only."""
    folder = tmp_path_factory.mktemp("big")
    project = Project.create(folder / "project")
    clips = sorted(SAMPLES.glob("sc_*.wav"))  # 1 s each
    items = [Utterance(clips[i % len(clips)], f"{WORDS[i % 4]} {i}", 0.0, 0.3 + (i % 7) * 0.1,  # ≤ 0.9 s
                        speaker=f"speaker{i % 5}", split=("train", "dev", "test", None)[i % 4])
             for i in range(BIG_ROWS)]
    report = project.import_items(items, "big")
    assert report.added == BIG_ROWS, report.rejects[:3]
    yield project
    project.close()


@pytest.fixture
def plays(monkeypatch):
    """Calls of PlaybackController.play as ``(audio, start, end)``; nothing reaches a device."""
    calls = []

    def fake_play(self, audio, start=0.0, end=None):
        calls.append((audio, start, end))
        return True

    monkeypatch.setattr(PlaybackController, "play", fake_play)
    return calls
