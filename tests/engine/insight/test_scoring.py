"""Audio–text scores of the bundled model on real clips: right transcripts score above wrong ones."""
from __future__ import annotations

import numpy as np
import pytest

from engine.audio.io import load_audio
from engine.decode.recognizer import SaysoRecognizer
from engine.insight.scoring import mislabel_scores, rank_percentile, score_pairs
from tests.helpers import SAMPLES

CLIPS = {"sc_yes_03401e93.wav": "yes", "sc_left_03401e93.wav": "left", "sc_down_0f250098.wav": "down",
         "sc_stop_18f8afd5.wav": "stop", "sc_go_0f250098.wav": "go", "sc_right_03401e93.wav": "right"}


@pytest.fixture(scope="module")
def recognizer(model_path):
    return SaysoRecognizer.from_checkpoint(model_path)


def test_right_transcripts_beat_swapped_ones(recognizer):
    audios = [load_audio(SAMPLES / n) for n in CLIPS]
    right = score_pairs(recognizer, audios, list(CLIPS.values()))
    wrong = score_pairs(recognizer, audios, list(CLIPS.values())[1:] + list(CLIPS.values())[:1])
    assert np.all(right.ctc_per_token > wrong.ctc_per_token)
    assert np.mean(right.similarity > wrong.similarity) >= 5 / 6
    assert right.audio.shape == (6, recognizer.model.cfg.embed_dim)
    np.testing.assert_allclose(np.linalg.norm(right.audio, axis=1), 1.0, atol=1e-5)
    again = score_pairs(recognizer, audios, list(CLIPS.values()))
    np.testing.assert_array_equal(again.audio, right.audio)  # deterministic for a fixed model


def test_mislabel_score_puts_one_swapped_pair_first(recognizer):
    audios = [load_audio(SAMPLES / n) for n in CLIPS]
    texts = list(CLIPS.values())
    texts[2] = "yes"  # "down" labeled as "yes"
    scores = score_pairs(recognizer, audios, texts).mislabel
    assert int(np.argmax(scores)) == 2 and 0.0 <= scores.min() and scores.max() <= 1.0


def test_rank_percentile_and_errors(recognizer):
    np.testing.assert_allclose(rank_percentile(np.array([3.0, 1.0, 2.0])), [1.0, 0.0, 0.5])
    assert mislabel_scores(np.array([0.9, 0.1]), np.array([-0.1, -3.0])).tolist() == [0.0, 1.0]
    with pytest.raises(ValueError):
        score_pairs(recognizer, [np.zeros(16000, np.float32)], [])
