"""Recognition in a persistent worker process (headless, no Qt).

:class:`RecognitionWorker` is a :class:`~engine.workers.process.WorkerProcess`
whose child loads the model once with :func:`~engine.decode.families.load_recognizer`
(and warms it up) and then serves requests until it is closed. The caller
never blocks: each ``submit…`` method returns a request id at once and
:meth:`~engine.workers.process.WorkerProcess.poll` returns whatever has
arrived (or ``None``).

Every request gets exactly one answer:

- :meth:`RecognitionWorker.submit` (transcribe) and :meth:`RecognitionWorker.submit_file`
  (transcribe a file, e.g. a long recording, read in the worker) → :class:`TranscribeResult`
  with a :class:`~engine.decode.protocol.Recognition`;
- :meth:`RecognitionWorker.submit_score` (score audio against a transcript,
  :meth:`Recognizer.score <engine.decode.protocol.Recognizer.score>`) → :class:`ScoreResult`;
- :meth:`RecognitionWorker.submit_inspection` (attention and alignment,
  :func:`engine.insight.attention.inspect`; for a Whisper model
  :func:`engine.insight.whisper_attention.inspect`, which loads its weights in torch
  on the first inspection) → :class:`InspectResult` with an
  :class:`~engine.insight.attention.Inspection`;
- or, for any of them, :class:`RecognitionFailure` whose ``kind`` is one of
  :data:`FailureKind` and whose ``message`` is meant for a user (an
  ``AudioError``, ``CheckpointError`` or ``VocabularyError`` message, or
  "worker crashed").

If the process dies (killed, out of memory, a crash in native code), the
pending requests fail with kind ``"crashed"`` and the next request starts a
fresh process.

The same process also serves **live sessions** (:mod:`engine.decode.streaming`):
:meth:`RecognitionWorker.stream_start`, :meth:`~RecognitionWorker.stream_feed`
(16 kHz chunks, e.g. every 15 ms) and :meth:`~RecognitionWorker.stream_end`.
Their results arrive through ``poll`` as :class:`StreamEvents` (partials and
finals) of the session id; the session's last one has ``ended`` set, and a
crash during a session yields one whose ``error`` says so.

>>> worker = RecognitionWorker("/path/to/checkpoint")       # doctest: +SKIP
>>> rid = worker.submit(audio)                              # doctest: +SKIP
>>> answer = worker.wait(rid, timeout=60)                   # doctest: +SKIP
"""
from __future__ import annotations

import os
import queue
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from engine.workers.child import Child
from engine.workers.process import Ending, WorkerProcess, describe_exit

FailureKind = Literal["audio", "checkpoint", "vocabulary", "crashed", "internal"]
"""Why a request failed: bad audio, bad model, bad vocabulary, the process died, or a bug."""

CRASHED_MESSAGE = "The recognition worker crashed ({how}); it restarts on the next request."


# -- requests ---------------------------------------------------------------
@dataclass(frozen=True)
class TranscribeRequest:
    """Transcribe ``audio`` ``(samples,)`` float32 at 16 kHz; ``vocabulary`` lists phrases or is ``None``."""

    request_id: int
    audio: np.ndarray
    vocabulary: tuple[str, ...] | None = None
    attention: bool = True


@dataclass(frozen=True)
class TranscribeFileRequest:
    """Transcribe the audio file at ``path`` in the worker (a long recording: the family's
    :meth:`~engine.decode.protocol.Recognizer.transcribe_file` reads it, so the audio never crosses
    the queue); answered by a :class:`TranscribeResult` without attention maps."""

    request_id: int
    path: str
    vocabulary: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ScoreRequest:
    """Score ``audio`` ``(samples,)`` float32 at 16 kHz against ``transcript`` (label QA)."""

    request_id: int
    audio: np.ndarray
    transcript: str


@dataclass(frozen=True)
class InspectRequest:
    """Look inside the model for one utterance (:func:`engine.insight.attention.inspect`).

    ``audio`` is ``(samples,)`` float32 at 16 kHz; ``transcript`` is the text to
    align, or ``None``/empty to align the model's own transcription.
    """

    request_id: int
    audio: np.ndarray
    transcript: str | None = None


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


# -- answers ----------------------------------------------------------------
@dataclass(frozen=True)
class TranscribeResult:
    """A finished transcription: ``recognition`` is an :class:`engine.decode.protocol.Recognition`."""

    request_id: int
    recognition: object


@dataclass(frozen=True)
class ScoreResult:
    """Audio–text ``similarity`` (cosine, −1…1) and CTC log-likelihood per token (≤ 0) of a :class:`ScoreRequest`."""

    request_id: int
    similarity: float
    ctc_per_token: float


@dataclass(frozen=True)
class InspectResult:
    """A finished inspection: ``inspection`` is an :class:`engine.insight.attention.Inspection`."""

    request_id: int
    inspection: object


@dataclass(frozen=True)
class RecognitionFailure:
    """A failed request with a message a user understands (never a traceback, except kind ``"internal"``)."""

    request_id: int
    kind: FailureKind
    message: str


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


