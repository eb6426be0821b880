"""The training panel: personalize, fine-tune or train a model in the background, then evaluate it.

The user picks the data (:class:`~app.training.data_choice.DataChoice`: the
open project's train/dev splits or NeMo manifests), a base model, whether to
start from it or from scratch, and a preset (:data:`engine.train.presets.PRESETS`):

- **Quick personalization**: :class:`~engine.jobs.specs.PersonalizeJob`,
  a few optimizer steps on the top layers of the base model (a few takes);
- **Fine-tune**: :class:`~engine.jobs.specs.FineTuneJob`, a few epochs of
  the whole base model at a low learning rate;
- **Full training**: :class:`~engine.jobs.specs.TrainJob` from scratch
  (or a long :class:`FineTuneJob` from the base model), many epochs, early
  stopping, the checkpoint with the best validation WER kept.

Jobs run in a worker process through the studio's
:class:`~app.training.job_queue.TrainingJobQueue`; this panel only reacts to
its signals (progress with ETA, live curves, the log). When a training job
finishes, :attr:`TrainingPanel.model_ready` carries the checkpoint and an
:class:`~engine.jobs.specs.EvaluateJob` on the validation data starts
by itself; its report lists the utterances worst first (click one to hear
it and see the word diff). Failures become one plain sentence in the
panel's message line (never a traceback: the log tail goes to the log
pane); a failed or cancelled job can be resumed.

Every run writes into its own folder under :func:`engine.paths.models_dir`
named ``<timestamp>-<name>`` (the name is the user's), with the manifests
it used (``train.jsonl``, ``dev.jsonl``) beside the checkpoints.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.playback.controller import PlaybackController
from app.training.curves import TrainingCurves
from app.training.data_choice import DataChoice, DataChoiceError, TrainingData
from app.training.job_queue import TrainingJobQueue
from app.training.report import EvaluationReport
from engine.checkpoint_layout import missing_files
from engine.data.manifest import write_manifest
from engine.data.utterance import Utterance
from engine.jobs.events import JobFailed, JobFinished, JobStarted, LogLine, Metrics, Progress
from engine.jobs.specs import EvaluateJob, FineTuneJob, PersonalizeJob, TrainJob
from engine.paths import models_dir
from engine.resources import BUNDLED_MODEL
from engine.train.presets import PRESETS, Preset, scaled_warmup

__all__ = ["TrainingPanel", "format_eta"]

log = logging.getLogger("sayso.training")

LOG_MAX_LINES = 5000
PROGRESS_STEPS = 1000
ERROR_STYLE = "color: #b00020"
INFO_STYLE = ""
FAILURE_TITLES = {
    "cancelled": "Cancelled",
    "data": "The data cannot be used",
    "nan": "Training diverged",
    "disk": "Disk problem",
    "crashed": "The job stopped unexpectedly",
    "internal": "Internal error",
}
STAGES = {"loading": "Loading audio", "train": "Training", "personalize": "Personalizing", "evaluate": "Evaluating"}


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


def _safe_name(name: str) -> str:
    """A folder-name-safe version of the user's run name."""
    name = re.sub(r"[^\w.-]+", "-", name.strip(), flags=re.UNICODE).strip("-.")
    return name[:80] or "model"


def _model_problem(path: Path) -> str | None:
    """A user message when ``path`` is clearly not a checkpoint folder (a quick look at its files)."""
    if not str(path).strip() or not path.is_dir():
        return f"There is no model at {path}: choose the folder of a Sayso model."
    missing = missing_files(path)
    if missing:
        return f"{path} is not a Sayso model ({', '.join(missing)} missing)."
    return None


@dataclass
class _Run:
    """What the panel remembers of one job it submitted."""

    role: str  # "train" (any training kind) or "evaluate"
    kind: str
    out_dir: Path
    dev: list[Utterance]
    evaluate_after: bool = True
    per_step: bool = False


