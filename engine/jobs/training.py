"""Training, fine-tuning, personalization and evaluation as background jobs (headless, no Qt).

A :class:`JobRunner` keeps a FIFO queue of jobs and runs one at a time, each
in its own ``multiprocessing`` *spawn* worker process (never in the
caller's threads): a fresh interpreter per job, so a crash, a leak or an
out-of-memory kill takes down that job only. The caller never blocks:
:meth:`JobRunner.submit` returns a job id at once and :meth:`JobRunner.poll`
returns the next event (or ``None``).

Jobs (picklable dataclasses; data is a JSONL manifest path or a list of
:class:`~engine.data.manifest.Utterance`):

- :class:`TrainJob`: :class:`~engine.train.trainer.Trainer` from scratch;
- :class:`FineTuneJob`: the same, starting from a checkpoint (``init_from``);
- :class:`PersonalizeJob`: few-shot :func:`~engine.train.personalize.personalize`,
  the result saved to ``<out_dir>/model``;
- :class:`EvaluateJob`: :func:`~engine.decode.evaluate.evaluate` of a checkpoint
  on a test set, the report saved to ``<out_dir>/eval.json``;
- :class:`CompareJob`: :meth:`~engine.registry.index.ModelRegistry.compare` of two
  registered models on the same test set, saved to ``<out_dir>/compare.json``.

Events (frozen dataclasses) of a job, in order: one :class:`JobStarted`
(with the worker's pid), any number of :class:`Progress`, :class:`Metrics`
(one per finished epoch) and :class:`LogLine`, then exactly one terminal
event, :class:`JobFinished` or :class:`JobFailed` whose ``kind`` is one of
:data:`FailureKind` and whose ``message`` is meant for a user.

Faults:

- **cancel** (:meth:`JobRunner.cancel`) is cooperative first: a
  ``multiprocessing.Event`` that the trainer polls between batches (it then
  saves ``last/`` and returns), then a hard kill after ``cancel_timeout``
  seconds (default :data:`CANCEL_TIMEOUT_S`); either way ``JobFailed(kind="cancelled")``.
- **crash** (kill -9, out of memory, a native crash): ``JobFailed(kind="crashed")``
  with the tail of ``<out_dir>/job.log``, which the worker writes line by line
  so it survives the crash. :meth:`JobRunner.resume` queues the job again
  with ``resume=True``: training continues from the last atomic checkpoint.
- **NaN loss** stops with ``kind="nan"``, **bad data** (missing manifest,
  unreadable audio, empty transcripts, a bad checkpoint) with ``kind="data"``,
  a **full or read-only disk** with ``kind="disk"`` (checkpoints are written
  atomically, so the previous one stays loadable), anything else with
  ``kind="internal"`` (the traceback is in the log).

>>> runner = JobRunner()                                                   # doctest: +SKIP
>>> job_id = runner.submit(TrainJob("runs/a", "train.jsonl", "dev.jsonl"))   # doctest: +SKIP
>>> events = runner.wait(job_id)                                           # doctest: +SKIP
"""
from __future__ import annotations

import collections
import copy
import dataclasses
import errno
import itertools
import json
import math
import os
import queue
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Sequence, Union

from engine.data.manifest import Utterance
from engine.jobs.worker import (
    SPAWN,
    TORN,
    close_queues,
    describe_exit,
    drain,
    hard_exit_later,
    limit_threads,
    stop_process,
    watch_parent,
)

if TYPE_CHECKING:  # the caller's process need not import torch
    from engine.train.personalize import PersonalizeConfig
    from engine.train.trainer import TrainConfig

__all__ = [
    "CANCEL_TIMEOUT_S", "JOB_LOG", "Data", "EvaluateJob", "FailureKind", "FineTuneJob", "Job", "JobDataError",
    "JobEvent", "JobFailed", "JobFinished", "JobKind", "JobRunner", "JobStarted", "JobStatus", "LogLine", "Metrics",
    "PersonalizeJob", "Progress", "TrainJob", "last_checkpoint_epoch", "read_log_tail",
]

JobKind = Literal["train", "finetune", "personalize", "evaluate", "compare"]
FailureKind = Literal["data", "nan", "disk", "crashed", "cancelled", "internal"]
"""Why a job failed: bad data, a non-finite loss, a full or unwritable disk, the
worker process died, the user cancelled it, or a bug."""
JobStatus = Literal["queued", "running", "finished", "failed"]

