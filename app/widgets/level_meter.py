"""A horizontal input level meter in dBFS with peak hold and a clip indicator."""
from __future__ import annotations

import math
import time

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget

FLOOR_DB = -60.0
"""The meter's left edge in dBFS."""
WARN_DB = -12.0
HOT_DB = -3.0
PEAK_HOLD_S = 1.5
CLIP_HOLD_S = 2.0


class LevelMeter(QWidget):
    """Shows a level in dBFS (−60 … 0) as a green/yellow/red bar.

    :meth:`set_level` takes the recorder's peak dBFS of the last ~50 ms and
    whether it clipped; the CLIP lamp stays lit for :data:`CLIP_HOLD_S`
    seconds after the last clip (click the meter to reset it). Disabled (no
    input device), it is drawn greyed out and reads "no input".
    """

    TOOLTIP = "Input level (dBFS); CLIP lights when samples reach full scale"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.level_db = -math.inf
        self.peak_db = -math.inf
        self._peak_time = 0.0
        self._clip_time = -math.inf
        self.setMinimumSize(180, 22)
        self.setToolTip(self.TOOLTIP)

    def sizeHint(self) -> QSize:
        return QSize(240, 24)

    @property
    def clipping(self) -> bool:
        """True while the clip indicator is lit."""
        return time.monotonic() - self._clip_time < CLIP_HOLD_S

    def set_level(self, dbfs: float, clipped: bool = False) -> None:
        """Update with a peak level in dBFS (``-inf`` for silence) and the clip flag."""
        now = time.monotonic()
        self.level_db = dbfs if math.isfinite(dbfs) else -math.inf
        if self.level_db >= self.peak_db or now - self._peak_time > PEAK_HOLD_S:
            self.peak_db, self._peak_time = self.level_db, now
        if clipped:
            self._clip_time = now
        self.update()

    def reset(self) -> None:
        self.level_db = self.peak_db = -math.inf
        self._clip_time = -math.inf
        self.update()

    def mousePressEvent(self, event) -> None:
        self._clip_time = -math.inf
        self.update()

    @staticmethod
    def fraction(dbfs: float) -> float:
        """Position of ``dbfs`` on the meter in [0, 1]."""
        if not math.isfinite(dbfs):
            return 0.0
        return min(1.0, max(0.0, (dbfs - FLOOR_DB) / -FLOOR_DB))

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        lamp_w, text_w = 40, 70
        bar = QRectF(0, 3, max(10, self.width() - lamp_w - text_w - 8), self.height() - 6)
        if not self.isEnabled():  # no input device: an empty, greyed-out meter, not a black bar
            p.fillRect(bar, self.palette().window().color().darker(112))
            p.setPen(self.palette().color(self.palette().ColorGroup.Disabled, self.palette().ColorRole.WindowText))
            p.drawText(QRectF(bar.right() + 4, 0, text_w, self.height()), Qt.AlignmentFlag.AlignVCenter, "no input")
            lamp = QRectF(self.width() - lamp_w, 3, lamp_w, self.height() - 6)
            p.drawRect(lamp.adjusted(0, 0, -1, -1))
            p.drawText(lamp, Qt.AlignmentFlag.AlignCenter, "CLIP")
            p.end()
            return
        p.fillRect(bar, QColor(30, 30, 30))
        level = self.fraction(self.level_db)
        for lo, hi, colour in ((FLOOR_DB, WARN_DB, QColor(60, 200, 90)), (WARN_DB, HOT_DB, QColor(230, 200, 40)),
                               (HOT_DB, 0.0, QColor(230, 60, 50))):
            a, b = self.fraction(lo), min(self.fraction(hi), level)
            if b > a:
                p.fillRect(QRectF(bar.x() + a * bar.width(), bar.y(), (b - a) * bar.width(), bar.height()), colour)
        if math.isfinite(self.peak_db):
            x = bar.x() + self.fraction(self.peak_db) * bar.width()
            p.fillRect(QRectF(x - 1, bar.y(), 2, bar.height()), QColor(240, 240, 240))
        p.setPen(QColor(90, 90, 90))
        for db in (-48, -36, -24, -12, -6, -3):
            x = bar.x() + self.fraction(db) * bar.width()
            p.drawLine(int(x), int(bar.bottom()) - 3, int(x), int(bar.bottom()))
        text = f"{self.level_db:5.1f} dBFS" if math.isfinite(self.level_db) else "  −∞ dBFS"
        p.setPen(self.palette().windowText().color())
        p.drawText(QRectF(bar.right() + 4, 0, text_w, self.height()), Qt.AlignmentFlag.AlignVCenter, text)
        lamp = QRectF(self.width() - lamp_w, 3, lamp_w, self.height() - 6)
        lit = self.clipping
        p.fillRect(lamp, QColor(220, 30, 30) if lit else QColor(70, 30, 30))
        p.setPen(QColor(255, 255, 255) if lit else QColor(140, 100, 100))
        p.drawText(lamp, Qt.AlignmentFlag.AlignCenter, "CLIP")
        p.end()
