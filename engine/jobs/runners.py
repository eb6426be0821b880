"""What runs inside a job's worker process: one function per job kind, failures classified (headless, no Qt).

:func:`work` is the worker's code for one job (:mod:`engine.jobs.specs`),
started by :class:`engine.jobs.queue.JobRunner` through
:class:`~engine.workers.process.WorkerProcess`. It sends the job's events
(:mod:`engine.jobs.events`), writes ``<out_dir>/job.log`` line by line, runs
the job's ``_run_<kind>`` function, and always ends with one terminal event:
:class:`~engine.jobs.events.JobFinished`, or
:class:`~engine.jobs.events.JobFailed` whose kind :func:`_classify` derives
from the exception (cancel, NaN loss, bad data, full disk, out of memory, a bug).
"""
from __future__ import annotations

import collections
import copy
import dataclasses
import errno
import json
import math
import os
import shutil
import time
import traceback
from pathlib import Path

from engine.data.utterance import Utterance
from engine.jobs.events import (
    JOB_LOG,
    LOG_TAIL_LINES,
    FailureKind,
    JobEvent,
    JobFailed,
    JobFinished,
    JobStarted,
    LogLine,
    Metrics,
    Progress,
)
from engine.jobs.specs import CompareJob, Data, EvaluateJob, FineTuneJob, Job, PersonalizeJob, TrainJob, resume_hint
from engine.recipes.distill import PSEUDO_LABELS
from engine.workers.child import Child, limit_threads

__all__ = ["PROGRESS_INTERVAL_S", "JobDataError", "work"]

PROGRESS_INTERVAL_S = 0.25
"""The worker sends at most about this many :class:`Progress` events per second per stage (plus first and last)."""


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

    def __init__(self, child: Child, job: Job, job_id: int) -> None:
        self.child, self.job, self.job_id = child, job, job_id
        self.log = _JobLog(Path(job.out_dir) / JOB_LOG, job_id, self.send)
        self._eta = _Eta()
        self._last: tuple = (None, 0.0)
        self.epochs = 0

    def send(self, event: JobEvent) -> None:
        self.child.send(event)

    def stopping(self) -> bool:
        """True once the job is cancelled, the worker closed, or the studio gone."""
        return self.child.stopping(self.job_id)

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
    cfg.threads = limit_threads(cfg.threads)  # the trainer sets torch's threads to cfg.threads
    _tidy_checkpoints(Path(job.out_dir))
    train, dev = _utterances(job.train, "training"), _utterances(job.dev, "validation")
    pseudo = _teacher_labels(job, ctx, cfg.threads)
    noises = _noises(job.noises, ctx)
    history = Trainer(cfg, job.out_dir, on_event=ctx.on_trainer_event, should_stop=ctx.stopping).fit(
        train + pseudo, dev, noises, resume=job.resume)
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
    if job.teacher:
        report["distillation"] = {"teacher": str(job.teacher), "pseudo_labels": len(pseudo),
                                  "manifest": str(out / PSEUDO_LABELS)}
    return str(best if best.exists() else last), report


def _teacher_labels(job: TrainJob, ctx: _Context, threads: int) -> list[Utterance]:
    """The teacher's transcripts of ``job.unlabeled`` as training utterances (none without a teacher).

    Stage ``"teacher"`` reports progress; a cancel stops between two utterances
    (those already transcribed stay in the manifest, and a resume skips them).

    Raises:
        JobDataError: a teacher but no unlabeled utterance, or a teacher that hears nothing in them.
    """
    if not job.teacher:
        return []
    from engine.data.manifest import read_manifest
    from engine.recipes.distill import pseudo_label
    from engine.registry.index import ModelRegistry

    unlabeled = _utterances(job.unlabeled, "unlabeled")
    if not unlabeled:
        raise JobDataError("Distillation needs unlabeled utterances for the teacher to transcribe; there are none.")
    registry = ModelRegistry()
    entry = registry.prepare(registry.resolve(job.teacher))  # an offline package is assembled here, once
    folder, name = Path(entry.path), entry.name
    ctx.log.line(f"the teacher {name} transcribes {len(unlabeled)} unlabeled utterance(s) "
                 "(sequence-level distillation)")

    def progress(done: int, total: int) -> None:
        if ctx.stopping():
            raise _Cancelled()
        ctx.progress("teacher", done, total)

    manifest = pseudo_label(unlabeled, Path(job.out_dir) / PSEUDO_LABELS, name, threads, progress, folder=folder)
    labelled = read_manifest(manifest)
    if not labelled:
        raise JobDataError(f"The teacher {name} heard no speech in the {len(unlabeled)} unlabeled utterance(s).")
    ctx.log.line(f"{len(labelled)} utterance(s) labelled by {name} train beside the labelled ones")
    return labelled


