"""Confidence: one definition for a word and an utterance, calibrated on held-out speakers.

A recognizer first gives each word of its transcript a *raw score* in [0, 1]:

- Sayso models: the geometric mean of the attention decoder's probabilities of
  the word's characters and of the separator after it (space or end of text),
  teacher-forced on the chosen transcript;
- Whisper models: Whisper's word probability (the mean of its tokens').

A :class:`Calibration` maps raw scores to **the share of words right at that
score**, measured on speakers the model never heard (isotonic regression,
Zadrozny & Elkan 2002; scikit-learn's :class:`~sklearn.isotonic.IsotonicRegression`):
a word at confidence 0.8 is right about 8 times in 10. An **utterance's
confidence is the mean of its words' confidences** — the expected share of its
words that are right — so an utterance of one word has that word's confidence.
An empty transcript (nothing heard) has confidence 0.0; a transcript whose
words could not be timed has the calibrated raw score of its decoding. A model without a calibration table passes raw scores through
(:attr:`Calibration.calibrated` is False and the model card says so).

Tables are fitted and checked by ``benchmarks/confidence.py`` and stored in a
Sayso checkpoint's ``config.json`` (``meta["calibration"]``, inherited by the
models fine-tuned from it), for the packaged Whisper models in
:data:`engine.resources.CALIBRATIONS` under the model's name, or as
``calibration.json`` in any model folder.

Nothing here imports torch or Qt.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engine.resources import CALIBRATIONS

__all__ = ["CALIBRATION_FILE", "Calibration", "Reliability", "UNCALIBRATED", "calibrate_words", "describe",
           "fit_calibration", "load_calibration", "model_calibration", "reliability", "utterance_confidence",
           "word_hits"]

CALIBRATION_FILE = "calibration.json"
"""The calibration table's file name inside a model folder."""


