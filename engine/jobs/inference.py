"""Recognition in a persistent worker process (headless, no Qt).

The worker is a ``multiprocessing`` *spawn* process that loads the model once
with :meth:`Recognizer.from_checkpoint` and then serves requests from a queue
until it is closed. The caller never blocks on it: :meth:`InferenceWorker.submit`
returns a request id at once and :meth:`InferenceWorker.poll` returns whatever
has arrived (or ``None``).

Every request gets exactly one answer:

- :class:`InferenceResult` with the :class:`~engine.decode.recognizer.Recognition`
  (a dataclass of picklable fields, sent as is), or
- :class:`InferenceFailure` whose ``kind`` is one of :data:`FailureKind` and
  whose ``message`` is meant for a user (an ``AudioError``,
  ``CheckpointError`` or ``VocabularyError`` message, or "worker crashed").

If the process dies (killed, out of memory, a crash in native code), the
pending requests fail with kind ``"crashed"`` and the next :meth:`submit`
starts a fresh process.

The same process also serves **live sessions** (:mod:`engine.decode.streaming`):
:meth:`InferenceWorker.stream_start`, :meth:`~InferenceWorker.stream_feed`
(16 kHz chunks, e.g. every 15 ms) and :meth:`~InferenceWorker.stream_end`.
Their results arrive through :meth:`~InferenceWorker.poll` as
:class:`StreamEvents` (partials and finals), not tied to request ids; a crash
during a session yields one :class:`StreamEvents` whose ``error`` says so.

>>> worker = InferenceWorker("/path/to/checkpoint")        # doctest: +SKIP
>>> rid = worker.submit(audio)                              # doctest: +SKIP
>>> answer = worker.wait(rid, timeout=60)                   # doctest: +SKIP
"""
from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import queue
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Union

import numpy as np

from engine.jobs.worker import (
    PARENT_CHECK_S,
    SPAWN,
    TORN,
    close_queues,
    drain,
    limit_threads,
    parent_alive,
    request_exit,
)

FailureKind = Literal["audio", "checkpoint", "vocabulary", "crashed", "internal"]
"""Why a request failed: bad audio, bad model, bad vocabulary, the process died, or a bug."""

CRASHED_MESSAGE = "The recognition worker crashed{detail}; it restarts on the next request."


@dataclass(frozen=True)
class InferenceRequest:
    """One job: ``audio`` is ``(samples,)`` float32 at 16 kHz; ``vocabulary`` lists phrases or is ``None``.

    With a ``transcript`` the audio is not transcribed but scored against it
    (:func:`engine.insight.scoring.score_pairs`); the result's ``recognition``
    is then a dict ``{"similarity": float, "ctc_per_token": float}``.
    """

    request_id: int
    audio: np.ndarray
    vocabulary: tuple[str, ...] | None = None
    attention: bool = True
    transcript: str | None = None


@dataclass(frozen=True)
class InspectRequest:
    """Look inside the model for one utterance (:func:`engine.insight.attention.inspect`).

    ``audio`` is ``(samples,)`` float32 at 16 kHz; ``transcript`` is the text to
    align, or ``None``/empty to align the model's own transcription. The
    result's ``recognition`` is an :class:`engine.insight.attention.Inspection`.
    """

    request_id: int
    audio: np.ndarray
    transcript: str | None = None


@dataclass(frozen=True)
class InferenceResult:
    """A finished job; ``recognition`` is an :class:`engine.decode.recognizer.Recognition`."""

    request_id: int
    recognition: object


@dataclass(frozen=True)
class InferenceFailure:
    """A failed job with a message a user understands (never a traceback, except kind ``"internal"``)."""

    request_id: int
    kind: FailureKind
    message: str


@dataclass(frozen=True)
class StreamStart:
    """Open live session ``session`` (closing any other); ``endpoint`` is an ``EndpointConfig`` as a dict."""

    session: int
    vocabulary: tuple[str, ...] | None = None
    endpoint: dict | None = None


