"""The training panel: personalize, fine-tune or train a model in the background, then evaluate it.

The user picks the data (:class:`~app.training.data_choice.DataChoice`: the
open project's train/dev splits or NeMo manifests) and the run
(:class:`~app.training.run_form.RunForm`: a base model, whether to start from
it or from scratch, and a preset, :data:`engine.train.presets.PRESETS`):

- **Quick personalization**: :class:`~engine.jobs.specs.PersonalizeJob`,
  a few optimizer steps on the top layers of the base model (a few takes); a Whisper base
  model gets LoRA adapters (:mod:`engine.whisper.personalize`), exported to CTranslate2 and
  registered by the job;
- **Fine-tune**: :class:`~engine.jobs.specs.FineTuneJob`, a few epochs of
  the whole base model at a low learning rate;
- **Full training**: :class:`~engine.jobs.specs.TrainJob` from scratch
  (or a long :class:`FineTuneJob` from the base model), many epochs, early
  stopping, the checkpoint with the best validation WER kept.

Jobs run in a worker process through the studio's
:class:`~app.training.job_queue.TrainingJobQueue`; this panel controls them
(start, cancel, resume, evaluate) and shows their events in a
:class:`~app.training.run_display.RunDisplay` (progress with ETA, live curves,
the log). When a training job finishes, :attr:`TrainingPanel.model_ready`
carries the checkpoint and an :class:`~engine.jobs.specs.EvaluateJob` on the
validation data starts by itself; its report lists the utterances worst first
(click one to hear it and see the word diff). Failures become one plain
sentence in the panel's message line (never a traceback: the log tail goes
to the log pane); a failed or cancelled job can be resumed.

Every run writes into its own folder under :attr:`RunForm.models_root
<app.training.run_form.RunForm.models_root>` named ``<timestamp>-<name>``
(the name is the user's), with the manifests it used (``train.jsonl``,
``dev.jsonl``) beside the checkpoints.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget

from app.playback.controller import PlaybackController
from app.training.data_choice import DataChoice, DataChoiceError, TrainingData
from app.training.job_queue import TrainingJobQueue
from app.training.run_display import RunDisplay
from app.training.run_form import RunForm, model_problem, safe_name
from engine.checkpoint_layout import family
from engine.data.manifest import write_manifest
from engine.data.utterance import Utterance
from engine.jobs.events import JobFailed, JobFinished, JobStarted, LogLine, Metrics, Progress
from engine.jobs.specs import EvaluateJob, FineTuneJob, PersonalizeJob, TrainJob
from engine.whisper.folder import WHISPER_FAMILY

__all__ = ["TrainingPanel"]

log = logging.getLogger("sayso.training")

FAILURE_TITLES = {
    "cancelled": "Cancelled",
    "data": "The data cannot be used",
    "nan": "Training diverged",
    "disk": "Disk problem",
    "crashed": "The job stopped unexpectedly",
    "internal": "Internal error",
}


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
    """Choose data and run; start, watch, cancel or resume the job; read the evaluation.

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
        data_choice: which utterances to train on and validate with.
        form: which run (preset, base model, length, name; :attr:`RunForm.models_root`).
        display: the message line, progress, curves, log and evaluation report.
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
        self.config_overrides: dict[str, Any] = {}
        self.eval_threads = 2
        self._runs: dict[int, _Run] = {}
        self._job_id: int | None = None
        self._resumable: int | None = None
        self._cancelling = False

        self._build()
        self._connect()
        self._update_buttons()

    # -- construction ---------------------------------------------------------
    def _build(self) -> None:
        self.data_choice = DataChoice(self.settings)
        data_box = QGroupBox("Data")
        QVBoxLayout(data_box).addWidget(self.data_choice)
        self.form = RunForm(self.settings)

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
        self.display = RunDisplay(buttons)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(data_box)
        left_layout.addWidget(self.form)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        scroll.setMinimumWidth(360)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(self.display)
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
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button.clicked.connect(self.resume)
        self.evaluate_button.clicked.connect(self.evaluate_base)
        self.display.report.play_requested.connect(self.play_row)
        self.data_choice.changed.connect(self._update_buttons)

    # -- public API -----------------------------------------------------------
    def set_project(self, project) -> None:
        """Train on ``project``'s splits (None: only manifests)."""
        self.data_choice.set_project(project)
        self.form.set_project(project)
        self._update_buttons()

    def set_base_model(self, path: str | os.PathLike) -> None:
        """The model to personalize or fine-tune (and the default of the base model field)."""
        self.form.set_base_model(path)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """The Train tab comes forward: count the project's utterances again (edits in the Dataset tab
        changed splits and statuses meanwhile)."""
        self.data_choice.refresh()
        self.form.refresh_teachers()  # models installed or removed in the Models window meanwhile
        super().showEvent(event)

    @property
    def busy(self) -> bool:
        """True while a job of this panel is queued or runs."""
        return self._job_id is not None

    def start(self) -> bool:
        """Start the chosen run; False (and a message) if the data or the model cannot be used."""
        if self.busy:
            return False
        preset, scratch, base = self.form.preset, self.form.from_scratch, self.form.base_path
        if not scratch:
            problem = model_problem(base, whisper=preset.key == "personalize")
            if problem:
                return self._refuse(problem)
        whisper = not scratch and family(base) == WHISPER_FAMILY
        note = ""
        min_train, min_dev = (1, 1) if preset.key == "personalize" else (2, 2)
        data = self._collect(min_train, min_dev)
        if data is None:
            return False
        teacher, unlabeled = self.form.teacher, []
        if teacher:
            try:
                unlabeled = self.data_choice.unlabeled()
            except DataChoiceError as exc:
                return self._refuse(str(exc))
        out = self._make_run_folder(data)
        if out is None:
            return False
        if preset.key == "personalize" and whisper:
            # LoRA with its own recipe (engine/whisper/personalize_config.py: the top encoder layers, steps,
            # learning rate); the job registers the model with its lineage
            config = self.form.whisper_personalize_config(self.config_overrides)
            job = PersonalizeJob(out, base, data.train, config=config, rehearse=True, name=out.name)
            note = (f"Whisper: LoRA adapters on its top {config.top_encoder_layers} encoder layers, "
                    f"{config.steps} steps at learning rate {config.lr:g}")
        elif preset.key == "personalize":
            # the benchmarked recipe: rehearse base data and add background noise to the takes
            job = PersonalizeJob(out, base, data.train, config=self.form.personalize_config(self.config_overrides),
                                 noises=True, rehearse=True)
        elif scratch:
            job = TrainJob(out, data.train, data.dev, self.form.train_config(data.train, self.config_overrides),
                           teacher=teacher, unlabeled=unlabeled)
        else:
            job = FineTuneJob(out, data.train, data.dev, self.form.train_config(data.train, self.config_overrides),
                              init_from=base, teacher=teacher, unlabeled=unlabeled)
        what = {"personalize": "Personalization", "finetune": "Fine-tuning", "train": "Training"}[job.kind]
        self.display.begin_run(per_step=preset.key == "personalize")
        self._resumable = None
        self.display.append_log(f"{what} into {out}")
        self.display.append_log(data.description)
        if teacher:
            self.display.append_log(f"{self.form.teacher_combo.currentText()} first transcribes {len(unlabeled)} "
                                    "unlabeled utterance(s) of the project; the model also trains on its transcripts")
        if note:
            self.display.append_log(note)
        if not self._submit(job, _Run("train", job.kind, out, data.dev, per_step=preset.key == "personalize")):
            return False
        self._say(f"{what} queued: {data.description}", error=False)
        return True

    def evaluate_base(self) -> bool:
        """Score the base model on the validation data (no training); False (and a message) if impossible."""
        if self.busy:
            return False
        base = self.form.base_path
        problem = model_problem(base, whisper=True)  # an evaluation reads either family
        if problem:
            return self._refuse(problem)
        data = self._collect(0, 1)
        if data is None:
            return False
        out = self._make_run_folder(data, name=f"eval-{safe_name(base.name)}")
        if out is None:
            return False
        self.display.report.clear("Evaluating…")
        self._resumable = None
        self.display.append_log(f"Evaluating {base} on {len(data.dev)} validation utterance(s)")
        return self._submit_evaluation(str(base), data.dev, out)

    def cancel(self) -> bool:
        """Cancel this panel's job (training saves a checkpoint first); False if none runs."""
        if self._job_id is None or self._cancelling:
            return False
        ok = self.queue.cancel(self._job_id)
        if ok:
            self._cancelling = True
            self._say("Cancelling… (a training run saves a checkpoint first)", error=False)
            self.display.progress_bar.setFormat("Cancelling…")
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
        self.display.append_log(f"--- resuming job {old} as job {job_id}")
        self._say("Resuming…", error=False)
        self._set_busy(True)
        return True

    def play_row(self, row: int) -> bool:
        """Play the utterance of evaluation table row ``row``; False (and a message) if it cannot be played."""
        from engine.audio.errors import AudioError
        from engine.audio.io import load_segment

        utt = self.display.report.utterance_at(row)
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
        out = self.form.output_folder(name=name)
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

    def _submit(self, job, run: _Run) -> bool:
        try:
            job_id = self.queue.submit(job)
        except (TypeError, ValueError) as exc:
            return self._refuse(str(exc))
        self._runs[job_id] = run
        self._job_id = job_id
        self._cancelling = False
        self.display.show_queued(running=self.queue.running == job_id)
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
        self.display.show_started("evaluate" if run.role == "evaluate" else run.kind,
                                  restarted_steps=run.per_step and e.resume)
        if e.resume:  # "Resuming…" said what was asked; now the progress bar says where it is
            self._say("Resumed from the last checkpoint.", error=False)

    def _on_progress(self, e: Progress) -> None:
        if self._mine(e) is None or e.job_id != self._job_id:
            return
        self.display.show_progress(e, cancelling=self._cancelling)

    def _on_metrics(self, e: Metrics) -> None:
        if self._mine(e) is None:
            return
        self.display.curves.add_epoch(e.epoch, e.train_loss, e.dev_wer, e.dev_cer)

    def _on_log(self, e: LogLine) -> None:
        if self._mine(e) is None:
            return
        self.display.append_log(e.message)

    def _on_finished(self, e: JobFinished) -> None:
        run = self._mine(e)
        if run is None:
            return
        self._job_id = None
        self._cancelling = False
        self.display.show_ended("Done", complete=True)
        if run.role == "evaluate":
            self._say(self.display.show_evaluation(e.report, run.dev), error=False)
            self.evaluation_ready.emit(e.report)
            self._set_busy(False)
            return
        summary = self._training_summary(run, e.report)
        self._say(f"Model saved to {e.checkpoint}. {summary}".strip(), error=False)
        self.model_ready.emit(e.checkpoint)
        if run.evaluate_after and run.dev:
            self.display.append_log(f"--- evaluating {e.checkpoint} on {len(run.dev)} validation utterance(s)")
            self.display.report.clear("Evaluating the new model on the validation data…")
            if self._submit_evaluation(e.checkpoint, run.dev, run.out_dir / "evaluation"):
                return
        self._set_busy(False)

    def _on_failed(self, e: JobFailed) -> None:
        run = self._mine(e)
        if run is None:
            return
        self._job_id = None
        self._cancelling = False
        # only training keeps checkpoints to continue from; a personalization (seconds) or an
        # evaluation starts over, so Resume is not offered for them
        resumable = run.role == "train" and run.kind != "personalize" and e.kind != "data"
        self._resumable = e.job_id if resumable else None
        title = FAILURE_TITLES.get(e.kind, "The job failed")
        again = "Press Resume to continue." if resumable else ""
        if e.kind == "cancelled":  # the message says what is kept (engine.jobs.specs.resume_hint)
            self.display.show_ended("Cancelled", complete=False)
            self._say(f"{title}. {e.message} {again}".strip(), error=False)
        else:
            self.display.show_ended("Failed", complete=False)
            self._say(f"{title}: {e.message} {again}".strip(), error=True)
            if e.log_tail:
                self.display.append_log("--- last lines of the job log:")
                self.display.append_log(e.log_tail)
        if run.role == "evaluate":
            self.display.report.clear(f"The evaluation did not finish: {e.message}")
        self._set_busy(False)

    # -- helpers --------------------------------------------------------------
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

    def _say(self, text: str, error: bool) -> None:
        self.display.say(text, error)
        if text:
            self.message.emit(text)

    def _refuse(self, text: str) -> bool:
        self._say(text, error=True)
        return False

    def _set_busy(self, busy: bool) -> None:
        self._update_buttons()
        self.data_choice.setEnabled(not self.busy)
        self.form.set_busy(self.busy)
        self.busy_changed.emit(busy)

    def _update_buttons(self) -> None:
        busy = self.busy
        self.start_button.setEnabled(not busy)
        self.evaluate_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy and not self._cancelling)
        self.resume_button.setEnabled(not busy and self._resumable is not None)