Answer = TranscribeResult | ScoreResult | InspectResult | RecognitionFailure | StreamEvents


# -- child process ----------------------------------------------------------
def _serve(child: Child, checkpoint: str, threads: int, name: str | None = None) -> None:
    """Worker main loop: load the model once, answer requests until ``None`` arrives.

    A Sayso model gets ``threads`` torch threads (:func:`~engine.workers.child.limit_threads`);
    a Whisper model ``threads`` CTranslate2 threads, and torch is never imported (540 MB)."""
    from engine.audio.errors import AudioError
    from engine.checkpoint_layout import SAYSO_FAMILY, CheckpointError, family
    from engine.decode.families import load_recognizer
    from engine.decode.vocabulary import VocabularyError
    from engine.workers.child import limit_threads

    recognizer, load_error = None, None
    try:
        if family(Path(checkpoint)) in (SAYSO_FAMILY, None):
            threads = limit_threads(threads)  # and not the fixed count again in load_recognizer
        recognizer = load_recognizer(checkpoint, threads=threads)
        if name:
            recognizer.name = name  # the registry's name: every Recognition.model says it
        warm_up(recognizer)
    except CheckpointError as exc:
        load_error = str(exc)
    except Exception as exc:  # a broken install, out of memory, …
        load_error = f"{checkpoint}: the model could not be loaded ({type(exc).__name__}: {exc})."

    vocabularies: dict = {}
    stream, stream_session = None, None
    while True:
        try:
            req = child.get()
        except queue.Empty:
            continue
        if req is None:
            return
        if isinstance(req, (StreamStart, StreamAudio, StreamEnd)):
            stream, stream_session = _serve_stream(req, recognizer, load_error, stream, stream_session, child)
            continue
        rid = req.request_id
        if recognizer is None:
            child.send(RecognitionFailure(rid, "checkpoint", load_error))
            continue
        try:
            child.send(_answer(recognizer, req, vocabularies))
        except AudioError as exc:
            child.send(RecognitionFailure(rid, "audio", str(exc)))
        except VocabularyError as exc:
            child.send(RecognitionFailure(rid, "vocabulary", str(exc)))
        except CheckpointError as exc:  # e.g. Whisper's attention without torch: one line
            child.send(RecognitionFailure(rid, "checkpoint", str(exc)))
        except Exception as exc:
            tb = traceback.format_exc(limit=6)
            child.send(RecognitionFailure(rid, "internal", f"Recognition failed ({type(exc).__name__}: {exc}).\n{tb}"))


def _answer(recognizer, req, vocabularies: dict) -> Answer:
    """The answer to one transcribe, score or inspect request (raises what the engine raises)."""
    rid = req.request_id
    if isinstance(req, InspectRequest):
        if getattr(recognizer, "family", None) == "whisper":
            from engine.insight.whisper_attention import inspect  # its weights in torch, loaded on first use
        else:
            from engine.insight.attention import inspect

        return InspectResult(rid, inspect(recognizer, req.audio, req.transcript))
    if isinstance(req, ScoreRequest):
        score = recognizer.score(req.audio, req.transcript)
        return ScoreResult(rid, score.similarity, score.likelihood)
    vocab = None
    if req.vocabulary:
        from engine.decode.vocabulary import Vocabulary

        if req.vocabulary not in vocabularies:  # keep the last one only: its lexicon search is built once
            vocabularies.clear()
            vocabularies[req.vocabulary] = Vocabulary(list(req.vocabulary))
        vocab = vocabularies[req.vocabulary]
    if isinstance(req, TranscribeFileRequest):
        return TranscribeResult(rid, recognizer.transcribe_file(req.path, vocab, attention=False))
    return TranscribeResult(rid, recognizer.transcribe(req.audio, vocabulary=vocab, attention=req.attention))


def warm_up(recognizer) -> None:
    """Decode 1 s of faint noise once, so the first real request does not pay for torch's first calls."""
    noise = np.random.default_rng(0).normal(0.0, 0.01, 16_000).astype(np.float32)
    recognizer.transcribe(noise, attention=True)


def _serve_stream(req, recognizer, load_error, stream, session, child):
    """Handle one live-session message in the worker; returns the (stream, session) state."""
    from engine.audio.endpoint import EndpointConfig
    from engine.decode.vocabulary import Vocabulary, VocabularyError

    if isinstance(req, StreamStart):
        if recognizer is None:
            child.send(StreamEvents(req.session, error=load_error, ended=True))
            return None, None
        try:
            vocab = Vocabulary(list(req.vocabulary)) if req.vocabulary else None
            cfg = EndpointConfig(**req.endpoint) if req.endpoint else None
        except (VocabularyError, TypeError, ValueError) as exc:
            child.send(StreamEvents(req.session, error=f"Live recognition cannot start: {exc}", ended=True))
            return None, None
        return recognizer.stream(cfg, vocab), req.session
    if stream is None or req.session != session:
        return stream, session  # audio of a session that failed to start or already ended
    try:
        if isinstance(req, StreamAudio):
            events = stream.feed(req.audio)
            if events:
                child.send(StreamEvents(session, tuple(events)))
            return stream, session
        child.send(StreamEvents(session, tuple(stream.flush()), ended=True))
        return None, None
    except Exception as exc:
        child.send(StreamEvents(session, error=f"Live recognition failed ({type(exc).__name__}: {exc}).", ended=True))
        return None, None


