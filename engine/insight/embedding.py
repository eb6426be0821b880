"""Embeddings of a project's utterances in the model's shared audio–text space, with an on-disk cache.

Every utterance gets an **audio embedding** (the encoder's pooled, projected
states: ``model.audio_embedding``) and its transcript a **text embedding**
(``SaysoRecognizer.embed_text``); both are L2-normalized ``(embed_dim,)`` float32
vectors (``embed_dim`` = 128 for the bundled model), so a dot product is the
cosine similarity the model was trained to maximize for matching pairs
(a CLIP-style contrastive loss, Radford et al. 2021).

A Whisper model has no text side: its audio embedding is its encoder's states
over the audio, averaged (:meth:`engine.whisper.recognizer.WhisperRecognizer.audio_embedding`,
``(d_model,)``), and there are no text embeddings (:func:`has_text_space`).

The cache is one file per model, ``<project>/cache/embeddings/<model hash>.npz``
(:func:`cache_file`), holding string keys and float32 rows, read and written
with ``allow_pickle=False`` and written atomically (:mod:`engine.atomic`):

* audio rows keyed by :func:`audio_key` — the recording's SHA-256 and the
  utterance's start and end (ms), so an edited boundary or a replaced file
  is embedded again, and a renamed or re-imported file is not;
* text rows keyed by the transcript itself.

The model hash (:func:`model_hash`) is the SHA-256 of the checkpoint's
weights and config, so a retrained model never reads another's embeddings.
Embedding is one utterance at a time (no padding), so an utterance's
embedding never depends on its neighbours and the same model gives
bit-identical embeddings.

This module imports no Qt; torch is imported by the functions that need it.
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write
from engine.checkpoint_layout import CONFIG_FILE, WEIGHTS_FILE
from engine.data.utterance import Utterance
from engine.whisper.folder import MODEL_FILE as WHISPER_WEIGHTS_FILE

__all__ = ["CACHE_DIR", "EmbedItem", "EmbeddingCache", "ProjectEmbeddings", "audio_key", "cache_file",
           "embed_audio", "embed_items", "embed_texts", "has_text_space", "model_hash", "project_items",
           "project_rows"]

CACHE_DIR = Path("cache") / "embeddings"
"""Where, inside a project folder, the embedding caches live."""
_WEIGHTS_FILES = (WEIGHTS_FILE, WHISPER_WEIGHTS_FILE)
"""The weights file of each family (Sayso, Whisper), whichever the folder has."""
_digests: dict[tuple[str, int, int], str] = {}
"""SHA-256 of weights files by (path, size, modification time): a Whisper model.bin is hundreds of MB."""


def _file_digest(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _digests[key] = h.hexdigest()
    return _digests[key]


def model_hash(checkpoint: str | os.PathLike) -> str:
    """First 16 hex digits of a SHA-256 over a checkpoint's weights and config (either family).

    The weights' own digest is remembered for the process (keyed by path, size and modification
    time), so asking again for a large Whisper model costs a ``stat``.

    Raises:
        FileNotFoundError: the folder has neither ``model.safetensors`` nor a Whisper ``model.bin``.
    """
    folder = Path(checkpoint)
    weights = next((name for name in _WEIGHTS_FILES if (folder / name).is_file()), None)
    if weights is None:
        raise FileNotFoundError(f"{folder} is not a model checkpoint (it has no {' or '.join(_WEIGHTS_FILES)}).")
    h = hashlib.sha256()
    h.update(weights.encode() + _file_digest(folder / weights).encode())
    config = folder / CONFIG_FILE
    if config.is_file():
        h.update(CONFIG_FILE.encode() + config.read_bytes())
    return h.hexdigest()[:16]


def cache_file(project_folder: str | os.PathLike, model: str) -> Path:
    """``<project>/cache/embeddings/<model>.npz`` for a :func:`model_hash`."""
    return Path(project_folder) / CACHE_DIR / f"{model}.npz"


def audio_key(sha256: str, start: float, end: float) -> str:
    """The cache key of an utterance's audio: ``"<sha256>:<start ms>:<end ms>"`` (times rounded to 1 ms)."""
    return f"{sha256}:{round(start * 1000)}:{round(end * 1000)}"


@dataclass(frozen=True)
class EmbedItem:
    """One stored utterance to embed.

    Attributes:
        utterance_id: its id in the project.
        utterance: its audio file, ``start``/``end`` in seconds (both set) and transcript.
        sha256: the recording's checksum, which keys the audio cache with the times.
    """

    utterance_id: int
    utterance: Utterance
    sha256: str

    @property
    def key(self) -> str:
        """The cache key of the audio (:func:`audio_key`)."""
        return audio_key(self.sha256, self.utterance.start, self.utterance.end)


