"""What ``sayso`` and ``sayso models`` share on the command line: one-line errors.

Every user error of either command is one line ``<prog>: error: …`` on stderr
and exit status 2, argparse's own errors included (:class:`OneLineParser`).
Imports nothing heavy (no torch), so ``sayso models list`` stays quick.
"""
from __future__ import annotations

import argparse
import errno
import sys
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line ``<command>: error: …`` (status 2).

    ``command`` is the program's name without the sub-command (``sayso``,
    ``sayso models``), so every error of a program starts the same way; the
    line ends with the sub-command's ``--help`` to run for the usage.
    """

    def __init__(self, *args, command: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.command = command or self.prog

    def add_subparsers(self, **kwargs):
        kwargs.setdefault("parser_class", _child(self.command))
        return super().add_subparsers(**kwargs)

    def error(self, message: str) -> NoReturn:
        print(f"{self.command}: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(2)


def _child(command: str) -> type[OneLineParser]:
    class Child(OneLineParser):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, command=command, **kwargs)

    return Child


def positive_int(text: str) -> int:
    """An argparse ``type``: an integer ≥ 1 (``--threads``).

    Raises:
        argparse.ArgumentTypeError: ``text`` is not a whole number ≥ 1.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def os_error_line(exc: OSError) -> str:
    """The one-line message of a file-system error: ``<file>: <reason>``, ENOSPC as "the disk is full"
    (an error raised with a message of its own and no errno keeps its message)."""
    if exc.errno is None:
        return str(exc)
    reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    if isinstance(exc, IsADirectoryError):
        reason = "is a folder, not a file"
    name = exc.filename if exc.filename is not None else None
    return f"{name}: {reason}" if name is not None else reason
