"""The user's folders (engine.paths) and the bundled resources (engine.resources): one owner each."""
from __future__ import annotations

import subprocess
import sys

from engine import paths, resources
from engine.checkpoint_layout import is_checkpoint
from tests.helpers import ROOT


def test_user_folders_follow_the_platform_and_its_environment(monkeypatch, tmp_path):
    assert paths.models_dir().name == "models" and paths.takes_dir().name == "takes"
    assert paths.models_dir().parent == paths.takes_dir().parent == paths.data_dir()
    assert paths.data_dir().name == paths.cache_dir().name == paths.APP_NAME
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        assert paths.models_dir() == tmp_path / "data" / "sayso" / "models"
        assert paths.takes_dir() == tmp_path / "data" / "sayso" / "takes"
        assert paths.cache_dir() == tmp_path / "cache" / "sayso"
    assert not (tmp_path / "data").exists()  # asking creates nothing


def test_bundled_resources_are_where_the_resources_module_says():
    assert is_checkpoint(resources.BUNDLED_MODEL)
    assert resources.sample_path("sc_yes_03401e93.wav").is_file()
    assert (resources.SAMPLES / "README.md").is_file()  # the clips' attribution
    for name in ("record", "open", "save", "play", "stop", "transcribe"):
        assert resources.icon_path(name).is_file(), name
    assert (resources.EXAMPLES / "job.toml").is_file()


def test_folder_modules_import_neither_torch_nor_qt():
    code = ("import sys, engine.paths, engine.resources, engine.checkpoint_layout, engine.decode.protocol, "
            "engine.decode.families; print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
