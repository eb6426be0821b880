"""The embedding worker: a persistent process that embeds projects, projects them to 2-D and embeds queries (no Qt).

Like the recognition worker (:mod:`engine.jobs.inference`) it is a
``multiprocessing`` *spawn* process that loads the model once and serves
requests until it is closed; the caller never blocks
(:meth:`EmbeddingWorker.map` / :meth:`~EmbeddingWorker.texts` return a
request id at once, :meth:`~EmbeddingWorker.poll` returns what arrived).

Requests and their answers:

- :meth:`EmbeddingWorker.map`: embed every utterance given
  (:func:`engine.insight.embedding.embed_items`, reading and filling the
  project's cache), project audio and text points to 2-D
  (:func:`engine.insight.projection.project`; the projection is cached too,
  keyed by the model, the method and the exact utterances), then one
  :class:`MapResult`. Meanwhile :class:`EmbedProgress` events with stage
  ``"audio"``, ``"text"`` or ``"projection"``.
- :meth:`EmbeddingWorker.texts`: :class:`TextResult`, the text embeddings
  of typed queries or phrases (about 1 ms each). Text requests that
  arrive during a map run are answered between two utterances, so search
  stays responsive.

Every request ends with exactly one :class:`MapResult`/:class:`TextResult`
or :class:`EmbedFailure` whose ``message`` is meant for a user.
:meth:`EmbeddingWorker.cancel` stops a map run cooperatively (between
utterances, or every 50 t-SNE iterations; the cache keeps what is done) and
kills the process if it has not stopped after :data:`CANCEL_TIMEOUT_S`. A
dead process fails its requests with kind ``"crashed"``; the next request
starts a fresh one.
"""
from __future__ import annotations

import hashlib
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

from engine.insight.embedding import EmbedItem, ProjectEmbeddings
from engine.jobs.worker import (
    PARENT_CHECK_S,
    SPAWN,
    TORN,
    close_queues,
    describe_exit,
    drain,
    limit_threads,
    parent_alive,
    request_exit,
)

__all__ = ["CANCEL_TIMEOUT_S", "EmbedFailure", "EmbedProgress", "EmbeddingWorker", "FailureKind", "MapResult",
           "TextResult"]

FailureKind = Literal["checkpoint", "disk", "empty", "cancelled", "crashed", "internal"]
"""Why a request failed: the model cannot be loaded, the cache cannot be written, nothing to
embed, the user cancelled, the worker died, or a bug."""
CANCEL_TIMEOUT_S = 5.0
"""Seconds a cancelled map run has to stop before the worker is killed."""
PROGRESS_INTERVAL_S = 0.1
"""At most about this many progress events per second (plus each stage's first and last)."""


# -- messages ---------------------------------------------------------------
@dataclass(frozen=True)
class _MapRequest:
    request_id: int
    items: tuple[EmbedItem, ...]
    cache_path: str
    method: str


@dataclass(frozen=True)
class _TextRequest:
    request_id: int
    texts: tuple[str, ...]


@dataclass(frozen=True)
class EmbedProgress:
    """``done`` of ``total`` in ``stage`` (``"audio"``, ``"text"`` or ``"projection"``) of map request ``request_id``."""

    request_id: int
    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class MapResult:
    """A finished map: ``embeddings`` and the 2-D points of its audio ``(n, 2)`` and texts ``(m, 2)``.

    ``seconds`` is the wall time of the run; ``projection_cached`` says the
    2-D points came from the cache.
    """

    request_id: int
    embeddings: ProjectEmbeddings
    audio_xy: np.ndarray
    text_xy: np.ndarray
    method: str
    seconds: float
    projection_cached: bool = False


@dataclass(frozen=True)
class TextResult:
    """``embeddings`` ``(len(texts), embed_dim)`` of the (normalized) ``texts``."""

    request_id: int
    texts: tuple[str, ...]
    embeddings: np.ndarray


@dataclass(frozen=True)
class EmbedFailure:
    """A failed request: ``kind`` (:data:`FailureKind`) and a user ``message``."""

    request_id: int
    kind: FailureKind
    message: str


Answer = Union[EmbedProgress, MapResult, TextResult, EmbedFailure]


