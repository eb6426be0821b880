"""The evaluation report: per-utterance WER/CER, worst first, and the word diff of the selected one.

:func:`word_diff` aligns reference and hypothesis words with jiwer (the
alignment its WER counts; :mod:`difflib` if jiwer refuses), and
:func:`diff_html` renders it: substitutions, insertions and deletions each
in their own colour. :class:`EvaluationReport` shows the report of an
:class:`~engine.jobs.specs.EvaluateJob` (its ``worst`` list, already
sorted worst first) and asks for a row to be played when it is clicked.
"""
from __future__ import annotations

import difflib
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.data.utterance import Utterance

__all__ = ["COLUMNS", "DiffToken", "EvaluationReport", "diff_html", "match_utterances", "word_diff"]

DiffKind = Literal["equal", "sub", "ins", "del"]
COLUMNS = ("WER", "CER", "Reference", "Hypothesis", "Speaker", "Audio")
SUB_STYLE = "background-color: #ffd27a; color: #000"
INS_STYLE = "background-color: #9be29b; color: #000"
DEL_STYLE = "background-color: #ff9d9d; color: #000; text-decoration: line-through"
BAD_ROW = QColor(255, 120, 120, 60)


@dataclass(frozen=True)
class DiffToken:
    """One aligned position: ``equal`` and ``sub`` have both words, ``ins`` only ``hyp``, ``del`` only ``ref``."""

    kind: DiffKind
    ref: str = ""
    hyp: str = ""


def _jiwer_diff(ref: list[str], hyp: list[str]) -> list[DiffToken]:
    import jiwer

    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    r, h = out.references[0], out.hypotheses[0]
    tokens: list[DiffToken] = []
    for chunk in out.alignments[0]:
        rs, re_, hs, he = chunk.ref_start_idx, chunk.ref_end_idx, chunk.hyp_start_idx, chunk.hyp_end_idx
        if chunk.type == "equal":
            tokens += [DiffToken("equal", a, b) for a, b in zip(r[rs:re_], h[hs:he])]
        elif chunk.type == "substitute":
            tokens += [DiffToken("sub", a, b) for a, b in zip(r[rs:re_], h[hs:he])]
        elif chunk.type == "delete":
            tokens += [DiffToken("del", ref=a) for a in r[rs:re_]]
        elif chunk.type == "insert":
            tokens += [DiffToken("ins", hyp=b) for b in h[hs:he]]
        else:
            raise ValueError(chunk.type)
    return tokens


def _difflib_diff(ref: list[str], hyp: list[str]) -> list[DiffToken]:
    tokens: list[DiffToken] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=ref, b=hyp, autojunk=False).get_opcodes():
        if op == "equal":
            tokens += [DiffToken("equal", a, b) for a, b in zip(ref[i1:i2], hyp[j1:j2])]
            continue
        pairs = min(i2 - i1, j2 - j1)
        tokens += [DiffToken("sub", ref[i1 + k], hyp[j1 + k]) for k in range(pairs)]
        tokens += [DiffToken("del", ref=a) for a in ref[i1 + pairs:i2]]
        tokens += [DiffToken("ins", hyp=b) for b in hyp[j1 + pairs:j2]]
    return tokens


def word_diff(reference: str, hypothesis: str) -> list[DiffToken]:
    """Word-level alignment of ``hypothesis`` against ``reference`` (minimum edit distance, as WER counts it)."""
    ref, hyp = reference.split(), hypothesis.split()
    if not ref or not hyp:
        return [DiffToken("del", ref=a) for a in ref] + [DiffToken("ins", hyp=b) for b in hyp]
    try:
        return _jiwer_diff(ref, hyp)
    except Exception:  # noqa: BLE001 - an older or newer jiwer: the plain diff is good enough
        return _difflib_diff(ref, hyp)


def diff_html(tokens: Sequence[DiffToken]) -> str:
    """Reference and hypothesis lines, aligned word by word, with the errors highlighted, and a legend."""
    def span(word: str, style: str | None) -> str:
        word = html.escape(word)
        return f'<span style="{style}">{word}</span>' if style else word

    ref_words, hyp_words = [], []
    for t in tokens:
        if t.kind == "equal":
            ref_words.append(span(t.ref, None))
            hyp_words.append(span(t.hyp, None))
        elif t.kind == "sub":
            ref_words.append(span(t.ref, SUB_STYLE))
            hyp_words.append(span(t.hyp, SUB_STYLE))
        elif t.kind == "del":
            ref_words.append(span(t.ref, DEL_STYLE))
            hyp_words.append(span("∅", DEL_STYLE.replace("; text-decoration: line-through", "")))
        else:
            ref_words.append(span("∅", INS_STYLE))
            hyp_words.append(span(t.hyp, INS_STYLE))
    counts = {k: sum(t.kind == k for t in tokens) for k in ("sub", "ins", "del")}
    legend = (f'<span style="{SUB_STYLE}">&nbsp;substitution&nbsp;</span> {counts["sub"]} &nbsp; '
              f'<span style="{INS_STYLE}">&nbsp;insertion&nbsp;</span> {counts["ins"]} &nbsp; '
              f'<span style="{DEL_STYLE}">&nbsp;deletion&nbsp;</span> {counts["del"]}')
    return ("<table cellspacing='4'>"
            f"<tr><td><b>Reference</b></td><td>{' '.join(ref_words) or '<i>(empty)</i>'}</td></tr>"
            f"<tr><td><b>Hypothesis</b></td><td>{' '.join(hyp_words) or '<i>(empty)</i>'}</td></tr>"
            f"</table><p>{legend}</p>")