CANCEL_TIMEOUT_S = 10.0
"""Seconds a cancelled job has to stop on its own before its worker is killed."""
JOB_LOG = "job.log"
"""The worker's log in the job's ``out_dir``, written line by line (it survives a crash)."""
LOG_TAIL_LINES = 40
"""Lines of the log a :class:`JobFailed` carries."""
PROGRESS_INTERVAL_S = 0.25
"""The worker sends at most about this many :class:`Progress` events per second per stage (plus first and last)."""
ORPHAN_GRACE_S = 15.0
"""A worker whose parent died stops cooperatively, and exits at the latest after this many seconds."""
RETIRE_TIMEOUT_S = 5.0
"""A worker that sent its last event gets this long to exit before it is killed."""

Data = Union[str, os.PathLike, Sequence[Utterance]]
"""Utterances: a JSONL manifest (:func:`engine.data.manifest.read_manifest`) or a list."""


# --------------------------------------------------------------------------
# jobs
# --------------------------------------------------------------------------
@dataclass
class TrainJob:
    """Train a model from scratch into ``out_dir`` (``last/``, ``best/``, ``train.log``, ``job.log``).

    Attributes:
        config: a :class:`~engine.train.trainer.TrainConfig` (``None``: the defaults).
        noises: mix the Speech Commands background noises into the augmentation
            (:func:`engine.recipes.datasets.background_noises`; none if absent).
        resume: continue from ``out_dir/last`` (see :meth:`JobRunner.resume`).
    """

    out_dir: str | os.PathLike
    train: Data
    dev: Data
    config: TrainConfig | None = None
    noises: bool = False
    resume: bool = False
    kind: ClassVar[str] = "train"


@dataclass
class FineTuneJob(TrainJob):
    """:class:`TrainJob` that starts from the checkpoint ``init_from`` (the config's ``init_from`` is ignored)."""

    init_from: str | os.PathLike = ""
    kind: ClassVar[str] = "finetune"


@dataclass
class PersonalizeJob:
    """Few-shot personalization of ``checkpoint`` on ``takes``; the result goes to ``out_dir/model``.

    ``base`` utterances are rehearsed at every step; with ``rehearse`` and no
    ``base``, the base model's own corpora are (:func:`engine.train.rehearsal.rehearsal_set`,
    if they are on this machine). ``noises``: mix recorded background noise into
    the takes (synthetic coloured noise where none is found). ``config`` is a
    :class:`~engine.train.personalize.PersonalizeConfig` (``None``: the
    defaults). ``resume`` has no effect (the run is seconds long: it starts over).
    """

    out_dir: str | os.PathLike
    checkpoint: str | os.PathLike
    takes: Data
    base: Data = ()
    config: PersonalizeConfig | None = None
    noises: bool = False
    rehearse: bool = False
    resume: bool = False
    kind: ClassVar[str] = "personalize"


@dataclass
class EvaluateJob:
    """WER/CER of ``checkpoint`` on ``test`` (greedy CTC, optional vocabulary); the report goes to ``out_dir/eval.json``.

    ``resume`` has no effect (an evaluation starts over).
    """

    out_dir: str | os.PathLike
    checkpoint: str | os.PathLike
    test: Data
    vocabulary: tuple[str, ...] | None = None
    threads: int = 2
    worst: int = 10
    resume: bool = False
    kind: ClassVar[str] = "evaluate"


@dataclass
class CompareJob:
    """Two registered models (ids of :class:`~engine.registry.index.ModelRegistry`) on the same ``test`` set.

    Both decode every utterance (with the optional vocabulary); the figures
    are stored in both registry entries and the
    :meth:`~engine.registry.index.Comparison.to_json` report goes to
    ``out_dir/compare.json``. ``registry`` is the registry's folder (``None``:
    the default). ``resume`` has no effect.
    """

    out_dir: str | os.PathLike
    model_a: str
    model_b: str
    test: Data
    vocabulary: tuple[str, ...] | None = None
    registry: str | os.PathLike | None = None
    threads: int = 2
    resume: bool = False
    kind: ClassVar[str] = "compare"


Job = Union[TrainJob, FineTuneJob, PersonalizeJob, EvaluateJob, CompareJob]


# --------------------------------------------------------------------------
# events
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class JobStarted:
    """The worker process ``pid`` began job ``job_id``."""

    job_id: int
    kind: str
    pid: int
    out_dir: str
    resume: bool = False


@dataclass(frozen=True)
class Progress:
    """How far a stage is: ``done`` of ``total`` items (utterances loaded, batches of ``epoch``, steps…).

    ``stage`` is ``"loading"``, ``"train"``, ``"personalize"``,
    ``"evaluate"`` or ``"compare"``; ``eta_seconds`` estimates the rest of the job (all
    remaining epochs for ``"train"``) from the pace so far, ``None`` until known.
    """

    job_id: int
    stage: str
    done: int
    total: int
    epoch: int | None = None
    epochs: int | None = None
    loss: float | None = None
    eta_seconds: float | None = None