def _tidy_checkpoints(out: Path) -> None:
    """Undo what a kill in the middle of :func:`~engine.train.checkpoint.save_checkpoint` left behind.

    A kill between its two renames leaves ``.last.old`` and no ``last``
    (the trainer's resume would then start over): put it back. A kill while
    writing leaves a ``.last.tmp…`` folder: remove it (one job at a time, so
    nobody is writing it).
    """
    from engine.checkpoint_layout import finish_interrupted_write, temp_siblings

    for name in ("last", "best"):
        finish_interrupted_write(out / name)
        for tmp in temp_siblings(out / name):
            shutil.rmtree(tmp, ignore_errors=True)


def _run_personalize(job: PersonalizeJob, ctx: _Context) -> tuple[str, dict]:
    from engine.checkpoint_layout import family
    from engine.whisper.folder import WHISPER_FAMILY

    if family(job.checkpoint) == WHISPER_FAMILY:
        return _run_personalize_whisper(job, ctx)
    from engine.train.checkpoint import save_checkpoint
    from engine.train.personalize import PersonalizeConfig, personalize

    cfg = copy.deepcopy(job.config) if job.config is not None else PersonalizeConfig()
    cfg.threads = limit_threads(cfg.threads)  # personalize() sets torch's threads to cfg.threads
    takes, base = _utterances(job.takes, "takes"), _utterances(job.base, "base")
    if job.rehearse and not base:
        from engine.train.rehearsal import rehearsal_set

        base, what = rehearsal_set(seed=cfg.seed)
        ctx.log.line(f"rehearsal: {what}")
    ctx.log.line(f"personalizing {job.checkpoint} on {len(takes)} take(s) with {len(base)} base utterance(s), "
                 f"{cfg.steps} steps, {cfg.threads} CPU thread(s)")

    def on_step(step: int, steps: int, loss: float) -> bool:
        ctx.progress("personalize", step, steps, loss=loss)
        return ctx.stopping()

    model, tokenizer, meta, report = personalize(str(job.checkpoint), takes, base, cfg, _noises(job.noises, ctx),
                                                 on_step=on_step)
    if ctx.stopping() and report.steps < cfg.steps:
        raise _Cancelled()
    path = save_checkpoint(Path(job.out_dir) / "model", model, tokenizer,
                           meta={**meta, "name": Path(job.out_dir).name,
                                 "personalized": {"from": str(job.checkpoint), **report.to_json()}})
    ctx.log.line(f"personalized in {report.seconds:.1f} s: loss {report.first_loss:.3f} -> {report.last_loss:.3f}; "
                 f"saved to {path}")
    return str(path), report.to_json()


def _run_personalize_whisper(job: PersonalizeJob, ctx: _Context) -> tuple[str, dict]:
    """LoRA personalization of a Whisper folder (:func:`engine.whisper.personalize.personalize_whisper`),
    exported to CTranslate2 in ``out_dir/model`` and registered with its lineage."""
    from engine.registry.index import RegistryError
    from engine.whisper.personalize import WhisperPersonalizeConfig, personalize_whisper, register_personalized

    cfg = copy.deepcopy(job.config) if isinstance(job.config, WhisperPersonalizeConfig) else WhisperPersonalizeConfig()
    cfg.threads = limit_threads(cfg.threads)  # personalize_whisper() sets torch's threads to cfg.threads
    takes = _utterances(job.takes, "takes")
    rehearsal = _utterances(job.base, "base") or (None if job.rehearse else [])
    out = Path(job.out_dir) / "model"
    if out.exists():  # a run that was stopped after its export: start over
        shutil.rmtree(out)
    ctx.log.line(f"personalizing Whisper {job.checkpoint} on {len(takes)} take(s): LoRA rank {cfg.rank}, "
                 f"{cfg.steps} steps, {cfg.threads} CPU thread(s)")

    def on_prepare(done: int, total: int) -> bool:
        ctx.progress("loading", done, total)
        return ctx.stopping()

    def on_step(step: int, steps: int, loss: float) -> bool:
        ctx.progress("personalize", step, steps, loss=loss)
        return ctx.stopping()

    try:
        folder, report = personalize_whisper(job.checkpoint, takes, out, rehearsal, cfg, on_step=on_step,
                                             log=ctx.log.line, on_prepare=on_prepare,
                                             lineage={"name": job.name or Path(job.out_dir).name})
    except InterruptedError:
        raise _Cancelled() from None
    result = report.to_json()
    try:
        entry = register_personalized(folder, job.checkpoint, takes, report, job.registry,
                                      name=job.name or Path(job.out_dir).name)
    except RegistryError as exc:
        ctx.log.line(f"the model is saved but not registered: {exc}")
    else:
        result["model_id"] = entry.id
        ctx.log.line(f"registered as {entry.id} (parent {entry.parent_id or entry.parent_path})")
    return str(folder), result


