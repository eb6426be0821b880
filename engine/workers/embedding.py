"""The embedding worker: a persistent process that embeds projects, projects them to 2-D and embeds queries (no Qt).

Like the recognition worker (:mod:`engine.workers.recognition`) it is a
:class:`~engine.workers.process.WorkerProcess` whose child loads the model
once and serves requests until it is closed; the caller never blocks
(:meth:`EmbeddingWorker.map` / :meth:`~EmbeddingWorker.texts` return a
request id at once, :meth:`~engine.workers.process.WorkerProcess.poll`
returns what arrived).

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
kills the process if it has not stopped after
:data:`~engine.workers.process.CANCEL_TIMEOUT_S`. A
dead process fails its requests with kind ``"crashed"``; the next request
starts a fresh one.
"""
from __future__ import annotations

import hashlib
import os
import queue
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from engine.insight.embedding import EmbedItem, ProjectEmbeddings
from engine.workers.child import Child
from engine.workers.process import CANCEL_TIMEOUT_S, Ending, WorkerProcess, describe_exit

__all__ = ["EmbedFailure", "EmbedProgress", "EmbeddingWorker", "FailureKind", "MapResult", "TextResult"]

FailureKind = Literal["checkpoint", "disk", "empty", "no_text_space", "cancelled", "crashed", "internal"]
"""Why a request failed: the model cannot be loaded, the cache cannot be written, nothing to
embed, texts asked of a model without a text space (Whisper), the user cancelled, the worker died, or a bug."""
CANCELLED_MESSAGE = "Embedding was cancelled; what was done is cached."
NO_TEXT_SPACE = ("Search by text needs a Sayso model: {name} (Whisper) has no text embeddings, only its "
                 "encoder's states of the audio.")
PROGRESS_INTERVAL_S = 0.1
"""At most about this many progress events per second (plus each stage's first and last)."""


# -- messages ---------------------------------------------------------------
@dataclass(frozen=True)
class _MapRequest:
    request_id: int
    items: tuple[EmbedItem, ...]
    project_folder: str
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


Answer = EmbedProgress | MapResult | TextResult | EmbedFailure


