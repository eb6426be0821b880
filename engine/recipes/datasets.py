"""Real speech corpora in ``../shared/data`` as utterance lists, split by speaker.

- FSDD (Free Spoken Digit Dataset, Jackson et al., CC BY-SA 4.0): 5 speakers,
  8 kHz digits, ``{digit}_{speaker}_{index}.wav``; jason's takes are untrimmed
  3 s files, trimmed here (:func:`jason_span`).
- Speech Commands v0.02 test files (Warden 2018, arXiv:1804.03209, CC BY 4.0):
  166 speakers, 16 kHz one-word clips, ``{word}/{speaker}_nohash_{n}.wav``,
  plus ``_background_`` noise.
- CMU AN4 training split (BSD-style licence, ``an4/LICENSE``): 74 speakers,
  948 continuous utterances (digit strings, spelled letters, numbers,
  commands), 16 kHz FLAC listed in ``an4/train.tsv``.

Every split is by whole speaker, so test figures are on people the model
never heard (:func:`real_splits`, :func:`split_summary`).
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
FSDD_HELDOUT_SPEAKERS = ("nicolas", "jason")
"""The FSDD speakers held out of training for every reported figure (nicolas since v1, jason since v2)."""
AN4_HELDOUT_COUNT = 10
"""How many AN4 speakers are held out of training (:func:`an4_heldout_speakers`)."""
AN4_DEV_COUNT = 6
"""How many AN4 speakers validate (the next ones by speaker bucket after the held-out ones)."""
JASON_TRIM = {"aggressiveness": 1, "max_start": 1.5, "first_start": 0.5, "min_speech": 0.15, "pad": 0.1}
"""How jason's untrimmed 3 s takes are cut (:func:`jason_span`), seconds. His takes hold the digit at
their start, often clipped by the take's start, and, in most, the next word of the session from about
2.5 s on: speech regions (WebRTC VAD, aggressiveness 1, gaps under 0.2 s joined) starting before
``max_start`` are the digit; a take whose first region starts after ``first_start`` or spans less than
``min_speech`` is left out; ``pad`` seconds are kept after the digit."""


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


def jason_span(path: Path) -> tuple[float, float] | None:
    """The digit of one of jason's untrimmed takes as ``(start_s, end_s)``, or None when the take
    holds no usable digit (see :data:`JASON_TRIM`). Uses :func:`engine.audio.vad.speech_regions`."""
    from engine.audio.vad import speech_regions

    t = JASON_TRIM
    audio = load_audio(path, min_seconds=0.0)
    regions = [r for r in speech_regions(audio, aggressiveness=t["aggressiveness"], min_pause=0.2)
               if r[0] < t["max_start"]]
    if not regions or regions[0][0] > t["first_start"] or regions[-1][1] - regions[0][0] < t["min_speech"]:
        return None
    return max(0.0, regions[0][0] - t["pad"]), min(audio.size / 16000, regions[-1][1] + t["pad"])


def _jason_spans(root: Path) -> dict[str, tuple[float, float] | None]:
    """:func:`jason_span` of every jason take, cached beside the recipe's data (a JSON file keyed by name)."""
    import json

    from engine.paths import cache_dir

    cache = cache_dir() / "recipes" / "fsdd-jason-spans.json"
    key = json.dumps(JASON_TRIM, sort_keys=True)
    if cache.exists():
        data = json.loads(cache.read_text())
        if data.get("trim") == key:
            return {k: tuple(v) if v else None for k, v in data["spans"].items()}
    spans = {p.name: jason_span(p) for p in sorted(root.glob("*_jason_*.wav"))}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"trim": key, "spans": spans}))
    return spans


def fsdd(root: Path | None = None) -> list[Utterance]:
    """All FSDD utterances; speaker = ``fsdd-{name}``. jason's takes are cut to their digit
    (:func:`jason_span`); the few without a usable digit are left out."""
    root = (root or shared_data_dir()) / "fsdd" / "recordings"
    jason = _jason_spans(root)
    out = []
    for p in sorted(root.glob("*.wav")):
        digit, speaker, _ = p.stem.split("_")
        if speaker == "jason":
            if jason.get(p.name) is None:
                continue
            start, end = jason[p.name]
        else:
            start, end = 0.0, _duration(p)
        out.append(Utterance(p, DIGITS[int(digit)], start, end, f"fsdd-{speaker}"))
    return out


