"""The job queue: training, fine-tuning, personalization and evaluation run one at a time (headless, no Qt).

A :class:`JobRunner` keeps a FIFO queue of jobs (:mod:`engine.jobs.specs`)
and runs one at a time, each in its own spawn worker process
(:class:`~engine.workers.process.WorkerProcess` running
:func:`engine.jobs.runners.work`; never in the caller's threads): a fresh
interpreter per job, so a crash, a leak or an out-of-memory kill takes down
that job only. The caller never blocks: :meth:`JobRunner.submit` returns a
job id at once and :meth:`JobRunner.poll` returns the next event
(:mod:`engine.jobs.events`) or ``None``.

Faults:

- **cancel** (:meth:`JobRunner.cancel`) is cooperative first: the worker's
  stop flag, which the trainer polls between batches (it then saves
  ``last/`` and returns), then a hard kill after ``cancel_timeout`` seconds
  (default :data:`~engine.workers.process.CANCEL_TIMEOUT_S`); either way
  ``JobFailed(kind="cancelled")``.
- **crash** (kill -9, out of memory, a native crash): ``JobFailed(kind="crashed")``
  with the tail of ``<out_dir>/job.log``, which the worker writes line by line
  so it survives the crash. :meth:`JobRunner.resume` queues the job again
  with ``resume=True``: training continues from the last atomic checkpoint.
- **NaN loss** stops with ``kind="nan"``, **bad data** (missing manifest,
  unreadable audio, empty transcripts, a bad checkpoint) with ``kind="data"``,
  a **full or read-only disk** with ``kind="disk"`` (checkpoints are written
  atomically, so the previous one stays loadable), anything else with
  ``kind="internal"`` (the traceback is in the log).
- **orphaned** (the studio died): the worker stops cooperatively (saving a
  checkpoint) and exits at the latest after
  :data:`~engine.workers.child.ORPHAN_GRACE_S` seconds.

>>> runner = JobRunner()                                                   # doctest: +SKIP
>>> job_id = runner.submit(TrainJob("runs/a", "train.jsonl", "dev.jsonl"))   # doctest: +SKIP
>>> events = runner.wait(job_id)                                           # doctest: +SKIP
"""
from __future__ import annotations

import collections
import dataclasses
import itertools
import time
from typing import Literal

from engine.jobs.events import LOG_TAIL_LINES, TERMINAL, JobEvent, JobFailed, JobFinished, LogLine, read_log_tail
from engine.jobs.runners import work
from engine.jobs.specs import CompareJob, EvaluateJob, FineTuneJob, Job, PersonalizeJob, TrainJob, resume_hint
from engine.workers.process import CANCEL_TIMEOUT_S, Ending, WorkerProcess, describe_exit

JobStatus = Literal["queued", "running", "finished", "failed"]

RETIRE_TIMEOUT_S = 5.0
"""A worker that sent its last event gets this long to exit before it is killed."""


class _JobProcess(WorkerProcess):
    """The worker process of one job; the job's terminal event settles it."""

    def __init__(self, job: Job, job_id: int, cancel_timeout: float) -> None:
        super().__init__(work, (job, job_id), name=f"sayso-{job.kind}-{job_id}", cancel_timeout=cancel_timeout)
        self.job, self.job_id = job, job_id
        self.tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)  # log lines received

    def settles(self, event: object) -> int | None:
        return event.job_id if isinstance(event, TERMINAL) else None

    def failure(self, job_id: int, ending: Ending, exitcode: int | None) -> JobFailed:
        job = self.job
        tail = read_log_tail(job.out_dir) or "\n".join(self.tail)
        if ending == "cancelled":
            return JobFailed(job_id, "cancelled", f"The job did not stop within {self.cancel_timeout:.0f} s of the "
                                                  f"cancel and was stopped forcibly.{resume_hint(job)}", tail)
        oom = " It may have run out of memory." if exitcode == -9 else ""
        return JobFailed(job_id, "crashed", f"The {job.noun} worker crashed: {describe_exit(exitcode)}.{oom}"
                                            f"{resume_hint(job)}", tail)


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
        self._current: _JobProcess | None = None
        self._retiring: list[tuple[_JobProcess, float]] = []
        self._backlog: collections.deque[JobEvent] = collections.deque()

    # -- queue ----------------------------------------------------------------
    def submit(self, job: Job) -> int:
        """Queue ``job`` (it starts at once if nothing runs); returns its id.

        Raises:
            TypeError: not a job of :mod:`engine.jobs.specs`.
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
        return cur is not None and cur.job_id == job_id and cur.cancel(job_id)

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
        return self._current.pid if self._current is not None else None

    @property
    def busy(self) -> bool:
        """True while a job runs or waits, or events are still to be polled."""
        return self._current is not None or bool(self._queue) or bool(self._backlog)

    # -- events ---------------------------------------------------------------
    @staticmethod
    def settles(event: JobEvent) -> int | None:
        """The job id a terminal event (:class:`JobFinished`, :class:`JobFailed`) ends, else ``None``."""
        return event.job_id if isinstance(event, TERMINAL) else None

    def poll(self, timeout: float = 0.0) -> JobEvent | None:
        """The next event of any job, or ``None`` if none arrives within ``timeout`` seconds.

        Also does the housekeeping: starts the next queued job, turns a dead
        worker into ``JobFailed(kind="crashed")`` and kills a cancelled job
        that overran :attr:`cancel_timeout`.
        """
        self._reap_retiring()
        self._pump()
        if not self._backlog and self._current is not None:
            event = self._current.poll(timeout)
            if event is not None:
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
            cur.close(timeout)
            self._status[cur.job_id] = "failed"
        for process, _ in self._retiring:
            process.close(1.0)
        self._retiring.clear()

    def __enter__(self) -> JobRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ------------------------------------------------------------
    def _pump(self) -> None:
        """Start the next queued job if none runs."""
        if self._current is not None or not self._queue:
            return
        job_id = self._queue.popleft()
        process = _JobProcess(self._jobs[job_id], job_id, self.cancel_timeout)
        try:
            process.start()
        except Exception as exc:  # noqa: BLE001 - e.g. a job that cannot be pickled
            self._status[job_id] = "failed"
            self._backlog.append(JobFailed(job_id, "internal", f"The job could not start ({type(exc).__name__}: {exc})."))
            return
        process.expect(job_id)
        self._current = process
        self._status[job_id] = "running"

    def _accept(self, event: JobEvent) -> None:
        """Take an event of the running worker: remember log lines, end the job on its terminal event."""
        cur = self._current
        if isinstance(event, LogLine):
            cur.tail.extend(event.message.splitlines())
        self._backlog.append(event)
        if isinstance(event, TERMINAL) and event.job_id == cur.job_id:
            self._status[cur.job_id] = "finished" if isinstance(event, JobFinished) else "failed"
            self._current = None
            if cur.is_alive():  # it is flushing its last events and exiting
                self._retiring.append((cur, time.monotonic() + RETIRE_TIMEOUT_S))
            else:
                cur.close(0)
            self._pump()

    def _reap_retiring(self) -> None:
        now = time.monotonic()
        keep = []
        for process, deadline in self._retiring:
            if process.is_alive() and now < deadline:
                keep.append((process, deadline))
            else:
                process.close(0)
        self._retiring = keep