@dataclass(frozen=True)
class Metrics:
    """One finished epoch: mean training losses and validation WER/CER (fractions), wall seconds, last lr."""

    job_id: int
    epoch: int
    epochs: int
    train_loss: float
    ctc_loss: float
    attention_loss: float
    contrastive_loss: float
    dev_wer: float
    dev_cer: float
    seconds: float
    lr: float


@dataclass(frozen=True)
class LogLine:
    """A line for the job's log view (also in ``<out_dir>/job.log``)."""

    job_id: int
    message: str


@dataclass(frozen=True)
class JobFinished:
    """Success: ``checkpoint`` is the result (best training checkpoint, personalized model, or the evaluated one).

    ``report``: for training the epoch ``history`` (dicts of
    :class:`~engine.train.trainer.EpochReport`), ``best_wer``, ``best`` and
    ``last`` paths; for personalization a
    :class:`~engine.train.personalize.PersonalizeReport` as a dict; for an
    evaluation ``wer``, ``cer``, ``rtf``, ``audio_seconds``, ``utterances``, ``worst``.
    """

    job_id: int
    checkpoint: str
    report: dict


@dataclass(frozen=True)
class JobFailed:
    """Failure: ``kind`` (:data:`FailureKind`), a user ``message`` (no traceback) and the last lines of the log."""

    job_id: int
    kind: FailureKind
    message: str
    log_tail: str = ""


JobEvent = Union[JobStarted, Progress, Metrics, LogLine, JobFinished, JobFailed]
TERMINAL = (JobFinished, JobFailed)


