"""What a queued job reports: the events a worker sends while it runs one (headless, no Qt).

Events (frozen dataclasses) of a job, in order: one :class:`JobStarted`
(with the worker's pid), any number of :class:`Progress`, :class:`Metrics`
(one per finished epoch) and :class:`LogLine`, then exactly one terminal
event, :class:`JobFinished` or :class:`JobFailed` whose ``kind`` is one of
:data:`FailureKind` and whose ``message`` is meant for a user. The worker
also writes every log line to ``<out_dir>/job.log`` (:data:`JOB_LOG`), line
by line, so it survives a crash.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

FailureKind = Literal["data", "nan", "disk", "crashed", "cancelled", "internal"]
"""Why a job failed: bad data, a non-finite loss, a full or unwritable disk, the
worker process died, the user cancelled it, or a bug."""

JOB_LOG = "job.log"
"""The worker's log in the job's ``out_dir``, written line by line (it survives a crash)."""
LOG_TAIL_LINES = 40
"""Lines of the log a :class:`JobFailed` carries."""


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


JobEvent = JobStarted | Progress | Metrics | LogLine | JobFinished | JobFailed
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