@dataclass(frozen=True)
class StreamAudio:
    """``(samples,)`` float32 16 kHz audio for live session ``session``."""

    session: int
    audio: np.ndarray


@dataclass(frozen=True)
class StreamEnd:
    """End live session ``session``: decode what is left and close it."""

    session: int


@dataclass(frozen=True)
class StreamEvents:
    """Partials and finals (:mod:`engine.decode.streaming`) of live session ``session``.

    ``error`` is a user message when the session cannot go on (bad model,
    bad vocabulary, worker crashed); ``ended`` marks the session's last events.
    """

    session: int
    events: tuple = ()
    error: str | None = None
    ended: bool = False


Answer = Union[InferenceResult, InferenceFailure, StreamEvents]


# --------------------------------------------------------------------------
# child process
# --------------------------------------------------------------------------
def _serve(checkpoint: str, requests: mp.Queue, results: mp.Queue, threads: int) -> None:
    """Worker main loop: load the model once, answer requests until ``None`` arrives."""
    limit_threads(threads)
    from engine.audio.errors import AudioError
    from engine.decode.recognizer import Recognizer
    from engine.decode.vocabulary import Vocabulary, VocabularyError
    from engine.train.checkpoint import CheckpointError

    recognizer, load_error = None, None
    try:
        recognizer = Recognizer.from_checkpoint(checkpoint)
        warm_up(recognizer)
    except CheckpointError as exc:
        load_error = str(exc)
    except Exception as exc:  # a broken install, out of memory, …
        load_error = f"{checkpoint}: the model could not be loaded ({type(exc).__name__}: {exc})."

    vocabularies: dict[tuple[str, ...], Vocabulary] = {}
    stream, stream_session = None, None
    while True:
        try:
            req = requests.get(timeout=PARENT_CHECK_S)
        except queue.Empty:
            if not parent_alive():  # the app died without closing us
                return
            continue
        if req is None:
            return
        if isinstance(req, (StreamStart, StreamAudio, StreamEnd)):
            stream, stream_session = _serve_stream(req, recognizer, load_error, stream, stream_session, results)
            continue
        rid = req.request_id
        if recognizer is None:
            results.put(InferenceFailure(rid, "checkpoint", load_error))
            continue
        try:
            if isinstance(req, InspectRequest):
                from engine.insight.attention import inspect

                results.put(InferenceResult(rid, inspect(recognizer, req.audio, req.transcript)))
                continue
            vocab = None
            if req.vocabulary:
                if req.vocabulary not in vocabularies:
                    vocabularies = {req.vocabulary: Vocabulary(list(req.vocabulary))}
                vocab = vocabularies[req.vocabulary]
            if req.transcript is not None:
                from engine.audio.io import check_audio
                from engine.insight.scoring import score_pairs

                scores = score_pairs(recognizer, [check_audio(req.audio)], [req.transcript])
                results.put(InferenceResult(rid, {"similarity": float(scores.similarity[0]),
                                                  "ctc_per_token": float(scores.ctc_per_token[0])}))
                continue
            rec = recognizer.transcribe(req.audio, vocabulary=vocab, attention=req.attention)
            results.put(InferenceResult(rid, rec))
        except AudioError as exc:
            results.put(InferenceFailure(rid, "audio", str(exc)))
        except VocabularyError as exc:
            results.put(InferenceFailure(rid, "vocabulary", str(exc)))
        except Exception as exc:
            tb = traceback.format_exc(limit=6)
            results.put(InferenceFailure(rid, "internal", f"Recognition failed ({type(exc).__name__}: {exc}).\n{tb}"))


def warm_up(recognizer) -> None:
    """Decode 1 s of faint noise once, so the first real request does not pay for torch's first calls."""
    noise = np.random.default_rng(0).normal(0.0, 0.01, 16_000).astype(np.float32)
    recognizer.transcribe(noise, attention=True)


