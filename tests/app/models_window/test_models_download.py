"""The Models window's Download…: a real Whisper folder pulled over HTTP from a hub on 127.0.0.1
(the model hub itself is unreachable here), with progress, cancel and resume, and one line offline."""
from __future__ import annotations

import socket

import pytest

from app.models_window.dialog import ModelsDialog
from app.training.job_queue import TrainingJobQueue
from engine.registry.index import ModelRegistry
from tests.engine.whisper.hub_server import HubServer

pytestmark = pytest.mark.slow  # moves a real 75 MB model over HTTP


@pytest.fixture
def dialog(qtbot):
    queue = TrainingJobQueue(cancel_timeout=10.0)
    d = ModelsDialog(queue, registry=ModelRegistry())
    qtbot.addWidget(d)
    yield d
    queue.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_download_shows_progress_cancels_resumes_and_lists_the_model(qtbot, dialog, monkeypatch):
    tiny = ModelRegistry().prepare("whisper-tiny.en").path  # a real CTranslate2 Whisper folder to serve
    assert "whisper-small" in dialog.downloadable() and "whisper-tiny.en" not in dialog.downloadable()
    with HubServer({"Systran/faster-whisper-small": tiny}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)  # the hub's mirror variable, as huggingface_hub reads it
        hub.seconds_per_mb = 0.05
        assert dialog.download("whisper-small")
        assert not dialog.download("whisper-base")  # one at a time
        qtbot.waitUntil(lambda: dialog.progress.value() > 100, timeout=60_000)  # the bar moves
        assert not dialog.cancel_download_button.isHidden() and not dialog.download_button.isEnabled()
        dialog.cancel_download_button.click()
        qtbot.waitUntil(lambda: dialog._download is None, timeout=30_000)
        assert "cancelled; Download it again to resume" in dialog.summary.text()
        assert "whisper-small" not in [e.id for e in ModelRegistry().list()]

        hub.seconds_per_mb = 0.0
        assert dialog.download("whisper-small")
        qtbot.waitUntil(lambda: dialog._download is None, timeout=120_000)
        assert any(r.startswith("bytes=") and r != "bytes=0-" for r in hub.ranges)  # resumed, not restarted
    assert dialog.summary.text().startswith("Downloaded whisper-small"), dialog.summary.text()
    entry = ModelRegistry().get("whisper-small")
    assert entry.family == "whisper" and entry.available and "model hub Systran/faster-whisper-small" in entry.source
    assert [e.id for e in dialog.selected()] == ["whisper-small"] and "whisper-small" not in dialog.downloadable()
    assert dialog.use_button.isEnabled()


def test_download_offline_says_so_in_one_line(qtbot, dialog, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens: as offline
    assert dialog.download("whisper-small")
    qtbot.waitUntil(lambda: dialog._download is None, timeout=60_000)
    text = dialog.summary.text()
    assert text.startswith("whisper-small was not downloaded: ") and "\n" not in text and "Traceback" not in text
    assert "127.0.0.1" in text and dialog.download_button.isEnabled()