class EmbeddingCache:
    """Audio and text embeddings of one model, loaded from and saved to one ``.npz`` file.

    Attributes:
        path: the file.
        model: the :func:`model_hash` the rows belong to.
        audio: audio key → ``(embed_dim,)`` float32.
        text: transcript → ``(embed_dim,)`` float32.
        hits: rows found in the cache since :meth:`load` (audio and text).
        misses: rows that had to be computed since :meth:`load`.
    """

    def __init__(self, path: str | os.PathLike, model: str) -> None:
        self.path, self.model = Path(path), model
        self.audio: dict[str, np.ndarray] = {}
        self.text: dict[str, np.ndarray] = {}
        self.hits = self.misses = 0
        self.dirty = False

    @classmethod
    def load(cls, path: str | os.PathLike, model: str) -> EmbeddingCache:
        """The cache in ``path``; empty if the file is missing, damaged or of another model (never raises)."""
        cache = cls(path, model)
        try:
            with np.load(cache.path, allow_pickle=False) as z:
                if str(z["model"]) != model:
                    return cache
                cache.audio = dict(zip(z["audio_keys"].tolist(), z["audio"].astype(np.float32)))
                cache.text = dict(zip(z["text_keys"].tolist(), z["text"].astype(np.float32)))
        except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
            return cache
        return cache

    def save(self) -> None:
        """Write the file atomically (a kill leaves the previous version).

        Raises:
            OSError: the disk is full or the project folder is read-only.
        """
        dim = next(iter(self.audio.values()), next(iter(self.text.values()), np.zeros(0, np.float32))).shape[0]

        def rows(d: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
            keys = np.array(list(d), dtype=np.str_) if d else np.zeros(0, dtype="<U1")
            vals = np.stack(list(d.values())).astype(np.float32) if d else np.zeros((0, dim), np.float32)
            return keys, vals

        ak, av = rows(self.audio)
        tk, tv = rows(self.text)
        with atomic_write(self.path, "wb") as fh:
            np.savez(fh, model=np.array(self.model), audio_keys=ak, audio=av, text_keys=tk, text=tv)
        self.dirty = False


@dataclass
class ProjectEmbeddings:
    """Embeddings of ``n`` utterances and their ``m`` distinct transcripts.

    Attributes:
        ids: ``(n,)`` int64 utterance ids.
        audio: ``(n, embed_dim)`` float32 L2-normalized audio embeddings.
        texts: the ``m`` distinct non-empty transcripts, sorted.
        text: ``(m, embed_dim)`` float32 L2-normalized text embeddings.
        text_index: ``(n,)`` int64 row of each utterance's transcript in
            ``texts`` (-1 when it has none).
        failed: ``(utterance id, message)`` of utterances whose audio could not be read.
        cached: rows read from the cache (the rest were computed).
        computed: rows computed in this run.
        text_space: False if the model has no text embeddings (Whisper): ``texts`` is then empty and
            ``audio`` holds its pooled encoder states.
    """

    ids: np.ndarray
    audio: np.ndarray
    texts: list[str]
    text: np.ndarray
    text_index: np.ndarray
    failed: list[tuple[int, str]]
    cached: int = 0
    computed: int = 0
    text_space: bool = True


def has_text_space(recognizer) -> bool:
    """True if the recognizer embeds text in its audio space (a Sayso model); False for Whisper."""
    return callable(getattr(recognizer, "embed_text", None))


def embed_audio(recognizer, audio: np.ndarray) -> np.ndarray:
    """``(embed_dim,)`` float32 L2-normalized audio embedding of ``(samples,)`` float32 16 kHz audio
    (a Whisper model: its pooled encoder states, ``(d_model,)``)."""
    if not has_text_space(recognizer):
        return recognizer.audio_embedding(audio)
    import torch

    with torch.inference_mode():
        feats, lengths = recognizer.frontend(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)))
        enc = recognizer.model.encode(feats, lengths)
        return recognizer.model.audio_embedding(enc)[0].numpy().astype(np.float32)


def embed_texts(recognizer, texts: Sequence[str]) -> np.ndarray:
    """``(len(texts), embed_dim)`` float32 text embeddings (texts normalized first, as transcripts are).

    Raises:
        ValueError: the model has no text space (:func:`has_text_space`: Whisper).
    """
    if not has_text_space(recognizer):
        raise ValueError(f"{getattr(recognizer, 'name', 'This model')} has no text embeddings: only a Sayso model "
                         "places text and audio in one space.")
    import torch

    from engine.text.normalize import normalize_text

    with torch.inference_mode():
        rows = [recognizer.embed_text(normalize_text(t)).astype(np.float32) for t in texts]
    dim = recognizer.model.audio_proj.out_features if not rows else rows[0].shape[0]
    return np.stack(rows) if rows else np.zeros((0, dim), np.float32)