def _run_evaluate(job: EvaluateJob, ctx: _Context) -> tuple[str, dict]:
    from engine.atomic import atomic_write
    from engine.decode.evaluate import evaluate
    from engine.decode.families import load_recognizer
    from engine.decode.vocabulary import Vocabulary

    threads = limit_threads(job.threads)
    utts = _utterances(job.test, "test")
    if not utts:
        raise JobDataError("The test set is empty.")
    recognizer = load_recognizer(job.checkpoint, threads=threads)  # either family
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

    threads = limit_threads(job.threads)
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
        comparison = registry.compare(job.model_a, job.model_b, utts, vocab, progress=progress, threads=threads)
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


_RUNNERS = {"train": _run_train, "finetune": _run_train, "personalize": _run_personalize, "evaluate": _run_evaluate,
            "compare": _run_compare}

_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}
_DISK_MESSAGES = ("No space left on device", "Disk quota exceeded", "File too large", "Read-only file system")
"""strerror texts of those errnos, found in the messages of libraries that do not raise OSError (safetensors)."""


def _classify(exc: BaseException, job: Job) -> tuple[FailureKind, str]:
    """``(kind, user message)`` for an exception that ended a job in the worker."""
    from engine.audio.errors import AudioError
    from engine.data.manifest import ManifestError
    from engine.registry.index import RegistryError
    from engine.train.checkpoint import CheckpointError
    from engine.train.trainer import NonFiniteLossError, TrainingError

    noun = job.noun.capitalize()
    if isinstance(exc, _Cancelled):
        return "cancelled", f"{noun} was cancelled.{resume_hint(job)}"
    if isinstance(exc, TrainingError) and isinstance(exc.__cause__, OSError):
        exc = exc.__cause__  # a checkpoint that could not be written (Trainer._save): a disk problem, below
    if isinstance(exc, TrainingError):
        return ("nan" if isinstance(exc, NonFiniteLossError) else "data"), str(exc)
    if isinstance(exc, (JobDataError, ManifestError, AudioError, CheckpointError, RegistryError)):
        return "data", str(exc)
    disk_text = next((m for m in _DISK_MESSAGES if m in str(exc)), None)  # e.g. safetensors' SafetensorError
    if (isinstance(exc, OSError) and (exc.errno in _DISK_ERRNOS or isinstance(exc, PermissionError))) or disk_text:
        where = getattr(exc, "filename", None) or job.out_dir
        reason = getattr(exc, "strerror", None) or disk_text
        full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or disk_text in _DISK_MESSAGES[:3]
        what = "The disk is full" if full else "Cannot write"
        return "disk", (f"{what} ({where}): {reason}. {noun} stopped; free some space or choose another "
                        f"folder.{resume_hint(job)}")
    if isinstance(exc, FileNotFoundError):
        return "data", f"A file is missing: {exc.filename or exc}."
    if isinstance(exc, MemoryError):
        return "crashed", f"{noun} ran out of memory. Use smaller batches or a smaller model.{resume_hint(job)}"
    return "internal", f"{noun} failed with an internal error ({type(exc).__name__}: {exc}); the log has the details."


def work(child: Child, job: Job, job_id: int) -> None:
    """A job's worker: run ``job``, sending its events through ``child``; always ends with one terminal event.

    Asked to stop (cancel, close, or the studio died: see
    :meth:`engine.workers.child.Child.stopping`), training saves ``last/`` and
    the job ends with ``JobFailed(kind="cancelled")``.
    """
    import faulthandler

    ctx = _Context(child, job, job_id)
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
    ctx.log.close()  # engine.workers.child.main then flushes the terminal event into the pipe


