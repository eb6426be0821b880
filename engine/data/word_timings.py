"""Word timings of utterances: when each word was said (schema version 4, ``word_timings``).

Written by the Insight tab after a CTC forced alignment
(:func:`engine.insight.attention.inspect`); read back to draw them and to
export them (e.g. as a TextGrid word tier). Times are seconds into the
*recording*. A set of timings remembers the transcript it was aligned to;
:attr:`StoredTimings.current` says whether the utterance still has that
transcript. The caller owns the transaction. No Qt here.
"""
from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["StoredTimings", "StoredWord", "read", "replace"]


@dataclass(frozen=True)
class StoredWord:
    """One word: ``start``/``end`` in seconds into the recording, ``confidence`` in 0…1 or None."""

    word: str
    start: float
    end: float
    confidence: float | None


@dataclass(frozen=True)
class StoredTimings:
    """The timings of one utterance; ``transcript`` is the text they were aligned to."""

    words: list[StoredWord]
    transcript: str
    model: str
    current: bool
    """True when the utterance's transcript is still ``transcript``."""


def replace(conn: sqlite3.Connection, utterance_id: int, words: Iterable, transcript: str, model: str) -> int:
    """Replace the utterance's timings by ``words`` (objects with ``word``, ``start``, ``end``, ``confidence``).

    Returns:
        How many words were stored.

    Raises:
        ValueError: a time is not a finite number, a word ends before it
            starts or starts before the previous one, or a word is empty.
        sqlite3.IntegrityError: no such utterance (FOREIGN KEY) or a CHECK rule.
    """
    rows, last = [], 0.0
    for k, w in enumerate(words):
        start, end = float(w.start), float(w.end)
        if not (math.isfinite(start) and math.isfinite(end)):
            raise ValueError(f"word {k + 1} ({w.word!r}) has no valid time")
        if end < start or start < last - 1e-6:
            raise ValueError(f"word {k + 1} ({w.word!r}, {start:.3f}–{end:.3f} s) is out of order")
        if not str(w.word).strip():
            raise ValueError(f"word {k + 1} is empty")
        conf = None if w.confidence is None else min(1.0, max(0.0, float(w.confidence)))
        rows.append((utterance_id, k, str(w.word), max(0.0, start), end, conf, transcript, model, time.time()))
        last = start
    conn.execute("DELETE FROM word_timings WHERE utterance_id = ?", (utterance_id,))
    conn.executemany('INSERT INTO word_timings (utterance_id, position, word, start, "end", confidence, '
                     "transcript, model, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def read(conn: sqlite3.Connection, utterance_id: int) -> StoredTimings | None:
    """The utterance's timings in word order, or None when none are stored."""
    rows = conn.execute('SELECT word, start, "end", confidence, transcript, model FROM word_timings '
                        "WHERE utterance_id = ? ORDER BY position", (utterance_id,)).fetchall()
    if not rows:
        return None
    now = conn.execute("SELECT transcript FROM utterances WHERE id = ?", (utterance_id,)).fetchone()
    return StoredTimings([StoredWord(w, s, e, c) for w, s, e, c, _, _ in rows], rows[0][4], rows[0][5],
                         current=now is not None and _same(now[0], rows[0][4]))


def _same(a: str, b: str) -> bool:
    """Same words, whatever the case, spacing and punctuation (timings are aligned on normalized text)."""
    from engine.text.normalize import normalize_text

    return normalize_text(a) == normalize_text(b)
