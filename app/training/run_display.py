"""What a run shows: a one-line message, progress with ETA, live curves, the log and the evaluation.

:class:`RunDisplay` is the right side of the Train tab. It only shows:
the panel (:class:`~app.training.panel.TrainingPanel`) decides what, from the
job queue's events (:mod:`engine.jobs.events`).
"""
from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.training.curves import TrainingCurves
from app.training.report import EvaluationReport
from engine.data.utterance import Utterance
from engine.jobs.events import Progress

__all__ = ["RunDisplay", "format_eta"]

LOG_MAX_LINES = 5000
PROGRESS_STEPS = 1000
ERROR_STYLE = "color: #b00020"
INFO_STYLE = ""
STAGES = {"loading": "Loading audio", "teacher": "The teacher transcribes", "train": "Training",
          "personalize": "Personalizing", "evaluate": "Evaluating"}
"""What the progress bar calls each stage of a job."""


def format_eta(seconds: float | None) -> str:
    """``"about 40 s left"``, ``"about 3 min left"``, ``"about 1 h 05 min left"`` ("" when unknown)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    s = int(round(seconds))
    if s < 60:
        return f"about {max(s, 1)} s left"
    if s < 3600:
        return f"about {int(round(s / 60))} min left"
    return f"about {s // 3600} h {(s % 3600) // 60:02d} min left"


class RunDisplay(QWidget):
    """Message line, progress bar with ETA, training curves, and the Log / Evaluation tabs.

    Args:
        buttons: the row of run buttons shown above the message (the panel's).
        parent: the parent widget.
    """

    def __init__(self, buttons: QHBoxLayout, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.hide()
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, PROGRESS_STEPS)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Idle")
        self.eta_label = QLabel()
        self.eta_label.setMinimumWidth(140)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addWidget(self.eta_label)

        self.curves = TrainingCurves()
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(LOG_MAX_LINES)
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.log_view.setPlaceholderText("The job's log appears here.")
        self.report = EvaluationReport()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.log_view, "Log")
        self.tabs.addTab(self.report, "Evaluation")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.curves)
        split.addWidget(self.tabs)
        split.setSizes([260, 340])
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.message_label)
        layout.addLayout(progress_row)
        layout.addWidget(split, 1)

    # -- message and log -----------------------------------------------------
    def say(self, text: str, error: bool = True) -> None:
        """Show ``text`` in the message line, red if ``error`` ("" hides it)."""
        self.message_label.setText(text)
        self.message_label.setStyleSheet(ERROR_STYLE if error else INFO_STYLE)
        self.message_label.setVisible(bool(text))

    def append_log(self, text: str) -> None:
        """Append ``text`` (one or more lines) to the log."""
        for line in str(text).splitlines() or [""]:
            self.log_view.appendPlainText(line)

    # -- a run's life --------------------------------------------------------
    def begin_run(self, per_step: bool) -> None:
        """A new training run: empty log and curves (per optimizer step for a personalization)."""
        self.log_view.clear()
        self.curves.clear(per_step=per_step)
        self.report.clear("The evaluation on the validation data appears here after the run.")

    def show_queued(self, running: bool) -> None:
        """The job was queued: it starts now (``running``) or waits behind another."""
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Waiting for the worker…" if running else "Queued behind another job…")
        self.eta_label.clear()

    def show_started(self, stage: str, restarted_steps: bool) -> None:
        """The job started ``stage``; ``restarted_steps``: a personalization starts its curve over."""
        if restarted_steps:
            self.curves.clear_steps()
        self.progress_bar.setFormat(f"{STAGES.get(stage, 'Working')}: starting…")

    def show_progress(self, e: Progress, cancelling: bool) -> None:
        """Progress bar, its text and the ETA from a :class:`~engine.jobs.events.Progress` event."""
        total = max(1, e.total)
        if e.stage == "train" and e.epoch and e.epochs:
            fraction = ((e.epoch - 1) * total + e.done) / (e.epochs * total)
            text = f"Epoch {e.epoch}/{e.epochs}: batch {e.done}/{e.total}"
        elif e.stage == "personalize":
            fraction = e.done / total
            text = f"Step {e.done}/{e.total}"
            if e.loss is not None:
                text += f", loss {e.loss:.3f}"
        else:
            fraction = e.done / total
            text = f"{STAGES.get(e.stage, e.stage.capitalize())} {e.done}/{e.total}"
        if cancelling:
            text = "Cancelling… " + text
        self.progress_bar.setValue(int(round(PROGRESS_STEPS * min(1.0, max(0.0, fraction)))))
        self.progress_bar.setFormat(f"{text} (%p%)")
        self.eta_label.setText(format_eta(e.eta_seconds))
        if e.stage == "personalize":
            self.curves.add_step(e.done, e.loss)

    def show_ended(self, label: str, complete: bool) -> None:
        """The job ended: the progress bar says ``label`` (full if ``complete``), no ETA."""
        self.eta_label.clear()
        if complete:
            self.progress_bar.setValue(PROGRESS_STEPS)
        self.progress_bar.setFormat(label)

    def show_evaluation(self, report: dict, dev: list[Utterance]) -> str:
        """Show an evaluation report of the ``dev`` utterances (table, mark on the curves); returns its summary."""
        self.report.show_report(report, dev)
        self.progress_bar.setFormat("Evaluated")
        wer, cer = float(report.get("wer", math.nan)), float(report.get("cer", math.nan))
        points = self.curves.loss_points()
        self.curves.add_evaluation(points[-1][0] if points else 0, wer, cer)
        self.tabs.setCurrentWidget(self.report)
        text = (f"Evaluation: WER {100 * wer:.1f} %, CER {100 * cer:.1f} % on "
                f"{report.get('utterances', len(dev))} validation utterance(s).")
        self.append_log(text)
        return text
