"""The v2 split on the real data in ../shared/data: whole speakers, never in two splits."""
from __future__ import annotations

import pytest

from engine.recipes.datasets import (
    AN4_HELDOUT_COUNT,
    FSDD_HELDOUT_SPEAKERS,
    an4,
    an4_heldout_speakers,
    fsdd,
    real_splits,
    speaker_bucket,
)
from tests.helpers import shared_data


@pytest.fixture(scope="module")
def splits():
    if not (shared_data() / "an4" / "train.tsv").exists():
        pytest.skip("../shared/data with AN4 is not here")
    return real_splits()


def test_no_speaker_in_two_splits(splits):
    named = {"train": splits.train, "dev": splits.dev, **splits.test}
    seen: dict[str, str] = {}
    for name, utts in named.items():
        for speaker in {u.speaker for u in utts}:
            other = seen.setdefault(speaker, name)
            # fsdd training speakers give their takes 45-49 to dev: the one split that shares speakers
            assert other == name or {other, name} == {"train", "dev"} and speaker.startswith("fsdd-"), \
                (speaker, other, name)


def test_fsdd_heldout_speakers_never_train(splits):
    assert FSDD_HELDOUT_SPEAKERS == ("nicolas", "jason")
    train_dev = {u.speaker for u in splits.train + splits.dev}
    assert not {"fsdd-nicolas", "fsdd-jason"} & train_dev
    assert {u.speaker for u in splits.test["fsdd-heldout"]} == {"fsdd-nicolas"}
    assert {u.speaker for u in splits.test["fsdd-heldout-jason"]} == {"fsdd-jason"}
    assert {"fsdd-jackson", "fsdd-george", "fsdd-lucas"} <= train_dev


def test_jason_takes_are_cut_to_their_digit(splits):
    jason = splits.test["fsdd-heldout-jason"]
    assert 450 <= len(jason) <= 500  # a few takes hold no usable digit
    assert all(0.0 <= u.start < u.end <= 3.0 for u in jason)
    assert max(u.duration for u in jason) < 2.5  # the next word of the session (from about 2.5 s) is cut off
    assert sum(u.duration for u in jason) / len(jason) < 1.0
    assert {u.text for u in jason} == {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}


def test_an4_heldout_speakers_never_train(splits):
    held = an4_heldout_speakers()
    assert len(held) == AN4_HELDOUT_COUNT == 10
    assert held == sorted(held, key=lambda s: speaker_bucket(f"an4-{s}"))
    assert "mcel" in held  # the speaker the Whisper tests use as held out
    train_dev = {u.speaker for u in splits.train + splits.dev}
    assert not {f"an4-{s}" for s in held} & train_dev
    assert {u.speaker for u in splits.test["an4-heldout"]} == {f"an4-{s}" for s in held}
    assert len({u.speaker for u in an4()}) == 74
    assert sum(u.speaker.startswith("an4-") for u in splits.train) > 600


def test_speech_commands_heldout_is_the_v1_split(splits):
    held = {u.speaker for u in splits.test["sc-heldout"]}
    assert held == {u.speaker for u in splits.train + splits.dev + splits.test["sc-heldout"]
                    if u.speaker.startswith("sc-") and speaker_bucket(u.speaker) < 0.2}
    all_sc = {u.speaker for u in splits.train + splits.dev + splits.test["sc-heldout"] if u.speaker.startswith("sc-")}
    assert 0.2 <= len(held) / len(all_sc) <= 0.3


def test_other_fsdd_speakers_are_whole_files():
    others = [u for u in fsdd(shared_data()) if u.speaker != "fsdd-jason"]  # skips without ../shared/data
    assert len(others) == 2000 and all(u.start == 0.0 for u in others)
