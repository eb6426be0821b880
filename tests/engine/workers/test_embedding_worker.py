"""The embedding worker process: map runs with progress and cache, text queries, cancel, bad model, crash."""
from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from engine.insight.embedding import project_items
from engine.workers.embedding import EmbeddingWorker, EmbedFailure, EmbedProgress, MapResult, TextResult
from tests.engine.insight.embedding_support import SC_WORDS, real_project


@pytest.fixture
def project(tmp_path):
    p = real_project(tmp_path / "proj", per_word=4, fsdd=2)
    yield p
    p.close()


@pytest.fixture
def worker(model_path):
    w = EmbeddingWorker(model_path, threads=1, cancel_timeout=5.0)
    yield w
    w.close()


def collect(worker, rid, timeout=120.0):
    events = []
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        a = worker.poll(timeout=0.05)
        if a is None:
            continue
        events.append(a)
        if not isinstance(a, EmbedProgress) and a.request_id == rid:
            return events
    raise TimeoutError


def test_map_reports_progress_caches_and_search_text(worker, project, model_path):
    items = project_items(project)
    path = project.folder
    events = collect(worker, worker.map(items, path, "tsne"))
    result = events[-1]
    assert isinstance(result, MapResult), getattr(result, "message", result)
    stages = [e.stage for e in events if isinstance(e, EmbedProgress)]
    assert stages[0] == "audio" and "text" in stages and stages[-1] == "projection"
    done = [(e.done, e.total) for e in events if isinstance(e, EmbedProgress) and e.stage == "audio"]
    assert done[-1] == (len(items), len(items))
    emb = result.embeddings
    assert emb.ids.tolist() == [it.utterance_id for it in items]
    assert result.audio_xy.shape == (len(items), 2) and result.text_xy.shape == (len(SC_WORDS), 2)
    assert emb.computed == len(items) + len(SC_WORDS) and not result.projection_cached

    again = worker.wait(worker.map(items, path, "tsne"))
    assert again.embeddings.computed == 0 and again.embeddings.cached == len(items) + len(SC_WORDS)
    assert again.projection_cached and np.array_equal(again.audio_xy, result.audio_xy)
    assert np.array_equal(again.embeddings.audio, emb.audio)

    answer = worker.wait(worker.texts(["left"]))
    assert isinstance(answer, TextResult)
    best = np.argsort(-(emb.audio @ answer.embeddings[0]))[:4]
    assert [items[i].utterance.text for i in best] == ["left"] * 4


def test_cancel_stops_the_run_and_keeps_the_work(worker, project, model_path):
    items = project_items(project)
    path = project.folder
    rid = worker.map(items, path, "pca")
    while True:  # wait for the first utterances, then cancel
        e = worker.poll(timeout=0.05)
        if isinstance(e, EmbedProgress) and e.stage == "audio" and e.done >= 2:
            break
    assert worker.cancel(rid)
    events = collect(worker, rid)
    assert isinstance(events[-1], EmbedFailure) and events[-1].kind == "cancelled"
    assert worker.is_alive()  # cooperative: the process stays for the next request
    rest = worker.wait(worker.map(items, path, "pca"))
    assert isinstance(rest, MapResult) and rest.embeddings.cached >= 2


def test_a_text_query_is_answered_during_a_map_run(worker, project, model_path):
    items = project_items(project) * 3  # a longer run
    rid = worker.map(items, project.folder, "pca")
    tid = worker.texts(["yes"])
    order = [a.request_id for a in collect(worker, rid) if not isinstance(a, EmbedProgress)]
    assert order == [tid, rid]


def test_a_bad_model_is_a_clear_failure(tmp_path, project):
    with EmbeddingWorker(tmp_path / "no-model", threads=1) as w:
        answer = w.wait(w.texts(["yes"]), timeout=60)
    assert isinstance(answer, EmbedFailure) and answer.kind == "checkpoint"
    assert "no-model" in answer.message


def test_a_killed_worker_fails_its_request_and_restarts(worker, project, model_path):
    assert isinstance(worker.wait(worker.texts(["yes"]), timeout=60), TextResult)
    rid = worker.map(project_items(project), project.folder, "pca")
    os.kill(worker.pid, signal.SIGKILL)
    answer = worker.wait(rid, timeout=30)
    assert isinstance(answer, EmbedFailure) and answer.kind == "crashed" and "SIGKILL" in answer.message
    assert isinstance(worker.wait(worker.texts(["no"]), timeout=60), TextResult)


@pytest.mark.slow
def test_a_whisper_model_maps_audio_only_and_refuses_text_in_one_line(project, tiny_folder):
    from engine.workers.embedding import NO_TEXT_SPACE

    items = project_items(project)
    worker = EmbeddingWorker(tiny_folder, threads=1)
    try:
        result = worker.wait(worker.map(items, project.folder, "pca"), 300)
        assert isinstance(result, MapResult), getattr(result, "message", result)
        assert result.audio_xy.shape == (len(items), 2) and result.text_xy.shape == (0, 2)
        assert not result.embeddings.text_space and result.embeddings.audio.shape == (len(items), 384)
        answer = worker.wait(worker.texts(["left"]))
        assert isinstance(answer, EmbedFailure) and answer.kind == "no_text_space"
        assert answer.message == NO_TEXT_SPACE.format(name=tiny_folder.name) and "\n" not in answer.message
    finally:
        worker.close()
