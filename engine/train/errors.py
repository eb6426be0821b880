"""Why training stopped: the errors a caller shows as one line (torch-free, so the CLI can catch them
without loading torch)."""
from __future__ import annotations


class TrainingError(RuntimeError):
    """Training cannot start or cannot go on; the message says why (bad data, NaN loss, …)."""


class NonFiniteLossError(TrainingError):
    """The loss became NaN or infinite; the message says where and what to try."""
