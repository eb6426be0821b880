"""The Embedding map & search page end to end: a real project, the bundled model in a worker process."""
from __future__ import annotations

import pytest

from app.insight.embedding_page import EmbeddingPage
from app.recognizer_bridge import RecognizerBridge
from engine.data.store import Project
from tests.engine.insight.embedding_support import SC_WORDS, real_project


@pytest.fixture
def project(tmp_path):
    p = real_project(tmp_path / "proj", per_word=4, fsdd=3)
    yield p
    p.close()


@pytest.fixture
def page(qtbot, model_path):
    EmbeddingPage.threads = 1
    p = EmbeddingPage()
    qtbot.addWidget(p)
    p.resize(1100, 700)
    p.set_recognizer(RecognizerBridge(model_path, parent=p))  # its model; the page runs its own embedding worker
    yield p
    p.shutdown()


def open_map(qtbot, page, project):
    page.set_project(project)
    page.show()
    qtbot.waitUntil(lambda: page.result is not None, timeout=60_000)
    return page.result


def test_showing_the_page_maps_the_project_and_typing_finds_recordings(qtbot, page, project):
    result = open_map(qtbot, page, project)
    n = project.count()
    assert len(result.embeddings.ids) == n and len(page.map.scatter.data) == n
    assert sorted(result.embeddings.texts) == sorted(SC_WORDS)
    assert f"{n} utterances" in page.status.text()

    qtbot.keyClicks(page.panel.query, "seven")
    qtbot.waitUntil(lambda: len(page.panel.results) > 0, timeout=10_000)
    top = [page.panel.result_table.item(r, 0).text() for r in range(7)]
    assert top == ["seven"] * 7  # 4 Speech Commands + 3 FSDD speakers' takes

    uid = int(result.embeddings.ids[page.panel.results[0]])
    row = project.utterance(uid)
    with qtbot.waitSignal(page.play_requested) as played, qtbot.waitSignal(page.utterance_picked) as picked:
        page.panel.result_table.selectRow(0)
    assert picked.args == [uid]  # the Dataset table follows the map
    audio, start, end = played.args
    assert abs(len(audio) - 16000 * (row.end - row.start)) <= 16 and start == 0.0
    assert page.map.selected == page.panel.results[0] and page.open_button.isEnabled()
    assert page.panel.nearest_table.item(0, 0).text().startswith("seven")
    with qtbot.waitSignal(page.utterance_selected) as selected:
        page.open_button.click()
    assert selected.args == [uid]


def test_colour_by_and_projection_persist_and_the_second_run_is_cached(qtbot, page, project, model_path):
    open_map(qtbot, page, project)
    legend = lambda: [label.text for _, label in page.map.legend.items]  # noqa: E731
    assert set(legend()) == set(SC_WORDS)
    page.colour_by.setCurrentIndex(page.colour_by.findData("split"))
    assert legend() == ["train", "dev", "test"]
    page.colour_by.setCurrentIndex(page.colour_by.findData("speaker"))
    speakers = {u.speaker for u in project.fetch(limit=1000)}
    assert set(legend()) == speakers

    pca = page.result
    page.method.setCurrentIndex(page.method.findData("tsne"))  # a new run: cached embeddings, a t-SNE projection
    qtbot.waitUntil(lambda: page.result is not pca, timeout=60_000)
    assert page.result.method == "tsne" and page.result.embeddings.computed == 0
    assert "0 new embeddings" in page.status.text()

    again = EmbeddingPage()
    qtbot.addWidget(again)
    assert again.colour_by.currentData() == "speaker" and again.method.currentData() == "tsne"


def test_cancel_keeps_the_page_usable(qtbot, page, project):
    page.set_project(project)
    page.show()
    qtbot.waitUntil(lambda: page.cancel_button.isEnabled(), timeout=5000)
    with qtbot.waitSignal(page.message, timeout=30_000) as msg:
        page.cancel()
    assert "cancelled" in msg.args[0]
    assert page.refresh_button.isEnabled() and not page.progress.isVisible()
    page.refresh()
    qtbot.waitUntil(lambda: page.result is not None, timeout=60_000)


def test_clear_messages_without_project_model_or_utterances(qtbot, tmp_path, model_path):
    p = EmbeddingPage()
    qtbot.addWidget(p)
    p.show()
    assert "Open a project" in p.status.text()
    empty = Project.create(tmp_path / "empty")
    p.set_project(empty)
    assert "No model" in p.status.text()
    p.set_recognizer(RecognizerBridge(model_path, parent=p))
    assert "no utterances yet" in p.status.text()
    p.shutdown()
    empty.close()


def test_the_model_is_hashed_in_the_worker_never_on_the_gui_thread(qtbot, page, project, model_path, monkeypatch):
    """A multi-GB Whisper model's SHA-256 takes seconds: the worker process (spawned, so the patch
    below does not reach it) names the cache, the GUI only hands it the project folder."""
    from engine.insight import embedding

    real_hash = embedding.model_hash(model_path)

    def on_gui_thread(*_a, **_k):
        raise AssertionError("a model's weights hashed in the studio's process")

    monkeypatch.setattr(embedding, "_file_digest", on_gui_thread)  # model_hash reads weights through it
    result = open_map(qtbot, page, project)
    assert len(result.embeddings.ids) == project.count()
    assert embedding.cache_file(project.folder, real_hash).is_file()  # the cache the worker wrote
