"""The ``sayso`` console script: no arguments opens the studio, anything else is a headless command.

Besides the commands of :mod:`engine.cli` (``sayso --help``; ``sayso --version``):

- ``sayso --install-desktop``: put Sayso into the desktop's application menu
  (a freedesktop entry and the icon in the user's data folders, :mod:`app.desktop`);
- ``sayso --uninstall-desktop``: take them out again.

Neither opens a window nor imports Qt.
"""
from __future__ import annotations

import sys

DESKTOP_OPTIONS = ("--install-desktop", "--uninstall-desktop")


def desktop_command(option: str, rest: list[str]) -> int:
    """Run ``--install-desktop`` or ``--uninstall-desktop``: one line per file, errors as one line (status 2)."""
    from app import desktop
    from engine.command_line import os_error_line

    if rest:
        print(f"sayso: error: {option} takes no arguments (got {' '.join(rest)})", file=sys.stderr)
        return 2
    try:
        if option == "--install-desktop":
            files = desktop.install()
            print(f"Sayso is in the application menu: {files[0]} (runs {' '.join(desktop.launch_command())})")
            print(f"icons: {len(files) - 1} files under {files[1].parents[2]}; `sayso --uninstall-desktop` "
                  "removes them")
        else:
            files = desktop.uninstall()
            print("\n".join(f"removed {f}" for f in files) if files else "nothing to remove: no Sayso menu entry")
    except OSError as exc:
        print(f"sayso: error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in {"studio", "--studio"}:
        from app.__main__ import main as studio

        return studio(argv[1:])
    if argv[0] in DESKTOP_OPTIONS:
        return desktop_command(argv[0], argv[1:])
    from engine.cli import main as cli

    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