def embed_items(recognizer, items: Iterable[EmbedItem], cache: EmbeddingCache,
                progress: Callable[[str, int, int], None] | None = None,
                should_stop: Callable[[], bool] | None = None,
                save_every: int = 500) -> ProjectEmbeddings:
    """Embed utterances' audio and transcripts, reading and filling ``cache``.

    A model without a text space (Whisper, :func:`has_text_space`) embeds the audio only:
    the result's ``texts`` is empty and every ``text_index`` is -1. The cache is saved every
    ``save_every`` computed rows and at the end, so a stop or a crash keeps what is done.

    Args:
        progress: called with ``(stage, done, total)``, stage ``"audio"`` or ``"text"``.
        should_stop: polled between utterances; when it returns True the
            cache is saved and :class:`InterruptedError` raised.

    Raises:
        InterruptedError: ``should_stop`` asked to stop.
        OSError: the cache cannot be written (disk full, read-only folder).
    """
    from engine.audio.errors import AudioError
    from engine.audio.io import load_segment

    items = list(items)
    progress = progress or (lambda stage, done, total: None)
    should_stop = should_stop or (lambda: False)
    ids, rows, failed, keep = [], [], [], []
    computed = cached = 0
    progress("audio", 0, len(items))
    for i, it in enumerate(items, 1):
        if should_stop():
            if cache.dirty:
                cache.save()
            raise InterruptedError("stopped")
        vec = cache.audio.get(it.key)
        if vec is None:
            try:
                u = it.utterance
                vec = embed_audio(recognizer, load_segment(u.audio_path, u.start, u.end))
            except AudioError as exc:
                failed.append((it.utterance_id, str(exc)))
                progress("audio", i, len(items))
                continue
            cache.audio[it.key] = vec
            cache.dirty = True
            computed += 1
            if computed % save_every == 0:
                cache.save()
        else:
            cached += 1
        ids.append(it.utterance_id)
        rows.append(vec)
        keep.append(it)
        progress("audio", i, len(items))
    texts = sorted({it.utterance.text for it in keep if it.utterance.text}) if has_text_space(recognizer) else []
    todo = [t for t in texts if t not in cache.text]
    progress("text", 0, len(todo))
    for j, t in enumerate(todo, 1):
        if should_stop():
            if cache.dirty:
                cache.save()
            raise InterruptedError("stopped")
        cache.text[t] = embed_texts(recognizer, [t])[0]
        cache.dirty = True
        progress("text", j, len(todo))
    computed += len(todo)
    cached += len(texts) - len(todo)
    cache.hits += cached
    cache.misses += computed
    if cache.dirty:
        cache.save()
    where = {t: k for k, t in enumerate(texts)}
    dim = rows[0].shape[0] if rows else (next(iter(cache.text.values())).shape[0] if cache.text else 0)
    return ProjectEmbeddings(
        ids=np.array(ids, dtype=np.int64),
        audio=np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32),
        texts=texts,
        text=np.stack([cache.text[t] for t in texts]) if texts else np.zeros((0, dim), np.float32),
        text_index=np.array([where.get(it.utterance.text, -1) for it in keep], dtype=np.int64),
        failed=failed, cached=cached, computed=computed, text_space=has_text_space(recognizer))


def project_rows(project, page: int = 5000) -> list:
    """Every utterance row (:class:`~engine.data.query.UtteranceRow`) of an open project, in id order.

    Raises:
        engine.data.errors.ProjectError: the database cannot be read.
    """
    rows, offset = [], 0
    while True:
        chunk = project.fetch(order_by="id", offset=offset, limit=page)
        rows.extend(chunk)
        if len(chunk) < page:
            return rows
        offset += page


def project_items(project, rows: list | None = None) -> list[EmbedItem]:
    """:class:`EmbedItem` of ``rows`` (default: every utterance, :func:`project_rows`) of an open project.

    Raises:
        engine.data.errors.ProjectError: the database cannot be read.
    """
    recordings = {r.id: r for r in project.recordings()}
    items = []
    for u in project_rows(project) if rows is None else rows:
        rec = recordings.get(u.recording_id)
        if rec is None:
            rec = recordings[u.recording_id] = project.recording(u.recording_id)
        items.append(EmbedItem(u.id, Utterance(rec.file, u.text, float(u.start), float(u.end)), rec.sha256))
    return items
