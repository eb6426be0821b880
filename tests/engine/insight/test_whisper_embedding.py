"""Whisper on the embedding map: real whisper-tiny.en encoder states of real Speech Commands and FSDD clips
(Whisper has no text side: audio only)."""
from __future__ import annotations

import numpy as np
import pytest

from engine.insight.embedding import (
    EmbeddingCache,
    cache_file,
    embed_items,
    embed_texts,
    has_text_space,
    model_hash,
    project_items,
)
from engine.whisper.recognizer import WhisperRecognizer
from tests.engine.insight.embedding_support import real_project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def whisper(tiny_folder):
    return WhisperRecognizer.from_checkpoint(tiny_folder, threads=2)


def test_whispers_pooled_encoder_states_place_the_same_word_together(whisper, tiny_folder, model_path, tmp_path):
    project = real_project(tmp_path / "proj", per_word=4, fsdd=2)
    try:
        items = project_items(project)
        model = model_hash(tiny_folder)
        assert model != model_hash(model_path)  # a Whisper model.bin keys its own cache
        path = cache_file(project.folder, model)
        emb = embed_items(whisper, items, EmbeddingCache.load(path, model))
        assert not has_text_space(whisper) and not emb.text_space
        assert emb.audio.shape == (len(items), 384) and emb.texts == [] and emb.text.shape[0] == 0
        assert (emb.text_index == -1).all() and emb.computed == len(items)
        np.testing.assert_allclose(np.linalg.norm(emb.audio, axis=1), 1.0, atol=1e-5)
        # other people's takes of the same word are each take's nearest neighbour (18 takes, 4 words + FSDD)
        words = [it.utterance.text for it in items]
        similar = emb.audio @ emb.audio.T
        np.fill_diagonal(similar, -np.inf)
        nearest_same = np.mean([words[int(np.argmax(row))] == w for row, w in zip(similar, words)])
        assert nearest_same >= 0.75, nearest_same

        again = embed_items(whisper, items, EmbeddingCache.load(path, model))  # from the file
        assert again.computed == 0 and again.cached == len(items) and np.array_equal(again.audio, emb.audio)
    finally:
        project.close()
    with pytest.raises(ValueError, match="no text embeddings"):
        embed_texts(whisper, ["seven"])
