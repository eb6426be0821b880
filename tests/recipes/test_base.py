"""The base recipe's data side: source weights, pseudo-labels kept off held-out speakers, the split meta."""
from __future__ import annotations

import collections
import json

import pytest

from engine.data.utterance import Utterance
from engine.recipes.base import PSEUDO_PREFIX, pseudo_labelled, source_of, split_meta, weighted
from engine.recipes.datasets import an4, real_splits
from tests.helpers import shared_data


@pytest.fixture(scope="module")
def splits():
    if not (shared_data() / "an4" / "train.tsv").exists():
        pytest.skip("../shared/data with AN4 is not here")
    return real_splits()


def test_weights_repeat_each_source(splits):
    synth = [Utterance(f"/x/clip_{i}.wav", "yes", 0.0, 1.0, "espeak-en-us") for i in range(10)]
    out = weighted(splits.train + synth, {"fsdd": 1.0, "sc": 0.5, "an4": 2.0, "synth": 0.0})
    count = collections.Counter(source_of(u) for u in out)
    real = collections.Counter(source_of(u) for u in splits.train)
    assert count["an4"] == 2 * real["an4"] and count["fsdd"] == real["fsdd"]
    assert count["sc"] == round(real["sc"] / 2) and count["synth"] == 0
    assert len({u for u in out if source_of(u) == "sc"}) == count["sc"]  # half of them, each once


def test_pseudo_labels_never_come_from_heldout_or_dev_speakers(splits, tmp_path):
    by_speaker = {u.speaker: u for u in an4()}
    rows = [{"audio_filepath": str(u.audio_path), "text": "whatever the teacher heard", "duration": u.duration,
             "speaker": PSEUDO_PREFIX + speaker}
            for speaker, u in by_speaker.items()]
    manifest = tmp_path / "pseudo.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    kept = pseudo_labelled(manifest, splits)
    kept_speakers = {u.speaker[len(PSEUDO_PREFIX):] for u in kept}
    heldout_or_dev = {u.speaker for u in splits.dev + splits.test["an4-heldout"]}
    assert "an4-mcel" not in kept_speakers and not kept_speakers & heldout_or_dev
    assert kept_speakers == {u.speaker for u in splits.train if u.speaker.startswith("an4-")}
    assert all(source_of(u) == "pseudo" for u in kept)


def test_split_meta_names_every_heldout_speaker(splits):
    meta = split_meta(splits, [], [])
    assert meta["fsdd"]["heldout"] == ["jason", "nicolas"]
    assert "mcel" in meta["an4"]["heldout"] and len(meta["an4"]["heldout"]) == 10
    assert not set(meta["an4"]["heldout"]) & set(meta["an4"]["train"])
    assert not set(meta["speech_commands"]["heldout"]) & set(meta["speech_commands"]["train"])
    assert len(meta["speech_commands"]["heldout"]) == 41
