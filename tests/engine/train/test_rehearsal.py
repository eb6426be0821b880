"""Rehearsal data and synthetic noise for personalization."""
from __future__ import annotations

import numpy as np

from engine.train.augment import coloured_noises
from engine.train.rehearsal import rehearsal_set
from tests.helpers import shared_data


def test_rehearsal_set_is_base_training_speakers_only_and_repeatable():
    shared_data()
    first, what = rehearsal_set(50, seed=3)
    again, _ = rehearsal_set(50, seed=3)
    assert len(first) == 50 and "50 base training utterances" in what
    assert [u.audio_path for u in first] == [u.audio_path for u in again]
    assert not any(u.speaker == "fsdd-nicolas" for u in first)  # the held-out speaker is never rehearsed


def test_rehearsal_without_the_corpora_is_empty_with_a_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("SAYSO_DATA", str(tmp_path / "nowhere"))
    import engine.recipes.datasets as datasets

    monkeypatch.setattr(datasets, "shared_data_dir", lambda: (_ for _ in ()).throw(FileNotFoundError("no corpora")))
    utterances, why = rehearsal_set()
    assert utterances == [] and "no base training data" in why


def test_coloured_noises_have_their_spectral_slopes():
    noises = coloured_noises(seconds=4.0)
    assert len(noises) == 5 and all(n.dtype == np.float32 and n.shape == (64000,) for n in noises)
    assert all(abs(float(np.abs(n).max()) - 0.5) < 1e-6 for n in noises)

    def low_to_high(x):  # power below 500 Hz over power above 4 kHz
        p = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(x.size, 1 / 16000)
        return p[(f > 50) & (f < 500)].mean() / p[f > 4000].mean()

    white, pink, brown = (low_to_high(noises[i]) for i in range(3))
    assert 0.5 < white < 2 and pink > 5 * white and brown > 5 * pink
