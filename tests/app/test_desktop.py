"""`sayso --install-desktop` / `--uninstall-desktop`, `sayso --version` and the application icon."""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tomllib

from app.__main__ import application_icon
from app.desktop import DESKTOP_ID, ICON_SIZES, WM_CLASS, desktop_entry, installed_files
from app.settings import APPLICATION
from engine.resources import APP_ICON, icon_path
from tests.helpers import ROOT


def png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def sayso(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.launcher", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def test_the_icon_ships_as_svg_and_every_png_size():
    assert icon_path(APP_ICON).read_text().startswith("<svg")
    for n in ICON_SIZES:
        assert png_size(icon_path(APP_ICON, n)) == (n, n)


def test_install_desktop_writes_a_valid_entry_and_the_icons_and_uninstall_removes_them(tmp_path):
    validate = shutil.which("desktop-file-validate")
    assert validate, "desktop-file-validate is missing: scripts/system_deps.sh installs desktop-file-utils"
    env = {"XDG_DATA_HOME": str(tmp_path)}
    out = sayso("--install-desktop", env=env)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    files = installed_files(tmp_path)
    entry = tmp_path / "applications" / f"{DESKTOP_ID}.desktop"
    assert files[0] == entry and all(f.is_file() for f in files)
    assert str(entry) in out.stdout and "--uninstall-desktop" in out.stdout
    check = subprocess.run([validate, str(entry)], capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout + check.stderr == "", check.stdout + check.stderr
    keys = dict(line.split("=", 1) for line in entry.read_text().splitlines() if "=" in line)
    assert keys["Icon"] == APP_ICON and keys["StartupWMClass"] == WM_CLASS == APPLICATION
    assert os.access(keys["Exec"].strip('"'), os.X_OK)  # this installation's program
    for n in ICON_SIZES:
        assert png_size(tmp_path / "icons" / "hicolor" / f"{n}x{n}" / "apps" / f"{APP_ICON}.png") == (n, n)
    assert (tmp_path / "icons/hicolor/scalable/apps/sayso.svg").read_bytes() == icon_path(APP_ICON).read_bytes()

    out = sayso("--uninstall-desktop", env=env)
    assert out.returncode == 0 and out.stdout.count("removed ") == len(files)
    assert not any(f.exists() for f in files)
    assert "nothing to remove" in sayso("--uninstall-desktop", env=env).stdout
    assert sayso("--install-desktop", "extra", env=env).returncode == 2


def test_install_desktop_into_a_read_only_folder_is_one_line(tmp_path):
    (tmp_path / "applications").write_text("not a folder")
    out = sayso("--install-desktop", env={"XDG_DATA_HOME": str(tmp_path)})
    assert out.returncode == 2 and out.stderr.startswith("sayso: error: ") and len(out.stderr.splitlines()) == 1


def test_an_exec_path_with_spaces_is_quoted():
    assert 'Exec="/opt/my apps/bin/sayso"\n' in desktop_entry(["/opt/my apps/bin/sayso"])


def test_version_is_the_projects():
    with open(ROOT / "pyproject.toml", "rb") as fh:
        expected = tomllib.load(fh)["project"]["version"]
    out = sayso("--version")
    assert out.returncode == 0 and out.stdout == f"sayso {expected}\n"


def test_the_application_icon_has_every_size(qapp):
    icon = application_icon()
    assert sorted({s.width() for s in icon.availableSizes()}) == list(ICON_SIZES)
