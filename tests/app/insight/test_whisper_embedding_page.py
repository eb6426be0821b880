"""The Embedding map & search page with a Whisper model: real whisper-tiny.en in the embedding worker on a real
project (its encoder states, audio only; search by text is off and says why)."""
from __future__ import annotations

import pytest

from app.insight.embedding_page import EmbeddingPage
from app.insight.search_panel import NO_TEXT_SEARCH
from app.recognizer_bridge import RecognizerBridge
from engine.whisper.sources import assemble, installed_packaged
from tests.engine.insight.embedding_support import real_project

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif("whisper-tiny.en" not in installed_packaged(), reason="offline whisper-tiny.en not installed"),
]


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return assemble("whisper-tiny.en", tmp_path_factory.mktemp("whisper-models"))


def test_the_map_shows_whispers_encoder_states_and_nearest_recordings(qtbot, tiny_folder, tmp_path):
    project = real_project(tmp_path / "proj", per_word=4, fsdd=3)
    EmbeddingPage.threads = 1
    page = EmbeddingPage()
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.set_recognizer(RecognizerBridge(tiny_folder, threads=1, name="whisper-tiny.en", parent=page))
    try:
        page.set_project(project)
        page.show()
        qtbot.waitUntil(lambda: page.result is not None, timeout=300_000)
        emb = page.result.embeddings
        n = project.count()
        assert len(emb.ids) == n and len(page.map.scatter.data) == n and not emb.text_space
        assert "encoder states" in page.status.text() and "no search by text" in page.status.text()
        panel = page.panel
        assert not panel.query.isEnabled() and panel.query.placeholderText() == NO_TEXT_SEARCH
        assert not page.lines.isEnabled()
        assert panel.result_table.isHidden() and panel.phrases.isHidden()  # text queries only

        # a picked take lists the takes that sound most alike to Whisper: another "left" first
        left = next(i for i, uid in enumerate(emb.ids) if project.utterance(int(uid)).text == "left")
        page.choose(left)
        assert panel.nearest_table.horizontalHeaderItem(0).text().startswith("Nearest recordings")
        assert panel.nearest_table.rowCount() == 8
        assert panel.nearest_table.item(0, 0).text().startswith("left · ")
    finally:
        page.shutdown()
        project.close()
