"""Helpers shared by the project store tests: real sample clips and row snapshots."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from engine.data.store import Project
from tests.helpers import SAMPLES

YES = SAMPLES / "sc_yes_03401e93.wav"    # 16 kHz, 1.0 s
NO = SAMPLES / "sc_no_03401e93.wav"      # 16 kHz, 1.0 s
DIGIT = SAMPLES / "fsdd_7_nicolas_0.wav"  # 8 kHz, 0.372 s
CLIPS = sorted(SAMPLES.glob("*.wav"))


def state(project: Project) -> list[tuple]:
    """Every utterance (all fields but the ``updated`` time), by id."""
    rows = project.fetch(limit=1_000_000)
    return [tuple(v for k, v in dataclasses.asdict(r).items() if k != "updated") for r in rows]


def new_project(folder: Path, clips=(YES, NO)) -> tuple[Project, list[int]]:
    """A new project with the given clips added; returns it and the recording ids."""
    project = Project.create(folder)
    return project, [project.add_recording(c).id for c in clips]