def read_log_tail(out_dir: str | os.PathLike, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of ``<out_dir>/job.log`` ('' if there is none)."""
    path = Path(out_dir) / JOB_LOG
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def last_checkpoint_epoch(out_dir: str | os.PathLike) -> int | None:
    """The epoch saved in ``<out_dir>/last`` (None if there is no training checkpoint)."""
    try:
        return int(json.loads((Path(out_dir) / "last" / "trainer.json").read_text(encoding="utf-8"))["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _resume_hint(job: Job) -> str:
    if job.kind not in ("train", "finetune"):
        return " Run it again to start over."
    epoch = last_checkpoint_epoch(job.out_dir)
    if epoch is None:
        return " No checkpoint was saved yet; resuming starts from the beginning."
    return f" The last checkpoint (after epoch {epoch}) is kept; resume continues from it."


# --------------------------------------------------------------------------
# worker process
# --------------------------------------------------------------------------
class _Cancelled(Exception):
    """The job stopped because it was asked to (or its parent died)."""


class JobDataError(ValueError):
    """Input a job cannot use (e.g. a manifest that does not exist); the message says which."""


class _JobLog:
    """Lines to ``<out_dir>/job.log`` (flushed one by one), to a tail buffer and to the parent as :class:`LogLine`."""

    def __init__(self, path: Path, job_id: int, send) -> None:
        self.path, self.job_id, self.send = path, job_id, send
        self.tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
        self._fh = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "a", encoding="utf-8")
        except OSError:
            pass  # a full or read-only disk: the job itself reports it

    @property
    def file(self):
        return self._fh

    def line(self, message: str, send: bool = True) -> None:
        stamp = time.strftime("%H:%M:%S ")
        lines = [stamp + m for m in message.splitlines() or [""]]
        self.tail.extend(lines)  # as in the file
        if self._fh is not None:
            try:
                self._fh.write("".join(m + "\n" for m in lines))
                self._fh.flush()
            except OSError:  # disk full: keep sending lines to the parent
                self._close()
        if send:
            self.send(LogLine(self.job_id, message))

    def _close(self) -> None:
        try:
            self._fh.close()
        except OSError:
            pass
        self._fh = None

    def close(self) -> None:
        if self._fh is not None:
            self._close()


class _Eta:
    """Seconds left from the average pace since the stage's first event."""

    def __init__(self) -> None:
        self.key: object = None
        self.t0 = self.g0 = 0.0

    def __call__(self, key: object, done: int, total: int) -> float | None:
        now = time.monotonic()
        if key != self.key or done < self.g0:
            self.key, self.t0, self.g0 = key, now, done
            return None
        if done <= self.g0:
            return None
        return max(0.0, (now - self.t0) / (done - self.g0) * (total - done))


class _Context:
    """What a job's code in the worker uses: the stop flag, the log, throttled progress."""

    def __init__(self, job: Job, job_id: int, events, stop) -> None:
        self.job, self.job_id, self.events, self.stop = job, job_id, events, stop
        self.log = _JobLog(Path(job.out_dir) / JOB_LOG, job_id, self.send)
        self._eta = _Eta()
        self._last: tuple = (None, 0.0)
        self.epochs = 0

    def send(self, event) -> None:
        try:
            self.events.put(event)
        except (OSError, ValueError):  # the queue is closed: the parent is gone
            pass

    def stopping(self) -> bool:
        return self.stop.is_set()

    def progress(self, stage: str, done: int, total: int, epoch: int | None = None, epochs: int | None = None,
                 loss: float | None = None) -> None:
        if epoch is not None and epochs:  # the whole run: every remaining batch of every remaining epoch
            eta = self._eta(stage, (epoch - 1) * total + done, epochs * total)
        else:
            eta = self._eta(stage, done, total)
        now, key = time.monotonic(), (stage, epoch)
        last_key, last_t = self._last
        if key == last_key and done < total and done > 1 and now - last_t < PROGRESS_INTERVAL_S:
            return
        self._last = (key, now)
        self.send(Progress(self.job_id, stage, done, total, epoch, epochs, loss, eta))

    # -- Trainer callbacks ---------------------------------------------------
    def on_trainer_event(self, e: dict) -> None:
        kind = e.get("type")
        if kind == "progress":
            if e.get("stage") == "loading" and self.stopping():
                raise _Cancelled()  # nothing saved yet in this run: stop at once
            self.progress(e.get("stage", ""), int(e.get("done", 0)), int(e.get("total", 0)), e.get("epoch"),
                          e.get("epochs"), e.get("loss"))
        elif kind == "epoch":
            if self.stopping() and math.isnan(e.get("dev_wer", math.nan)):
                return  # the unfinished epoch of a cancel: not a result
            self.send(Metrics(self.job_id, int(e["epoch"]), self.epochs, float(e["train_loss"]), float(e["ctc_loss"]),
                              float(e["attention_loss"]), float(e["contrastive_loss"]), float(e["dev_wer"]),
                              float(e["dev_cer"]), float(e["seconds"]), float(e["lr"])))
        elif kind == "log":
            self.log.line(str(e.get("message", "")))


def _utterances(data: Data, name: str) -> list[Utterance]:
    from engine.data.manifest import read_manifest

    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if not path.is_file():
            raise JobDataError(f"The {name} manifest {path} does not exist.")
        return read_manifest(path)
    return list(data)


def _noises(wanted: bool, ctx: _Context) -> list:
    if not wanted:
        return []
    from engine.recipes.datasets import background_noises

    try:
        noises = background_noises()
    except FileNotFoundError:
        noises = []
    if noises:
        return noises
    from engine.train.augment import coloured_noises

    ctx.log.line("no recorded background noise found: augmenting with synthetic white, pink and brown noise")
    return coloured_noises()


def _run_train(job: TrainJob, ctx: _Context) -> tuple[str, dict]:
    from engine.train.trainer import TrainConfig, Trainer

    cfg = copy.deepcopy(job.config) if job.config is not None else TrainConfig()
    if isinstance(job, FineTuneJob):
        cfg.init_from = str(job.init_from)
    ctx.epochs = cfg.epochs
    limit_threads(cfg.threads)
    _tidy_checkpoints(Path(job.out_dir))
    train, dev = _utterances(job.train, "training"), _utterances(job.dev, "validation")
    noises = _noises(job.noises, ctx)
    history = Trainer(cfg, job.out_dir, on_event=ctx.on_trainer_event, should_stop=ctx.stopping).fit(
        train, dev, noises, resume=job.resume)
    if ctx.stopping() and (not history or math.isnan(history[-1].dev_wer)):
        raise _Cancelled()
    out = Path(job.out_dir)
    best, last = out / "best", out / "last"
    finished = [h for h in history if not math.isnan(h.dev_wer)]
    report = {
        "history": [dataclasses.asdict(h) for h in history],
        "epochs": cfg.epochs,
        "best_wer": min((h.dev_wer for h in finished), default=math.nan),
        "best": str(best) if best.exists() else "",
        "last": str(last),
    }
    return str(best if best.exists() else last), report


def _tidy_checkpoints(out: Path) -> None:
    """Undo what a kill in the middle of :func:`~engine.train.checkpoint.save_checkpoint` left behind.

    A kill between its two renames leaves ``.last.old`` and no ``last``
    (the trainer's resume would then start over): put it back. A kill while
    writing leaves a ``.last.tmp…`` folder: remove it (one job at a time, so
    nobody is writing it).
    """
    from engine.train.checkpoint import _recover

    for name in ("last", "best"):
        _recover(out / name)
        for tmp in out.glob(f".{name}.tmp*"):
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)


