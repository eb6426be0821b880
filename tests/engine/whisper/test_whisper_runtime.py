"""The base install without the extra ``sayso[whisper]``: Sayso works with its bundled model, the registry
lists no Whisper model, and every way to ask for one answers with one line naming the extra.

The test environment has the extra installed, so each scenario runs in a subprocess (``python -c``)
whose first lines make faster-whisper and CTranslate2 unimportable with a ``sys.modules[name] = None``
shim (what Python does for a module that is not installed: ``find_spec`` finds nothing, ``import`` raises
``ImportError``). Everything after the shim is the real code on real audio and a real Whisper folder.
"""
from __future__ import annotations

import os
import subprocess
import sys

from engine.whisper.runtime import RUNTIME_MODULES, WHISPER_EXTRA, whisper_missing
from tests.engine.registry.model_helpers import BUNDLED
from tests.helpers import ROOT, SAMPLES

SHIM = "import sys\nfor _m in " + repr(tuple(RUNTIME_MODULES)) + ":\n    sys.modules[_m] = None\n"


def run_without_whisper(code: str, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "HF_HUB_CACHE": str(tmp_path / "hf"),
           "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", SHIM + code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_test_environment_has_the_extra():
    assert whisper_missing() is None


def test_the_cli_transcribes_with_the_bundled_model_and_lists_no_whisper_model(tmp_path):
    sample = SAMPLES / "sc_yes_03401e93.wav"
    out = run_without_whisper(
        "from engine.cli import main\n"
        f"rc1 = main(['transcribe', {str(sample)!r}])\n"
        "rc2 = main(['models', 'list'])\n"
        "print('rc', rc1, rc2, 'faster_whisper' in sys.modules and sys.modules['faster_whisper'] is not None)\n",
        tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0] == "yes"
    assert lines[-1] == "rc 0 0 False"
    listed = [line.split()[1] for line in lines[2:] if line.startswith(("   ", " * ")) and "sayso" in line]
    assert listed == BUNDLED and "whisper" not in "\n".join(lines[1:-2])
    assert f"(no Whisper models: {WHISPER_EXTRA} adds them)" in lines
    assert "Traceback" not in out.stderr


def test_asking_for_a_whisper_model_is_one_line_naming_the_extra(tmp_path, tiny_folder):
    sample = str(SAMPLES / "sc_yes_03401e93.wav")
    out = run_without_whisper(
        "from engine.cli import main\n"
        f"print('rc', main(['transcribe', '--model', 'whisper-tiny.en', {sample!r}]), flush=True)\n"
        f"print('rc', main(['transcribe', '--model', {str(tiny_folder)!r}, {sample!r}]), flush=True)\n"
        "print('rc', main(['models', 'import', " + repr(str(tiny_folder)) + "]), flush=True)\n"
        "print('rc', main(['models', 'pull', 'whisper-small']), flush=True)\n",
        tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["rc", "2"] * 4
    errors = out.stderr.splitlines()
    assert len(errors) == 4 and "Traceback" not in out.stderr, out.stderr
    assert all(WHISPER_EXTRA in line for line in errors), errors
    assert errors[0].startswith("sayso: error: whisper-tiny.en comes with the Whisper extra.")
    assert errors[1].startswith("sayso: error: ") and f"{tiny_folder} is a Whisper model." in errors[1]
    assert errors[3].startswith("sayso models: error: Cannot pull whisper-small.")


def test_the_registry_defaults_to_the_bundled_model_and_hides_registered_whisper_models(tmp_path, tiny_folder):
    """A Whisper model registered while the extra was installed is not listed once it is gone."""
    from engine.registry.index import ModelRegistry

    root = tmp_path / "data" / "sayso" / "models"
    ModelRegistry(root).import_model(tiny_folder, name="my-whisper")  # with the extra (this process)
    out = run_without_whisper(
        "from engine.registry.index import ModelRegistry, RegistryError\n"
        f"reg = ModelRegistry({str(root)!r})\n"
        "print([e.id for e in reg.list()], reg.default().id, reg.teacher(prepare=False).id, reg.general())\n"
        "try:\n    reg.get('my-whisper')\nexcept RegistryError as exc:\n    print(exc)\n",
        tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    listing, error = out.stdout.splitlines()
    assert listing == f"{BUNDLED} sayso-base sayso-base None"
    assert error.startswith("Model 'my-whisper' is a Whisper model.") and WHISPER_EXTRA in error
