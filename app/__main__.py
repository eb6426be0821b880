"""``python -m app`` (or ``sayso`` without arguments): open Sayso studio.

Options:
    --model PATH   checkpoint folder (default: $SAYSO_MODEL, else the bundled base model)

Hidden options for demos, screenshots and tests:
    --open FILE    open an audio file on start
    --vocabulary FILE  load a vocabulary file and use it
    --transcribe   then press Transcribe
    --quit-after SECONDS  close the window after SECONDS (with --transcribe: as soon as the transcript
                   is shown), first printing what it showed (:func:`report`)

The application identifies itself to the desktop (:mod:`app.desktop`): the X11
window class and Qt application name, the desktop file name (Wayland app id)
and the application icon, so the window groups with ``sayso --install-desktop``'s
menu entry.
"""
from __future__ import annotations

# Keep the top level light: the recognition worker is a spawn process that
# re-imports this module as ``__mp_main__``.
import argparse
import signal
import sys


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sayso", description="Sayso studio: record, look at and transcribe speech.")
    parser.add_argument("--model", metavar="PATH", help="checkpoint folder (default: $SAYSO_MODEL or the bundled model)")
    parser.add_argument("--open", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--vocabulary", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--transcribe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--quit-after", type=float, metavar="SECONDS", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def application_icon():
    """The application icon (:data:`engine.resources.APP_ICON`): its SVG and every PNG size, as a ``QIcon``."""
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QIcon

    from app.desktop import ICON_SIZES
    from engine.resources import APP_ICON, icon_path

    icon = QIcon()
    for n in ICON_SIZES:
        icon.addFile(str(icon_path(APP_ICON, n)), QSize(n, n))
    icon.addFile(str(icon_path(APP_ICON)))  # other sizes from the SVG
    return icon


def report(window) -> str:
    """What the window shows, one ``key: value`` per line (for ``--quit-after``): its title, whether it is
    visible, the application icon's sizes, the model in use (registry name and folder, or why there is none)
    and the transcript (``-`` if none)."""
    from PySide6.QtWidgets import QApplication

    entry = window.active_model.entry
    sizes = sorted({s.width() for s in QApplication.windowIcon().availableSizes()})
    recognition = window.recognition
    return "\n".join([
        f"window: {window.windowTitle()}",
        f"visible: {window.isVisible()}",
        f"icon sizes: {' '.join(map(str, sizes)) or '-'}",
        f"model: {entry.name if entry is not None else '-'}",
        f"model folder: {window.active_model.path}",
        f"model problem: {window.model_error or '-'}",
        f"transcript: {recognition.text if recognition is not None else '-'}",
    ])


def display_problem(environ: dict | None = None) -> str | None:
    """Why no window can open (no X11/Wayland display and no Qt platform chosen), or ``None``."""
    import os

    env = os.environ if environ is None else environ
    if sys.platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("QT_QPA_PLATFORM")):
        return ("no display to open the studio on. Run it from a desktop session, or on a headless "
                "machine with `xvfb-run -a make run`; the headless commands (`sayso transcribe`, "
                "`sayso eval`, `sayso train`) need no display.")
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the studio until its window closes; returns the exit status."""
    from app.desktop import DESKTOP_ID

    args = parse_args(sys.argv[1:] if argv is None else argv)
    qt_args = [DESKTOP_ID]  # argv[0] names the X11 window's instance (WM_CLASS "sayso", "Sayso studio")
    problem = display_problem()
    if problem:
        print(f"sayso: error: {problem}", file=sys.stderr)
        return 2

    import torch
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.active_model import resolve_model_path
    from app.desktop import WM_CLASS
    from app.main_window import TITLE, MainWindow
    from app.settings import ORGANIZATION, StudioSettings
    from engine.version import version

    torch.set_num_threads(1)  # the GUI only computes display features; recognition has its own process
    app = QApplication.instance() or QApplication(qt_args)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(WM_CLASS)  # also the X11 window class, and (app.settings) the settings file's name
    app.setApplicationDisplayName(TITLE)
    app.setApplicationVersion(version())
    app.setDesktopFileName(DESKTOP_ID)
    app.setWindowIcon(application_icon())

    first_start = StudioSettings().first_start  # before the window stores anything
    window = MainWindow(resolve_model_path(args.model), preload_model=True, first_run=first_start)
    window.show()
    # Ctrl+C / SIGTERM close the window properly (settings saved, worker stopped).
    # Python runs signal handlers only between bytecodes, so a timer wakes it.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: window.close())
    wake = QTimer()
    wake.start(250)
    wake.timeout.connect(lambda: None)

    def start() -> None:
        if args.vocabulary:
            window.panel.load_vocabulary(args.vocabulary, use=True)
        if args.open and window.open_file(args.open) and args.transcribe:
            window.transcribe()

    QTimer.singleShot(0, start)
    if args.quit_after is not None:
        _quit_after(window, args.quit_after, wait_for_transcript=args.transcribe)
    return app.exec()


def _quit_after(window, seconds: float, wait_for_transcript: bool) -> None:
    """Print :func:`report` and close ``window`` after ``seconds``, or once a transcript is shown."""
    import time

    from PySide6.QtCore import QTimer

    deadline = time.monotonic() + seconds
    poll = QTimer(window)

    def check() -> None:
        if time.monotonic() < deadline and not (wait_for_transcript and window.recognition is not None):
            return
        poll.stop()
        print(report(window), flush=True)
        window.close()

    poll.timeout.connect(check)
    poll.start(100)


if __name__ == "__main__":
    sys.exit(main())
