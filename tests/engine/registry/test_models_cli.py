"""``python -m engine.registry.cli``: list, register, use, show, compare, export and remove, as a user runs them."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from engine.data.manifest import write_manifest
from engine.registry.cli import main
from engine.registry.index import BUILTIN_ID, ModelRegistry, RegistryError
from engine.train.checkpoint import load_checkpoint
from tests.engine.registry.model_helpers import BUILTINS
from tests.engine.train.broken_checkpoints import BROKEN, broken_checkpoint
from tests.helpers import ROOT


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_register_use_list_show_remove(tmp_path, checkpoint, capsys):
    root = tmp_path / "reg"
    code, out, err = run(capsys, "--root", root, "register", checkpoint, "--name", "Mine", "--parent", BUILTIN_ID,
                         "--copy", "--use", "--notes", "hello")
    assert code == 0, err
    new_id = out.strip()
    assert ModelRegistry(root).active().id == new_id

    code, out, _ = run(capsys, "--root", root, "list")
    assert code == 0 and f" * {new_id}" in out and f"   {BUILTIN_ID}" in out and "5.30M" in out
    code, out, _ = run(capsys, "--root", root, "list", "--json")
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [*BUILTINS, new_id] and rows[-1]["active"] and rows[-1]["available"]
    code, out, _ = run(capsys, "--root", root, "show", new_id)
    assert code == 0 and "Mine" in out and "parameters=5297744" in out and "hello" in out

    code, out, _ = run(capsys, "--root", root, "use", BUILTIN_ID)
    assert code == 0 and ModelRegistry(root).active().id == BUILTIN_ID
    code, out, _ = run(capsys, "--root", root, "remove", new_id)
    assert code == 0 and f"removed {new_id}" in out and not (root / new_id).exists()


def test_errors_are_one_line(tmp_path, capsys):
    root = tmp_path / "reg"
    for args, msg in [(("use", "ghost"), "No model 'ghost'"), (("remove", BUILTIN_ID), "cannot be removed"),
                      (("register", tmp_path, "--name", "x"), "not a Sayso checkpoint"),
                      (("show", "ghost"), "No model 'ghost'")]:
        code, out, err = run(capsys, "--root", root, *args)
        assert code == 2 and err.startswith("sayso models: error: ") and msg in err and "Traceback" not in err
        assert err.count("\n") == 1


@pytest.mark.slow
def test_compare_and_export(tmp_path, checkpoint, test_utterances, capsys):
    root = tmp_path / "reg"
    manifest = write_manifest(tmp_path / "test.jsonl", test_utterances[:2])
    code, out, err = run(capsys, "--root", root, "register", checkpoint, "--name", "copy")
    new_id = out.strip()
    code, out, err = run(capsys, "--root", root, "compare", BUILTIN_ID, new_id, manifest, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ties"] == 2 and report["a"]["wer"] == report["b"]["wer"] and report["set"].startswith("test-")
    assert report["set"] in ModelRegistry(root).get(new_id).metrics

    code, out, err = run(capsys, "--root", root, "export", new_id, tmp_path / "out", "--torchscript",
                         tmp_path / "m.pt")
    assert code == 0, err
    assert "max abs diff of CTC log-probs vs PyTorch: 0" in out
    assert load_checkpoint(tmp_path / "out")[2]["registry"]["id"] == new_id
    assert report["set"] in (tmp_path / "out" / "MODEL_CARD.md").read_text()


def test_runs_as_a_module(tmp_path):
    out = subprocess.run([sys.executable, "-m", "engine.registry.cli", "--root", str(tmp_path), "list"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert BUILTIN_ID in out.stdout


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_register_refuses_invalid_checkpoints(tmp_path, capsys, case):
    """``sayso models register`` refuses each broken checkpoint of issue 14 item 5 (before: registered, or a
    traceback) with the message loading gives (:func:`engine.checkpoint_layout.validate_config`), also
    without the weights check."""
    folder = broken_checkpoint(case, tmp_path)
    code, out, err = run(capsys, "--root", tmp_path / "reg", "register", folder, "--name", "x")
    assert code == 2 and err.startswith("sayso models: error: ") and BROKEN[case][1] in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    reg = ModelRegistry(tmp_path / "reg")
    with pytest.raises(RegistryError, match="^" + re.escape(str(folder))):
        reg.register(folder, "x", check=False)
    assert [e.id for e in reg.list()] == BUILTINS
