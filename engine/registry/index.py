"""The model registry: every trained model with where it came from and how well it does.

A registry is a folder (by default :func:`engine.paths.models_dir`, ``~/.local/share/sayso/models``)::

    registry.json          the index (written atomically): entries, the active model
    <id>/                  one folder per registered model
        entry.json         that entry's own record (a mirror of its index row)
        config.json        } the checkpoint, when it was registered with copy=True
        model.safetensors  } (otherwise the entry points at the folder it was registered from)

The bundled base model is always listed first as the built-in entry
``sayso-base`` pointing at ``resources/models/base``; it is read-only (it cannot
be removed and its folder is never written), but metrics from
:meth:`ModelRegistry.compare` are kept for it in the index.

**Faults.** Every change is a locked read–modify–write of ``registry.json``
(``fcntl.flock`` where available) written with :func:`engine.atomic.atomic_write`,
so two processes (the studio and a training job) do not lose each other's
changes and a kill leaves the old index or the new one. A ``registry.json``
that is not valid JSON or not a registry index is kept aside as
``registry.json.corrupt-<time>`` and the index is rebuilt from the
``<id>/entry.json`` files (and from bare checkpoint folders under the root);
the active model then falls back to ``sayso-base``. A ``registry.json``
deleted by hand is rebuilt the same way. Nothing here crashes on a
bad index: errors a caller can act on are :class:`RegistryError` with a
message naming the model and what is wrong.

**Data fingerprints** (:func:`fingerprint`) identify the exact utterances a
model was trained on, or a test set scored on, independent of their order.

Listing, reading and changing the index need neither torch nor Qt; only
:meth:`ModelRegistry.register` (which checks that the weights load) and
:meth:`ModelRegistry.compare` (which decodes) import the model code.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.atomic import atomic_write
from engine.checkpoint_layout import (
    MODEL_FILES,
    WEIGHTS_FILE,
    CheckpointError,
    is_checkpoint,
    missing_files,
    read_config,
    read_header,
)
from engine.data.manifest import read_manifest
from engine.data.utterance import Utterance
from engine.paths import models_dir
from engine.resources import BUNDLED_MODEL

if TYPE_CHECKING:
    from engine.decode.evaluate import EvalReport
    from engine.decode.protocol import Recognizer
    from engine.decode.vocabulary import Vocabulary

try:  # POSIX; on Windows the registry works without the inter-process lock
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

log = logging.getLogger(__name__)

__all__ = [
    "BUILTIN_ID", "Comparison", "INDEX_NAME", "ModelEntry", "ModelRegistry", "RegistryError",
    "UtteranceComparison", "fingerprint", "metrics_from_report", "own_figures", "summarize_checkpoint",
    "test_set_name",
]

BUILTIN_ID = "sayso-base"
"""Id of the bundled base model, always in the registry."""
INDEX_NAME = "registry.json"
ENTRY_NAME = "entry.json"
INDEX_VERSION = 1
_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")
FINGERPRINT_VERSION = "sayso-data-v1"


class RegistryError(ValueError):
    """A registry operation that cannot be done; the message says which model and why."""


def _now() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


# --------------------------------------------------------------------------- fingerprints

def fingerprint(utterances: Iterable[Utterance] | str | os.PathLike, audio: str = "content") -> str:
    """A sha256 hex digest identifying a set of utterances, independent of their order.

    Each utterance contributes one record ``(audio identity, offset, duration,
    transcript)``; the records are sorted (so the order of the utterances does
    not matter, but duplicates do) and hashed together with a format tag.

    - **audio identity**, by ``audio``:
      ``"content"`` (default) the sha256 of the audio file's bytes, so the same
      recordings give the same fingerprint wherever they are stored, and
      re-recording or editing a file changes it; ``"stat"`` the resolved path,
      size and modification time (cheap, but moving or touching files changes
      it); ``"path"`` the resolved path only (cheapest; blind to edits).
      Each file is read once however many utterances cut it.
    - **offset** and **duration** in seconds, rounded to the millisecond
      (duration 0 means "to the end of the file", as in manifests).
    - **transcript** normalized with :func:`engine.text.normalize.normalize_text`,
      i.e. what training and scoring actually use: a change of wording changes
      the fingerprint, a change of case or punctuation does not.

    Not covered: the speaker label, the manifest's own path or line order,
    augmentation and any training settings.

    Args:
        utterances: :class:`~engine.data.manifest.Utterance` objects or a JSONL manifest path.
        audio: ``"content"``, ``"stat"`` or ``"path"``.

    Raises:
        RegistryError: an audio file cannot be read (``content``/``stat``), or
            ``audio`` is not one of the three modes.
    """
    from engine.text.normalize import normalize_text

    if audio not in ("content", "stat", "path"):
        raise RegistryError(f"fingerprint: audio must be 'content', 'stat' or 'path', not {audio!r}.")
    if isinstance(utterances, (str, os.PathLike)):
        utterances = read_manifest(utterances)
    ids: dict[str, str] = {}

    def identity(p: str) -> str:
        if p not in ids:
            path = Path(p).resolve()
            try:
                if audio == "content":
                    h = hashlib.sha256()
                    with open(path, "rb") as fh:
                        for block in iter(lambda: fh.read(1 << 20), b""):
                            h.update(block)
                    ids[p] = "sha256:" + h.hexdigest()
                elif audio == "stat":
                    st = path.stat()
                    ids[p] = f"stat:{path}:{st.st_size}:{st.st_mtime_ns}"
                else:
                    ids[p] = f"path:{path}"
            except OSError as exc:
                raise RegistryError(f"Cannot fingerprint {p}: {exc.strerror or exc}.") from None
        return ids[p]

    records = sorted(
        json.dumps([identity(str(u.audio_path)), round(float(u.start or 0.0), 3), round(float(u.duration or 0.0), 3),
                    normalize_text(u.text)], ensure_ascii=False)
        for u in utterances
    )
    h = hashlib.sha256(f"{FINGERPRINT_VERSION}:{audio}\n".encode())
    for r in records:
        h.update(r.encode("utf-8") + b"\n")
    return h.hexdigest()


def test_set_name(fp: str, vocabulary: Vocabulary | None = None) -> str:
    """The metrics key of a test set: ``test-<first 12 hex of its fingerprint>``.

    Decoding with a vocabulary is a different measurement, so it adds
    ``+vocab-<8 hex of the sorted phrases' sha256>``.
    """
    name = f"test-{fp[:12]}"
    if vocabulary is not None:
        v = hashlib.sha256("\n".join(sorted(vocabulary.phrases)).encode("utf-8")).hexdigest()
        name += f"+vocab-{v[:8]}"
    return name


test_set_name.__test__ = False  # not a pytest test, despite the name


# --------------------------------------------------------------------------- entries

@dataclass
class ModelEntry:
    """One registered model.

    Attributes:
        id: unique, stable, filesystem-safe (``<name slug>-<8 hex>``; ``sayso-base`` for the bundled one).
        name: shown to the user.
        path: the checkpoint folder (absolute).
        created: ISO 8601 time of registration (the bundled model: its weights' file time).
        parent_id, parent_path: the model it was trained or fine-tuned from, if known.
        config: summary: ``parameters``, ``bytes`` (weights file size), architecture sizes
            (``d_model``, ``encoder_layers``, ``encoder_heads``, ``decoder_layers``,
            ``embed_dim``, ``n_mels``, ``vocab_size``).
        data_fingerprint: :func:`fingerprint` of the training utterances (None: unknown).
        train_utterances: how many training utterances (None: unknown).
        metrics: set name → ``{"wer", "cer", "utterances", ...}`` (fractions, not percent).
        notes: free text.
        builtin: the bundled, read-only model.
        stored: the registry owns the checkpoint files (registered with ``copy=True``),
            so removing the entry deletes them.
    """

    id: str
    name: str
    path: Path
    created: str
    parent_id: str | None = None
    parent_path: str | None = None
    config: dict = field(default_factory=dict)
    data_fingerprint: str | None = None
    train_utterances: int | None = None
    metrics: dict = field(default_factory=dict)
    notes: str = ""
    builtin: bool = False
    stored: bool = False

    @property
    def read_only(self) -> bool:
        return self.builtin

    @property
    def available(self) -> bool:
        """The checkpoint folder still has its weights and config."""
        return is_checkpoint(self.path)

    def to_json(self, root: Path | None = None) -> dict:
        d = asdict(self)
        inside = self.stored and root is not None and self.path.parent == root
        d["path"] = self.path.name if inside else str(self.path)  # relative: the registry folder can move
        return d

    @classmethod
    def from_json(cls, d: Any, root: Path) -> ModelEntry:
        """Raises ValueError/TypeError/KeyError on a malformed record."""
        if not isinstance(d, dict):
            raise TypeError("entry is not an object")
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        for key in ("id", "name", "path", "created"):
            if not isinstance(kw.get(key), str) or not kw[key]:
                raise ValueError(f"entry field {key!r} missing or not a string")
        if not _valid_id(kw["id"]):
            raise ValueError(f"bad entry id {kw['id']!r}")
        for key in ("config", "metrics"):
            if not isinstance(kw.setdefault(key, {}), dict):
                raise TypeError(f"entry field {key!r} is not an object")
        p = Path(kw["path"])
        kw["path"] = p if p.is_absolute() else root / p
        kw["notes"] = str(kw.get("notes") or "")
        return cls(**kw)


@dataclass
class UtteranceComparison:
    """One test utterance decoded by both models; ``winner`` is ``"a"``, ``"b"`` or None (a tie)."""

    audio_filepath: str
    reference: str
    hypothesis_a: str
    hypothesis_b: str
    wer_a: float
    wer_b: float
    cer_a: float
    cer_b: float

    @property
    def winner(self) -> str | None:
        a, b = (self.wer_a, self.cer_a), (self.wer_b, self.cer_b)
        return "a" if a < b else "b" if b < a else None


@dataclass
class Comparison:
    """Two models scored on the same test utterances (same decoding settings, same vocabulary).

    ``wins_a`` counts utterances where model A has the lower WER (CER breaks
    WER ties); ``wins_b`` likewise; ``ties`` the rest. The corpus-level
    figures are in ``report_a``/``report_b`` (:class:`engine.decode.evaluate.EvalReport`).
    """

    set_name: str
    fingerprint: str
    a: ModelEntry
    b: ModelEntry
    report_a: EvalReport
    report_b: EvalReport
    utterances: list[UtteranceComparison]

    @property
    def wins_a(self) -> int:
        return sum(u.winner == "a" for u in self.utterances)

    @property
    def wins_b(self) -> int:
        return sum(u.winner == "b" for u in self.utterances)

    @property
    def ties(self) -> int:
        return sum(u.winner is None for u in self.utterances)

    @property
    def winner(self) -> str | None:
        """``"a"``/``"b"`` by corpus WER (then CER), None if equal."""
        a, b = (self.report_a.wer, self.report_a.cer), (self.report_b.wer, self.report_b.cer)
        return "a" if a < b else "b" if b < a else None

    def to_json(self) -> dict:
        return {
            "set": self.set_name, "fingerprint": self.fingerprint, "utterances": len(self.utterances),
            "a": {"id": self.a.id, "name": self.a.name, "wer": self.report_a.wer, "cer": self.report_a.cer,
                  "rtf": self.report_a.rtf, "wins": self.wins_a},
            "b": {"id": self.b.id, "name": self.b.name, "wer": self.report_b.wer, "cer": self.report_b.cer,
                  "rtf": self.report_b.rtf, "wins": self.wins_b},
            "ties": self.ties, "winner": self.winner,
            "per_utterance": [{**asdict(u), "winner": u.winner} for u in self.utterances],
        }


def metrics_from_report(report: EvalReport) -> dict:
    """``{"wer", "cer", "utterances", "rtf", "evaluated"}`` of an :class:`~engine.decode.evaluate.EvalReport`."""
    return {"wer": round(report.wer, 6), "cer": round(report.cer, 6), "utterances": len(report.utterances),
            "rtf": round(report.rtf, 6), "evaluated": _now()}


# --------------------------------------------------------------------------- checkpoint summaries

def _valid_id(s: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,80}", s))


def _slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return s[:40].strip("-") or "model"


def summarize_checkpoint(path: Path) -> tuple[dict, dict]:
    """``(config summary, meta)`` of a checkpoint folder, from its JSON and the weights' header only.

    Raises:
        RegistryError: not a checkpoint, or unreadable config/weights header.
    """
    path = Path(path)
    missing = missing_files(path)
    if not path.is_dir() or missing:
        raise RegistryError(f"{path}: not a Sayso checkpoint ({', '.join(missing) or 'folder'} missing).")
    try:
        config = read_config(path)
        model = config["model"]
        header = read_header(path)
        params = sum(math.prod(v["shape"]) for k, v in header.items()
                     if k != "__metadata__" and k.rsplit(".", 1)[-1] not in _BUFFERS)
        size = (path / WEIGHTS_FILE).stat().st_size
    except CheckpointError as exc:  # its message starts with the path
        raise RegistryError(f"{path}: unreadable checkpoint ({str(exc).removeprefix(f'{path}: ')}).") from None
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise RegistryError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc}).") from None
    summary = {"parameters": int(params), "bytes": size}
    for key in ("d_model", "encoder_layers", "encoder_heads", "decoder_layers", "embed_dim", "n_mels", "vocab_size"):
        if key in model:
            summary[key] = model[key]
    meta = config.get("meta") if isinstance(config.get("meta"), dict) else {}
    return summary, meta


def own_figures(meta: dict) -> dict:
    """The ``meta["figures"]`` of a checkpoint as registry metrics, if they are its own.

    A personalized checkpoint (``meta["personalized"]``) carries its parent's
    meta, figures included; those describe the parent, so none are taken.
    """
    if "personalized" in meta:
        return {}
    out = {}
    for name, fig in (meta.get("figures") or {}).items():
        if isinstance(fig, dict) and "wer" in fig:
            out[str(name)] = {k: fig[k] for k in ("wer", "cer", "utterances", "rtf", "speakers") if k in fig}
    return out


def _check_metrics(metrics: Any) -> dict:
    if metrics is None:
        return {}
    if not isinstance(metrics, dict):
        raise RegistryError("metrics must be a dict of set name → {'wer', 'cer', 'utterances'}.")
    out = {}
    for name, m in metrics.items():
        if hasattr(m, "wer") and hasattr(m, "utterances"):  # an EvalReport
            m = metrics_from_report(m)
        if not isinstance(m, dict):
            raise RegistryError(f"metrics[{name!r}] must be a dict such as "
                                "{'wer': 0.1, 'cer': 0.05, 'utterances': 100}.")
        try:
            json.dumps(m)
        except (TypeError, ValueError):
            raise RegistryError(f"metrics[{name!r}] must hold only numbers and strings.") from None
        out[str(name)] = dict(m)
    return out


# --------------------------------------------------------------------------- the registry

class ModelRegistry:
    """Trained models, their lineage, training-data fingerprints and metrics.

    Args:
        root: the registry folder (created on first write); default :func:`engine.paths.models_dir`.
        bundled: the bundled model folder (default :data:`engine.resources.BUNDLED_MODEL`).

    Every method reads the index afresh, so several instances (and processes)
    see each other's changes.

    >>> reg = ModelRegistry(tmp)                                            # doctest: +SKIP
    >>> e = reg.register("runs/me/best", "my voice", parent="sayso-base",   # doctest: +SKIP
    ...                  train_data="me.jsonl", copy=True)
    >>> reg.set_active(e.id); reg.active().name                             # doctest: +SKIP
    'my voice'
    """

    def __init__(self, root: str | os.PathLike | None = None, bundled: str | os.PathLike = BUNDLED_MODEL) -> None:
        self.root = Path(root) if root is not None else models_dir()
        self.root = self.root.expanduser().absolute()
        self.bundled = Path(bundled).absolute()
        self.index_path = self.root / INDEX_NAME
        self.recovered: Path | None = None
        """Where the last corrupt index was moved aside (None: never happened in this instance)."""
        self._thread_lock = threading.RLock()
        self._lock_depth = 0

    # ---------------------------------------------------------------- reading

    def list(self) -> list[ModelEntry]:
        """The built-in entry first, then registered models, oldest first."""
        index = self._read()
        return [self._builtin(index)] + sorted(index["models"], key=lambda e: (e.created, e.id))

    def get(self, model_id: str) -> ModelEntry:
        """The entry with this id.

        Raises:
            RegistryError: no such model.
        """
        return self._find(self._read(), model_id)

    def active(self) -> ModelEntry:
        """The model the studio uses. Falls back to ``sayso-base`` if the active
        entry was removed or its checkpoint folder is gone (with a warning)."""
        index = self._read()
        active = index.get("active") or BUILTIN_ID
        if active == BUILTIN_ID:
            return self._builtin(index)
        try:
            entry = self._find(index, active)
        except RegistryError:
            log.warning("Active model %r is no longer registered; using %s.", active, BUILTIN_ID)
            return self._builtin(index)
        if not entry.available:
            log.warning("Active model %r has no checkpoint at %s; using %s.", active, entry.path, BUILTIN_ID)
            return self._builtin(index)
        return entry

    def resolve(self, id_or_path: str | os.PathLike) -> ModelEntry:
        """An entry by id, or an unregistered checkpoint folder as a transient entry (not stored).

        Raises:
            RegistryError: neither a registered id nor a checkpoint folder.
        """
        index = self._read()
        key = str(id_or_path)
        if key == BUILTIN_ID or any(e.id == key for e in index["models"]):
            return self._find(index, key)
        p = Path(id_or_path).expanduser()
        if p.is_dir():
            for e in [self._builtin(index)] + index["models"]:
                if _same(e.path, p):
                    return e
            summary, meta = summarize_checkpoint(p)
            return ModelEntry(id=_slug(meta.get("name") or p.name), name=str(meta.get("name") or p.name),
                              path=p.absolute(), created=_mtime_iso(p / WEIGHTS_FILE), config=summary,
                              metrics=own_figures(meta))
        return self._find(index, key)  # raises with the list of known ids

    # ---------------------------------------------------------------- changing

    def register(self, checkpoint_dir: str | os.PathLike, name: str, parent: str | os.PathLike | None = None,
                 train_data: Sequence[Utterance] | str | os.PathLike | None = None, metrics: dict | None = None,
                 copy: bool = False, notes: str = "", check: bool = True) -> ModelEntry:
        """Add a checkpoint folder to the registry.

        Args:
            checkpoint_dir: a folder written by :func:`engine.train.checkpoint.save_checkpoint`.
                Its weights are loaded once to check they fit the config.
            name: shown to the user (need not be unique).
            parent: id of a registered model, or the checkpoint folder it started from.
            train_data: the training utterances (list or JSONL manifest), fingerprinted
                with :func:`fingerprint` (audio content).
            metrics: set name → ``{"wer", "cer", "utterances"}`` (or an ``EvalReport``), added to
                the checkpoint's own ``meta["figures"]`` (not those a personalized
                checkpoint inherits from its parent).
            copy: copy ``config.json``, ``model.safetensors`` (and any ``*.md``) into
                ``<root>/<id>/`` so the entry survives the run folder being deleted;
                otherwise the entry points at ``checkpoint_dir`` as it is.
            notes: free text.
            check: load the weights once to verify them (about 0.3 s and the
                model's memory). ``False`` only for a checkpoint that the job
                which just wrote it has verified (the studio registers a finished
                training job's model on its GUI thread).

        Raises:
            RegistryError: not a loadable checkpoint, an unknown parent id, unreadable
                training data, malformed metrics, or the registry folder is not writable.
        """
        src = Path(checkpoint_dir).expanduser().absolute()
        name = str(name).strip()
        if not name:
            raise RegistryError("A model needs a name.")
        summary, meta = summarize_checkpoint(src)
        if check:
            _check_loads(src)
        metrics = {**own_figures(meta), **_check_metrics(metrics)}
        fp = count = None
        if train_data is not None:
            try:
                utts = read_manifest(train_data) if isinstance(train_data, (str, os.PathLike)) else list(train_data)
            except (OSError, ValueError) as exc:
                raise RegistryError(f"Cannot read the training data: {exc}") from None
            fp, count = fingerprint(utts), len(utts)
        model_id = None
        try:
            with self._locked() as index:
                parent_id, parent_path = self._parent(index, parent)
                taken = {e.id for e in index["models"]} | {BUILTIN_ID}
                while model_id is None or model_id in taken or (self.root / model_id).exists():
                    model_id = _slug(name) + "-" + uuid.uuid4().hex[:8]
                path = self._copy_in(src, model_id) if copy else src
                entry = ModelEntry(id=model_id, name=name, path=path, created=_now(), parent_id=parent_id,
                                   parent_path=parent_path, config=summary, data_fingerprint=fp,
                                   train_utterances=count, metrics=metrics, notes=str(notes or ""), stored=bool(copy))
                self._write_entry(entry)
                index["models"].append(entry)
        except BaseException:  # the index was not written (atomic): leave nothing half-registered
            if model_id is not None:
                shutil.rmtree(self.root / model_id, ignore_errors=True)
            raise
        return entry

    def update(self, model_id: str, name: str | None = None, notes: str | None = None,
               metrics: dict | None = None) -> ModelEntry:
        """Rename, change notes, or add/replace metric sets (merged into the existing ones).

        The bundled model accepts metrics only (its name and notes are fixed).

        Raises:
            RegistryError: no such model, an empty name, or malformed metrics.
        """
        metrics = _check_metrics(metrics)
        with self._locked() as index:
            if model_id == BUILTIN_ID:
                if name is not None or notes is not None:
                    raise RegistryError(f"{BUILTIN_ID} is the bundled model: it cannot be renamed or annotated.")
                index["builtin_metrics"].update(metrics)
                return self._builtin(index)
            entry = self._find(index, model_id)
            if name is not None:
                if not str(name).strip():
                    raise RegistryError("A model needs a name.")
                entry.name = str(name).strip()
            if notes is not None:
                entry.notes = str(notes)
            entry.metrics.update(metrics)
            self._write_entry(entry)
            return entry

    def remove(self, model_id: str) -> ModelEntry:
        """Forget a model; delete its files only if the registry owns them (``copy=True``).

        A checkpoint registered in place is left where it is. If it was the
        active model, ``sayso-base`` becomes active.

        Raises:
            RegistryError: ``sayso-base`` (the bundled model is never removed) or no such model.
        """
        if model_id == BUILTIN_ID:
            raise RegistryError(f"{BUILTIN_ID} is the bundled model and cannot be removed.")
        with self._locked() as index:
            entry = self._find(index, model_id)
            index["models"] = [e for e in index["models"] if e.id != model_id]
            if index.get("active") == model_id:
                index["active"] = BUILTIN_ID
            folder = self.root / model_id
        # After the index no longer lists it: a kill here leaves a stray folder, never a dangling entry.
        if folder.is_dir():
            if entry.stored:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                (folder / ENTRY_NAME).unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    folder.rmdir()
        return entry

    def set_active(self, model_id: str) -> ModelEntry:
        """Make this the model the studio uses (persisted in the index).

        Raises:
            RegistryError: no such model, or its checkpoint folder is missing.
        """
        with self._locked() as index:
            entry = self._find(index, model_id)
            if not entry.available:
                raise RegistryError(f"Model {entry.id!r} ({entry.name}) cannot be used: its checkpoint folder "
                                    f"{entry.path} is missing or incomplete.")
            index["active"] = entry.id
        return entry

    def recognizer(self, model_id: str | None = None, **settings) -> Recognizer:
        """Load a model's recognizer (:func:`engine.decode.families.load_recognizer`), named as its entry.

        Args:
            model_id: a registered id; None for :meth:`active` (the model the studio uses).
            settings: decoding settings over those stored in the checkpoint (e.g. ``beam_size``).

        Raises:
            RegistryError: no such model, or its checkpoint is missing or unreadable.
        """
        return _recognizer(self.active() if model_id is None else self.get(model_id), **settings)

    def compare(self, id_a: str, id_b: str, test_utterances: Sequence[Utterance] | str | os.PathLike,
                vocabulary: Vocabulary | None = None, progress: Callable[[int, int], None] | None = None,
                **recognizer_kwargs) -> Comparison:
        """Score two models on the same test utterances and keep the figures in both entries.

        Each model decodes with its own tuned settings (``meta["decode"]``) unless
        ``recognizer_kwargs`` (e.g. ``beam_size``) override them for both.
        WER/CER come from :func:`engine.decode.evaluate.evaluate`; the result is
        stored in both entries' ``metrics`` under :func:`test_set_name` of the
        test set's :func:`fingerprint` (and vocabulary), so re-running on the same
        clips replaces, and a different set adds.

        Args:
            progress: called as ``progress(done, total)`` over both models' utterances.

        Raises:
            RegistryError: unknown id, missing or unreadable checkpoint, no test
                utterances, or unreadable test audio.
        """
        from engine.audio.errors import AudioError
        from engine.decode.evaluate import evaluate

        if isinstance(test_utterances, (str, os.PathLike)):
            utts = read_manifest(test_utterances)
        else:
            utts = list(test_utterances)
        if not utts:
            raise RegistryError("Comparing needs at least one test utterance.")
        fp = fingerprint(utts)
        set_name = test_set_name(fp, vocabulary)
        a, b = self.get(id_a), self.get(id_b)
        reports = []
        for k, entry in enumerate((a, b)):
            rec = _recognizer(entry, **recognizer_kwargs)
            step = (lambda i, n, k=k: progress(k * n + i, 2 * n)) if progress else None
            try:
                reports.append(evaluate(rec, utts, vocabulary, progress=step))
            except (AudioError, OSError) as exc:
                raise RegistryError(f"Cannot score on the test set: {exc}") from None
        rows = [UtteranceComparison(ua.audio_filepath, ua.reference, ua.hypothesis, ub.hypothesis,
                                    ua.wer, ub.wer, ua.cer, ub.cer)
                for ua, ub in zip(reports[0].utterances, reports[1].utterances)]
        for entry, report in ((a, reports[0]), (b, reports[1])):
            m = {set_name: {**metrics_from_report(report), "fingerprint": fp,
                            **({"vocabulary": len(vocabulary.phrases)} if vocabulary else {})}}
            entry.metrics.update(self.update(entry.id, metrics=m).metrics)
        return Comparison(set_name, fp, a, b, reports[0], reports[1], rows)

    # ---------------------------------------------------------------- internals

    def _find(self, index: dict, model_id: str) -> ModelEntry:
        if model_id == BUILTIN_ID:
            return self._builtin(index)
        for e in index["models"]:
            if e.id == model_id:
                return e
        known = ", ".join([BUILTIN_ID] + [e.id for e in index["models"]])
        raise RegistryError(f"No model {model_id!r} in the registry at {self.root} (known: {known}).")

    def _builtin(self, index: dict) -> ModelEntry:
        try:
            summary, meta = summarize_checkpoint(self.bundled)
        except RegistryError as exc:  # a broken install: still listed, so the user sees why
            summary, meta = {}, {}
            log.warning("The bundled model is unusable: %s", exc)
        return ModelEntry(
            id=BUILTIN_ID, name=str(meta.get("name") or BUILTIN_ID), path=self.bundled,
            created=_mtime_iso(self.bundled / WEIGHTS_FILE), config=summary,
            train_utterances=(meta.get("data") or {}).get("train_utterances"),
            metrics={**own_figures(meta), **index.get("builtin_metrics", {})},
            notes="The base model bundled with Sayso (read-only).", builtin=True,
        )

    def _parent(self, index: dict, parent) -> tuple[str | None, str | None]:
        if parent is None:
            return None, None
        key = str(parent)
        if key == BUILTIN_ID or any(e.id == key for e in index["models"]):
            e = self._find(index, key)
            return e.id, str(e.path)
        p = Path(parent).expanduser()
        if p.is_dir():
            p = p.absolute()
            for e in [self._builtin(index)] + index["models"]:
                if _same(e.path, p):
                    return e.id, str(e.path)
            return None, str(p)
        if isinstance(parent, str) and _valid_id(parent) and os.sep not in parent:
            self._find(index, key)  # raises: unknown id
        raise RegistryError(f"Parent {key!r} is neither a registered model nor a checkpoint folder.")

    def _copy_in(self, src: Path, model_id: str) -> Path:
        dest = self.root / model_id
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{model_id}.tmp"))
        try:
            for f in list(MODEL_FILES) + sorted(p.name for p in src.glob("*.md")):
                shutil.copy2(src / f, tmp / f)
                with open(tmp / f, "rb") as fh:
                    os.fsync(fh.fileno())
            os.chmod(tmp, 0o755)  # mkdtemp makes it owner-only
            os.replace(tmp, dest)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise RegistryError(f"Cannot copy {src} into the registry at {self.root}: {exc.strerror or exc}.") from None
        return dest

    def _write_entry(self, entry: ModelEntry) -> None:
        try:
            with atomic_write(self.root / entry.id / ENTRY_NAME) as fh:
                json.dump(entry.to_json(self.root), fh, indent=2)
        except OSError as exc:
            raise RegistryError(f"Cannot write to the registry at {self.root}: {exc.strerror or exc}.") from None

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """The registry's inter-process lock (``flock`` on ``.registry.lock``); re-entrant in this instance."""
        with self._thread_lock:
            if self._lock_depth:
                self._lock_depth += 1
                try:
                    yield
                finally:
                    self._lock_depth -= 1
                return
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                fh = open(self.root / ".registry.lock", "a+")
            except OSError as exc:
                raise RegistryError(f"Cannot write to the registry at {self.root}: {exc.strerror or exc}.") from None
            with fh:
                if fcntl is not None:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                self._lock_depth = 1
                try:
                    yield
                finally:
                    self._lock_depth = 0

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict]:
        """Exclusive read–modify–write of the index; written only if the block succeeds."""
        with self._lock():
            index = self._read()
            yield index
            self._write(index)

    def _read(self) -> dict:
        """The parsed index; rebuilt from the folders if corrupt, or if missing while model folders exist."""
        try:
            raw = self.index_path.read_bytes()
        except FileNotFoundError:
            index = _empty_index()
            if self.root.is_dir():  # an index deleted by hand: the folders still say what is registered
                index["models"] = self._scan()
            return index
        except OSError as exc:
            raise RegistryError(f"Cannot read {self.index_path}: {exc.strerror or exc}.") from None
        try:
            return self._parse(json.loads(raw.decode("utf-8")))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return self._recover(f"{type(exc).__name__}: {exc}")

    def _parse(self, data: Any) -> dict:
        if not isinstance(data, dict) or not isinstance(data.get("models"), list):
            raise ValueError("not a registry index")
        if data.get("version") != INDEX_VERSION:
            raise ValueError(f"unknown index version {data.get('version')!r}")
        models = [ModelEntry.from_json(d, self.root) for d in data["models"]]
        if len({e.id for e in models} | {BUILTIN_ID}) != len(models) + 1:
            raise ValueError("duplicate entry ids")
        active = data.get("active") or BUILTIN_ID
        builtin_metrics = data.get("builtin_metrics") or {}
        if not isinstance(active, str) or not isinstance(builtin_metrics, dict):
            raise TypeError("bad 'active' or 'builtin_metrics'")
        return {"version": INDEX_VERSION, "active": active, "models": models, "builtin_metrics": builtin_metrics}

    def _write(self, index: dict) -> None:
        data = {"version": INDEX_VERSION, "active": index.get("active") or BUILTIN_ID,
                "builtin_metrics": index.get("builtin_metrics", {}),
                "models": [e.to_json(self.root) for e in index["models"]]}
        try:
            with atomic_write(self.index_path) as fh:
                json.dump(data, fh, indent=2)
        except OSError as exc:
            raise RegistryError(f"Cannot write {self.index_path}: {exc.strerror or exc}.") from None

    def _recover(self, why: str) -> dict:
        """Move a corrupt index aside and rebuild it from the model folders (under the lock)."""
        with self._lock():
            try:  # another process may have recovered it while we waited for the lock
                return self._parse(json.loads(self.index_path.read_bytes().decode("utf-8")))
            except FileNotFoundError:
                return self._read()
            except (OSError, ValueError, TypeError, KeyError, AttributeError):
                pass
            stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
            aside: Path | None = self.index_path.with_name(f"{INDEX_NAME}.corrupt-{stamp}")
            try:
                os.replace(self.index_path, aside)
                self.recovered = aside
            except OSError as exc:
                log.warning("Cannot move the corrupt index %s aside (%s); rebuilding in memory.", self.index_path, exc)
                aside = None
            log.warning("The model registry index %s was corrupt (%s); kept as %s and rebuilt from the model "
                        "folders.", self.index_path, why, aside.name if aside else "is")
            index = _empty_index()
            index["models"] = self._scan()
            if aside is not None:
                with contextlib.suppress(RegistryError):
                    self._write(index)
            return index

    def _scan(self) -> list[ModelEntry]:
        """Entries found in the model folders under the root."""
        models: list[ModelEntry] = []
        try:
            folders = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            return models
        for folder in folders:
            entry = self._entry_from_folder(folder)
            if entry is not None and entry.id not in {e.id for e in models}:
                models.append(entry)
        return models

    def _entry_from_folder(self, folder: Path) -> ModelEntry | None:
        try:
            entry = ModelEntry.from_json(json.loads((folder / ENTRY_NAME).read_text(encoding="utf-8")), self.root)
            if entry.id != folder.name or entry.id == BUILTIN_ID:
                raise ValueError("entry id does not match its folder")
            if entry.stored:
                entry.path = folder
            return entry
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("Skipping the unreadable %s (%s).", folder / ENTRY_NAME, exc)
        if _valid_id(folder.name) and folder.name != BUILTIN_ID and is_checkpoint(folder):
            try:
                summary, meta = summarize_checkpoint(folder)
            except RegistryError as exc:
                log.warning("Skipping %s: %s", folder, exc)
                return None
            return ModelEntry(id=folder.name, name=str(meta.get("name") or folder.name), path=folder,
                              created=_mtime_iso(folder / WEIGHTS_FILE), config=summary,
                              metrics=own_figures(meta), notes="Recovered from its folder after the index was lost.",
                              stored=True)
        return None


def _empty_index() -> dict:
    return {"version": INDEX_VERSION, "active": BUILTIN_ID, "models": [], "builtin_metrics": {}}


def _mtime_iso(path: Path) -> str:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC).astimezone().isoformat(timespec="seconds")
    except OSError:
        return ""


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _check_loads(path: Path) -> None:
    from engine.train.checkpoint import load_checkpoint

    try:
        load_checkpoint(path)
    except CheckpointError as exc:
        raise RegistryError(str(exc)) from None


def _recognizer(entry: ModelEntry, **kwargs) -> Recognizer:
    from engine.decode.families import load_recognizer

    if not entry.available:
        raise RegistryError(f"Model {entry.id!r} ({entry.name}): its checkpoint folder {entry.path} is missing "
                            "or incomplete.")
    try:
        return load_recognizer(entry, **kwargs)
    except CheckpointError as exc:
        raise RegistryError(f"Model {entry.id!r} ({entry.name}): {exc}") from None
