"""Render the application icon ``resources/icons/sayso.svg`` to the PNG sizes the desktop uses.

    .venv/bin/python scripts/app_icon.py

writes ``resources/icons/sayso-<size>.png`` for every size of :data:`SIZES` with Qt's SVG renderer
(square, transparent background). Run it after changing the SVG and commit the PNGs.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

from app.desktop import ICON_SIZES as SIZES  # noqa: E402
from engine.resources import APP_ICON, icon_path  # noqa: E402


def render(svg: Path, size: int, out: Path) -> None:
    """Write ``svg`` as a ``size`` × ``size`` ARGB PNG to ``out``."""
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(str(svg)).render(painter)
    painter.end()
    if not image.save(str(out)):
        raise OSError(f"cannot write {out}")


def main() -> None:
    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (QImage needs the application)
    for size in SIZES:
        out = icon_path(APP_ICON, size)
        render(icon_path(APP_ICON), size, out)
        print(out)


if __name__ == "__main__":
    main()
