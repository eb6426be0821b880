"""Pulling a real Whisper folder from a model hub served on 127.0.0.1 (tests/engine/whisper/hub_server.py)."""
from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from engine.whisper.download import DownloadCancelled, DownloadError, pull
from engine.whisper.folder import check_folder, sha256_file
from engine.whisper.sources import PACKAGED
from tests.engine.whisper.hub_server import HubServer

REPO = "Systran/faster-whisper-tiny.en"
TINY = PACKAGED["whisper-tiny.en"]


def test_pull_resumes_an_interrupted_transfer_and_checks_the_sum(tiny_folder: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    with HubServer({REPO: tiny_folder}) as hub:
        hub.cut_after = 10_000_000  # the connection drops after 10 MB of model.bin
        with pytest.raises(DownloadError, match="pull again to resume"):
            pull("whisper-tiny.en", tmp_path, base_url=hub.url)
        part = tmp_path / ".whisper-tiny.en.download" / "model.bin.part"
        assert part.stat().st_size == 10_000_000
        dest = pull("whisper-tiny.en", tmp_path, base_url=hub.url, progress=lambda d, t: seen.append((d, t)))
        assert hub.ranges == ["bytes=10000000-"]
    assert dest == tmp_path / "whisper-tiny.en"
    assert sha256_file(dest / "model.bin") == TINY.sha256
    assert check_folder(dest).vocabulary_size == 51864
    assert "model hub Systran/faster-whisper-tiny.en" in (dest / "MODEL_CARD.md").read_text()
    assert not (tmp_path / ".whisper-tiny.en.download").exists()
    done, total = seen[-1]
    assert done == total > TINY.bytes  # model.bin plus config, tokenizer, vocabulary
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))


def test_checksum_mismatch_deletes_the_file_and_says_so(tiny_folder: Path, tmp_path: Path) -> None:
    with HubServer({REPO: tiny_folder}) as hub:
        hub.wrong_sha = True
        with pytest.raises(DownloadError, match=f"model.bin has SHA-256 {TINY.sha256}, expected 0{{64}}"):
            pull("whisper-tiny.en", tmp_path, base_url=hub.url)
    assert not (tmp_path / ".whisper-tiny.en.download" / "model.bin.part").exists()
    assert not (tmp_path / "whisper-tiny.en").exists()


def test_a_pinned_checksum_is_checked_too(tiny_folder: Path, tmp_path: Path) -> None:
    with HubServer({REPO: tiny_folder}) as hub:
        with pytest.raises(DownloadError, match="expected " + "f" * 64):
            pull("whisper-tiny.en", tmp_path, base_url=hub.url, sha256={"model.bin": "f" * 64})


def test_cancel_keeps_the_part_file_for_a_resume(tiny_folder: Path, tmp_path: Path) -> None:
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done > 5_000_000:
            cancel.set()

    with HubServer({REPO: tiny_folder}) as hub:
        with pytest.raises(DownloadCancelled):
            pull("whisper-tiny.en", tmp_path, base_url=hub.url, progress=progress, cancel=cancel)
        kept = (tmp_path / ".whisper-tiny.en.download" / "model.bin.part").stat().st_size
        assert 0 < kept < TINY.bytes
        pull("whisper-tiny.en", tmp_path, base_url=hub.url)
        assert hub.ranges == [f"bytes={kept}-"]
    assert sha256_file(tmp_path / "whisper-tiny.en" / "model.bin") == TINY.sha256


def test_server_down_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError) as err:
        pull("whisper-small", tmp_path, base_url=f"http://127.0.0.1:{port}")
    message = str(err.value)
    assert message.startswith(f"Cannot reach 127.0.0.1:{port}") and "no network?" in message
    assert "\n" not in message


def test_unknown_repository_and_model(tiny_folder: Path, tmp_path: Path) -> None:
    with HubServer({REPO: tiny_folder}) as hub:
        with pytest.raises(DownloadError, match="has no config.json"):
            pull("whisper-medium", tmp_path, base_url=hub.url)
    with pytest.raises(DownloadError, match="not a known model"):
        pull("whisper-huge", tmp_path)
