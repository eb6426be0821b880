"""The model registry index: persistence, lineage, the built-in entry, fingerprints and corrupt-index recovery."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from engine.data.manifest import write_manifest
from engine.data.utterance import Utterance
from engine.registry.index import (
    BUILTIN_ID,
    INDEX_NAME,
    ModelRegistry,
    RegistryError,
    fingerprint,
    test_set_name,
)
from engine.resources import BUNDLED_MODEL
from tests.engine.registry.model_helpers import BUILTINS, BUNDLED, copy_checkpoint
from tests.helpers import ROOT, SAMPLES

PARAMS = 5_297_744  # the bundled model's parameter count (MODEL_CARD: 5.30M)


def test_register_list_get_and_active_persist_across_instances(tmp_path, checkpoint):
    root = tmp_path / "reg"
    reg = ModelRegistry(root, packaged=())  # no Whisper package: the bundled model is the default
    assert [e.id for e in reg.list()] == BUNDLED and reg.active().id == BUILTIN_ID
    reg = ModelRegistry(root)
    assert [e.id for e in reg.list()] == BUILTINS
    a = reg.register(checkpoint, "My voice", parent=BUILTIN_ID, notes="first try")
    b = reg.register(checkpoint, "My voice v2", parent=a.id, copy=True,
                     metrics={"dev": {"wer": 0.1, "cer": 0.05, "utterances": 20}})
    reg.set_active(b.id)

    again = ModelRegistry(root)  # a new instance reads everything back from disk
    assert [e.id for e in again.list()] == [*BUILTINS, a.id, b.id]
    got = again.get(a.id)
    assert got.name == "My voice" and got.path == checkpoint and not got.stored and got.notes == "first try"
    assert got.parent_id == BUILTIN_ID and got.parent_path == str(BUNDLED_MODEL)
    assert got.config["parameters"] == PARAMS and got.config["d_model"] == 144
    assert got.config["bytes"] == (checkpoint / "model.safetensors").stat().st_size
    assert got.created[:4].isdigit() and "T" in got.created
    assert got.metrics["fsdd-heldout (open)"]["wer"] == 0.382  # the checkpoint's own figures come along
    v2 = again.get(b.id)
    assert v2.stored and v2.path == root / b.id and (root / b.id / "model.safetensors").is_file()
    assert v2.parent_id == a.id and v2.parent_path == str(checkpoint)
    assert v2.metrics["dev"] == {"wer": 0.1, "cer": 0.05, "utterances": 20}
    assert again.active().id == b.id
    assert json.loads((root / INDEX_NAME).read_text())["active"] == b.id
    assert a.id.startswith("my-voice-") and b.id.startswith("my-voice-v2-")

    # a copied entry survives its run folder being deleted; a linked one reports it
    shutil.rmtree(checkpoint.parent)
    assert again.get(b.id).available and not again.get(a.id).available
    with pytest.raises(RegistryError, match="checkpoint folder .* is missing"):
        again.set_active(a.id)

    updated = again.update(b.id, name="Mine", notes="better")
    assert ModelRegistry(root).get(b.id).name == "Mine" and updated.notes == "better"


def test_builtin_entry_is_listed_and_read_only(tmp_path):
    reg = ModelRegistry(tmp_path / "reg")
    base = reg.list()[0]
    assert base.id == BUILTIN_ID and base.builtin and base.read_only and base.path == BUNDLED_MODEL
    assert base.available and base.config["parameters"] == PARAMS and base.train_utterances == 7403
    assert base.metrics["sc-commands-heldout (open)"]["utterances"] == 648
    with pytest.raises(RegistryError, match="bundled model and cannot be removed"):
        reg.remove(BUILTIN_ID)
    with pytest.raises(RegistryError, match="cannot be renamed"):
        reg.update(BUILTIN_ID, name="mine")
    reg.update(BUILTIN_ID, metrics={"my-set": {"wer": 0.5, "cer": 0.25, "utterances": 4}})
    assert ModelRegistry(tmp_path / "reg").get(BUILTIN_ID).metrics["my-set"]["wer"] == 0.5
    assert not (BUNDLED_MODEL / "entry.json").exists()  # the bundled folder is never written


def test_a_model_shipped_beside_the_base_one_is_listed_read_only_and_usable(tmp_path):
    shipped = tmp_path / "models"
    base, second = copy_checkpoint(shipped / "base"), copy_checkpoint(shipped / "base-v2")
    config = json.loads((second / "config.json").read_text())
    config["meta"].update(name="sayso-base v2", good_at="Short sentences of digits, letters and commands.",
                          parent="sayso-base")
    (second / "config.json").write_text(json.dumps(config))
    reg = ModelRegistry(tmp_path / "reg", bundled=base, beside=[second])

    ids = [e.id for e in reg.list()]
    assert ids[:2] == [BUILTIN_ID, "sayso-base-v2"] and ids.count("sayso-base-v2") == 1
    entry = reg.get("sayso-base-v2")
    assert entry.builtin and entry.read_only and entry.path == second and entry.name == "sayso-base v2"
    assert entry.notes == "Short sentences of digits, letters and commands."
    assert entry.parent_id == BUILTIN_ID  # its config names the model the recipe continued from
    assert entry.config["parameters"] == PARAMS
    with pytest.raises(RegistryError, match="sayso-base-v2 is a bundled model and cannot be removed"):
        reg.remove("sayso-base-v2")
    with pytest.raises(RegistryError, match="already in the registry"):
        reg.register(copy_checkpoint(tmp_path / "mine"), "mine", model_id="sayso-base-v2")
    reg.set_active("sayso-base-v2")
    again = ModelRegistry(tmp_path / "reg", bundled=base, beside=[second])
    assert again.active().id == "sayso-base-v2"
    assert again.recognizer().transcribe_file(SAMPLES / "sc_yes_03401e93.wav").text == "yes"
    assert not (second / "entry.json").exists()  # a bundled folder is never written
    # the default registry lists what ships in resources/models (the test's own copies are not there)
    assert [e.id for e in ModelRegistry(tmp_path / "default").list()][:len(BUILTINS)] == BUILTINS


def test_remove(tmp_path, checkpoint):
    reg = ModelRegistry(tmp_path / "reg")
    linked = reg.register(checkpoint, "linked")
    stored = reg.register(checkpoint, "stored", copy=True)
    reg.set_active(stored.id)
    reg.remove(stored.id)
    assert not (reg.root / stored.id).exists()  # the registry's own copy goes
    assert reg.active().id == reg.default().id == "whisper-base"  # the active model fell back to the default
    reg.remove(linked.id)
    assert (checkpoint / "model.safetensors").is_file()  # a checkpoint registered in place stays
    assert not (reg.root / linked.id).exists()
    assert [e.id for e in ModelRegistry(reg.root).list()] == BUILTINS
    with pytest.raises(RegistryError, match=r"No model 'nope' in the registry .*known: sayso-base"):
        reg.remove("nope")


def test_clear_errors(tmp_path, checkpoint):
    reg = ModelRegistry(tmp_path / "reg")
    with pytest.raises(RegistryError, match=r"No model 'ghost' .*known: sayso-base"):
        reg.get("ghost")
    with pytest.raises(RegistryError, match="not a Sayso checkpoint"):
        reg.register(tmp_path, "empty folder")
    with pytest.raises(RegistryError, match="needs a name"):
        reg.register(checkpoint, "  ")
    with pytest.raises(RegistryError, match="No model 'ghost'"):
        reg.register(checkpoint, "x", parent="ghost")
    with pytest.raises(RegistryError, match="metrics"):
        reg.register(checkpoint, "x", metrics={"dev": 0.3})
    bad = copy_checkpoint(tmp_path / "bad")
    (bad / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(RegistryError, match="unreadable checkpoint"):
        reg.register(bad, "broken weights")
    shutil.copy2(BUNDLED_MODEL / "model.safetensors", bad / "model.safetensors")
    cfg = json.loads((bad / "config.json").read_text())
    cfg["model"]["d_model"] = 96
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(RegistryError, match="do not match the config"):
        reg.register(bad, "wrong config")
    assert [e.id for e in reg.list()] == BUILTINS  # nothing half-registered


def test_parent_by_path_resolves_to_a_registered_id(tmp_path, checkpoint):
    reg = ModelRegistry(tmp_path / "reg")
    first = reg.register(checkpoint, "first")
    child = reg.register(checkpoint, "child", parent=checkpoint)
    assert child.parent_id == first.id
    orphan = reg.register(checkpoint, "orphan", parent=BUNDLED_MODEL)
    assert orphan.parent_id == BUILTIN_ID
    other = copy_checkpoint(tmp_path / "elsewhere")
    c2 = reg.register(checkpoint, "c2", parent=other)
    assert c2.parent_id is None and c2.parent_path == str(other)
    assert reg.resolve(first.id).id == first.id and reg.resolve(BUNDLED_MODEL).id == BUILTIN_ID
    assert reg.resolve(other).path == other  # an unregistered checkpoint folder, as a transient entry


# ---------------------------------------------------------------------------- fingerprints

def _utts(tmp_path) -> list[Utterance]:
    files = []
    for name in ("sc_yes_03401e93.wav", "sc_no_03401e93.wav", "sc_up_03401e93.wav"):
        shutil.copy2(SAMPLES / name, tmp_path / name)
        files.append(tmp_path / name)
    return [Utterance(files[0], "yes", 0.0, 1.0), Utterance(files[1], "no", 0.0, 1.0),
            Utterance(files[2], "up", 0.25, 0.75)]


def test_fingerprint_ignores_order_and_follows_transcripts_and_audio(tmp_path):
    utts = _utts(tmp_path)
    fp = fingerprint(utts)
    assert len(fp) == 64 and fp == fingerprint(list(reversed(utts)))
    assert fp == fingerprint([replace(u, speaker="someone else") for u in utts])
    assert fp == fingerprint([replace(utts[0], text="YES!")] + utts[1:])  # same normalized text
    assert fp != fingerprint([replace(utts[0], text="yeah")] + utts[1:])  # transcript changed
    assert fp != fingerprint(utts[:2] + [Utterance(utts[2].audio_path, "up", 0.3, 0.8)])  # offset
    assert fp != fingerprint(utts[:2] + [Utterance(utts[2].audio_path, "up", 0.25, 0.85)])  # duration
    assert fp != fingerprint(utts + [utts[0]])  # a duplicate counts

    # the same recordings elsewhere: the same content fingerprint; the path modes see the move
    moved = tmp_path / "moved"
    moved.mkdir()
    moved_utts = [replace(u, audio_path=moved / u.audio_path.name) for u in utts]
    for u in utts:
        shutil.copy2(u.audio_path, moved / u.audio_path.name)
    assert fingerprint(moved_utts) == fp
    assert fingerprint(moved_utts, audio="path") != fingerprint(utts, audio="path")

    # a file re-recorded (content changed, same size): content and stat modes change, path mode does not
    by_path, by_stat = fingerprint(utts, audio="path"), fingerprint(utts, audio="stat")
    data = bytearray(utts[1].audio_path.read_bytes())
    data[-100:] = bytes(100)
    utts[1].audio_path.write_bytes(bytes(data))
    os.utime(utts[1].audio_path, ns=(1, 1_000_000_000))
    assert fingerprint(utts) != fp
    assert fingerprint(utts, audio="stat") != by_stat
    assert fingerprint(utts, audio="path") == by_path

    manifest = write_manifest(tmp_path / "m.jsonl", utts)
    assert fingerprint(manifest) == fingerprint(utts)  # a manifest path works too
    assert test_set_name(fp) == f"test-{fp[:12]}"


def test_fingerprint_errors(tmp_path):
    with pytest.raises(RegistryError, match="Cannot fingerprint .*gone.wav"):
        fingerprint([Utterance(tmp_path / "gone.wav", "yes")])
    with pytest.raises(RegistryError, match="audio must be"):
        fingerprint([], audio="mtime")
    assert fingerprint([]) == fingerprint([])


def test_register_fingerprints_training_data(tmp_path, checkpoint):
    utts = _utts(tmp_path)
    manifest = write_manifest(tmp_path / "train.jsonl", utts)
    reg = ModelRegistry(tmp_path / "reg")
    e = reg.register(checkpoint, "fp", train_data=manifest)
    assert e.data_fingerprint == fingerprint(utts) and e.train_utterances == 3
    assert ModelRegistry(reg.root).get(e.id).data_fingerprint == e.data_fingerprint


# ---------------------------------------------------------------------------- faults

@pytest.mark.parametrize("garbage", [b'{"version": 1, "models": [', b"\x00\xff garbage", b'["a list"]',
                                     b'{"version": 1, "active": "x", "models": [{"id": "Bad Id!"}]}'])
def test_corrupt_index_is_kept_aside_and_rebuilt(tmp_path, checkpoint, garbage, caplog):
    root = tmp_path / "reg"
    reg = ModelRegistry(root)
    linked = reg.register(checkpoint, "linked", parent=BUILTIN_ID, metrics={"dev": {"wer": 0.2}})
    stored = reg.register(checkpoint, "stored", copy=True)
    reg.set_active(stored.id)
    (root / INDEX_NAME).write_bytes(garbage)

    fresh = ModelRegistry(root)
    entries = {e.id: e for e in fresh.list()}  # never crashes
    assert set(entries) == {*BUILTINS, linked.id, stored.id}
    assert entries[linked.id].path == checkpoint and entries[linked.id].parent_id == BUILTIN_ID
    assert entries[linked.id].metrics["dev"] == {"wer": 0.2}
    assert entries[stored.id].path == root / stored.id and entries[stored.id].stored
    assert fresh.active().id == fresh.default().id  # the active choice lived in the lost index
    aside = list(root.glob(f"{INDEX_NAME}.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == garbage and fresh.recovered == aside[0]
    assert "corrupt" in caplog.text
    json.loads((root / INDEX_NAME).read_text())  # the rebuilt index is on disk
    fresh.set_active(linked.id)
    assert ModelRegistry(root).active().id == linked.id


def test_rebuild_uses_bare_checkpoint_folders_and_skips_junk(tmp_path, checkpoint):
    root = tmp_path / "reg"
    reg = ModelRegistry(root)
    stored = reg.register(checkpoint, "stored", copy=True)
    (root / stored.id / "entry.json").write_text("{broken")  # its own record is lost too
    (root / "junk").mkdir()
    (root / "junk" / "notes.txt").write_text("not a model")
    (root / INDEX_NAME).write_text("not json")
    entries = {e.id: e for e in ModelRegistry(root).list()}
    assert set(entries) == {*BUILTINS, stored.id}
    assert entries[stored.id].config["parameters"] == PARAMS and entries[stored.id].stored


def test_a_deleted_index_is_rebuilt_from_the_folders(tmp_path, checkpoint):
    root = tmp_path / "reg"
    reg = ModelRegistry(root)
    linked = reg.register(checkpoint, "linked", notes="kept")
    stored = reg.register(checkpoint, "stored", copy=True)
    (root / INDEX_NAME).unlink()
    fresh = ModelRegistry(root)
    assert [e.id for e in fresh.list()] == [*BUILTINS, linked.id, stored.id]
    assert fresh.get(linked.id).notes == "kept" and fresh.get(linked.id).path == checkpoint
    fresh.remove(linked.id)
    assert [e.id for e in ModelRegistry(root).list()] == [*BUILTINS, stored.id]


def test_missing_registry_folder_and_unwritable_root(tmp_path, checkpoint):
    reg = ModelRegistry(tmp_path / "does" / "not" / "exist")
    assert [e.id for e in reg.list()] == BUILTINS  # reading never creates anything
    assert not (tmp_path / "does").exists()
    blocker = tmp_path / "file"
    blocker.write_text("a file where the registry folder should be")
    with pytest.raises(RegistryError, match="Cannot write to the registry"):
        ModelRegistry(blocker / "reg").register(checkpoint, "x")


def test_listing_needs_neither_torch_nor_qt(tmp_path):
    code = ("import sys; from engine.registry import ModelRegistry; r = ModelRegistry(sys.argv[1]); r.list(); "
            "r.active(); print('torch' in sys.modules, 'PySide6' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.slow
def test_two_processes_registering_at_once_lose_nothing(tmp_path, checkpoint):
    root = tmp_path / "reg"
    code = ("import sys; from engine.registry import ModelRegistry; r = ModelRegistry(sys.argv[1]); "
            "[r.register(sys.argv[2], f'{sys.argv[3]}-{i}') for i in range(4)]")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(root), str(checkpoint), tag], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for tag in ("a", "b")]
    for p in procs:
        assert p.wait(timeout=240) == 0, p.stderr.read()
    names = sorted(e.name for e in ModelRegistry(root).list() if not e.builtin)
    assert names == [f"{t}-{i}" for t in "ab" for i in range(4)]
    assert not list(root.glob(f"{INDEX_NAME}.corrupt-*"))


def test_a_registration_killed_while_writing_its_entry_is_removed_whole_by_the_next_change(tmp_path, checkpoint):
    # what a kill -9 inside register() leaves after the copy: the stand-in entry.json, a half-written
    # real one beside it, and an index that never listed the model
    reg = ModelRegistry(tmp_path / "models")
    reg.register(checkpoint, "kept", copy=True, model_id="kept")
    cut = tmp_path / "models" / "cut"
    shutil.copytree(tmp_path / "models" / "kept", cut)
    (cut / "entry.json").write_text(json.dumps({"id": "cut", "stored": True, "registering": True}))
    (cut / ".entry.json.x1y2.tmp").write_text('{"id": "cut", "na')
    hour_ago = time.time() - 3600
    for p in (cut / ".entry.json.x1y2.tmp", cut):
        os.utime(p, (hour_ago, hour_ago))
    # the temp file and its folder both go in one pass (deleting the file must not make the folder look new)
    assert sorted(reg.remove_orphans(min_age_s=600)) == ["cut", "cut/.entry.json.x1y2.tmp"]
    assert not cut.exists() and [e.id for e in reg.list() if not e.read_only] == ["kept"]
