"""The ``sayso`` console script: no arguments opens the studio, anything else is a headless command."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in {"studio", "--studio"}:
        from app.__main__ import main as studio

        return studio(argv[1:])
    from engine.cli import main as cli

    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