def match_utterances(rows: Sequence[dict], utterances: Sequence[Utterance]) -> list[Utterance | None]:
    """The utterance each report row scores (a report row has the file, speaker and normalized reference only).

    Rows are matched by file, then by normalized transcript and speaker; two
    utterances of one file with the same transcript are told apart by order.
    """
    from engine.text.normalize import normalize_text

    pool: dict[str, list[Utterance]] = {}
    for u in utterances:
        pool.setdefault(str(u.audio_path), []).append(u)
    out: list[Utterance | None] = []
    for row in rows:
        candidates = pool.get(str(row.get("audio_filepath", "")), [])
        ref, speaker = row.get("reference", ""), row.get("speaker", "")
        pick = next((u for u in candidates if normalize_text(u.text) == ref and (u.speaker or "") == speaker), None)
        pick = pick or next((u for u in candidates if normalize_text(u.text) == ref), None)
        pick = pick or (candidates[0] if candidates else None)
        if pick is not None:
            candidates.remove(pick)
        out.append(pick)
    return out


def _percent(value) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{100 * v:.1f} %" if math.isfinite(v) else "–"


class EvaluationReport(QWidget):
    """Summary line, per-utterance table (worst first) and the diff of the selected row.

    Signals:
        play_requested(int): the row clicked (or activated with Enter); the
            panel plays :meth:`utterance_at` of it.
    """

    play_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("The evaluation on the validation data appears here after a run.")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSortingEnabled(False)  # worst first, as the report lists them
        self.table.verticalHeader().setVisible(False)
        self.table.setToolTip("Click a row to play it and see its word diff")
        header = self.table.horizontalHeader()
        for col in (0, 1, 4):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        for col in (2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch)
        self.diff_view = QTextBrowser()
        self.diff_view.setPlaceholderText("Select a row to compare its reference and hypothesis word by word.")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.diff_view)
        split.setSizes([300, 110])
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        self._rows: list[dict] = []
        self._utterances: list[Utterance | None] = []
        self.table.cellClicked.connect(self._on_clicked)
        self.table.activated.connect(lambda index: self._on_clicked(index.row(), index.column()))
        self.table.currentCellChanged.connect(lambda row, *_: self.show_diff(row))

    # -- content --------------------------------------------------------------
    def clear(self, message: str = "") -> None:
        self._rows, self._utterances = [], []
        self.table.setRowCount(0)
        self.diff_view.clear()
        if message:
            self.summary.setText(message)

    def show_report(self, report: dict, utterances: Sequence[Utterance]) -> None:
        """Show an evaluation report (``wer``, ``cer``, ``rtf``, ``utterances``, ``worst``) of ``utterances``."""
        rows = sorted(report.get("worst", []), key=lambda r: (r.get("wer", 0.0), r.get("cer", 0.0)), reverse=True)
        self._rows = list(rows)
        self._utterances = match_utterances(rows, utterances)
        n = int(report.get("utterances", len(rows)))
        shown = "" if len(rows) >= n else f" (the {len(rows)} worst are listed)"
        self.summary.setText(f"WER {_percent(report.get('wer'))}, CER {_percent(report.get('cer'))} on {n} "
                             f"validation utterance(s){shown}; real-time factor {float(report.get('rtf', 0)):.3f}. "
                             f"Click a row to play it.")
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            utt = self._utterances[r]
            path = Path(str(row.get("audio_filepath", "")))
            where = path.name if utt is None or not utt.start else f"{path.name} @ {utt.start:.2f} s"
            cells = (_percent(row.get("wer")), _percent(row.get("cer")), row.get("reference", ""),
                     row.get("hypothesis", ""), row.get("speaker", ""), where)
            for c, text in enumerate(cells):
                item = QTableWidgetItem(str(text))
                if c < 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    item.setData(Qt.ItemDataRole.UserRole, float(row.get("wer" if c == 0 else "cer", 0.0)))
                if c == 5:
                    item.setToolTip(str(path))
                if float(row.get("wer", 0.0)) > 0:
                    item.setBackground(BAD_ROW)
                self.table.setItem(r, c, item)
        self.diff_view.clear()

    def show_diff(self, row: int) -> None:
        """Show the word diff of ``row`` (nothing for an invalid row)."""
        if not 0 <= row < len(self._rows):
            self.diff_view.clear()
            return
        r = self._rows[row]
        self.diff_view.setHtml(diff_html(word_diff(str(r.get("reference", "")), str(r.get("hypothesis", "")))))

    # -- read back ------------------------------------------------------------
    def row(self, row: int) -> dict:
        """The report's row (``audio_filepath``, ``speaker``, ``reference``, ``hypothesis``, ``wer``, ``cer``)."""
        return self._rows[row]

    def utterance_at(self, row: int) -> Utterance | None:
        """The utterance (file, offset, duration) of table row ``row``, if it could be matched."""
        return self._utterances[row] if 0 <= row < len(self._utterances) else None

    # -- internals ------------------------------------------------------------
    def _on_clicked(self, row: int, _column: int = 0) -> None:
        self.show_diff(row)
        self.play_requested.emit(row)
