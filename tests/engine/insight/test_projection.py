"""PCA and t-SNE maps of real utterance embeddings (bundled model, Speech Commands + FSDD)."""
from __future__ import annotations

import numpy as np
import pytest

from engine.insight.projection import pca_2d, project, tsne_2d
from tests.engine.insight.embedding_support import real_embeddings


@pytest.fixture(scope="module")
def emb(tmp_path_factory):
    project, items, emb = real_embeddings(tmp_path_factory.mktemp("proj"))
    project.close()
    return emb


def same_word_neighbour_rate(xy: np.ndarray, labels: np.ndarray) -> float:
    d = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    return float(np.mean(labels[np.argmin(d, axis=1)] == labels))


def test_pca_is_deterministic_and_keeps_words_apart(emb):
    points = np.concatenate([emb.audio, emb.text])
    xy = pca_2d(points)
    assert xy.shape == (len(points), 2) and xy.dtype == np.float32
    assert np.array_equal(xy, pca_2d(points))
    labels = emb.text_index
    assert same_word_neighbour_rate(xy[: len(labels)], labels) > 0.5  # chance: about 0.25 (4 words)


def test_tsne_reports_progress_is_reproducible_and_clusters_words(emb):
    seen = []
    xy = tsne_2d(emb.audio, perplexity=5, iterations=300, progress=lambda d, t: seen.append((d, t)))
    assert xy.shape == (len(emb.audio), 2)
    assert seen[0] == (0, 300) and seen[-1] == (300, 300) and len(seen) >= 4
    assert np.array_equal(xy, tsne_2d(emb.audio, perplexity=5, iterations=300))
    assert same_word_neighbour_rate(xy, emb.text_index) > 0.6


def test_tsne_stops_when_asked(emb):
    with pytest.raises(InterruptedError):
        tsne_2d(emb.audio, perplexity=5, iterations=300, should_stop=lambda: True)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="NaN"):
        pca_2d(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="unknown projection"):
        project(np.zeros((3, 2)), "umap")
    assert np.array_equal(pca_2d(np.ones((1, 4))), np.zeros((1, 2)))
