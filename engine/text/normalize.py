"""Transcript normalization.

Lowercase; accents stripped; numbers written with digits become words
("7" → "seven", "42" → "forty-two" → "forty two", "3.5" → "three point
five") using num2words; "&" → "and", "%" → "percent"; other punctuation than
the apostrophe is dropped (apostrophes at word edges too); whitespace is
collapsed. The result uses only the
characters of :data:`engine.text.tokenizer.CHARACTERS`.
"""
from __future__ import annotations

import re
import unicodedata

from num2words import num2words

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_NOT_ALLOWED = re.compile(r"[^a-z' ]+")
_SPACES = re.compile(r"\s+")


def _number_to_words(match: re.Match) -> str:
    text = match.group(0)
    try:
        words = num2words(float(text) if "." in text else int(text))
    except (OverflowError, ValueError):
        words = " ".join(num2words(int(d)) for d in text if d.isdigit())
    return f" {words} "


def normalize_text(text: str) -> str:
    """Normalize a transcript for training and scoring.

    >>> normalize_text("Call 911, NOW!")
    'call nine hundred and eleven now'
    >>> normalize_text("  Don't   stop ")
    "don't stop"
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.lower().replace("’", "'").replace("`", "'").replace("&", " and ").replace("%", " percent ")
    text = _NUMBER.sub(_number_to_words, text)
    for ch in "-_/,":
        text = text.replace(ch, " ")
    text = _NOT_ALLOWED.sub(" ", text)
    text = " ".join(w.strip("'") for w in text.split())
    return _SPACES.sub(" ", text).strip()