def _run_personalize(job: PersonalizeJob, ctx: _Context) -> tuple[str, dict]:
    from engine.train.checkpoint import save_checkpoint
    from engine.train.personalize import PersonalizeConfig, personalize

    cfg = copy.deepcopy(job.config) if job.config is not None else PersonalizeConfig()
    limit_threads(cfg.threads)
    takes, base = _utterances(job.takes, "takes"), _utterances(job.base, "base")
    if job.rehearse and not base:
        from engine.train.rehearsal import rehearsal_set

        base, what = rehearsal_set(seed=cfg.seed)
        ctx.log.line(f"rehearsal: {what}")
    ctx.log.line(f"personalizing {job.checkpoint} on {len(takes)} take(s) with {len(base)} base utterance(s), "
                 f"{cfg.steps} steps")

    def on_step(step: int, steps: int, loss: float) -> bool:
        ctx.progress("personalize", step, steps, loss=loss)
        return ctx.stopping()

    model, tokenizer, meta, report = personalize(str(job.checkpoint), takes, base, cfg, _noises(job.noises, ctx),
                                                 on_step=on_step)
    if ctx.stopping() and report.steps < cfg.steps:
        raise _Cancelled()
    path = save_checkpoint(Path(job.out_dir) / "model", model, tokenizer,
                           meta={**meta, "personalized": {"from": str(job.checkpoint), **report.to_json()}})
    ctx.log.line(f"personalized in {report.seconds:.1f} s: loss {report.first_loss:.3f} -> {report.last_loss:.3f}; "
                 f"saved to {path}")
    return str(path), report.to_json()


def _run_evaluate(job: EvaluateJob, ctx: _Context) -> tuple[str, dict]:
    from engine.atomic import atomic_write
    from engine.decode.evaluate import evaluate
    from engine.decode.recognizer import Recognizer
    from engine.decode.vocabulary import Vocabulary

    limit_threads(job.threads)
    utts = _utterances(job.test, "test")
    if not utts:
        raise JobDataError("The test set is empty.")
    recognizer = Recognizer.from_checkpoint(job.checkpoint)
    vocab = Vocabulary(list(job.vocabulary)) if job.vocabulary else None
    ctx.log.line(f"evaluating {job.checkpoint} on {len(utts)} utterance(s)")

    def progress(done: int, total: int) -> None:
        if ctx.stopping():
            raise _Cancelled()
        ctx.progress("evaluate", done, total)

    result = evaluate(recognizer, utts, vocab, progress=progress)
    report = {"wer": result.wer, "cer": result.cer, "rtf": result.rtf, "audio_seconds": result.audio_seconds,
              "utterances": len(utts), "worst": [dataclasses.asdict(w) for w in result.worst(job.worst)]}
    with atomic_write(Path(job.out_dir) / "eval.json") as fh:
        json.dump(report, fh, indent=2)
    ctx.log.line(f"WER {result.wer:.2%}  CER {result.cer:.2%}  RTF {result.rtf:.3f}  ({len(utts)} utterances)")
    return str(job.checkpoint), report


def _run_compare(job: CompareJob, ctx: _Context) -> tuple[str, dict]:
    from engine.atomic import atomic_write
    from engine.decode.vocabulary import Vocabulary
    from engine.registry.index import ModelRegistry, RegistryError

    limit_threads(job.threads)
    utts = _utterances(job.test, "test")
    if not utts:
        raise JobDataError("The test set is empty.")
    vocab = Vocabulary(list(job.vocabulary)) if job.vocabulary else None
    registry = ModelRegistry(job.registry)
    ctx.log.line(f"comparing {job.model_a} and {job.model_b} on {len(utts)} utterance(s)")

    def progress(done: int, total: int) -> None:
        if ctx.stopping():
            raise _Cancelled()
        ctx.progress("compare", done, total)

    try:
        comparison = registry.compare(job.model_a, job.model_b, utts, vocab, progress=progress)
    except RegistryError as exc:
        raise JobDataError(str(exc)) from None
    report = comparison.to_json()
    out = Path(job.out_dir) / "compare.json"
    with atomic_write(out) as fh:
        json.dump(report, fh, indent=2)
    for side in ("a", "b"):
        r = report[side]
        ctx.log.line(f"{r['name']}: WER {r['wer']:.2%}  CER {r['cer']:.2%}  better on {r['wins']} utterance(s)")
    return str(out), report


_NOUNS = {"train": "training", "finetune": "fine-tuning", "personalize": "personalization", "evaluate": "evaluation",
          "compare": "comparison"}
_RUNNERS = {"train": _run_train, "finetune": _run_train, "personalize": _run_personalize, "evaluate": _run_evaluate,
            "compare": _run_compare}

_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}
_DISK_MESSAGES = ("No space left on device", "Disk quota exceeded", "File too large", "Read-only file system")
"""strerror texts of those errnos, found in the messages of libraries that do not raise OSError (safetensors)."""


def _classify(exc: BaseException, job: Job) -> tuple[FailureKind, str]:
    """``(kind, user message)`` for an exception that ended a job in the worker."""
    from engine.audio.errors import AudioError
    from engine.data.manifest import ManifestError
    from engine.train.checkpoint import CheckpointError
    from engine.train.trainer import NonFiniteLossError, TrainingError

    noun = _NOUNS[job.kind].capitalize()
    if isinstance(exc, _Cancelled):
        return "cancelled", f"{noun} was cancelled.{_resume_hint(job)}"
    if isinstance(exc, TrainingError):
        return ("nan" if isinstance(exc, NonFiniteLossError) else "data"), str(exc)
    if isinstance(exc, (JobDataError, ManifestError, AudioError, CheckpointError)):
        return "data", str(exc)
    disk_text = next((m for m in _DISK_MESSAGES if m in str(exc)), None)  # e.g. safetensors' SafetensorError
    if (isinstance(exc, OSError) and (exc.errno in _DISK_ERRNOS or isinstance(exc, PermissionError))) or disk_text:
        where = getattr(exc, "filename", None) or job.out_dir
        reason = getattr(exc, "strerror", None) or disk_text
        full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or disk_text in _DISK_MESSAGES[:3]
        what = "The disk is full" if full else "Cannot write"
        return "disk", (f"{what} ({where}): {reason}. {noun} stopped; free some space or choose another "
                        f"folder.{_resume_hint(job)}")
    if isinstance(exc, FileNotFoundError):
        return "data", f"A file is missing: {exc.filename or exc}."
    if isinstance(exc, MemoryError):
        return "crashed", f"{noun} ran out of memory. Use smaller batches or a smaller model.{_resume_hint(job)}"
    return "internal", f"{noun} failed with an internal error ({type(exc).__name__}: {exc}); the log has the details."


def _work(job: Job, job_id: int, events, stop) -> None:
    """Worker process main: run ``job``, sending events to ``events``; always ends with one terminal event."""
    import faulthandler

    def orphaned() -> None:  # the studio died without closing us: stop (saving a checkpoint), then exit
        stop.set()
        hard_exit_later(ORPHAN_GRACE_S)

    watch_parent(orphaned)
    ctx = _Context(job, job_id, events, stop)
    if ctx.log.file is not None:
        faulthandler.enable(ctx.log.file)  # a native crash leaves its stack in job.log
    ctx.send(JobStarted(job_id, job.kind, os.getpid(), str(job.out_dir), bool(job.resume)))
    ctx.log.line(f"=== {job.kind} job {job_id} {'resumed' if job.resume else 'started'} in process {os.getpid()} "
                 f"({time.strftime('%Y-%m-%d %H:%M:%S')})")
    try:
        checkpoint, report = _RUNNERS[job.kind](job, ctx)
        ctx.log.line(f"=== {job.kind} job {job_id} finished: {checkpoint}")
        final: JobEvent = JobFinished(job_id, checkpoint, report)
    except BaseException as exc:  # noqa: BLE001 - every failure becomes one JobFailed
        try:
            kind, message = _classify(exc, job)
        except Exception as inner:  # noqa: BLE001
            kind, message = "internal", f"The job failed ({type(exc).__name__}: {exc}; {inner})."
        if kind == "internal":
            ctx.log.line(traceback.format_exc().rstrip(), send=False)
        ctx.log.line(f"=== {job.kind} job {job_id} failed ({kind}): {message}")
        final = JobFailed(job_id, kind, message, "\n".join(ctx.log.tail))
    ctx.send(final)
    try:
        faulthandler.disable()
    except Exception:  # noqa: BLE001
        pass
    ctx.log.close()
    events.close()
    events.join_thread()  # the terminal event is in the pipe before the process exits


# --------------------------------------------------------------------------
# caller side
# --------------------------------------------------------------------------
@dataclass
class _Running:
    job_id: int
    job: Job
    process: Any
    events: Any
    stop: Any
    cancel_deadline: float | None = None
    tail: collections.deque = field(default_factory=lambda: collections.deque(maxlen=LOG_TAIL_LINES))


class JobRunner:
    """A FIFO queue of background jobs, run one at a time in spawn worker processes.

    Not thread-safe: call it from one thread (the GUI thread polls it with a
    timer, see :mod:`app.training.job_queue`).

    Args:
        cancel_timeout: seconds a cancelled job has to stop before its worker is killed.
    """

    def __init__(self, cancel_timeout: float = CANCEL_TIMEOUT_S) -> None:
        self.cancel_timeout = cancel_timeout
        self._ids = itertools.count(1)
        self._jobs: dict[int, Job] = {}
        self._status: dict[int, JobStatus] = {}
        self._queue: collections.deque[int] = collections.deque()
        self._current: _Running | None = None
        self._retiring: list[tuple[Any, Any, float]] = []
        self._backlog: collections.deque[JobEvent] = collections.deque()

    # -- queue ----------------------------------------------------------------
    def submit(self, job: Job) -> int:
        """Queue ``job`` (it starts at once if nothing runs); returns its id.

        Raises:
            ValueError: a job without ``out_dir``, a fine-tune without
                ``init_from``, a personalization or evaluation without a checkpoint.
        """
        if not isinstance(job, (TrainJob, PersonalizeJob, EvaluateJob, CompareJob)):
            raise TypeError(f"not a job: {job!r}")
        if not str(job.out_dir):
            raise ValueError("A job needs an output folder (out_dir).")
        if isinstance(job, FineTuneJob) and not str(job.init_from):
            raise ValueError("A fine-tune job needs a checkpoint to start from (init_from).")
        if isinstance(job, (PersonalizeJob, EvaluateJob)) and not str(job.checkpoint):
            raise ValueError(f"A {job.kind} job needs a checkpoint.")
        if isinstance(job, CompareJob) and not (job.model_a and job.model_b):
            raise ValueError("A compare job needs two models.")
        job_id = next(self._ids)
        self._jobs[job_id] = job
        self._status[job_id] = "queued"
        self._queue.append(job_id)
        self._pump()
        return job_id

    def resume(self, job_id: int) -> int:
        """Queue job ``job_id`` again with ``resume=True``; returns the new job's id.

        Training continues from ``<out_dir>/last`` (the last atomic
        checkpoint: at most the epoch that was running is lost); other kinds
        start over.

        Raises:
            KeyError: unknown job.
            ValueError: the job is still queued or running.
        """
        job = self._jobs[job_id]
        if self._status[job_id] in ("queued", "running"):
            raise ValueError(f"Job {job_id} is still {self._status[job_id]}.")
        return self.submit(dataclasses.replace(job, resume=True))

    def cancel(self, job_id: int) -> bool:
        """Cancel a queued or running job; False if it is unknown or already ended.

        A queued job fails at once with kind ``"cancelled"``. A running one is
        asked to stop (training saves ``last/`` first) and killed if it has
        not stopped after :attr:`cancel_timeout` seconds; its
        ``JobFailed(kind="cancelled")`` then arrives through :meth:`poll`.
        """
        if job_id in self._queue:
            self._queue.remove(job_id)
            self._status[job_id] = "failed"
            self._backlog.append(JobFailed(job_id, "cancelled", "The job was cancelled before it started."))
            return True
        cur = self._current
        if cur is not None and cur.job_id == job_id:
            if cur.cancel_deadline is None:
                cur.stop.set()
                cur.cancel_deadline = time.monotonic() + self.cancel_timeout
            return True
        return False

    # -- state ----------------------------------------------------------------
    def job(self, job_id: int) -> Job:
        """The job submitted as ``job_id`` (KeyError if unknown)."""
        return self._jobs[job_id]

    def status(self, job_id: int) -> JobStatus:
        """``"queued"``, ``"running"``, ``"finished"`` or ``"failed"`` (KeyError if unknown)."""
        return self._status[job_id]

    @property
    def running(self) -> int | None:
        """The id of the job whose worker runs, or ``None``."""
        return self._current.job_id if self._current is not None else None

    @property
    def queued(self) -> tuple[int, ...]:
        """Ids of the jobs waiting, first to run first."""
        return tuple(self._queue)

    @property
    def pid(self) -> int | None:
        """The running job's worker process id, or ``None``."""
        return self._current.process.pid if self._current is not None else None

    @property
    def busy(self) -> bool:
        """True while a job runs or waits, or events are still to be polled."""
        return self._current is not None or bool(self._queue) or bool(self._backlog)

    # -- events ---------------------------------------------------------------
    def poll(self, timeout: float = 0.0) -> JobEvent | None:
        """The next event of any job, or ``None`` if none arrives within ``timeout`` seconds.

        Also does the housekeeping: starts the next queued job, turns a dead
        worker into ``JobFailed(kind="crashed")`` and kills a cancelled job
        that overran :attr:`cancel_timeout`.
        """
        self._reap_retiring()
        self._pump()
        if self._backlog:
            return self._backlog.popleft()
        cur = self._current
        if cur is None:
            return None
        if cur.cancel_deadline is not None and time.monotonic() >= cur.cancel_deadline:
            self._check_current()  # overran its cancel: killed now, even while it keeps sending progress
            if self._backlog:
                return self._backlog.popleft()
            cur = self._current
            if cur is None:
                return None
        try:
            event = cur.events.get(timeout=timeout) if timeout > 0 else cur.events.get_nowait()
        except queue.Empty:
            event = None
        except TORN:  # a torn message from a dying process
            event = None
        if event is None:
            self._check_current()
            return self._backlog.popleft() if self._backlog else None
        self._accept(event)
        return self._backlog.popleft() if self._backlog else None

    def wait(self, job_id: int, timeout: float = 600.0) -> list[JobEvent]:
        """Poll until job ``job_id`` ends (for scripts and tests).

        Returns:
            Every event polled meanwhile (of any job), the last being the
            job's :class:`JobFinished` or :class:`JobFailed`.

        Raises:
            TimeoutError: the job did not end within ``timeout`` seconds.
            ValueError: the job had already ended and its last event was polled.
            KeyError: unknown job.
        """
        self._status[job_id]  # KeyError for an unknown job
        deadline = time.monotonic() + timeout
        events: list[JobEvent] = []
        while time.monotonic() < deadline:
            event = self.poll(timeout=0.05)
            if event is None:
                if self._status.get(job_id) in ("finished", "failed") and not self._backlog:
                    raise ValueError(f"Job {job_id} has already ended.")
                continue
            events.append(event)
            if isinstance(event, TERMINAL) and event.job_id == job_id:
                return events
        raise TimeoutError(f"job {job_id} did not end within {timeout:.0f} s")

    def close(self, timeout: float = 3.0) -> None:
        """Drop the queue, ask the running job to stop, and kill it after ``timeout`` seconds."""
        for job_id in self._queue:
            self._status[job_id] = "failed"
        self._queue.clear()
        cur, self._current = self._current, None
        if cur is not None:
            cur.stop.set()
            stop_process(cur.process, timeout)
            close_queues(cur.events)
            self._status[cur.job_id] = "failed"
        for process, events, _ in self._retiring:
            stop_process(process, 1.0)
            close_queues(events)
        self._retiring.clear()

    def __enter__(self) -> "JobRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ------------------------------------------------------------
    def _pump(self) -> None:
        """Start the next queued job if none runs."""
        if self._current is not None or not self._queue:
            return
        job_id = self._queue.popleft()
        job = self._jobs[job_id]
        events, stop = SPAWN.Queue(), SPAWN.Event()
        process = SPAWN.Process(target=_work, args=(job, job_id, events, stop),
                                name=f"sayso-{job.kind}-{job_id}", daemon=True)
        self._current = _Running(job_id, job, process, events, stop)
        self._status[job_id] = "running"
        try:
            process.start()
        except Exception as exc:  # noqa: BLE001 - e.g. a job that cannot be pickled
            self._current = None
            close_queues(events)
            self._status[job_id] = "failed"
            self._backlog.append(JobFailed(job_id, "internal", f"The job could not start ({type(exc).__name__}: {exc})."))

    def _accept(self, event: JobEvent) -> None:
        """Take an event of the running worker: remember log lines, end the job on its terminal event."""
        cur = self._current
        if isinstance(event, LogLine) and cur is not None:
            cur.tail.extend(event.message.splitlines())
        self._backlog.append(event)
        if isinstance(event, TERMINAL) and cur is not None and event.job_id == cur.job_id:
            self._status[cur.job_id] = "finished" if isinstance(event, JobFinished) else "failed"
            self._retire()

    def _retire(self) -> None:
        cur, self._current = self._current, None
        if cur.process.is_alive():
            self._retiring.append((cur.process, cur.events, time.monotonic() + RETIRE_TIMEOUT_S))
        else:
            cur.process.join(0)
            close_queues(cur.events)
        self._pump()

    def _reap_retiring(self) -> None:
        keep = []
        for process, events, deadline in self._retiring:
            if process.is_alive() and time.monotonic() < deadline:
                keep.append((process, events, deadline))
                continue
            stop_process(process)
            close_queues(events)
        self._retiring = keep

    def _check_current(self) -> None:
        """A dead worker without a terminal event crashed; a cancelled one that overran is killed."""
        cur = self._current
        if cur is None:
            return
        killed = False
        if cur.process.is_alive():
            if cur.cancel_deadline is None or time.monotonic() < cur.cancel_deadline:
                return
            stop_process(cur.process)  # cooperative cancel overran: kill
            killed = True
        for event in drain(cur.events):  # what it wrote before dying is still valid
            self._accept(event)
            if self._current is not cur:  # its terminal event was among them
                return
        job = cur.job
        tail = read_log_tail(job.out_dir) or "\n".join(cur.tail)
        if killed:
            failure = JobFailed(cur.job_id, "cancelled",
                                f"The job did not stop within {self.cancel_timeout:.0f} s of the cancel and was "
                                f"stopped forcibly.{_resume_hint(job)}", tail)
        else:
            code = cur.process.exitcode
            oom = " It may have run out of memory." if code == -9 else ""
            failure = JobFailed(cur.job_id, "crashed", f"The {_NOUNS[job.kind]} worker crashed: "
                                f"{describe_exit(code)}.{oom}{_resume_hint(job)}", tail)
        self._accept(failure)
