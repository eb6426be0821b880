"""``python -m app`` (or ``sayso`` without arguments): open Sayso studio.

Options:
    --model PATH   checkpoint folder (default: $SAYSO_MODEL, else the bundled base model)

Hidden options for demos and screenshots:
    --open FILE    open an audio file on start
    --vocabulary FILE  load a vocabulary file and use it
    --transcribe   then press Transcribe
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
    return parser.parse_args(argv)


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
    args, qt_args = parse_args(sys.argv[1:] if argv is None else argv), sys.argv[:1]
    problem = display_problem()
    if problem:
        print(f"sayso: error: {problem}", file=sys.stderr)
        return 2

    import torch
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.active_model import resolve_model_path
    from app.main_window import TITLE, MainWindow
    from app.settings import APPLICATION, ORGANIZATION

    torch.set_num_threads(1)  # the GUI only computes display features; recognition has its own process
    app = QApplication.instance() or QApplication(qt_args)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(TITLE)

    window = MainWindow(resolve_model_path(args.model), preload_model=True)
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
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
