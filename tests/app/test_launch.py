"""How `sayso` starts: the studio needs a display; headless commands never load Qt."""
import subprocess
import sys

from app.__main__ import display_problem
from tests.helpers import ROOT


def test_no_display_gives_a_clear_message():
    msg = display_problem({})
    assert msg and "xvfb-run" in msg and "sayso transcribe" in msg
    assert display_problem({"DISPLAY": ":0"}) is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}) is None


def test_headless_commands_do_not_import_qt():
    code = ("import sys, engine.cli, engine.decode.recognizer, engine.train.trainer, engine.audio.capture, app.launcher; "
            "assert 'PySide6' not in sys.modules and 'pyqtgraph' not in sys.modules, 'Qt imported'")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([sys.executable, "-m", "app.launcher", "transcribe", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "--vocabulary" in out.stdout