# -- child process ----------------------------------------------------------
class _Server:
    def __init__(self, checkpoint: str, requests, results, cancel) -> None:
        self.checkpoint, self.requests, self.results, self.cancel = checkpoint, requests, results, cancel
        self.recognizer, self.load_error, self.model = None, None, ""
        self.deferred: list = []
        self._last_progress = (None, 0.0)

    def load(self) -> None:
        from engine.decode.recognizer import Recognizer
        from engine.insight.embedding import model_hash
        from engine.train.checkpoint import CheckpointError

        try:
            self.model = model_hash(self.checkpoint)
            self.recognizer = Recognizer.from_checkpoint(self.checkpoint)
        except (CheckpointError, FileNotFoundError) as exc:
            self.load_error = f"The model cannot be loaded: {exc}"
        except Exception as exc:  # noqa: BLE001 - a broken install, out of memory, …
            self.load_error = f"{self.checkpoint}: the model could not be loaded ({type(exc).__name__}: {exc})."

    def run(self) -> None:
        self.load()
        while True:
            if self.deferred:
                req = self.deferred.pop(0)
            else:
                try:
                    req = self.requests.get(timeout=PARENT_CHECK_S)
                except queue.Empty:
                    if not parent_alive():
                        return
                    continue
            if req is None:
                return
            self.handle(req)

    def handle(self, req) -> None:
        rid = req.request_id
        if self.recognizer is None:
            self.results.put(EmbedFailure(rid, "checkpoint", self.load_error))
            return
        try:
            if isinstance(req, _TextRequest):
                self.answer_texts(req)
            else:
                self.results.put(self.make_map(req))
        except InterruptedError:
            self.results.put(EmbedFailure(rid, "cancelled", "Embedding was cancelled; what was done is cached."))
        except OSError as exc:
            self.results.put(EmbedFailure(rid, "disk", f"The embedding cache cannot be written "
                                                       f"({exc.filename or req}): {exc.strerror or exc}."))
        except Exception as exc:  # noqa: BLE001
            tb = traceback.format_exc(limit=6)
            self.results.put(EmbedFailure(rid, "internal", f"Embedding failed ({type(exc).__name__}: {exc}).\n{tb}"))

    def answer_texts(self, req: _TextRequest) -> None:
        """One thread: a text takes about a millisecond, and idle OpenMP threads of a parallel run would spin
        on the cores the studio's search needs right after the answer."""
        import torch

        from engine.insight.embedding import embed_texts

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            vectors = embed_texts(self.recognizer, req.texts)
        finally:
            torch.set_num_threads(threads)
        self.results.put(TextResult(req.request_id, req.texts, vectors))

    # between two units of a map run: answer text queries, notice a cancel
    def service(self, rid: int) -> bool:
        while True:
            try:
                req = self.requests.get_nowait()
            except queue.Empty:
                break
            if isinstance(req, _TextRequest):
                self.answer_texts(req)
            else:
                self.deferred.append(req)
        return self.cancel.value == rid or not parent_alive()

    def progress(self, rid: int, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        key, last = self._last_progress
        if key == stage and 0 < done < total and now - last < PROGRESS_INTERVAL_S:
            return
        self._last_progress = (stage, now)
        self.results.put(EmbedProgress(rid, stage, done, total))

    def make_map(self, req: _MapRequest) -> MapResult | EmbedFailure:
        from engine.insight.embedding import EmbeddingCache, embed_items
        from engine.insight.projection import project

        t0 = time.perf_counter()
        rid = req.request_id
        if not req.items:
            return EmbedFailure(rid, "empty", "The project has no utterances to embed yet.")
        cache = EmbeddingCache.load(req.cache_path, self.model)
        emb = embed_items(self.recognizer, req.items, cache, lambda s, d, t: self.progress(rid, s, d, t),
                          lambda: self.service(rid))
        if len(emb.ids) == 0:
            first = emb.failed[0][1] if emb.failed else ""
            return EmbedFailure(rid, "empty", f"No utterance's audio could be read ({len(emb.failed)} failed: {first})")
        points = np.concatenate([emb.audio, emb.text])
        kept = set(emb.ids.tolist())
        key = hashlib.sha1("\n".join([it.key for it in req.items if it.utterance_id in kept]
                                     + emb.texts).encode()).hexdigest()
        proj_path = Path(req.cache_path).with_suffix(f".{req.method}.npz")
        xy = _load_projection(proj_path, key, len(points))
        cached = xy is not None
        if xy is None:
            self.progress(rid, "projection", 0, 1)
            xy = project(points, req.method, lambda d, t: self.progress(rid, "projection", d, t),
                         lambda: self.service(rid))
            _save_projection(proj_path, key, xy)
        self.progress(rid, "projection", 1, 1)
        n = len(emb.ids)
        return MapResult(rid, emb, xy[:n], xy[n:], req.method, time.perf_counter() - t0, cached)


def _load_projection(path: Path, key: str, n: int) -> np.ndarray | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) == key and z["xy"].shape == (n, 2):
                return z["xy"].astype(np.float32)
    except (OSError, KeyError, ValueError, EOFError, Exception):  # noqa: BLE001 - a damaged file is a miss
        return None
    return None


def _save_projection(path: Path, key: str, xy: np.ndarray) -> None:
    from engine.atomic import atomic_write

    with atomic_write(path, "wb") as fh:
        np.savez(fh, key=np.array(key), xy=xy.astype(np.float32))


def _serve(checkpoint: str, requests, results, cancel, threads: int) -> None:
    limit_threads(threads)
    _Server(checkpoint, requests, results, cancel).run()