@dataclass(frozen=True)
class Calibration:
    """A monotone map from raw word scores to calibrated confidences.

    Attributes:
        raw, confidence: the isotonic fit's breakpoints (increasing raw scores in [0, 1] and
            their non-decreasing confidences); between them the map is linear, outside it is
            clipped (as :meth:`sklearn.isotonic.IsotonicRegression.predict`).
        fitted_on: what the table was fitted on (held-out sets and speakers), for the model card.
        words: how many words it was fitted on (0: no table, raw scores pass through).
        ece: expected calibration error on words *not* used for the fit (10 equal-width bins).
    """

    raw: tuple[float, ...] = (0.0, 1.0)
    confidence: tuple[float, ...] = (0.0, 1.0)
    fitted_on: str = "not calibrated"
    words: int = 0
    ece: float | None = None

    @property
    def calibrated(self) -> bool:
        return self.words > 0

    def __call__(self, raw: float) -> float:
        """The confidence of a raw score (a float in [0, 1])."""
        return float(np.clip(np.interp(float(raw), self.raw, self.confidence), 0.0, 1.0))

    def to_json(self) -> dict:
        return {"raw": [round(x, 6) for x in self.raw], "confidence": [round(y, 6) for y in self.confidence],
                "fitted_on": self.fitted_on, "words": self.words, "ece": self.ece}

    @classmethod
    def from_json(cls, d: dict) -> Calibration:
        """Raises ValueError on a malformed table (lengths differ, not increasing, outside [0, 1])."""
        raw, conf = tuple(float(x) for x in d["raw"]), tuple(float(y) for y in d["confidence"])
        if len(raw) != len(conf) or len(raw) < 1 or any(b < a for a, b in zip(raw, raw[1:])) \
                or any(b < a for a, b in zip(conf, conf[1:])) or min(raw + conf) < 0 or max(raw + conf) > 1:
            raise ValueError("a calibration table needs as many raw scores as confidences, both "
                             "non-decreasing and in [0, 1]")
        return cls(raw, conf, str(d.get("fitted_on", "")), int(d.get("words", 0)),
                   None if d.get("ece") is None else float(d["ece"]))

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``folder/calibration.json`` atomically (:func:`engine.atomic.atomic_write`).

        Raises:
            OSError: the folder is not writable or the disk is full (the old file is kept).
        """
        from engine.atomic import atomic_write

        path = Path(folder) / CALIBRATION_FILE
        with atomic_write(path) as fh:
            json.dump(self.to_json(), fh, indent=1)
        return path


UNCALIBRATED = Calibration()
"""Raw scores passed through."""


def load_calibration(folder: str | os.PathLike | None, name: str = "", meta: dict | None = None) -> Calibration:
    """The model's table: ``folder/calibration.json``; else a Sayso checkpoint's ``meta["calibration"]``
    (personalized models carry their base's); else, for a model fine-tuned from another
    (``meta["train"]["init_from"]``), that model's; else the packaged table for ``name``
    (:data:`engine.resources.CALIBRATIONS`); else :data:`UNCALIBRATED`.

    A damaged table is skipped (raw scores then pass through): confidence is advisory and must
    never stop a model from loading.
    """
    def tables():
        if folder is not None:
            yield lambda: json.loads((Path(folder) / CALIBRATION_FILE).read_text(encoding="utf-8"))
        if meta and "calibration" in meta:
            yield lambda: meta["calibration"]
        train = (meta or {}).get("train")
        parent = train.get("init_from") if isinstance(train, dict) else None
        if parent and Path(parent).is_dir() and (folder is None or Path(parent).resolve() != Path(folder).resolve()):
            yield lambda: _inherited(parent)
        if name:
            yield lambda: json.loads((CALIBRATIONS / f"{name}.json").read_text(encoding="utf-8"))

    for table in tables():
        try:
            return Calibration.from_json(table())
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return UNCALIBRATED


def model_calibration(path: str | os.PathLike, name: str = "") -> Calibration:
    """:func:`load_calibration` for a model folder of either family (reads a Sayso checkpoint's
    ``config.json`` meta; a Whisper folder's ``config.json`` has none)."""
    try:
        meta = json.loads((Path(path) / "config.json").read_text(encoding="utf-8")).get("meta")
    except (OSError, ValueError, AttributeError):
        meta = None
    return load_calibration(path, name, meta if isinstance(meta, dict) else None)


def describe(calibration: Calibration) -> str:
    """One line for a model card: how the model's confidences are to be read."""
    if not calibration.calibrated:
        return ("not calibrated: confidences are the model's raw scores (run benchmarks/confidence.py "
                "to calibrate it on held-out speakers)")
    ece = f"; off by {100 * calibration.ece:.1f} points on average on other speakers" \
        if calibration.ece is not None else ""
    return f"the share of words right at that level, fitted on {calibration.fitted_on}{ece}"


def _inherited(parent: str) -> dict:
    """The table of the model a checkpoint was fine-tuned from (``meta["train"]["init_from"]``)."""
    table = model_calibration(parent)
    if not table.calibrated:
        raise ValueError("the parent model has no table")
    return table.to_json()


def fit_calibration(raw: Sequence[float], right: Sequence[bool], fitted_on: str) -> Calibration:
    """Fit a table on words' raw scores and whether each word was right (isotonic regression).

    Raises:
        ValueError: fewer than 20 words, or all right / all wrong (nothing to calibrate against).
    """
    from sklearn.isotonic import IsotonicRegression

    x, y = np.asarray(raw, dtype=np.float64), np.asarray(right, dtype=np.float64)
    if len(x) < 20 or y.min() == y.max():
        raise ValueError(f"cannot calibrate on {len(x)} words of which {int(y.sum())} are right")
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(x, y)
    return Calibration(tuple(round(float(v), 6) for v in iso.X_thresholds_),  # as stored (to_json)
                       tuple(round(float(v), 6) for v in iso.y_thresholds_), fitted_on, int(len(x)))


def calibrate_words(words: list, calibration: Calibration) -> list:
    """``words`` (dataclasses with a ``confidence`` raw score) with calibrated confidences."""
    return [replace(w, confidence=calibration(w.confidence)) for w in words]


def utterance_confidence(words: list, empty: float = 0.0) -> float:
    """The mean of the words' (calibrated) confidences; ``empty`` when there are none."""
    return float(np.mean([w.confidence for w in words])) if words else float(empty)


def word_hits(reference: str, hypothesis: str) -> list[bool]:
    """For each word of ``hypothesis`` (normalized text), whether it matches the reference word it is
    aligned to (jiwer's minimum-edit alignment: substitutions and insertions are wrong)."""
    import jiwer

    hyp = hypothesis.split()
    if not hyp:
        return []
    if not reference.split():
        return [False] * len(hyp)
    hits = [False] * len(hyp)
    for chunk in jiwer.process_words(reference, hypothesis).alignments[0]:
        if chunk.type == "equal":
            for j in range(chunk.hyp_start_idx, chunk.hyp_end_idx):
                hits[j] = True
    return hits


@dataclass
class Reliability:
    """A reliability table: per confidence bin, the words in it, their mean confidence and the
    share right; ``ece`` = the words-weighted mean |confidence − share right| (Guo et al. 2017)."""

    bins: list[tuple[float, float, int, float, float]]  # (low, high, words, mean confidence, share right)
    ece: float
    words: int


def reliability(confidence: Sequence[float], right: Sequence[bool], n_bins: int = 10) -> Reliability:
    """Bin words by confidence (``n_bins`` equal widths over [0, 1]) and compare with how many were right."""
    c, y = np.asarray(confidence, dtype=np.float64), np.asarray(right, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(c, edges[1:-1], right=True), 0, n_bins - 1)
    rows, ece = [], 0.0
    for b in range(n_bins):
        m = idx == b
        if m.any():
            mc, acc = float(c[m].mean()), float(y[m].mean())
            rows.append((float(edges[b]), float(edges[b + 1]), int(m.sum()), mc, acc))
            ece += m.sum() / max(len(c), 1) * abs(mc - acc)
    return Reliability(rows, float(ece), int(len(c)))