def _serve_stream(req, recognizer, load_error, stream, session, results):
    """Handle one live-session message in the worker; returns the (stream, session) state."""
    from engine.audio.endpoint import EndpointConfig
    from engine.decode.streaming import StreamingRecognizer
    from engine.decode.vocabulary import Vocabulary, VocabularyError

    if isinstance(req, StreamStart):
        if recognizer is None:
            results.put(StreamEvents(req.session, error=load_error, ended=True))
            return None, None
        try:
            vocab = Vocabulary(list(req.vocabulary)) if req.vocabulary else None
            cfg = EndpointConfig(**req.endpoint) if req.endpoint else None
        except (VocabularyError, TypeError, ValueError) as exc:
            results.put(StreamEvents(req.session, error=f"Live recognition cannot start: {exc}", ended=True))
            return None, None
        return StreamingRecognizer(recognizer, cfg, vocab), req.session
    if stream is None or req.session != session:
        return stream, session  # audio of a session that failed to start or already ended
    try:
        if isinstance(req, StreamAudio):
            events = stream.feed(req.audio)
            if events:
                results.put(StreamEvents(session, tuple(events)))
            return stream, session
        results.put(StreamEvents(session, tuple(stream.flush()), ended=True))
        return None, None
    except Exception as exc:
        results.put(StreamEvents(session, error=f"Live recognition failed ({type(exc).__name__}: {exc}).", ended=True))
        return None, None


