"""Qt bridge to the training job queue (:mod:`engine.jobs.queue`).

The GUI thread only calls non-blocking methods: :meth:`TrainingJobQueue.submit`
queues a job (it runs in a worker process) and the
:class:`~app.worker_bridge.WorkerBridge` timer polls the runner every
:data:`POLL_MS` milliseconds while jobs run or wait, re-emitting each typed
event as a Qt signal. The runner's housekeeping (starting the next job,
detecting a crashed worker, killing a cancelled job that overran) happens in
those polls.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.worker_bridge import WorkerBridge
from engine.jobs.events import JobFailed, JobFinished, JobStarted, LogLine, Metrics, Progress
from engine.jobs.queue import JobRunner
from engine.jobs.specs import Job
from engine.workers.process import CANCEL_TIMEOUT_S

POLL_MS = 100
MAX_EVENTS_PER_POLL = 200
"""Events handled per timer tick, so a burst never stalls the GUI."""


class TrainingJobQueue(WorkerBridge):
    """Background training jobs, one at a time, first in first out.

    Signals (each carries the event dataclass of :mod:`engine.jobs.events`):
        started(JobStarted): a worker process began a job.
        progress(Progress): stage, done/total, epoch, loss, ETA.
        metrics(Metrics): a finished epoch's losses and dev WER/CER.
        log(LogLine): a line for the job's log view.
        finished(JobFinished): the result checkpoint and report.
        failed(JobFailed): kind (data, nan, disk, crashed, cancelled,
            internal), a user message and the log tail.
        idle(): no job runs or waits any more.
    """

    started = Signal(object)
    progress = Signal(object)
    metrics = Signal(object)
    log = Signal(object)
    finished = Signal(object)
    failed = Signal(object)

    def __init__(self, runner: JobRunner | None = None, cancel_timeout: float = CANCEL_TIMEOUT_S,
                 parent: QObject | None = None) -> None:
        super().__init__(runner or JobRunner(cancel_timeout=cancel_timeout), POLL_MS, MAX_EVENTS_PER_POLL, parent)
        self.runner: JobRunner = self.worker
        signals = {JobStarted: self.started, Progress: self.progress, Metrics: self.metrics,
                   LogLine: self.log, JobFinished: self.finished, JobFailed: self.failed}
        self.answer.connect(lambda event: signals[type(event)].emit(event))

    # -- commands -------------------------------------------------------------
    def submit(self, job: Job) -> int:
        """Queue ``job``; returns its id (see :meth:`JobRunner.submit` for the ValueError)."""
        job_id = self.runner.submit(job)
        self.poll_soon()
        return job_id

    def cancel(self, job_id: int) -> bool:
        """Cancel a queued or running job; its ``failed`` (kind ``"cancelled"``) follows. False if it already ended."""
        ok = self.runner.cancel(job_id)
        if ok:
            self.poll_soon()
        return ok

    def resume(self, job_id: int) -> int:
        """Queue an ended job again, continuing from its last checkpoint; returns the new job id."""
        job_id = self.runner.resume(job_id)
        self.poll_soon()
        return job_id

    # -- state ----------------------------------------------------------------
    @property
    def running(self) -> int | None:
        """The running job's id, or ``None``."""
        return self.runner.running

    @property
    def queued(self) -> tuple[int, ...]:
        """Ids of the waiting jobs, next first."""
        return self.runner.queued

    @property
    def busy(self) -> bool:
        """True while a job runs or waits."""
        return self.runner.busy

    def status(self, job_id: int) -> str:
        return self.runner.status(job_id)