# -- parent side ------------------------------------------------------------
class EmbeddingWorker:
    """Owns the embedding process and its queues; use from one thread.

    Args:
        checkpoint: a checkpoint folder (its model embeds everything).
        threads: torch CPU threads inside the worker.
        cancel_timeout: seconds a cancelled map run has before the process is killed.
    """

    def __init__(self, checkpoint: str | os.PathLike, threads: int = 2,
                 cancel_timeout: float = CANCEL_TIMEOUT_S) -> None:
        self.checkpoint = str(Path(checkpoint))
        self.threads, self.cancel_timeout = threads, cancel_timeout
        self._process = None
        self._requests = self._results = None
        self._cancel = SPAWN.Value("q", 0, lock=False)
        self._ids = itertools.count(1)
        self._pending: list[int] = []
        self._backlog: list[Answer] = []
        self._cancel_deadline: tuple[int, float] | None = None

    @property
    def pid(self) -> int | None:
        """The worker's process id, or ``None`` before it starts."""
        return self._process.pid if self._process is not None else None

    @property
    def pending(self) -> tuple[int, ...]:
        """Ids of requests not answered yet."""
        return tuple(self._pending)

    def is_alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> None:
        """Start the process (it then loads the model) unless it runs."""
        if self.is_alive():
            return
        self._reap()
        self._requests, self._results = SPAWN.Queue(), SPAWN.Queue()
        self._process = SPAWN.Process(target=_serve, name="sayso-embedding", daemon=True,
                                      args=(self.checkpoint, self._requests, self._results, self._cancel,
                                            self.threads))
        self._process.start()

    def close(self, timeout: float = 3.0) -> None:
        """Ask the worker to exit; kill it if it has not within ``timeout`` seconds."""
        if self._process is None:
            return
        request_exit(self._process, self._requests, timeout)
        self._reap()
        self._process = None
        self._pending.clear()

    def _reap(self) -> None:
        close_queues(self._requests, self._results)
        if self._process is not None and not self._process.is_alive():
            self._process.join(0)
        self._requests = self._results = None

    def _submit(self, make) -> int:
        self._check_crash()
        self.start()
        rid = next(self._ids)
        self._requests.put(make(rid))
        self._pending.append(rid)
        return rid

    def map(self, items: list[EmbedItem], cache_path: str | os.PathLike, method: str = "pca") -> int:
        """Embed ``items`` (cached in ``cache_path``) and project them with ``method``; returns the request id.

        Raises:
            ValueError: an unknown method.
        """
        from engine.insight.projection import METHODS

        if method not in METHODS:
            raise ValueError(f"unknown projection {method!r}; choose one of {', '.join(METHODS)}")
        return self._submit(lambda rid: _MapRequest(rid, tuple(items), str(cache_path), method))

    def texts(self, texts: list[str] | tuple[str, ...]) -> int:
        """Embed typed ``texts`` (normalized as transcripts are); returns the request id."""
        return self._submit(lambda rid: _TextRequest(rid, tuple(texts)))

    def cancel(self, request_id: int) -> bool:
        """Stop map request ``request_id`` (its :class:`EmbedFailure` kind ``"cancelled"`` follows); False if not pending."""
        if request_id not in self._pending:
            return False
        self._cancel.value = request_id
        self._cancel_deadline = (request_id, time.monotonic() + self.cancel_timeout)
        return True

    def poll(self, timeout: float = 0.0) -> Answer | None:
        """The next answer or progress event, or ``None`` if none arrives within ``timeout`` seconds."""
        if self._backlog:
            return self._backlog.pop(0)
        if self._cancel_deadline is not None:
            rid, deadline = self._cancel_deadline
            if rid not in self._pending:
                self._cancel_deadline = None
            elif time.monotonic() > deadline and self.is_alive():
                self._process.kill()
                self._process.join(2.0)
                self._check_crash(cancelled=rid)
                return self._backlog.pop(0) if self._backlog else None
        if self._results is None:
            return None
        try:
            answer = self._results.get(timeout=timeout) if timeout > 0 else self._results.get_nowait()
        except (queue.Empty, *TORN):
            self._check_crash()
            return self._backlog.pop(0) if self._backlog else None
        if not isinstance(answer, EmbedProgress) and answer.request_id in self._pending:
            self._pending.remove(answer.request_id)
        return answer

    def wait(self, request_id: int, timeout: float = 600.0) -> Answer:
        """Block until ``request_id`` is answered (scripts and tests); progress events are dropped.

        Raises:
            TimeoutError: no answer within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.poll(timeout=0.05)
            if answer is not None and not isinstance(answer, EmbedProgress) and answer.request_id == request_id:
                return answer
        raise TimeoutError(f"no answer to embedding request {request_id} within {timeout:.0f} s")

    def _check_crash(self, cancelled: int | None = None) -> None:
        if self._process is None or self._process.is_alive():
            return
        code = self._process.exitcode
        for answer in drain(self._results):
            if not isinstance(answer, EmbedProgress) and answer.request_id in self._pending:
                self._pending.remove(answer.request_id)
                self._backlog.append(answer)
        for rid in self._pending:
            if rid == cancelled:
                self._backlog.append(EmbedFailure(rid, "cancelled", "Embedding was cancelled; what was done is cached."))
            else:
                self._backlog.append(EmbedFailure(rid, "crashed", f"The embedding worker stopped ({describe_exit(code)}); "
                                                               f"it restarts on the next request."))
        self._pending.clear()
        self._cancel_deadline = None
        self._reap()
        self._process = None

    def __enter__(self) -> "EmbeddingWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