class TrainingPanel(QWidget):
    """Choose data, base model and preset; run, watch, cancel or resume the job; read the evaluation.

    Args:
        queue: the studio's background job queue (shared: events of jobs not
            started here are ignored).
        playback: the studio's playback controller (evaluation rows play through it).
        settings: the studio's :class:`~app.settings.StudioSettings` (None: nothing is remembered).
        parent: the parent widget.

    Signals:
        model_ready(str): a training, fine-tuning or personalization job finished;
            the checkpoint folder (``<run>/best`` or ``<run>/model``).
        evaluation_ready(dict): an evaluation finished; its report (``wer``,
            ``cer``, ``rtf``, ``utterances``, ``worst``).
        message(str): a one-line status for the window's status bar.
        busy_changed(bool): a job of this panel started (True) or ended (False).

    Attributes:
        models_root: the folder runs are written under (default :func:`engine.paths.models_dir`).
        config_overrides: extra :class:`~engine.train.trainer.TrainConfig`
            fields for training jobs (e.g. a smaller ``model``), or
            :class:`~engine.train.personalize.PersonalizeConfig` fields for a
            personalization (keys it lacks are ignored).
        eval_threads: torch threads of the evaluation job.
    """

    model_ready = Signal(str)
    evaluation_ready = Signal(dict)
    message = Signal(str)
    busy_changed = Signal(bool)

    def __init__(self, queue: TrainingJobQueue, playback: PlaybackController, settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.queue = queue
        self.playback = playback
        self.settings = settings
        self._models_root: Path = models_dir()
        self.config_overrides: dict[str, Any] = {}
        self.eval_threads = 2
        self._project = None
        self._base_default = BUNDLED_MODEL
        self._runs: dict[int, _Run] = {}
        self._job_id: int | None = None
        self._resumable: int | None = None
        self._cancelling = False
        self._last_checkpoint: str | None = None

        self._build()
        self._connect()
        self._restore()
        self.set_base_model(BUNDLED_MODEL)
        self._on_preset()
        self._update_buttons()

    # -- construction ---------------------------------------------------------
    def _build(self) -> None:
        self.data_choice = DataChoice(self.settings)
        data_box = QGroupBox("Data")
        QVBoxLayout(data_box).addWidget(self.data_choice)

        self.preset_combo = QComboBox()
        for p in PRESETS:
            self.preset_combo.addItem(p.title, p.key)
        self.preset_help = QLabel()
        self.preset_help.setWordWrap(True)
        self.base_edit = QLineEdit()
        self.base_edit.setPlaceholderText("folder of a Sayso model")
        self.base_browse = QPushButton("Browse…")
        self.from_base_radio = QRadioButton("From the base model")
        self.from_scratch_radio = QRadioButton("From scratch")
        start_group = QButtonGroup(self)
        start_group.addButton(self.from_base_radio)
        start_group.addButton(self.from_scratch_radio)
        self.from_base_radio.setChecked(True)
        self.length_spin = QSpinBox()
        self.length_spin.setRange(1, 100_000)
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(6)
        self.lr_spin.setRange(1e-6, 0.1)
        self.lr_spin.setSingleStep(1e-4)
        self.patience_spin = QSpinBox()
        self.patience_spin.setRange(0, 1000)
        self.patience_spin.setSpecialValueText("never")
        self.patience_spin.setToolTip("Stop after this many epochs without a better validation WER")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("name of the new model")
        self.folder_label = QLabel()
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        base_row = QHBoxLayout()
        base_row.addWidget(self.base_edit, 1)
        base_row.addWidget(self.base_browse)
        start_row = QHBoxLayout()
        start_row.addWidget(self.from_base_radio)
        start_row.addWidget(self.from_scratch_radio)
        start_row.addStretch(1)
        model_box = QGroupBox("Model")
        form = QFormLayout(model_box)
        form.addRow("Preset", self.preset_combo)
        form.addRow(self.preset_help)
        form.addRow("Base model", base_row)
        form.addRow("Start", start_row)
        self.length_label = QLabel("Steps")
        form.addRow(self.length_label, self.length_spin)
        form.addRow("Learning rate", self.lr_spin)
        self.patience_label = QLabel("Early stop")
        form.addRow(self.patience_label, self.patience_spin)
        form.addRow("Name", self.name_edit)
        form.addRow("Saved to", self.folder_label)

        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the failed or cancelled job from its last checkpoint")
        self.evaluate_button = QPushButton("Evaluate base model")
        self.evaluate_button.setToolTip("Score the base model on the validation data (to compare with a new one)")
        buttons = QHBoxLayout()
        for b in (self.start_button, self.cancel_button, self.resume_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.evaluate_button)

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

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(data_box)
        left_layout.addWidget(model_box)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        scroll.setMinimumWidth(360)

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
        right_split = QSplitter(Qt.Orientation.Vertical)
        right_split.addWidget(self.curves)
        right_split.addWidget(self.tabs)
        right_split.setSizes([260, 340])
        right_split.setChildrenCollapsible(False)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(buttons)
        right_layout.addWidget(self.message_label)
        right_layout.addLayout(progress_row)
        right_layout.addWidget(right_split, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([400, 880])
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)

    def _connect(self) -> None:
        q = self.queue
        q.started.connect(self._on_started)
        q.progress.connect(self._on_progress)
        q.metrics.connect(self._on_metrics)
        q.log.connect(self._on_log)
        q.finished.connect(self._on_finished)
        q.failed.connect(self._on_failed)
        self.preset_combo.currentIndexChanged.connect(self._on_preset)
        self.from_scratch_radio.toggled.connect(self._update_inputs)
        self.name_edit.textChanged.connect(self._update_folder_label)
        self.base_browse.clicked.connect(self._browse_base)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button.clicked.connect(self.resume)
        self.evaluate_button.clicked.connect(self.evaluate_base)
        self.report.play_requested.connect(self.play_row)
        self.data_choice.changed.connect(self._update_buttons)

    def _restore(self) -> None:
        qs = getattr(self.settings, "qsettings", None)
        key = qs.value("training/preset", "") if qs is not None else ""
        index = self.preset_combo.findData(key) if isinstance(key, str) and key else -1
        if index >= 0:
            self.preset_combo.setCurrentIndex(index)

    # -- public API -----------------------------------------------------------
    def set_project(self, project) -> None:
        """Train on ``project``'s splits (None: only manifests)."""
        self._project = project
        self.data_choice.set_project(project)
        if not self.name_edit.isModified():
            self._default_name()
        self._update_buttons()

    def set_base_model(self, path: str | os.PathLike) -> None:
        """The model to personalize or fine-tune (and the default of the base model field)."""
        self._base_default = Path(path)
        self.base_edit.setText(str(path))

    @property
    def models_root(self) -> Path:
        """The folder new runs are written under."""
        return self._models_root

    @models_root.setter
    def models_root(self, path: str | os.PathLike) -> None:
        self._models_root = Path(path)
        self._update_folder_label()

    @property
    def preset(self) -> Preset:
        return PRESETS[max(0, self.preset_combo.currentIndex())]

    def set_preset(self, key: str) -> None:
        """Choose a preset by key (``"personalize"``, ``"finetune"``, ``"train"``)."""
        index = self.preset_combo.findData(key)
        if index < 0:
            raise KeyError(key)
        self.preset_combo.setCurrentIndex(index)

    @property
    def busy(self) -> bool:
        """True while a job of this panel is queued or runs."""
        return self._job_id is not None

    @property
    def current_job(self) -> int | None:
        """The id of this panel's queued or running job."""
        return self._job_id

    @property
    def last_checkpoint(self) -> str | None:
        """The checkpoint of the last finished training job of this panel."""
        return self._last_checkpoint

    def output_folder(self, stamp: str | None = None) -> Path:
        """``models_root / "<timestamp>-<name>"`` for a run starting now (or at ``stamp``)."""
        stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
        return Path(self.models_root) / f"{stamp}-{_safe_name(self.name_edit.text() or self._suggested_name())}"

    def start(self) -> bool:
        """Start the chosen run; False (and a message) if the data or the model cannot be used."""
        if self.busy:
            return False
        preset = self.preset
        scratch = preset.key == "train" and self.from_scratch_radio.isChecked()
        base = Path(self.base_edit.text().strip())
        if not scratch:
            problem = _model_problem(base)
            if problem:
                return self._refuse(problem)
        min_train, min_dev = (1, 1) if preset.key == "personalize" else (2, 2)
        data = self._collect(min_train, min_dev)
        if data is None:
            return False
        out = self._make_run_folder(data)
        if out is None:
            return False
        if preset.key == "personalize":
            # the benchmarked recipe: rehearse base data and add background noise to the takes
            job = PersonalizeJob(out, base, data.train, config=self._personalize_config(len(data.train)),
                                 noises=True, rehearse=True)
        elif scratch:
            job = TrainJob(out, data.train, data.dev, self._train_config(preset, data))
        else:
            job = FineTuneJob(out, data.train, data.dev, self._train_config(preset, data), init_from=base)
        what = {"personalize": "Personalization", "finetune": "Fine-tuning", "train": "Training"}[job.kind]
        self.log_view.clear()
        self.curves.clear(per_step=preset.key == "personalize")
        self.report.clear("The evaluation on the validation data appears here after the run.")
        self._last_checkpoint = None
        self._resumable = None
        self._append_log(f"{what} into {out}")
        self._append_log(data.description)
        if not self._submit(job, _Run("train", job.kind, out, data.dev, per_step=preset.key == "personalize")):
            return False
        self._say(f"{what} queued: {data.description}")
        return True

    def evaluate_base(self) -> bool:
        """Score the base model on the validation data (no training); False (and a message) if impossible."""
        if self.busy:
            return False
        base = Path(self.base_edit.text().strip())
        problem = _model_problem(base)
        if problem:
            return self._refuse(problem)
        data = self._collect(0, 1)
        if data is None:
            return False
        out = self._make_run_folder(data, name=f"eval-{_safe_name(base.name)}")
        if out is None:
            return False
        self.report.clear("Evaluating…")
        self._resumable = None
        self._append_log(f"Evaluating {base} on {len(data.dev)} validation utterance(s)")
        return self._submit_evaluation(str(base), data.dev, out)

    def cancel(self) -> bool:
        """Cancel this panel's job (training saves a checkpoint first); False if none runs."""
        if self._job_id is None or self._cancelling:
            return False
        ok = self.queue.cancel(self._job_id)
        if ok:
            self._cancelling = True
            self._say("Cancelling… (a training run saves a checkpoint first)")
            self.progress_bar.setFormat("Cancelling…")
        self._update_buttons()
        return ok

    def resume(self) -> bool:
        """Queue the failed or cancelled job again, continuing from its last checkpoint; False if there is none."""
        if self.busy or self._resumable is None:
            return False
        old = self._resumable
        run = self._runs.get(old)
        try:
            job_id = self.queue.resume(old)
        except (KeyError, ValueError) as exc:
            return self._refuse(f"Cannot resume: {exc}")
        self._resumable = None
        if run is not None:
            self._runs[job_id] = dataclasses.replace(run)
        self._job_id = job_id
        self._cancelling = False
        self._append_log(f"--- resuming job {old} as job {job_id}")
        self._say("Resuming…", error=False)
        self._set_busy(True)
        return True

    def play_row(self, row: int) -> bool:
        """Play the utterance of evaluation table row ``row``; False (and a message) if it cannot be played."""
        from engine.audio.errors import AudioError
        from engine.audio.io import load_segment

        utt = self.report.utterance_at(row)
        if utt is None:
            return self._refuse("This row's audio could not be found among the validation utterances.")
        try:
            audio = load_segment(utt.audio_path, utt.start, utt.end)
        except AudioError as exc:
            return self._refuse(f"Cannot play {utt.audio_path.name}: {exc}")
        return self.playback.play(audio)

    # -- job building ---------------------------------------------------------
    def _collect(self, min_train: int, min_dev: int) -> TrainingData | None:
        try:
            return self.data_choice.collect(max(min_train, 1), min_dev)
        except DataChoiceError as exc:
            self._refuse(str(exc))
            return None

    def _make_run_folder(self, data: TrainingData, name: str | None = None) -> Path | None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = (Path(self.models_root) / f"{stamp}-{name}") if name else self.output_folder(stamp)
        candidate, n = out, 2
        while candidate.exists():
            candidate = out.with_name(f"{out.name}-{n}")
            n += 1
        try:
            candidate.mkdir(parents=True)
            write_manifest(candidate / "train.jsonl", data.train)
            write_manifest(candidate / "dev.jsonl", data.dev)
        except OSError as exc:
            self._refuse(f"Cannot write the model folder {candidate}: {exc.strerror or exc}. "
                         f"Free some space or choose another place.")
            return None
        return candidate

    def _personalize_config(self, takes: int):
        from engine.train.personalize import PersonalizeConfig

        cfg = PersonalizeConfig(steps=self.length_spin.value(), lr=self.lr_spin.value())
        fields = {f.name for f in dataclasses.fields(cfg)}
        return dataclasses.replace(cfg, **{k: v for k, v in self.config_overrides.items() if k in fields})

    def _train_config(self, preset: Preset, data: TrainingData):
        from engine.train.trainer import TrainConfig

        cfg = TrainConfig(epochs=self.length_spin.value(), peak_lr=self.lr_spin.value(),
                          patience=self.patience_spin.value())
        fields = {f.name for f in dataclasses.fields(cfg)}
        cfg = dataclasses.replace(cfg, **{k: v for k, v in self.config_overrides.items() if k in fields})
        return cfg if "warmup_steps" in self.config_overrides else scaled_warmup(cfg, data.train)

    def _submit(self, job, run: _Run) -> bool:
        try:
            job_id = self.queue.submit(job)
        except (TypeError, ValueError) as exc:
            return self._refuse(str(exc))
        self._runs[job_id] = run
        self._job_id = job_id
        self._cancelling = False
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Waiting for the worker…" if self.queue.running == job_id
                                    else "Queued behind another job…")
        self.eta_label.clear()
        self._set_busy(True)
        return True

    def _submit_evaluation(self, checkpoint: str, dev: list[Utterance], out: Path) -> bool:
        job = EvaluateJob(out, checkpoint, list(dev), threads=self.eval_threads, worst=max(1, len(dev)))
        return self._submit(job, _Run("evaluate", "evaluate", out, list(dev), evaluate_after=False))

    # -- job events -----------------------------------------------------------
    def _mine(self, event) -> _Run | None:
        return self._runs.get(event.job_id)

    def _on_started(self, e: JobStarted) -> None:
        run = self._mine(e)
        if run is None:
            return
        if run.per_step and e.resume:
            self.curves.clear_steps()  # a personalization starts over
        label = STAGES.get("evaluate" if run.role == "evaluate" else run.kind, "Working")
        self.progress_bar.setFormat(f"{label}: starting…")

    def _on_progress(self, e: Progress) -> None:
        run = self._mine(e)
        if run is None or e.job_id != self._job_id:
            return
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
        if self._cancelling:
            text = "Cancelling… " + text
        self.progress_bar.setValue(int(round(PROGRESS_STEPS * min(1.0, max(0.0, fraction)))))
        self.progress_bar.setFormat(f"{text} (%p%)")
        self.eta_label.setText(format_eta(e.eta_seconds))
        if e.stage == "personalize":
            self.curves.add_step(e.done, e.loss)

    def _on_metrics(self, e: Metrics) -> None:
        if self._mine(e) is None:
            return
        self.curves.add_epoch(e.epoch, e.train_loss, e.dev_wer, e.dev_cer)

    def _on_log(self, e: LogLine) -> None:
        if self._mine(e) is None:
            return
        self._append_log(e.message)

    def _on_finished(self, e: JobFinished) -> None:
        run = self._mine(e)
        if run is None:
            return
        self._job_id = None
        self._cancelling = False
        self.eta_label.clear()
        self.progress_bar.setValue(PROGRESS_STEPS)
        if run.role == "evaluate":
            self._show_evaluation(e.report, run)
            self._set_busy(False)
            return
        self._last_checkpoint = e.checkpoint
        self.progress_bar.setFormat("Done")
        summary = self._training_summary(run, e.report)
        self._say(f"Model saved to {e.checkpoint}. {summary}".strip(), error=False)
        self.model_ready.emit(e.checkpoint)
        if run.evaluate_after and run.dev:
            self._append_log(f"--- evaluating {e.checkpoint} on {len(run.dev)} validation utterance(s)")
            self.report.clear("Evaluating the new model on the validation data…")
            if self._submit_evaluation(e.checkpoint, run.dev, run.out_dir / "evaluation"):
                return
        self._set_busy(False)

    def _on_failed(self, e: JobFailed) -> None:
        run = self._mine(e)
        if run is None:
            return
        self._job_id = None
        self._cancelling = False
        self._resumable = e.job_id
        self.eta_label.clear()
        title = FAILURE_TITLES.get(e.kind, "The job failed")
        noun = "Evaluation" if run.role == "evaluate" else "The run"
        if e.kind == "cancelled":
            self.progress_bar.setFormat("Cancelled")
            self._say(f"{title}. {e.message} Press Resume to continue.", error=False)
        else:
            self.progress_bar.setFormat("Failed")
            self._say(f"{title}: {e.message}" + ("" if e.kind == "data" else f" {noun} can be resumed."))
            if e.log_tail:
                self._append_log("--- last lines of the job log:")
                self._append_log(e.log_tail)
        if run.role == "evaluate":
            self.report.clear(f"The evaluation did not finish: {e.message}")
        self._set_busy(False)

    # -- helpers --------------------------------------------------------------
    def _show_evaluation(self, report: dict, run: _Run) -> None:
        self.report.show_report(report, run.dev)
        self.progress_bar.setFormat("Evaluated")
        wer, cer = float(report.get("wer", math.nan)), float(report.get("cer", math.nan))
        points = self.curves.loss_points()
        self.curves.add_evaluation(points[-1][0] if points else 0, wer, cer)
        self.tabs.setCurrentWidget(self.report)
        text = (f"Evaluation: WER {100 * wer:.1f} %, CER {100 * cer:.1f} % on "
                f"{report.get('utterances', len(run.dev))} validation utterance(s).")
        self._append_log(text)
        self._say(text, error=False)
        self.evaluation_ready.emit(report)

    @staticmethod
    def _training_summary(run: _Run, report: dict) -> str:
        if run.kind == "personalize":
            try:
                return f"Loss {report['first_loss']:.3f} → {report['last_loss']:.3f} in {report['steps']} steps."
            except (KeyError, TypeError, ValueError):
                return ""
        best = report.get("best_wer")
        if isinstance(best, float) and math.isfinite(best):
            return f"Best validation WER {100 * best:.1f} %."
        return ""

    def _append_log(self, text: str) -> None:
        for line in str(text).splitlines() or [""]:
            self.log_view.appendPlainText(line)

    def _say(self, text: str, error: bool = True) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet(ERROR_STYLE if error else INFO_STYLE)
        self.message_label.setVisible(bool(text))
        if text:
            self.message.emit(text)

    def _refuse(self, text: str) -> bool:
        self._say(text, error=True)
        return False

    def _set_busy(self, busy: bool) -> None:
        self._update_buttons()
        self._update_inputs()
        self.busy_changed.emit(busy)

    def _update_buttons(self) -> None:
        busy = self.busy
        self.start_button.setEnabled(not busy)
        self.evaluate_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy and not self._cancelling)
        self.resume_button.setEnabled(not busy and self._resumable is not None)

    def _update_inputs(self, *_) -> None:
        busy = self.busy
        preset = self.preset
        for w in (self.data_choice, self.preset_combo, self.name_edit, self.length_spin, self.lr_spin):
            w.setEnabled(not busy)
        self.from_scratch_radio.setEnabled(not busy and not preset.needs_base)
        self.from_base_radio.setEnabled(not busy)
        if preset.needs_base and self.from_scratch_radio.isChecked():
            self.from_base_radio.setChecked(True)
        scratch = preset.key == "train" and self.from_scratch_radio.isChecked()
        self.base_edit.setEnabled(not busy and not scratch)
        self.base_browse.setEnabled(not busy and not scratch)
        training = preset.key != "personalize"
        self.patience_spin.setEnabled(not busy and training)
        self.patience_spin.setVisible(training)
        self.patience_label.setVisible(training)
        self.evaluate_button.setEnabled(not busy)

    def _on_preset(self, *_) -> None:
        p = self.preset
        self.preset_help.setText(p.description)
        self.length_label.setText("Steps" if p.key == "personalize" else "Epochs")
        self.length_spin.setValue(p.length)
        self.lr_spin.setValue(p.lr)
        self.patience_spin.setValue(p.patience)
        if not self.name_edit.isModified():
            self._default_name()
        qs = getattr(self.settings, "qsettings", None)
        if qs is not None:
            qs.setValue("training/preset", p.key)
        self._update_inputs()

    def _suggested_name(self) -> str:
        noun = {"personalize": "personalized", "finetune": "finetuned", "train": "trained"}[self.preset.key]
        return f"{Path(self._project.folder).name}-{noun}" if self._project is not None else noun

    def _default_name(self) -> None:
        self.name_edit.setText(_safe_name(self._suggested_name()))
        self.name_edit.setModified(False)
        self._update_folder_label()

    def _update_folder_label(self, *_) -> None:
        self.folder_label.setText(str(Path(self.models_root) / f"<date-time>-{_safe_name(self.name_edit.text())}"))

    def _browse_base(self) -> None:
        start = self.base_edit.text().strip() or str(self._base_default)
        path = QFileDialog.getExistingDirectory(self, "Base model", start)
        if path:
            self.base_edit.setText(path)