# --------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------
class InferenceWorker:
    """Owns the worker process and its queues; use from one thread.

    Args:
        checkpoint: a checkpoint folder for :meth:`Recognizer.from_checkpoint`.
        threads: torch CPU threads inside the worker.
    """

    def __init__(self, checkpoint: str | os.PathLike, threads: int = 2) -> None:
        self.checkpoint = str(Path(checkpoint))
        self.threads = threads
        self._ctx = SPAWN
        self._process: mp.process.BaseProcess | None = None
        self._requests: mp.Queue | None = None
        self._results: mp.Queue | None = None
        self._ids = itertools.count(1)
        self._pending: list[int] = []
        self._backlog: list[Answer] = []  # answers recovered from a dead process, then its failures
        self._sessions = itertools.count(1)
        self.stream_session: int | None = None
        """The open live session, or ``None``."""
        self.restarts = 0
        """How many times a dead worker was replaced."""

    # -- lifecycle ---------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """The worker's process id, or ``None`` before it starts."""
        return self._process.pid if self._process is not None else None

    def is_alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> None:
        """Start the process (it then loads the model) unless it is running."""
        if self.is_alive():
            return
        if self._process is not None:
            self._reap()
            self.restarts += 1
        # Fresh queues: a process killed mid-write may leave a half message in the old pipe.
        self._requests, self._results = self._ctx.Queue(), self._ctx.Queue()
        self._process = self._ctx.Process(
            target=_serve, args=(self.checkpoint, self._requests, self._results, self.threads),
            name="sayso-inference", daemon=True,
        )
        self._process.start()

    def close(self, timeout: float = 3.0) -> None:
        """Ask the worker to exit; kill it if it does not within ``timeout`` seconds."""
        if self._process is None:
            return
        request_exit(self._process, self._requests, timeout)
        self._reap()
        self._process = None
        self._pending.clear()
        self.stream_session = None

    def _reap(self) -> None:
        close_queues(self._requests, self._results)
        if self._process is not None and not self._process.is_alive():
            self._process.join(0)
        self._requests = self._results = None

    # -- requests ----------------------------------------------------------
    @property
    def pending(self) -> tuple[int, ...]:
        """Ids of requests not answered yet."""
        return tuple(self._pending)

    def submit(self, audio: np.ndarray, vocabulary: list[str] | tuple[str, ...] | None = None,
               attention: bool = True, transcript: str | None = None) -> int:
        """Queue ``(samples,)`` float32 16 kHz audio; returns the request id.

        Starts (or restarts) the worker if needed. ``vocabulary`` lists
        phrases as in :class:`engine.decode.vocabulary.Vocabulary`; with a
        ``transcript`` the audio is scored against it instead (see
        :class:`InferenceRequest`).
        """
        self._check_crash()
        self.start()
        rid = next(self._ids)
        vocab = tuple(vocabulary) if vocabulary else None
        self._requests.put(InferenceRequest(rid, np.ascontiguousarray(audio, dtype=np.float32), vocab, attention,
                                            transcript))
        self._pending.append(rid)
        return rid

    def submit_inspection(self, audio: np.ndarray, transcript: str | None = None) -> int:
        """Queue an :class:`InspectRequest` (attention and alignment of one utterance); returns its id."""
        self._check_crash()
        self.start()
        rid = next(self._ids)
        self._requests.put(InspectRequest(rid, np.ascontiguousarray(audio, dtype=np.float32), transcript))
        self._pending.append(rid)
        return rid

    # -- live sessions -----------------------------------------------------
    def stream_start(self, vocabulary: list[str] | tuple[str, ...] | None = None,
                     endpoint: dict | None = None) -> int:
        """Open a live session (ending any open one); returns its id.

        ``endpoint`` holds :class:`engine.audio.endpoint.EndpointConfig` fields.
        """
        self._check_crash()
        self.start()
        if self.stream_session is not None:
            self.stream_end()
        self.stream_session = next(self._sessions)
        self._requests.put(StreamStart(self.stream_session, tuple(vocabulary) if vocabulary else None, endpoint))
        return self.stream_session

    def stream_feed(self, audio: np.ndarray) -> None:
        """Send ``(samples,)`` float32 16 kHz audio to the open session (ignored if none)."""
        if self.stream_session is None or len(audio) == 0:
            return
        self._check_crash()
        if self._requests is not None and self.stream_session is not None:
            self._requests.put(StreamAudio(self.stream_session, np.ascontiguousarray(audio, dtype=np.float32)))

    def stream_end(self) -> None:
        """Close the open session; its last final arrives as a :class:`StreamEvents` with ``ended``."""
        session, self.stream_session = self.stream_session, None
        if session is not None and self._requests is not None and self.is_alive():
            self._requests.put(StreamEnd(session))

    def poll(self, timeout: float = 0.0) -> Answer | None:
        """The next answer, or ``None`` if none arrives within ``timeout`` seconds."""
        if self._backlog:
            return self._backlog.pop(0)
        if self._results is None:
            return None
        try:
            answer = self._results.get(timeout=timeout) if timeout > 0 else self._results.get_nowait()
        except queue.Empty:
            self._check_crash()
            return self._backlog.pop(0) if self._backlog else None
        except TORN:  # a torn message from a dying process
            self._check_crash()
            return self._backlog.pop(0) if self._backlog else None
        if not isinstance(answer, StreamEvents) and answer.request_id in self._pending:
            self._pending.remove(answer.request_id)
        return answer

    def wait(self, request_id: int, timeout: float = 120.0) -> Answer:
        """Block until ``request_id`` is answered (for scripts and tests).

        Raises:
            TimeoutError: no answer within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.poll(timeout=0.05)
            if answer is not None and getattr(answer, "request_id", None) == request_id:
                return answer
        raise TimeoutError(f"no answer to request {request_id} within {timeout:.0f} s")

    def _check_crash(self) -> None:
        """Turn every pending request of a dead process into a "crashed" failure."""
        if self._process is None or self._process.is_alive():
            return
        code = self._process.exitcode
        for answer in drain(self._results):  # answers written before the death are still valid
            if isinstance(answer, StreamEvents):
                self._backlog.append(answer)
            elif answer.request_id in self._pending:
                self._pending.remove(answer.request_id)
                self._backlog.append(answer)
        detail = f" (exit code {code})" if code is not None else ""
        for rid in self._pending:
            self._backlog.append(InferenceFailure(rid, "crashed", CRASHED_MESSAGE.format(detail=detail)))
        self._pending.clear()
        if self.stream_session is not None:
            self._backlog.append(StreamEvents(self.stream_session, error=CRASHED_MESSAGE.format(detail=detail), ended=True))
            self.stream_session = None
        if self._requests is not None:
            self._reap()

    def __enter__(self) -> "InferenceWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
