"""Sayso in the desktop's application menu: a freedesktop ``.desktop`` entry and the application icon, per user.

``sayso --install-desktop`` (:func:`install`) writes, under the user's data folder
(:func:`engine.paths.user_data_home`, ``$XDG_DATA_HOME`` or ``~/.local/share``)::

    applications/sayso.desktop                   the menu entry (runs this installation's ``sayso``)
    icons/hicolor/<n>x<n>/apps/sayso.png         the icon, n in :data:`ICON_SIZES`
    icons/hicolor/scalable/apps/sayso.svg        and as SVG

and ``sayso --uninstall-desktop`` (:func:`uninstall`) removes exactly those files.
The window is grouped with the entry through :data:`DESKTOP_ID` (the entry's
name, Qt's ``desktopFileName``: the Wayland app id) and :data:`WM_CLASS` (the X11
window class, Qt's ``applicationName``; the entry's ``StartupWMClass``); the
studio sets both at start (``app/__main__.py``).

Imports no Qt (the launcher runs these without a display).
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from engine.atomic import atomic_write
from engine.paths import user_data_home
from engine.resources import APP_ICON, icon_path

__all__ = ["DESKTOP_ID", "ICON_SIZES", "WM_CLASS", "desktop_entry", "install", "installed_files", "launch_command",
           "uninstall"]

DESKTOP_ID = "sayso"
"""The entry's file name without ``.desktop``, and the window's desktop file name (Wayland app id)."""
WM_CLASS = "Sayso studio"
"""The studio's X11 window class: ``QApplication.applicationName`` (which also names the settings file,
:data:`app.settings.APPLICATION`), the entry's ``StartupWMClass``."""
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)
"""The PNG renderings of the application icon that ship (``resources/icons/sayso-<n>.png``), in pixels."""


def launch_command() -> list[str]:
    """The command that opens this installation's studio: the ``sayso`` script beside the running
    Python (a venv's or pipx's ``bin/``), else ``sayso`` on ``PATH``, else ``python -m app``."""
    beside = Path(sys.executable).parent / "sayso"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("sayso")
    return [found] if found else [sys.executable, "-m", "app"]


def _exec_quote(arg: str) -> str:
    """One argument of a desktop entry's ``Exec`` key (quoted per the Desktop Entry specification)."""
    if arg and not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`='):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return f'"{escaped}"'.replace("%", "%%")


def desktop_entry(command: list[str] | None = None) -> str:
    """The text of ``sayso.desktop`` that runs ``command`` (default :func:`launch_command`)."""
    command = command or launch_command()
    exec_line = " ".join(_exec_quote(a) for a in command)
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",
        "Name=Sayso studio",
        "GenericName=Speech recognition studio",
        "Comment=Record, label and transcribe speech; train your own recognizer",
        f"Exec={exec_line}",
        f"TryExec={_exec_quote(command[0])}",
        f"Icon={APP_ICON}",
        "Terminal=false",
        "Categories=AudioVideo;Audio;",
        "Keywords=speech;recognition;transcription;dictation;whisper;",
        "StartupNotify=true",
        f"StartupWMClass={WM_CLASS}",
        "",
    ])


def installed_files(data_home: Path | None = None) -> list[Path]:
    """The files :func:`install` writes under ``data_home`` (default :func:`engine.paths.user_data_home`):
    the entry first, then the icons."""
    home = Path(data_home) if data_home is not None else user_data_home()
    icons = home / "icons" / "hicolor"
    return [home / "applications" / f"{DESKTOP_ID}.desktop",
            *(icons / f"{n}x{n}" / "apps" / f"{APP_ICON}.png" for n in ICON_SIZES),
            icons / "scalable" / "apps" / f"{APP_ICON}.svg"]


def install(data_home: Path | None = None, command: list[str] | None = None) -> list[Path]:
    """Write the menu entry and icons (replacing earlier ones); returns the files written.

    Raises:
        FileNotFoundError: a bundled icon is missing (a broken installation).
        OSError: a folder cannot be written.
    """
    entry, *icons = installed_files(data_home)
    sources = [icon_path(APP_ICON, n) for n in ICON_SIZES] + [icon_path(APP_ICON)]
    for src, dest in zip(sources, icons, strict=True):
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(src, "rb") as fh, atomic_write(dest, "wb") as out:
            shutil.copyfileobj(fh, out)
    entry.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(entry) as out:
        out.write(desktop_entry(command))
    return [entry, *icons]


def uninstall(data_home: Path | None = None) -> list[Path]:
    """Remove the files :func:`install` writes (the folders stay); returns those that were there."""
    removed = []
    for path in installed_files(data_home):
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed
