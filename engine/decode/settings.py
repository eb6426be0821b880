"""The decoding settings of the Sayso family, and their checks (torch-free).

A checkpoint may store tuned ones in ``config.json`` ``meta["decode"]``
(:func:`engine.checkpoint_layout.validate_config` checks them on load and on
register); callers may override them
(:meth:`engine.decode.recognizer.SaysoRecognizer.from_checkpoint`).
"""
from __future__ import annotations

from collections.abc import Mapping

DECODE_SETTINGS = ("ctc_weight", "beam_size", "window_s")
"""The keys :class:`~engine.decode.recognizer.SaysoRecognizer` takes as decoding settings."""
MIN_WINDOW_S = 1.0
"""The shortest decoding window, in seconds."""


def check_decode_settings(settings: Mapping) -> None:
    """Refuse unknown keys and values out of range.

    ``ctc_weight`` is a number in [0, 1], ``beam_size`` an integer ≥ 1 and
    ``window_s`` a number of seconds ≥ :data:`MIN_WINDOW_S`.

    >>> check_decode_settings({"beam_size": 0})
    Traceback (most recent call last):
    ValueError: beam_size must be an integer of at least 1, got 0

    Raises:
        ValueError: one line naming the first bad key.
    """
    for key, value in settings.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if key not in DECODE_SETTINGS:
            raise ValueError(f"unknown decoding setting {key!r} (known: {', '.join(DECODE_SETTINGS)})")
        if key == "ctc_weight" and not (number and 0 <= value <= 1):
            raise ValueError(f"ctc_weight must be a number in [0, 1], got {value!r}")
        if key == "beam_size" and not (number and isinstance(value, int) and value >= 1):
            raise ValueError(f"beam_size must be an integer of at least 1, got {value!r}")
        if key == "window_s" and not (number and value >= MIN_WINDOW_S):
            raise ValueError(f"window_s must be a number of seconds of at least {MIN_WINDOW_S:g}, got {value!r}")
