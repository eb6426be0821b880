"""The sample project: a real project built from the bundled clips, so a new user's Dataset, Train
and Insight tabs have something to show at once (Help → Open sample project, and the first-run tour).

The clips are :data:`engine.resources.SAMPLES` (real speech: Speech Commands and FSDD, see its
README); their file names give the words and speakers (``sc_<word>_<speaker>.wav``,
``fsdd_<digit>_<speaker>_<take>.wav``). Every utterance is verified. Splits are by speaker, as
every figure Sayso reports is: the FSDD speaker is the test split (held out), one Speech Commands
speaker the dev split, the rest train.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from engine.data.errors import ProjectError
from engine.data.store import PROJECT_FILE, Project
from engine.recipes.datasets import DIGITS
from engine.resources import SAMPLES

__all__ = ["SAMPLE_PROJECT_NAME", "SampleClip", "create_sample_project", "sample_clips"]

SAMPLE_PROJECT_NAME = "Sayso sample project"
"""The sample project's folder name (under :func:`engine.paths.projects_dir` in the studio)."""
TEST_SPEAKERS = ("nicolas",)
DEV_SPEAKERS = ("0f250098",)

_SC = re.compile(r"sc_(?P<word>[a-z]+)_(?P<speaker>[0-9a-f]{8})\.wav")
_FSDD = re.compile(r"fsdd_(?P<digit>\d)_(?P<speaker>[a-z]+)_\d+\.wav")


@dataclass(frozen=True)
class SampleClip:
    """A bundled clip: its file, what is said, who says it, and its split."""

    path: Path
    transcript: str
    speaker: str
    split: str


def sample_clips(folder: str | os.PathLike = SAMPLES) -> list[SampleClip]:
    """The bundled clips in ``folder`` whose names say what is in them, sorted by file name."""
    out = []
    for path in sorted(Path(folder).glob("*.wav")):
        if m := _SC.fullmatch(path.name):
            text, speaker = m["word"], m["speaker"]
        elif m := _FSDD.fullmatch(path.name):
            text, speaker = DIGITS[int(m["digit"])], m["speaker"]
        else:
            continue
        split = "test" if speaker in TEST_SPEAKERS else "dev" if speaker in DEV_SPEAKERS else "train"
        out.append(SampleClip(path, text, speaker, split))
    return out


def create_sample_project(folder: str | os.PathLike) -> Path:
    """Build the sample project in ``folder`` (created if missing) and return ``folder``; if it
    already holds a project, it is left as it is (the user's edits are kept).

    Raises:
        engine.data.errors.ProjectError: the folder cannot be created or written (a clear message).
    """
    folder = Path(folder)
    if (folder / PROJECT_FILE).exists():
        return folder
    # built beside its place and renamed into it, so an interrupted build never looks finished
    stage = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(stage, ignore_errors=True)
    project = Project.create(stage)
    try:
        for clip in sample_clips():
            rec = project.add_recording(clip.path)
            project.add_utterance(rec.id, 0.0, rec.duration, clip.transcript, status="verified",
                                  speaker=clip.speaker, split=clip.split)
    finally:
        project.close()
    try:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        stage.rename(folder)
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise ProjectError(f"Cannot create the sample project in {folder}: {exc.strerror or exc}.") from None
    return folder