def an4(root: Path | None = None) -> list[Utterance]:
    """All AN4 utterances of ``an4/train.tsv``; speaker = ``an4-{id}``, text as transcribed (lower case)."""
    import csv

    root = (root or shared_data_dir()) / "an4"
    with open(root / "train.tsv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [Utterance(root / r["path"], r["transcript"], 0.0, _duration(root / r["path"]), f"an4-{r['speaker']}")
            for r in rows]


def an4_vocabulary(root: Path | None = None) -> list[str]:
    """Every word of the AN4 transcripts, sorted: the AN4 task's vocabulary (about 130 words)."""
    return sorted({w for u in an4(root) for w in u.text.split()})


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


def an4_heldout_speakers(n: int = AN4_HELDOUT_COUNT, root: Path | None = None) -> list[str]:
    """The ``n`` AN4 speaker ids (``fjmd``, no prefix) with the lowest :func:`speaker_bucket` of
    ``an4-<id>``: stable, independent of the data order. The first 10 are held out of training and
    of every figure (``benchmarks/whisper_wer.py`` too)."""
    import csv

    with open((root or shared_data_dir()) / "an4" / "train.tsv", encoding="utf-8") as fh:
        speakers = {row["speaker"] for row in csv.DictReader(fh, delimiter="\t")}
    return sorted(speakers, key=lambda s: speaker_bucket(f"an4-{s}"))[:n]


@dataclass
class Splits:
    """Speaker-disjoint utterance lists: ``train``, ``dev`` (validation) and named ``test`` sets."""

    train: list[Utterance]
    dev: list[Utterance]
    test: dict[str, list[Utterance]]

    def speakers(self) -> dict[str, list[str]]:
        """``{"train": [...], "dev": [...], "<test set>": [...]}``: the sorted speakers of each split."""
        out = {"train": sorted({u.speaker for u in self.train}), "dev": sorted({u.speaker for u in self.dev})}
        out.update({name: sorted({u.speaker for u in utts}) for name, utts in self.test.items()})
        return out


def real_splits(root: Path | None = None, test_share: float = 0.2, dev_share: float = 0.1) -> Splits:
    """Speaker-disjoint splits of FSDD, Speech Commands and AN4.

    - FSDD: :data:`FSDD_HELDOUT_SPEAKERS` are test (``fsdd-heldout`` nicolas,
      ``fsdd-heldout-jason``); takes 45–49 of the others are dev.
    - Speech Commands: ``test_share`` of speakers test, ``dev_share`` dev, by a
      stable hash of the speaker id (:func:`speaker_bucket`; the same speakers as v1).
    - AN4: the :data:`AN4_HELDOUT_COUNT` speakers of
      :func:`an4_heldout_speakers` are test (``an4-heldout``), the next
      :data:`AN4_DEV_COUNT` dev, the rest train.

    Returns test sets ``fsdd-heldout``, ``fsdd-heldout-jason``, ``sc-heldout`` (all words of the
    held-out speakers) and ``an4-heldout``.
    """
    train, dev = [], []
    nicolas, jason = FSDD_HELDOUT_SPEAKERS
    test = {"fsdd-heldout": [], "fsdd-heldout-jason": [], "sc-heldout": [], "an4-heldout": []}
    for u in fsdd(root):
        if u.speaker == f"fsdd-{nicolas}":
            test["fsdd-heldout"].append(u)
        elif u.speaker == f"fsdd-{jason}":
            test["fsdd-heldout-jason"].append(u)
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
    ranked = [f"an4-{s}" for s in an4_heldout_speakers(AN4_HELDOUT_COUNT + AN4_DEV_COUNT, root)]
    held, validate = set(ranked[:AN4_HELDOUT_COUNT]), set(ranked[AN4_HELDOUT_COUNT:])
    for u in an4(root):
        (test["an4-heldout"] if u.speaker in held else dev if u.speaker in validate else train).append(u)
    return Splits(train, dev, test)
