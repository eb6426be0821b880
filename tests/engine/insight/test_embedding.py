"""Project embeddings and their cache, on real Speech Commands and FSDD clips with the bundled model."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from engine.data.utterance import Utterance
from engine.decode.recognizer import SaysoRecognizer
from engine.insight.embedding import (
    EmbeddingCache,
    EmbedItem,
    audio_key,
    cache_file,
    embed_items,
    embed_texts,
    model_hash,
    project_items,
)
from tests.engine.insight.embedding_support import SC_WORDS, real_project


@pytest.fixture(scope="module")
def recognizer(model_path):
    return SaysoRecognizer.from_checkpoint(model_path)


@pytest.fixture
def project(tmp_path):
    p = real_project(tmp_path / "proj", per_word=3, fsdd=2)
    yield p
    p.close()


def test_embeddings_are_normalized_deterministic_and_cached(project, recognizer, model_path):
    model = model_hash(model_path)
    items = project_items(project)
    path = cache_file(project.folder, model)
    first = embed_items(recognizer, items, EmbeddingCache.load(path, model))
    assert first.audio.shape == (len(items), 128) and first.computed == len(items) + len(SC_WORDS)
    np.testing.assert_allclose(np.linalg.norm(first.audio, axis=1), 1.0, atol=1e-5)
    assert first.texts == sorted(SC_WORDS)
    assert [first.texts[k] for k in first.text_index] == [it.utterance.text for it in items]
    assert path.is_file()

    again = embed_items(recognizer, items, EmbeddingCache.load(path, model))  # from the file
    assert again.computed == 0 and again.cached == len(items) + len(SC_WORDS)
    assert np.array_equal(again.audio, first.audio) and np.array_equal(again.text, first.text)

    fresh = embed_items(SaysoRecognizer.from_checkpoint(model_path), items, EmbeddingCache(path, model))  # no cache
    assert np.array_equal(fresh.audio, first.audio), "the same model must give identical embeddings"
    assert np.array_equal(fresh.text, first.text)


def test_an_edited_boundary_is_embedded_again_and_only_it(project, recognizer, model_path):
    model = model_hash(model_path)
    path = cache_file(project.folder, model)
    items = project_items(project)
    before = embed_items(recognizer, items, EmbeddingCache.load(path, model))
    project.update_utterance(items[0].utterance_id, start=0.2)
    after = embed_items(recognizer, project_items(project), EmbeddingCache.load(path, model))
    assert after.computed == 1 and after.cached == len(items) - 1 + len(SC_WORDS)
    assert not np.allclose(after.audio[0], before.audio[0])
    assert np.array_equal(after.audio[1:], before.audio[1:])


def test_the_cache_belongs_to_one_model(project, recognizer, model_path, tmp_path):
    model = model_hash(model_path)
    path = cache_file(project.folder, model)
    embed_items(recognizer, project_items(project), EmbeddingCache.load(path, model))
    other = tmp_path / "other-model"
    shutil.copytree(model_path, other)
    (other / "config.json").write_text((other / "config.json").read_text() + "\n")
    assert model_hash(other) != model
    assert EmbeddingCache.load(path, model_hash(other)).audio == {}  # another model never reads these rows
    assert len(EmbeddingCache.load(path, model).audio) == len(project_items(project))


def test_a_damaged_cache_is_a_miss_not_an_error(project, recognizer, model_path):
    model = model_hash(model_path)
    path = cache_file(project.folder, model)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a zip file")
    cache = EmbeddingCache.load(path, model)
    assert cache.audio == {} and cache.text == {}
    emb = embed_items(recognizer, project_items(project)[:2], cache)
    assert emb.computed == 2 + 1 and EmbeddingCache.load(path, model).audio  # rewritten


def test_unreadable_audio_is_listed_and_the_rest_embedded(project, recognizer, model_path, tmp_path):
    model = model_hash(model_path)
    items = project_items(project)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEfmt garbage")
    items[1] = EmbedItem(items[1].utterance_id, Utterance(broken, "yes", 0.0, 1.0), "f" * 64)
    emb = embed_items(recognizer, items, EmbeddingCache(cache_file(project.folder, model), model))
    assert [uid for uid, _ in emb.failed] == [items[1].utterance_id]
    assert "broken.wav" in emb.failed[0][1]
    assert len(emb.ids) == len(items) - 1 and items[1].utterance_id not in emb.ids


def test_stop_keeps_what_was_done(project, recognizer, model_path):
    model = model_hash(model_path)
    path = cache_file(project.folder, model)
    seen = []
    with pytest.raises(InterruptedError):
        embed_items(recognizer, project_items(project), EmbeddingCache.load(path, model),
                    progress=lambda s, d, t: seen.append((s, d, t)), should_stop=lambda: len(seen) > 3)
    assert len(EmbeddingCache.load(path, model).audio) == 3


def test_typed_text_is_normalized_like_transcripts(recognizer):
    a = embed_texts(recognizer, ["Seven!", "seven", "7"])
    assert a.shape == (3, 128)
    assert np.array_equal(a[0], a[1]) and np.array_equal(a[1], a[2])
    assert audio_key("ab", 0.1234, 1.0) == "ab:123:1000"
