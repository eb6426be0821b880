"""The engine is headless: no module under ``engine/`` imports Qt, pyqtgraph or the app."""
from __future__ import annotations

import ast
import os
import subprocess
import sys

from tests.helpers import ROOT

FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "app")


def imported_roots(path) -> set[str]:
    """Top-level package names a module imports anywhere (also inside functions)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_engine_module_imports_qt_or_the_app():
    offenders = {str(p.relative_to(ROOT)): sorted(imported_roots(p) & set(FORBIDDEN))
                 for p in sorted((ROOT / "engine").rglob("*.py"))}
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, offenders
    assert len(list((ROOT / "engine").rglob("*.py"))) > 50  # the walk did see the engine


def test_importing_every_engine_module_loads_no_qt():
    code = ("import importlib, pkgutil, sys, engine\n"
            "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
            "    importlib.import_module(m.name)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'PySide6', 'shiboken6', 'pyqtgraph', 'app'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_whisper_transcription_through_the_cli_never_imports_torch(tmp_path):
    """torch alone is 540 MB resident: the Whisper family (CTranslate2) must not pay for it."""
    code = ("import sys\nfrom engine.cli import main\n"
            f"rc = main(['transcribe', '--model', 'whisper-tiny.en', '{ROOT / 'resources/samples/sc_yes_03401e93.wav'}'])\n"
            "print(rc, 'torch' in sys.modules)")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "0 False", out.stdout
    assert "yes" in out.stdout
