"""The pinned PySide6 must not leak references to True/None (PySide6 6.12.0 on Python 3.11 did).

PySide6-Essentials 6.12.0 dropped one reference to ``True`` on every
``Signal.emit()`` and one to ``None`` on many void calls (``QPainter.setPen``,
paint overrides). A recording studio emits hundreds of signals a second, so
CPython aborted (``Fatal Python error: bool_dealloc``) within about a minute
of live recording. This runs the leaky pattern 200,000 times in a child
process: with a leaking PySide6 it aborts or the counts fall.
"""
import subprocess
import sys

from tests.helpers import ROOT

LOOP = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPainter, QPen
from PySide6.QtWidgets import QApplication
app = QApplication([])
class Emitter(QObject):
    ping = Signal()
    level = Signal(float, bool)
e = Emitter()
e.level.connect(lambda db, clipped: None)
image = QImage(8, 8, QImage.Format.Format_ARGB32)
painter = QPainter(image)
pen = QPen()
t0, n0 = sys.getrefcount(True), sys.getrefcount(None)
for _ in range(200_000):
    e.ping.emit()
    e.level.emit(-6.0, True)
    painter.setPen(pen)
painter.end()
print(sys.getrefcount(True) - t0, sys.getrefcount(None) - n0)
"""


def test_signals_and_painting_keep_references():
    done = subprocess.run([sys.executable, "-c", LOOP], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    d_true, d_none = map(int, done.stdout.split())
    assert d_true > -1000 and d_none > -1000, (d_true, d_none)  # a leak would lose 200,000 or more
