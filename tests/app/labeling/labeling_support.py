"""Helpers of the labeling-view tests: real clips, the view, keys, the stored row.

The fixtures built from them (real projects of real clips) are in this folder's ``conftest.py``.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import soundfile as sf
from PySide6.QtCore import Qt

from app.labeling.view import LabelingView
from app.playback.controller import PlaybackController
from app.settings import StudioSettings
from engine.audio.io import SAMPLE_RATE, load_audio
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


__all__ = ["BIG_ROWS", "CLIPS", "Qt", "key", "make_view", "session_wav",
           "stored"]
