"""Helpers of the model registry tests: real checkpoints (copies of the bundled model) and real clips."""
from __future__ import annotations

import shutil
from pathlib import Path

from engine.checkpoint_layout import MODEL_FILES
from engine.data.utterance import Utterance
from engine.registry.index import BUILTIN_ID, BUNDLED_PREFIX, shipped_beside
from engine.whisper.sources import installed_packaged
from tests.helpers import SAMPLES, bundled_model

BUNDLED = [BUILTIN_ID, *(BUNDLED_PREFIX + f.name for f in shipped_beside())]
"""The bundled Sayso models: ``sayso-base``, then those shipped beside it (``resources/models/``)."""
BUILTINS = [*BUNDLED, *installed_packaged()]
"""The built-in entries every registry lists: the bundled models, then the installed offline Whisper packages'."""

TEST_CLIPS = [("sc_yes_03401e93.wav", "yes"), ("sc_stop_18f8afd5.wav", "stop"), ("sc_down_0f250098.wav", "down"),
              ("fsdd_7_nicolas_0.wav", "seven")]


def copy_checkpoint(dest: Path) -> Path:
    """A real checkpoint folder: the bundled model's config and weights."""
    src = bundled_model()
    dest.mkdir(parents=True)
    for f in MODEL_FILES:
        shutil.copy2(src / f, dest / f)
    return dest


def test_clips() -> list[Utterance]:
    """Real clips of held-out speakers with their transcripts."""
    return [Utterance(SAMPLES / name, text) for name, text in TEST_CLIPS]


test_clips.__test__ = False
