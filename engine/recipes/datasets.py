"""Real speech corpora in ``../shared/data`` as utterance lists, split by speaker.

- FSDD (Free Spoken Digit Dataset, Jackson et al., CC BY-SA 4.0): 4 speakers,
  8 kHz digits, ``{digit}_{speaker}_{index}.wav``.
- Speech Commands v0.02 test files (Warden 2018, arXiv:1804.03209, CC BY 4.0):
  166 speakers, 16 kHz one-word clips, ``{word}/{speaker}_nohash_{n}.wav``,
  plus ``_background_`` noise.

Every split is by whole speaker, so test figures are on people the model
never heard.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.audio.io import load_audio
from engine.data.utterance import Utterance

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
COMMANDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
FSDD_TEST_SPEAKER = "nicolas"
"""The FSDD speaker held out of training for every reported figure."""


def shared_data_dir() -> Path:
    """``$SAYSO_DATA`` or ``../shared/data`` beside the repository.

    Raises:
        FileNotFoundError: neither exists.
    """
    env = os.environ.get("SAYSO_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[3] / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    raise FileNotFoundError("Speech data not found: set SAYSO_DATA or place shared/data beside the repository.")


def _duration(path: Path) -> float:
    info = sf.info(str(path))
    return info.frames / info.samplerate


def fsdd(root: Path | None = None) -> list[Utterance]:
    """All FSDD utterances; speaker = ``fsdd-{name}``."""
    root = (root or shared_data_dir()) / "fsdd" / "recordings"
    out = []
    for p in sorted(root.glob("*.wav")):
        digit, speaker, _ = p.stem.split("_")
        out.append(Utterance(p, DIGITS[int(digit)], 0.0, _duration(p), f"fsdd-{speaker}"))
    return out


def speech_commands(root: Path | None = None) -> list[Utterance]:
    """All Speech Commands utterances (no background); speaker = ``sc-{id}``."""
    root = (root or shared_data_dir()) / "speech_commands"
    out = []
    for p in sorted(root.glob("*/*.wav")):
        if p.parent.name.startswith("_"):
            continue
        out.append(Utterance(p, p.parent.name, 0.0, _duration(p), f"sc-{p.stem.split('_')[0]}"))
    return out


def background_noises(root: Path | None = None) -> list[np.ndarray]:
    """The ``_background_`` clips as ``(samples,)`` float32 16 kHz arrays."""
    root = (root or shared_data_dir()) / "speech_commands" / "_background_"
    return [load_audio(p, min_seconds=0.0) for p in sorted(root.glob("*.wav"))]


def speaker_bucket(speaker: str) -> float:
    """A stable number in [0, 1) per speaker, for splitting by speaker."""
    return int(hashlib.sha1(speaker.encode()).hexdigest()[:8], 16) / 2**32


@dataclass
class Splits:
    train: list[Utterance]
    dev: list[Utterance]
    test: dict[str, list[Utterance]]


def real_splits(root: Path | None = None, test_share: float = 0.2, dev_share: float = 0.1) -> Splits:
    """Speaker-disjoint splits of FSDD and Speech Commands.

    - FSDD: :data:`FSDD_TEST_SPEAKER` is test; takes 45–49 of the others are dev.
    - Speech Commands: ``test_share`` of speakers test, ``dev_share`` dev, by a
      stable hash of the speaker id.

    Returns test sets ``fsdd-heldout`` and ``sc-heldout`` (all words of the held-out speakers).
    """
    train, dev = [], []
    test = {"fsdd-heldout": [], "sc-heldout": []}
    for u in fsdd(root):
        if u.speaker == f"fsdd-{FSDD_TEST_SPEAKER}":
            test["fsdd-heldout"].append(u)
        elif int(u.audio_path.stem.split("_")[2]) >= 45:
            dev.append(u)
        else:
            train.append(u)
    for u in speech_commands(root):
        b = speaker_bucket(u.speaker)
        if b < test_share:
            test["sc-heldout"].append(u)
        elif b < test_share + dev_share:
            dev.append(u)
        else:
            train.append(u)
    return Splits(train, dev, test)
