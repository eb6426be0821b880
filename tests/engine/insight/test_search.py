"""Cross-modal ranking on real embeddings: typed words find their recordings; zero-shot commands."""
from __future__ import annotations

import numpy as np
import pytest

from engine.decode.recognizer import SaysoRecognizer
from engine.insight.embedding import embed_texts
from engine.insight.search import classify, rank
from tests.engine.insight.embedding_support import SC_WORDS, real_embeddings


@pytest.fixture(scope="module")
def data(tmp_path_factory, model_path):
    project, items, emb = real_embeddings(tmp_path_factory.mktemp("proj"))
    project.close()
    return items, emb, SaysoRecognizer.from_checkpoint(model_path)


def test_typing_seven_lists_the_seven_recordings_first(data):
    items, emb, rec = data
    query = embed_texts(rec, ["Seven"])[0]
    sevens = sum(it.utterance.text == "seven" for it in items)  # 6 Speech Commands + 4 FSDD speakers' takes
    top = rank(query, emb.audio, sevens)
    assert [items[i].utterance.text for i in top.indices] == ["seven"] * sevens
    assert np.all(np.diff(top.scores) <= 0)


@pytest.mark.parametrize("word", SC_WORDS)
def test_each_word_finds_mostly_its_recordings(data, word):
    items, emb, rec = data
    top = rank(embed_texts(rec, [word])[0], emb.audio, 5)
    assert sum(items[i].utterance.text == word for i in top.indices) >= 4


def test_rank_matches_a_full_sort_and_handles_k(data):
    _, emb, _ = data
    q = emb.text[0]
    full = rank(q, emb.audio)
    np.testing.assert_array_equal(full.indices, np.argsort(-(emb.audio @ q), kind="stable"))
    np.testing.assert_array_equal(rank(q, emb.audio, 7).indices, full.indices[:7])
    assert len(rank(q, emb.audio, 0)) == 0 and len(rank(q, emb.audio, 10**6)) == len(emb.audio)
    with pytest.raises(ValueError, match="cannot rank"):
        rank(q[:10], emb.audio)


def test_zero_shot_commands_beat_chance_by_far(data):
    items, emb, rec = data
    phrases = list(SC_WORDS)
    pe = embed_texts(rec, phrases)
    right = [classify(emb.audio[i], pe, phrases)[0][0] == items[i].utterance.text for i in range(len(items))]
    assert np.mean(right) >= 0.8  # chance: 0.25
    with pytest.raises(ValueError, match="phrases"):
        classify(emb.audio[0], pe[:2], phrases)