# -- parent side ------------------------------------------------------------
class RecognitionWorker(WorkerProcess):
    """The recognition process of one checkpoint and its requests; use from one thread.

    Args:
        checkpoint: a checkpoint folder for :func:`~engine.decode.families.load_recognizer`.
        threads: CPU threads inside the worker (torch's for a Sayso model, CTranslate2's for Whisper).
        name: the model's name for its recognitions (the registry entry's; None: the checkpoint's own).
    """

    def __init__(self, checkpoint: str | os.PathLike, threads: int = 2, name: str | None = None) -> None:
        self.checkpoint = str(Path(checkpoint))
        super().__init__(_serve, (self.checkpoint, threads, name), name="sayso-recognition")  # _serve limits threads
        self.stream_session: int | None = None
        """The open live session, or ``None``."""
        self._sessions: set[int] = set()  # live sessions whose last events have not arrived

    def failure(self, request_id: int, ending: Ending, exitcode: int | None) -> Answer:
        message = CRASHED_MESSAGE.format(how=describe_exit(exitcode))
        if request_id in self._sessions:
            self._sessions.discard(request_id)
            if request_id == self.stream_session:
                self.stream_session = None
            return StreamEvents(request_id, error=message, ended=True)
        return RecognitionFailure(request_id, "crashed", message)

    def settles(self, answer: object) -> int | None:
        if isinstance(answer, StreamEvents):
            return answer.session if answer.ended or answer.error else None
        return answer.request_id

    def close(self, timeout: float = 3.0) -> None:
        super().close(timeout)
        self.stream_session = None
        self._sessions.clear()

    # -- requests ----------------------------------------------------------
    def submit(self, audio: np.ndarray, vocabulary: list[str] | tuple[str, ...] | None = None,
               attention: bool = True) -> int:
        """Transcribe ``(samples,)`` float32 16 kHz audio; returns the request id (a :class:`TranscribeResult` follows).

        Starts (or restarts) the worker if needed. ``vocabulary`` lists
        phrases as in :class:`engine.decode.vocabulary.Vocabulary`;
        ``attention`` adds the cross-attention to the recognition.
        """
        vocab = tuple(vocabulary) if vocabulary else None
        return self.request(lambda rid: TranscribeRequest(rid, _samples(audio), vocab, attention))

    def submit_file(self, path: str | os.PathLike, vocabulary: list[str] | tuple[str, ...] | None = None) -> int:
        """Transcribe the audio file at ``path`` (see :class:`TranscribeFileRequest`); a
        :class:`TranscribeResult` follows, or a :class:`RecognitionFailure` of kind ``"audio"``."""
        vocab = tuple(vocabulary) if vocabulary else None
        return self.request(lambda rid: TranscribeFileRequest(rid, str(path), vocab))

    def submit_score(self, audio: np.ndarray, transcript: str) -> int:
        """Score ``(samples,)`` float32 16 kHz audio against ``transcript``; a :class:`ScoreResult` follows."""
        return self.request(lambda rid: ScoreRequest(rid, _samples(audio), transcript))

    def submit_inspection(self, audio: np.ndarray, transcript: str | None = None) -> int:
        """Inspect one utterance (see :class:`InspectRequest`); an :class:`InspectResult` follows."""
        return self.request(lambda rid: InspectRequest(rid, _samples(audio), transcript))

    # -- live sessions -----------------------------------------------------
    def stream_start(self, vocabulary: list[str] | tuple[str, ...] | None = None,
                     endpoint: dict | None = None) -> int:
        """Open a live session (ending any open one); returns its id.

        ``endpoint`` holds :class:`engine.audio.endpoint.EndpointConfig` fields.
        """
        if self.stream_session is not None:
            self.stream_end()
        vocab = tuple(vocabulary) if vocabulary else None
        self._sessions &= set(self.pending)
        self.stream_session = self.request(lambda session: StreamStart(session, vocab, endpoint))
        self._sessions.add(self.stream_session)
        return self.stream_session

    def stream_feed(self, audio: np.ndarray) -> None:
        """Send ``(samples,)`` float32 16 kHz audio to the open session (ignored if none)."""
        if self.stream_session is not None and len(audio):
            self.send(StreamAudio(self.stream_session, _samples(audio)))

    def stream_end(self) -> None:
        """Close the open session; its last final arrives as a :class:`StreamEvents` with ``ended``."""
        session, self.stream_session = self.stream_session, None
        if session is not None and self.is_alive():
            self.send(StreamEnd(session))


def _samples(audio: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(audio, dtype=np.float32)
