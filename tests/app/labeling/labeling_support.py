"""Fixtures and helpers of the labeling-view tests: real projects of real clips.

Imported by the ``test_labeling_*`` modules (not a conftest, so that the other
tests of this folder are left alone).
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt


from app.labeling.view import LabelingView
from app.playback.controller import PlaybackController
from app.settings import StudioSettings
from engine.audio.io import SAMPLE_RATE, load_audio
from engine.data.records import ImportItem
from engine.data.store import Project
from tests.helpers import SAMPLES

WORDS = ("yes", "no", "up", "down")
CLIPS = {w: next(SAMPLES.glob(f"sc_{w}_*.wav")) for w in WORDS}
BIG_ROWS = 100_000


def session_wav(folder: Path) -> Path:
    """A 4 s recording: the real Speech Commands clips "yes no up down", 1 s each, 16 kHz."""
    path = folder / "session.wav"
    if not path.exists():
        parts = [load_audio(CLIPS[w]) for w in WORDS]
        sf.write(path, np.concatenate(parts), SAMPLE_RATE, subtype="PCM_16")
    return path


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
    items = [ImportItem(clips[i % len(clips)], f"{WORDS[i % 4]} {i}", 0.0, 0.3 + (i % 7) * 0.1,  # ≤ 0.9 s
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


def make_view(qtbot, project, settings: StudioSettings | None = None) -> LabelingView:
    view = LabelingView(project, PlaybackController(), settings or StudioSettings())
    qtbot.addWidget(view)
    view.resize(1100, 800)
    view.show()
    qtbot.waitExposed(view)
    view.activateWindow()
    qtbot.waitUntil(lambda: view.isActiveWindow())
    return view


def stored(project: Project, utterance_id: int) -> tuple:
    """The row as it is in the SQLite file, read by a separate connection."""
    conn = sqlite3.connect(str(project.path))
    try:
        return conn.execute('SELECT transcript, status, start, "end" FROM utterances WHERE id = ?',
                            (utterance_id,)).fetchone()
    finally:
        conn.close()


def key(qtbot, widget, sequence: str) -> None:
    """Press a portable key text like ``"Ctrl+Shift+Z"`` on ``widget`` (shortcuts included)."""
    from PySide6.QtGui import QKeySequence

    combo = QKeySequence(sequence)[0]
    qtbot.keyClick(widget, combo.key(), combo.keyboardModifiers())


__all__ = ["BIG_ROWS", "CLIPS", "Qt", "big_project", "key", "labeling_project", "make_view", "plays", "session_wav",
           "stored"]