# -- child process ----------------------------------------------------------
class _Server:
    def __init__(self, child: Child, checkpoint: str, threads: int) -> None:
        self.child, self.checkpoint, self.threads = child, checkpoint, threads
        self.recognizer, self.load_error, self.model = None, None, ""
        self.deferred: list = []
        self._last_progress = (None, 0.0)

    def load(self) -> None:
        """Load the model: a Sayso model with :func:`~engine.workers.child.limit_threads` torch threads, a
        Whisper model with CTranslate2 threads (its audio embedding needs no torch)."""
        from engine.checkpoint_layout import SAYSO_FAMILY, CheckpointError, family
        from engine.decode.families import load_recognizer
        from engine.insight.embedding import model_hash
        from engine.workers.child import limit_threads

        try:
            self.model = model_hash(self.checkpoint)
            threads = self.threads
            if family(Path(self.checkpoint)) in (SAYSO_FAMILY, None):
                threads = limit_threads(threads)
            self.recognizer = load_recognizer(self.checkpoint, threads=threads)
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
                    req = self.child.get()
                except queue.Empty:
                    continue
            if req is None:
                return
            self.handle(req)

    def handle(self, req) -> None:
        rid = req.request_id
        if self.recognizer is None:
            self.child.send(EmbedFailure(rid, "checkpoint", self.load_error))
            return
        try:
            if isinstance(req, _TextRequest):
                self.answer_texts(req)
            else:
                self.child.send(self.make_map(req))
        except InterruptedError:
            self.child.send(EmbedFailure(rid, "cancelled", CANCELLED_MESSAGE))
        except OSError as exc:
            self.child.send(EmbedFailure(rid, "disk", f"The embedding cache cannot be written "
                                                       f"({exc.filename or req}): {exc.strerror or exc}."))
        except Exception as exc:  # noqa: BLE001
            tb = traceback.format_exc(limit=6)
            self.child.send(EmbedFailure(rid, "internal", f"Embedding failed ({type(exc).__name__}: {exc}).\n{tb}"))

    def answer_texts(self, req: _TextRequest) -> None:
        """One thread: a text takes about a millisecond, and idle OpenMP threads of a parallel run would spin
        on the cores the studio's search needs right after the answer."""
        from engine.insight.embedding import embed_texts, has_text_space

        if not has_text_space(self.recognizer):  # Whisper: its worker never imports torch
            self.child.send(EmbedFailure(req.request_id, "no_text_space", NO_TEXT_SPACE.format(
                name=getattr(self.recognizer, "name", "this model"))))
            return
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            vectors = embed_texts(self.recognizer, req.texts)
        finally:
            torch.set_num_threads(threads)
        self.child.send(TextResult(req.request_id, req.texts, vectors))

    # between two units of a map run: answer text queries, notice a cancel
    def service(self, rid: int) -> bool:
        while True:
            try:
                req = self.child.get_nowait()
            except queue.Empty:
                break
            if isinstance(req, _TextRequest):
                self.answer_texts(req)
            else:
                self.deferred.append(req)
        return self.child.stopping(rid)

    def progress(self, rid: int, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        key, last = self._last_progress
        if key == stage and 0 < done < total and now - last < PROGRESS_INTERVAL_S:
            return
        self._last_progress = (stage, now)
        self.child.send(EmbedProgress(rid, stage, done, total))

    def make_map(self, req: _MapRequest) -> MapResult | EmbedFailure:
        from engine.insight.embedding import EmbeddingCache, cache_file, embed_items
        from engine.insight.projection import project

        t0 = time.perf_counter()
        rid = req.request_id
        if not req.items:
            return EmbedFailure(rid, "empty", "The project has no utterances to embed yet.")
        cache_path = cache_file(req.project_folder, self.model)  # the model's hash: read here, never on the GUI thread
        cache = EmbeddingCache.load(cache_path, self.model)
        emb = embed_items(self.recognizer, req.items, cache, lambda s, d, t: self.progress(rid, s, d, t),
                          lambda: self.service(rid))
        if len(emb.ids) == 0:
            first = emb.failed[0][1] if emb.failed else ""
            return EmbedFailure(rid, "empty", f"No utterance's audio could be read ({len(emb.failed)} failed: {first})")
        points = np.concatenate([emb.audio, emb.text])
        kept = set(emb.ids.tolist())
        key = hashlib.sha1("\n".join([it.key for it in req.items if it.utterance_id in kept]
                                     + emb.texts).encode()).hexdigest()
        proj_path = cache_path.with_suffix(f".{req.method}.npz")
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


def _serve(child: Child, checkpoint: str, threads: int) -> None:
    _Server(child, checkpoint, threads).run()


# -- parent side ------------------------------------------------------------
class EmbeddingWorker(WorkerProcess):
    """The embedding process of one checkpoint and its requests; use from one thread.

    Args:
        checkpoint: a checkpoint folder of either family (its model embeds everything; a Whisper
            model embeds audio only, :func:`engine.insight.embedding.has_text_space`).
        threads: CPU threads inside the worker (torch's for a Sayso model, CTranslate2's for Whisper).
        cancel_timeout: seconds a cancelled map run has before the process is killed.
    """

    def __init__(self, checkpoint: str | os.PathLike, threads: int = 2,
                 cancel_timeout: float = CANCEL_TIMEOUT_S) -> None:
        self.checkpoint = str(Path(checkpoint))
        super().__init__(_serve, (self.checkpoint, threads), name="sayso-embedding",  # _Server.load limits threads
                         cancel_timeout=cancel_timeout)

    def failure(self, request_id: int, ending: Ending, exitcode: int | None) -> EmbedFailure:
        if ending == "cancelled":
            return EmbedFailure(request_id, "cancelled", CANCELLED_MESSAGE)
        return EmbedFailure(request_id, "crashed", f"The embedding worker stopped ({describe_exit(exitcode)}); "
                                                   f"it restarts on the next request.")

    def settles(self, answer: object) -> int | None:
        return None if isinstance(answer, EmbedProgress) else answer.request_id

    def map(self, items: list[EmbedItem], project_folder: str | os.PathLike, method: str = "pca") -> int:
        """Embed ``items`` of the project in ``project_folder`` (cached in its
        :func:`~engine.insight.embedding.cache_file` for the worker's model, whose weights the
        worker hashes) and project them with ``method``; returns the request id.

        Progress events (:class:`EmbedProgress`) follow, then a :class:`MapResult`
        or :class:`EmbedFailure`; :meth:`~engine.workers.process.WorkerProcess.cancel`
        stops the run (kind ``"cancelled"``).

        Raises:
            ValueError: an unknown method.
        """
        from engine.insight.projection import METHODS

        if method not in METHODS:
            raise ValueError(f"unknown projection {method!r}; choose one of {', '.join(METHODS)}")
        return self.request(lambda rid: _MapRequest(rid, tuple(items), str(project_folder), method))

    def texts(self, texts: list[str] | tuple[str, ...]) -> int:
        """Embed typed ``texts`` (normalized as transcripts are); returns the request id (a :class:`TextResult` follows)."""
        return self.request(lambda rid: _TextRequest(rid, tuple(texts)))
