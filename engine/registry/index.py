"""The model registry: every model, of either family, with where it came from and how well it does.

A registry is a folder (by default :func:`engine.paths.models_dir`, ``~/.local/share/sayso/models``)::

    registry.json          the index (written atomically): entries, the active model
    <id>/                  one folder per registered model
        entry.json         that entry's own record (a mirror of its index row)
        config.json        } the checkpoint, when it was registered with copy=True
        model.safetensors  } (otherwise the entry points at the folder it was registered from)
        model.bin …        } or a Whisper model's files (copied, imported or pulled)
    whisper-base/          an offline Whisper package's model, assembled on first use

Two **families** (:func:`engine.checkpoint_layout.family`): Sayso's own
checkpoints and CTranslate2 Whisper folders; every entry says its ``family``,
``source`` and, in ``config``, its size, languages, parameters, size on disk
(and a Whisper model's SHA-256).

**Read-only entries**, listed but never written or removed; figures from
:meth:`ModelRegistry.compare` are still kept for them in the index:

- ``sayso-base``, always first: the bundled model (``resources/models/base``), then any Sayso
  model shipped beside it (``resources/models/<name>`` is ``sayso-<name>``, e.g. ``sayso-base-v2``;
  what it is good at is its config's ``meta.good_at``);
- the offline Whisper models (``whisper-tiny.en``, ``whisper-base``) whose
  pinned packages are installed (:data:`engine.whisper.sources.PACKAGED`): built in,
  assembled from the packages into ``<root>/<name>/`` the first time they are
  loaded or made active (:meth:`ModelRegistry.prepare`), never inside site-packages;
- Whisper folders in the Hugging Face cache (faster-whisper, Buzz, WhisperX
  downloads; :func:`engine.whisper.sources.hf_cache_models`), listed last as
  ``external`` entries under their name (unless an entry already has that id)
  and loaded where they are.

**The active model** is the one chosen last (:meth:`ModelRegistry.set_active`);
until a person chooses, it is :meth:`ModelRegistry.default`: the best
installed general-English model (:meth:`ModelRegistry.general`, e.g.
``whisper-base``), else ``sayso-base``. :meth:`ModelRegistry.teacher`
(pre-labeling, long recordings) prefers the general model too.

:meth:`ModelRegistry.import_model` registers any model folder;
:meth:`ModelRegistry.pull` downloads a Whisper model from the model hub.

**Faults.** Every change is a locked read–modify–write of ``registry.json``
(``fcntl.flock`` where available) written with :func:`engine.atomic.atomic_write`,
so two processes (the studio and a training job) do not lose each other's
changes and a kill leaves the old index or the new one. A ``registry.json``
that is not valid JSON or not a registry index is kept aside as
``registry.json.corrupt-<time>`` and the index is rebuilt from the
``<id>/entry.json`` files (and from bare checkpoint folders under the root);
the active model then falls back to the default. A ``registry.json``
deleted by hand is rebuilt the same way. Nothing here crashes on a
bad index: errors a caller can act on are :class:`RegistryError` with a
message naming the model and what is wrong.

**Data fingerprints** (:func:`fingerprint`) identify the exact utterances a
model was trained on, or a test set scored on, independent of their order.

**Without the Whisper extra** (``sayso[whisper]``: faster-whisper, CTranslate2 and the
offline packages; :func:`engine.whisper.runtime.whisper_missing`) the registry lists no
Whisper model, so the default is ``sayso-base``; naming, importing or pulling a
Whisper model is a :class:`RegistryError` saying what the extra adds.

Listing, reading and changing the index need neither torch, faster-whisper nor Qt;
only :meth:`ModelRegistry.register` (which checks that a Sayso checkpoint's weights
load), :meth:`ModelRegistry.recognizer` and :meth:`ModelRegistry.compare` (which
decode) import the model code.
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
    SAYSO_FAMILY,
    WEIGHTS_FILE,
    CheckpointError,
    family,
    read_config,
    read_header,
    unrecognized,
    validate_config,
)
from engine.data.manifest import read_manifest
from engine.data.utterance import Utterance
from engine.paths import models_dir
from engine.resources import BUNDLED_MODEL, BUNDLED_MODELS
from engine.whisper.folder import MODEL_FILE as WHISPER_WEIGHTS
from engine.whisper.folder import WHISPER_FAMILY, WhisperFolderError, check_folder, sha256_file
from engine.whisper.folder import summarize as summarize_whisper
from engine.whisper.runtime import whisper_missing
from engine.whisper.sources import PACKAGED, WhisperSourceError, assemble, hf_cache_models, installed_packaged

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
BUNDLED_PREFIX = "sayso-"
"""A Sayso model shipped beside the base one in ``resources/models/<name>`` has the id ``sayso-<name>``."""
ORPHAN_AGE_S = 600.0
"""Temp files and folders in the registry older than this (seconds) are left-overs of killed writes."""
BUNDLED_GOOD_AT = ("Digits, the 35 Speech Commands words and short commands, best with a vocabulary "
                   "(5.3 M parameters): streams words as you speak, trains and personalizes on your voice "
                   "in minutes, shows its attention maps and shared audio–text space. Not made for open "
                   "sentences: use a Whisper model for those.")
"""What the bundled model is good at (its card's notes)."""
INDEX_NAME = "registry.json"
ENTRY_NAME = "entry.json"
INDEX_VERSION = 2
"""2: ``read_only_metrics`` maps each read-only entry's id to its figures (1: ``builtin_metrics``, sayso-base's)."""
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
    """One model in the registry.

    Attributes:
        id: unique, stable, filesystem-safe (``<name slug>-<8 hex>``; ``sayso-base`` for the bundled
            one; a Whisper model's name, e.g. ``whisper-base``, when imported, pulled or built in).
        name: shown to the user.
        path: the checkpoint folder (absolute).
        created: ISO 8601 time of registration (read-only entries: their weights' file time).
        parent_id, parent_path: the model it was trained or fine-tuned from, if known.
        config: summary: ``parameters``, ``bytes`` (the weights file's size on disk), ``languages``
            (``"en"``, or ``"multilingual"``) and the architecture: Sayso ``d_model``,
            ``encoder_layers``, ``encoder_heads``, ``decoder_layers``, ``embed_dim``, ``n_mels``,
            ``vocab_size``; Whisper ``size`` (``tiny.en``, ``base`` …), ``layers``, ``width``,
            ``vocab_size``, ``sha256`` (of ``model.bin``). An offline package's model not yet
            assembled has only ``size``, ``parameters``, ``languages``, ``bytes`` and ``sha256``.
        data_fingerprint: :func:`fingerprint` of the training utterances (None: unknown).
        train_utterances: how many training utterances (None: unknown).
        metrics: set name → ``{"wer", "cer", "utterances", ...}`` (fractions, not percent).
        notes: free text (read-only Whisper entries: what the model is good at).
        builtin: shipped with Sayso: the bundled model, or an installed offline Whisper package; read-only.
        stored: the registry owns the checkpoint files (registered with ``copy=True``, or pulled),
            so removing the entry deletes them.
        family: which recognizer reads it (:func:`engine.checkpoint_layout.family`): ``"sayso"`` or ``"whisper"``.
        source: where the weights came from, in words (a package, the model hub, a folder, training).
        external: found in another tool's folder (the Hugging Face cache): read-only, never
            written, not kept in the index (only its figures are).
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
    family: str = SAYSO_FAMILY
    source: str = ""
    external: bool = False

    @property
    def read_only(self) -> bool:
        """Built in or external: never renamed, annotated, removed or written (figures are kept in the index)."""
        return self.builtin or self.external

    @property
    def packaged(self) -> bool:
        """A built-in offline Whisper package's model (assembled into the registry folder on first use)."""
        return self.builtin and self.family == WHISPER_FAMILY and self.id in PACKAGED

    @property
    def available(self) -> bool:
        """The model can be loaded: its folder is complete (an offline package's model: or its packages are
        installed, to assemble it from)."""
        if family(self.path) == self.family:
            return True
        return self.packaged and self.id in installed_packaged()

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
    """``(config summary, meta)`` of a model folder of either family, from its JSON and the weights' header only
    (see :attr:`ModelEntry.config`; a Whisper folder's meta is ``{}``; its SHA-256 is not computed here).

    Raises:
        RegistryError: not a model folder, or unreadable config/weights header.
    """
    path = Path(path)
    kind = family(path)
    if kind == WHISPER_FAMILY:
        try:
            return summarize_whisper(path), {}
        except WhisperFolderError as exc:
            raise RegistryError(str(exc)) from None
    if kind is None:
        raise RegistryError(str(unrecognized(path)))
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
    summary = {"parameters": int(params), "bytes": size, "languages": "en"}
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
    """Models of both families: their lineage, training-data fingerprints, sources and figures.

    Args:
        root: the registry folder (created on first write); default :func:`engine.paths.models_dir`.
        bundled: the bundled model folder (default :data:`engine.resources.BUNDLED_MODEL`).
        beside: Sayso model folders shipped beside it, listed as ``sayso-<folder name>`` (None: the
            other checkpoint folders of :data:`engine.resources.BUNDLED_MODELS` when ``bundled`` is the
            default, else none).
        packaged: names of the offline Whisper models listed as built-in (None: those whose
            pinned packages are installed, :func:`engine.whisper.sources.installed_packaged`);
            a model already assembled in ``root`` is listed in any case.
        hf_cache: the Hugging Face hub cache to list Whisper folders from (None:
            :func:`engine.whisper.sources.hf_cache_dir`, read at each listing).

    Every method reads the index afresh, so several instances (and processes)
    see each other's changes.

    >>> reg = ModelRegistry(tmp)                                            # doctest: +SKIP
    >>> e = reg.register("runs/me/best", "my voice", parent="sayso-base",   # doctest: +SKIP
    ...                  train_data="me.jsonl", copy=True)
    >>> reg.set_active(e.id); reg.active().name                             # doctest: +SKIP
    'my voice'
    >>> reg.recognizer("whisper-base").transcribe_file("take.wav").text     # doctest: +SKIP
    'please call my sister tomorrow morning'
    """

    def __init__(self, root: str | os.PathLike | None = None, bundled: str | os.PathLike = BUNDLED_MODEL,
                 packaged: Iterable[str] | None = None, hf_cache: str | os.PathLike | None = None,
                 beside: Iterable[str | os.PathLike] | None = None) -> None:
        self.root = Path(root) if root is not None else models_dir()
        self.root = self.root.expanduser().absolute()
        self.bundled = Path(bundled).absolute()
        if beside is None:
            beside = shipped_beside() if _same(self.bundled, BUNDLED_MODEL) else ()
        self.beside = {BUNDLED_PREFIX + Path(f).name: Path(f).absolute() for f in beside}
        """The Sayso models shipped beside :attr:`bundled`, by id."""
        self.packaged = tuple(installed_packaged() if packaged is None else packaged)
        unknown = sorted(set(self.packaged) - set(PACKAGED))
        if unknown:
            raise RegistryError(f"No offline Whisper package for {', '.join(unknown)} (known: {', '.join(PACKAGED)}).")
        self.hf_cache = Path(hf_cache) if hf_cache is not None else None
        self.index_path = self.root / INDEX_NAME
        self.recovered: Path | None = None
        """Where the last corrupt index was moved aside (None: never happened in this instance)."""
        self._thread_lock = threading.RLock()
        self._lock_depth = 0

    # ---------------------------------------------------------------- reading

    def list(self) -> list[ModelEntry]:
        """The built-in entries (``sayso-base`` first), then registered models, oldest first, then
        the external ones (Hugging Face cache); no Whisper model without the Whisper extra."""
        index = self._read()
        registered = sorted(index["models"], key=lambda e: (e.created, e.id))
        if whisper_missing():
            registered = [e for e in registered if e.family != WHISPER_FAMILY]
        return self._builtins(index) + registered + self._external(index)

    def get(self, model_id: str) -> ModelEntry:
        """The entry with this id.

        Raises:
            RegistryError: no such model.
        """
        return self._find(self._read(), model_id)

    def active(self) -> ModelEntry:
        """The model the studio uses, ready to load (:meth:`prepare`): the one chosen with
        :meth:`set_active`, else :meth:`default`. Falls back to :meth:`default` if the chosen entry was
        removed, its checkpoint folder is gone, or it cannot be assembled (with a warning)."""
        index = self._read()
        active = index.get("active")
        if active is None:
            return self.default()
        if active == BUILTIN_ID:
            return self._builtin(index)
        try:
            entry = self._find(index, active)
        except RegistryError:
            log.warning("Active model %r is no longer registered; using the default.", active)
            return self.default()
        if not entry.available:
            log.warning("Active model %r has no checkpoint at %s; using the default.", active, entry.path)
            return self.default()
        try:
            return self.prepare(entry)
        except RegistryError as exc:
            log.warning("%s; using the default.", exc)
            return self.default()

    def general(self) -> ModelEntry | None:
        """The best available general-English model: the Whisper entry with the most parameters
        (built in, registered or in the Hugging Face cache; ties: built in first), not yet
        assembled; None if there is none."""
        whisper = [e for e in self.list() if e.family == WHISPER_FAMILY and e.available]
        if not whisper:
            return None
        return max(whisper, key=lambda e: (int(e.config.get("parameters") or 0), e.builtin))

    def default(self) -> ModelEntry:
        """The model of someone who has not chosen one, ready to load: :meth:`general` when one is
        installed (sentences are what people speak first), else ``sayso-base``. The same fallback
        when the general model cannot be assembled (with a warning)."""
        index = self._read()
        entry = self.general()
        if entry is None:
            return self._builtin(index)
        try:
            return self.prepare(entry)
        except RegistryError as exc:
            log.warning("%s; using %s.", exc, BUILTIN_ID)
            return self._builtin(index)

    def teacher(self, prepare: bool = True) -> ModelEntry:
        """The model offered first for pre-labeling and for transcribing long recordings into a
        project: :meth:`general` when one is installed, else :meth:`active`.

        Args:
            prepare: assemble an offline package's model so it is ready to load (:meth:`prepare`);
                False to only name it (e.g. in a menu), writing nothing.
        """
        entry = self.general()
        if entry is not None:
            if not prepare:
                return entry
            with contextlib.suppress(RegistryError):
                return self.prepare(entry)
        return self.active()

    def resolve(self, id_or_path: str | os.PathLike) -> ModelEntry:
        """An entry by id, or an unregistered model folder (either family) as a transient entry (not stored).

        Raises:
            RegistryError: neither a known id nor a model folder.
        """
        index = self._read()
        key = str(id_or_path)
        with contextlib.suppress(RegistryError):
            return self._find(index, key)
        p = Path(id_or_path).expanduser()
        if p.is_dir():
            for e in self._all(index):
                if _same(e.path, p):
                    return e
            summary, meta = summarize_checkpoint(p)  # a transient entry: no SHA-256 (not worth hashing each time)
            kind = family(p)
            name = str(meta.get("name") or p.name)
            return ModelEntry(id=_slug(name), name=name, path=p.absolute(), created=_mtime_iso(_weights(p, kind)),
                              config=summary, metrics=own_figures(meta), family=kind or SAYSO_FAMILY,
                              source=f"the folder {p.absolute()}")
        return self._find(index, key)  # raises with the list of known ids

    # ---------------------------------------------------------------- changing

    def register(self, checkpoint_dir: str | os.PathLike, name: str, parent: str | os.PathLike | None = None,
                 train_data: Sequence[Utterance] | str | os.PathLike | None = None, metrics: dict | None = None,
                 copy: bool = False, notes: str = "", check: bool = True, model_id: str | None = None,
                 source: str | None = None) -> ModelEntry:
        """Add a model folder (either family) to the registry.

        Args:
            checkpoint_dir: a folder written by :func:`engine.train.checkpoint.save_checkpoint`
                (its weights are loaded once to check they fit the config), or a CTranslate2
                Whisper folder (checked by :func:`engine.whisper.folder.check_folder`, which
                walks every tensor of ``model.bin``; its SHA-256 is recorded).
            name: shown to the user (need not be unique).
            parent: id of a registered model, or the checkpoint folder it started from.
            train_data: the training utterances (list or JSONL manifest), fingerprinted
                with :func:`fingerprint` (audio content).
            metrics: set name → ``{"wer", "cer", "utterances"}`` (or an ``EvalReport``), added to
                the checkpoint's own ``meta["figures"]`` (not those a personalized
                checkpoint inherits from its parent).
            copy: copy the model's files (Sayso: ``config.json``, ``model.safetensors`` and
                any ``*.md``; Whisper: :func:`engine.whisper.sources.import_folder`, which also
                writes a missing vocabulary and a model card) into ``<root>/<id>/`` so the entry
                survives the source folder being deleted; otherwise the entry points at
                ``checkpoint_dir`` as it is (which is never written).
            notes: free text.
            check: load a Sayso checkpoint's weights once to verify them (about 0.3 s and the
                model's memory). ``False`` only for a checkpoint that the job
                which just wrote it has verified (the studio registers a finished
                training job's model on its GUI thread).
            model_id: the id to register under (default ``<name slug>-<8 hex>``).
            source: where the weights came from, in words (default: "trained with Sayso" for a
                Sayso checkpoint, the folder for a Whisper one).

        Raises:
            RegistryError: not a loadable model folder, ``model_id`` invalid or taken, an unknown
                parent id, unreadable training data, malformed metrics, or the registry folder
                is not writable.
        """
        src = Path(checkpoint_dir).expanduser().absolute()
        name = str(name).strip()
        if not name:
            raise RegistryError("A model needs a name.")
        if model_id is not None and not _valid_id(model_id):
            raise RegistryError(f"{model_id!r} cannot be a model id (lowercase letters, digits, '.', '_', '-').")
        kind = family(src)
        if kind == WHISPER_FAMILY or (copy and kind is None and _whisper_without_vocabulary(src)):
            kind, meta = WHISPER_FAMILY, {}
            summary = {}  # read from the copy (which gets a vocabulary) or from the folder, below
            if source is None:
                source = f"the folder {src}"
        else:
            summary, meta = summarize_checkpoint(src)
            _check_config(src)
            if check:
                _check_loads(src)
            if source is None:
                source = "trained with Sayso"
        metrics = {**own_figures(meta), **_check_metrics(metrics)}
        fp = count = None
        if train_data is not None:
            try:
                utts = read_manifest(train_data) if isinstance(train_data, (str, os.PathLike)) else list(train_data)
            except (OSError, ValueError) as exc:
                raise RegistryError(f"Cannot read the training data: {exc}") from None
            fp, count = fingerprint(utts), len(utts)
        chosen = model_id
        created = None
        try:
            with self._locked() as index:
                parent_id, parent_path = self._parent(index, parent)
                in_place = chosen is not None and copy and _same(src, self.root / chosen)  # pulled into its folder
                if in_place:  # a rebuilt index may already list the bare folder: this record replaces that one
                    index["models"] = [e for e in index["models"] if not (e.id == chosen and _same(e.path, src))]
                taken = {e.id for e in index["models"]} | self._reserved()
                if chosen is None:
                    while chosen is None or chosen in taken or (self.root / chosen).exists():
                        chosen = _slug(name) + "-" + uuid.uuid4().hex[:8]
                elif chosen in taken:
                    raise RegistryError(f"A model with the id {chosen!r} is already in the registry at {self.root}.")
                elif not in_place and (self.root / chosen).exists():
                    raise RegistryError(f"{self.root / chosen} already exists; choose another id.")
                created = chosen
                if in_place:
                    path = src
                elif copy:
                    path = self._copy_in(src, chosen, kind)
                else:
                    path = src
                if kind == WHISPER_FAMILY:
                    summary = self._whisper_summary(path)
                entry = ModelEntry(id=chosen, name=name, path=path, created=_now(), parent_id=parent_id,
                                   parent_path=parent_path, config=summary, data_fingerprint=fp,
                                   train_utterances=count, metrics=metrics, notes=str(notes or ""), stored=bool(copy),
                                   family=kind, source=source)
                self._write_entry(entry)
                index["models"].append(entry)
        except BaseException:  # the index was not written (atomic): leave nothing half-registered
            if created is not None:
                if _same(src, self.root / created):
                    (src / ENTRY_NAME).unlink(missing_ok=True)  # a pulled folder stays, to register again
                else:
                    shutil.rmtree(self.root / created, ignore_errors=True)
            raise
        return entry

    def import_model(self, folder: str | os.PathLike, name: str | None = None, copy: bool = False,
                     notes: str = "") -> ModelEntry:
        """Register any model folder by its family (``sayso models import``).

        A Sayso checkpoint is :meth:`register`-ed (name default: the folder's name). A
        CTranslate2 Whisper folder is registered under the id of its name (default
        ``whisper-<size>`` from its weights' shape, e.g. ``whisper-small``; ``-2``, ``-3`` …
        appended when taken). Referenced (``copy=False``) folders are never written, so they
        must be complete; a Whisper folder without a vocabulary file can be imported with
        ``copy=True`` (the copy gets one written from ``tokenizer.json``).

        Raises:
            RegistryError: not a model folder, unreadable, or (referenced) incomplete.
        """
        src = Path(folder).expanduser().absolute()
        kind = family(src)
        if kind == SAYSO_FAMILY:
            return self.register(src, name or src.name, copy=copy, notes=notes)
        if (kind is not None or _whisper_without_vocabulary(src)) and whisper_missing():
            raise RegistryError(f"{src} is a Whisper model. {whisper_missing()}")
        if kind is None:
            if _whisper_without_vocabulary(src):
                if not copy:
                    raise RegistryError(f"{src}: a Whisper folder without a vocabulary file; import it with --copy "
                                        "(the copy gets one written from tokenizer.json).")
            else:
                raise RegistryError(str(unrecognized(src)))
        if name is None:
            name = f"whisper-{check_folder(src, need_vocabulary=False).size_name}"
        base = re.sub(r"[^a-z0-9._-]+", "-", name.strip().lower()).strip("-._")[:60] or "whisper"
        index = self._read()
        taken = {e.id for e in self._all(index) if not e.external} | set(PACKAGED)
        model_id, n = base, 1
        while model_id in taken or (self.root / model_id).exists():
            n += 1
            model_id = f"{base}-{n}"
        return self.register(src, name, copy=copy, notes=notes, model_id=model_id)

    def pull(self, name: str, base_url: str | None = None, progress: Callable[[int, int], None] | None = None,
             cancel: threading.Event | None = None) -> ModelEntry:
        """Download Whisper model ``name`` (:data:`engine.whisper.download.HUB_MODELS`) from the model hub
        into ``<root>/<name>/`` and register it (id ``name``, stored: removing it deletes the files).

        Returns at once, downloading nothing, if a model of that id is already listed and
        available (built in, pulled before, or in the Hugging Face cache). A cancelled or
        interrupted pull keeps its partial files; the next pull resumes them.

        Args:
            base_url: the hub (None: :func:`engine.whisper.download.hub_url`, ``$HF_ENDPOINT`` or
                huggingface.co; tests: 127.0.0.1).
            progress: ``progress(bytes_done, bytes_total)`` after each block.
            cancel: set it to stop at the next block (:class:`~engine.whisper.download.DownloadCancelled`).

        Raises:
            engine.whisper.download.DownloadError: unknown name, offline, checksum mismatch, cut short.
            engine.whisper.download.DownloadCancelled: ``cancel`` was set.
            RegistryError: the registry folder is not writable, or the Whisper extra is not installed.
        """
        from engine.whisper.download import HUB_MODELS, hub_url, pull

        if whisper_missing():
            raise RegistryError(f"Cannot pull {name}. {whisper_missing()}")

        with self._lock_file(f".{name}.pull.lock"):  # one download of a model at a time
            try:
                entry = self.get(name)
                if entry.available:
                    return self.prepare(entry)  # built in (assembled offline), pulled before, or in the HF cache
                if not entry.read_only:
                    self.remove(name)  # its folder was deleted: forget it, pull it again
            except RegistryError:
                pass
            base_url = base_url or hub_url()
            folder = pull(name, self.root, base_url=base_url, progress=progress, cancel=cancel)
            if name in PACKAGED:  # its packages are not installed: the folder is listed as the built-in entry
                return self.get(name)
            return self.register(folder, name, copy=True, model_id=name,
                                 source=f"model hub {HUB_MODELS.get(name, name)} ({base_url})")

    def update(self, model_id: str, name: str | None = None, notes: str | None = None,
               metrics: dict | None = None) -> ModelEntry:
        """Rename, change notes, or add/replace metric sets (merged into the existing ones).

        Read-only entries (built in, external) accept metrics only (their name and notes are fixed).

        Raises:
            RegistryError: no such model, an empty name, or malformed metrics.
        """
        metrics = _check_metrics(metrics)
        with self._locked() as index:
            entry = self._find(index, model_id)
            if entry.read_only:
                if name is not None or notes is not None:
                    raise RegistryError(f"{model_id} is {_why_read_only(entry)}: it cannot be renamed or annotated.")
                index["read_only_metrics"].setdefault(model_id, {}).update(metrics)
                return self._find(index, model_id)
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
        """Forget a model; delete its files only if the registry owns them (``copy=True``, pulled).

        A checkpoint registered in place is left where it is. If it was the
        active model, ``sayso-base`` becomes active.

        Raises:
            RegistryError: a read-only entry (``sayso-base``, an offline package's model, one in the
                Hugging Face cache: never removed here) or no such model.
        """
        with self._locked() as index:
            entry = self._find(index, model_id)
            if entry.read_only:
                raise RegistryError(f"{model_id} is {_why_read_only(entry)} and cannot be removed here.")
            index["models"] = [e for e in index["models"] if e.id != model_id]
            if index.get("active") == model_id:
                index["active"] = None  # back to the default
            folder = self.root / model_id
        # After the index no longer lists it: a kill here leaves a stray folder, never a dangling entry.
        if folder.is_dir():
            if entry.stored:
                # renamed aside first (atomic), so a kill during the deletion leaves a ``.<id>.tmp*`` folder that
                # remove_orphans deletes, never a half-deleted <id>/ that no longer looks like a model
                aside = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{model_id}.tmp-removed"))
                try:
                    os.replace(folder, aside / model_id)
                except OSError:
                    aside.rmdir()
                    aside = folder
                shutil.rmtree(aside, ignore_errors=True)
            else:
                (folder / ENTRY_NAME).unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    folder.rmdir()
        return entry

    def set_active(self, model_id: str) -> ModelEntry:
        """Make this the model the studio uses (persisted in the index); an offline package's
        model is assembled first (:meth:`prepare`).

        Raises:
            RegistryError: no such model, its checkpoint folder is missing, or it cannot be assembled.
        """
        with self._locked() as index:
            entry = self.prepare(self._find(index, model_id))
            if not entry.available:
                raise RegistryError(f"Model {entry.id!r} ({entry.name}) cannot be used: its checkpoint folder "
                                    f"{entry.path} is missing or incomplete.")
            index["active"] = entry.id
        return entry

    def prepare(self, entry: ModelEntry | str) -> ModelEntry:
        """The entry, with its folder ready to load: a built-in offline Whisper model is assembled
        from its packages into ``<root>/<id>/`` the first time (seconds, once: parts joined,
        SHA-256 checked, vocabulary and card written; :func:`engine.whisper.sources.assemble`).
        Any other entry is returned as it is.

        Raises:
            RegistryError: unknown id; the packages are missing, of another version, or do not
                join into the pinned checksum (the message gives the ``pip install`` line).
        """
        if isinstance(entry, str):
            entry = self.get(entry)
        if not entry.packaged or family(entry.path) == WHISPER_FAMILY:
            return entry
        try:
            assemble(entry.id, self.root)  # one process at a time (it locks the folder)
        except (WhisperSourceError, OSError) as exc:
            raise RegistryError(f"Model {entry.id!r} cannot be assembled: {exc}") from None
        return self._find(self._read(), entry.id)

    def recognizer(self, model: str | os.PathLike | None = None, **settings) -> Recognizer:
        """Load a model's recognizer (:func:`engine.decode.families.load_recognizer`), named as its entry.

        Args:
            model: an id or a model folder (:meth:`resolve`); None for :meth:`active` (the model the studio uses).
            settings: ``threads`` and decoding settings over those stored in the checkpoint (e.g. ``beam_size``).

        Raises:
            RegistryError: no such model, or its checkpoint is missing or unreadable.
        """
        return self._load(self.active() if model is None else self.resolve(model), **settings)

    def compare(self, id_a: str, id_b: str, test_utterances: Sequence[Utterance] | str | os.PathLike,
                vocabulary: Vocabulary | None = None, progress: Callable[[int, int], None] | None = None,
                **recognizer_kwargs) -> Comparison:
        """Score two models (of either family) on the same test utterances and keep the figures in both entries.

        Each model decodes with its own tuned settings (``meta["decode"]``) unless
        ``recognizer_kwargs`` (e.g. ``beam_size``, ``threads``) override them for both.
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
            rec = self._load(entry, **recognizer_kwargs)
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

    def _load(self, entry: ModelEntry, **settings) -> Recognizer:
        from engine.decode.families import load_recognizer

        entry = self.prepare(entry)
        if not entry.available:
            raise RegistryError(f"Model {entry.id!r} ({entry.name}): its checkpoint folder {entry.path} is missing "
                                "or incomplete.")
        try:
            return load_recognizer(entry, **settings)
        except CheckpointError as exc:
            raise RegistryError(f"Model {entry.id!r} ({entry.name}): {exc}") from None

    def _all(self, index: dict) -> list[ModelEntry]:
        return self._builtins(index) + index["models"] + self._external(index)

    def _find(self, index: dict, model_id: str) -> ModelEntry:
        if model_id == BUILTIN_ID:
            return self._builtin(index)
        missing = whisper_missing()
        for e in index["models"]:
            if e.id == model_id:
                if missing and e.family == WHISPER_FAMILY:
                    raise RegistryError(f"Model {model_id!r} is a Whisper model. {missing}")
                return e
        if missing and model_id in PACKAGED:
            raise RegistryError(f"{model_id} comes with the Whisper extra. {missing}")
        others = self._builtins(index)[1:] + self._external(index)
        for e in others:
            if e.id == model_id:
                return e
        known = ", ".join([BUILTIN_ID] + [e.id for e in index["models"]] + [e.id for e in others])
        raise RegistryError(f"No model {model_id!r} in the registry at {self.root} (known: {known}).")

    def _reserved(self) -> set[str]:
        """Ids no registered model may take: the bundled models' and the offline packages'."""
        return {BUILTIN_ID, *self.beside, *PACKAGED}

    def _builtin(self, index: dict, model_id: str = BUILTIN_ID) -> ModelEntry:
        """The entry of a bundled Sayso model: ``sayso-base`` or one of :attr:`beside`."""
        folder = self.bundled if model_id == BUILTIN_ID else self.beside[model_id]
        try:
            summary, meta = summarize_checkpoint(folder)
        except RegistryError as exc:  # a broken install: still listed, so the user sees why
            summary, meta = {}, {}
            log.warning("The bundled model %s is unusable: %s", model_id, exc)
        parent = meta.get("parent")  # the recipe's --init-from, by name (sayso-base-v2: sayso-base)
        return ModelEntry(
            id=model_id, name=str(meta.get("name") or model_id), path=folder,
            created=_mtime_iso(folder / WEIGHTS_FILE), config=summary,
            parent_id=parent if parent in self._reserved() and parent != model_id else None,
            train_utterances=(meta.get("data") or {}).get("train_utterances"),
            metrics={**own_figures(meta), **index["read_only_metrics"].get(model_id, {})},
            notes=BUNDLED_GOOD_AT if model_id == BUILTIN_ID else str(meta.get("good_at") or ""), builtin=True,
            source="bundled with Sayso (trained by its recipe)",
        )

    def _builtins(self, index: dict) -> list[ModelEntry]:
        """``sayso-base``, the Sayso models shipped beside it, then the offline Whisper packages' models
        (installed, or already assembled here; none without the Whisper extra)."""
        out = [self._builtin(index)] + [self._builtin(index, model_id) for model_id in self.beside]
        for name, model in PACKAGED.items() if not whisper_missing() else ():
            folder = self.root / name
            assembled = family(folder) == WHISPER_FAMILY
            if name not in self.packaged and not assembled:
                continue
            if assembled:
                summary, created = summarize_whisper(folder), _mtime_iso(folder / WHISPER_WEIGHTS)
            else:
                summary = {"size": name.removeprefix("whisper-"), "parameters": model.parameters,
                           "languages": "en" if name.endswith(".en") else "multilingual", "bytes": model.bytes}
                created = ""
            out.append(ModelEntry(
                id=name, name=name, path=folder, created=created, config={**summary, "sha256": model.sha256},
                metrics={**model.figures, **index["read_only_metrics"].get(name, {})}, notes=model.good_at, builtin=True,
                family=WHISPER_FAMILY, source=model.source.replace("`", "")))
        return out

    def _external(self, index: dict) -> list[ModelEntry]:
        """Whisper folders in the Hugging Face cache, under ids not taken by other entries."""
        from engine.whisper.sources import hf_cache_dir

        if whisper_missing():
            return []
        taken = {*self._reserved(), *(e.id for e in index["models"])}
        out = []
        for name, snap in hf_cache_models(self.hf_cache or hf_cache_dir()).items():
            model_id = re.sub(r"[^a-z0-9._-]+", "-", name)
            if model_id in taken or not _valid_id(model_id):
                continue
            try:
                summary = summarize_whisper(snap)
            except WhisperFolderError:
                continue
            link = snap / WHISPER_WEIGHTS  # a symlink to ../../blobs/<SHA-256 of the file> (the hub's etag)
            blob = Path(os.readlink(link)).name if link.is_symlink() else ""
            if re.fullmatch(r"[0-9a-f]{64}", blob):
                summary["sha256"] = blob
            repo = snap.parent.parent.name.removeprefix("models--").replace("--", "/")
            out.append(ModelEntry(
                id=model_id, name=name, path=snap, created=_mtime_iso(snap / WHISPER_WEIGHTS), config=summary,
                metrics=dict(index["read_only_metrics"].get(model_id, {})),
                notes="Found in the Hugging Face cache (read-only: never modified here).",
                family=WHISPER_FAMILY, source=f"Hugging Face cache: {repo}, snapshot {snap.name}", external=True))
        return out

    def _whisper_summary(self, folder: Path) -> dict:
        try:
            return {**summarize_whisper(folder), "sha256": _whisper_sha256(folder)}
        except WhisperFolderError as exc:
            raise RegistryError(str(exc)) from None

    def _parent(self, index: dict, parent) -> tuple[str | None, str | None]:
        if parent is None:
            return None, None
        key = str(parent)
        with contextlib.suppress(RegistryError):
            e = self._find(index, key)
            return e.id, str(e.path)
        p = Path(parent).expanduser()
        if p.is_dir():
            p = p.absolute()
            for e in self._all(index):
                if _same(e.path, p):
                    return e.id, str(e.path)
            return None, str(p)
        if isinstance(parent, str) and _valid_id(parent) and os.sep not in parent:
            self._find(index, key)  # raises: unknown id
        raise RegistryError(f"Parent {key!r} is neither a registered model nor a checkpoint folder.")

    def _copy_in(self, src: Path, model_id: str, kind: str = SAYSO_FAMILY) -> Path:
        dest = self.root / model_id
        self.root.mkdir(parents=True, exist_ok=True)
        if kind == WHISPER_FAMILY:
            from engine.whisper.sources import import_folder

            try:
                return import_folder(src, model_id, self.root)
            except WhisperSourceError as exc:
                raise RegistryError(str(exc)) from None
            except OSError as exc:
                raise RegistryError(f"Cannot copy {src} into the registry at {self.root}: "
                                    f"{exc.strerror or exc}.") from None
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{model_id}.tmp"))
        try:
            for f in list(MODEL_FILES) + sorted(p.name for p in src.glob("*.md")):
                shutil.copy2(src / f, tmp / f)
                with open(tmp / f, "rb") as fh:
                    os.fsync(fh.fileno())
            os.chmod(tmp, 0o755)  # mkdtemp makes it owner-only
            # a stand-in record until register() writes the real one: a kill before the index lists the
            # model leaves a folder that remove_orphans recognizes as a copy nobody registered
            (tmp / ENTRY_NAME).write_text(json.dumps({"id": model_id, "stored": True, "registering": True}),
                                          encoding="utf-8")
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
            with self._lock_file(".registry.lock"):
                self._lock_depth = 1
                try:
                    self.remove_orphans()
                    yield
                finally:
                    self._lock_depth = 0

    def remove_orphans(self, min_age_s: float = ORPHAN_AGE_S) -> list[str]:
        """Delete what writes cut short by a kill left in the registry folder: ``.<id>.tmp*`` copies and
        staged Whisper folders, ``.registry.json.*.tmp`` and ``<id>/.entry.json.*.tmp`` files, older than
        ``min_age_s`` seconds (a write of another process in progress is younger). Also a Sayso model
        copied in by a :meth:`register` that a kill stopped before the index listed it (its ``<id>/``
        holds ``entry.json`` with ``stored``, but the index does not list the id: the registration never
        happened). Never a ``.download`` folder (a pull resumes from it), a Whisper folder (the next pull
        or import reuses it) nor a listed model. Called under the registry's lock, once per change.
        Returns the names removed (logged too)."""
        removed = []
        if not self.root.is_dir():
            return removed
        now = time.time()
        try:
            found = list(self.root.glob(".*.tmp*")) + list(self.root.glob("*/.entry.json.*.tmp"))
            if self.index_path.is_file():  # a missing index is rebuilt from the entry.json files instead
                listed = {e.id for e in self._read()["models"]}
                for record in self.root.glob(f"*/{ENTRY_NAME}"):
                    folder = record.parent
                    if folder.name in listed or family(folder) != SAYSO_FAMILY:
                        continue
                    with contextlib.suppress(OSError, ValueError, AttributeError):
                        if json.loads(record.read_text(encoding="utf-8")).get("stored"):
                            found.append(folder)
        except OSError:
            return removed
        old = []
        for p in found:  # ages first: deleting a temp file inside a folder makes the folder look new
            with contextlib.suppress(OSError):
                if now - p.lstat().st_mtime >= min_age_s:
                    old.append(p)
        for p in old:
            try:
                if not p.exists() and not p.is_symlink():  # a temp file inside a folder removed before it
                    continue
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
            except OSError:
                continue
            removed.append(str(p.relative_to(self.root)))
            log.info("removed %s, left by an interrupted registry write", p.relative_to(self.root))
        return removed

    @contextlib.contextmanager
    def _lock_file(self, name: str) -> Iterator[None]:
        """An exclusive ``flock`` on ``<root>/<name>`` (created) for the duration of the block."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fh = open(self.root / name, "a+")
        except OSError as exc:
            raise RegistryError(f"Cannot write to the registry at {self.root}: {exc.strerror or exc}.") from None
        with fh:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            yield

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
        if data.get("version") not in (1, INDEX_VERSION):
            raise ValueError(f"unknown index version {data.get('version')!r}")
        models = [ModelEntry.from_json(d, self.root) for d in data["models"]]
        if len({e.id for e in models} | {BUILTIN_ID}) != len(models) + 1:
            raise ValueError("duplicate entry ids")
        active = data.get("active") or None  # None: not chosen (the default model is used)
        if data["version"] == 1:  # only the bundled model's figures
            figures = {BUILTIN_ID: data.get("builtin_metrics") or {}}
        else:
            figures = data.get("read_only_metrics") or {}
        if not isinstance(active, (str, type(None))) or not isinstance(figures, dict) \
                or not all(isinstance(v, dict) for v in figures.values()):
            raise TypeError("bad 'active' or 'read_only_metrics'")
        return {"version": INDEX_VERSION, "active": active, "models": models, "read_only_metrics": figures}

    def _write(self, index: dict) -> None:
        data = {"version": INDEX_VERSION, "active": index.get("active"),
                "read_only_metrics": index.get("read_only_metrics", {}),
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
        """Entries found in the model folders under the root (not the offline packages' assembled folders)."""
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
        reserved = self._reserved()
        try:
            entry = ModelEntry.from_json(json.loads((folder / ENTRY_NAME).read_text(encoding="utf-8")), self.root)
            if entry.id != folder.name or entry.id in reserved:
                raise ValueError("entry id does not match its folder")
            if entry.stored:
                entry.path = folder
            return entry
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("Skipping the unreadable %s (%s).", folder / ENTRY_NAME, exc)
        kind = family(folder)
        if _valid_id(folder.name) and folder.name not in reserved and kind is not None:
            try:
                summary, meta = summarize_checkpoint(folder)
                if kind == WHISPER_FAMILY:
                    summary = self._whisper_summary(folder)
            except RegistryError as exc:
                log.warning("Skipping %s: %s", folder, exc)
                return None
            return ModelEntry(id=folder.name, name=str(meta.get("name") or folder.name), path=folder,
                              created=_mtime_iso(_weights(folder, kind)), config=summary,
                              metrics=own_figures(meta), notes="Recovered from its folder after the index was lost.",
                              stored=True, family=kind,
                              source="trained with Sayso" if kind == SAYSO_FAMILY else f"the folder {folder}")
        return None


def shipped_beside() -> list[Path]:
    """The Sayso checkpoint folders in :data:`engine.resources.BUNDLED_MODELS` other than
    :data:`engine.resources.BUNDLED_MODEL`, by name."""
    if not BUNDLED_MODELS.is_dir():
        return []
    return [f for f in sorted(BUNDLED_MODELS.iterdir())
            if f.name != BUNDLED_MODEL.name and family(f) == SAYSO_FAMILY]


def _empty_index() -> dict:
    return {"version": INDEX_VERSION, "active": None, "models": [], "read_only_metrics": {}}


def _why_read_only(entry: ModelEntry) -> str:
    if entry.builtin and entry.family == SAYSO_FAMILY:
        return "a bundled model"
    if entry.builtin:
        return "a built-in offline model"
    return "in the Hugging Face cache (read-only)"


def _weights(folder: Path, kind: str | None) -> Path:
    return folder / (WHISPER_WEIGHTS if kind == WHISPER_FAMILY else WEIGHTS_FILE)


def _whisper_sha256(folder: Path) -> str:
    """SHA-256 of a Whisper folder's ``model.bin`` (read whole: about a second per 500 MB)."""
    try:
        return sha256_file(folder / WHISPER_WEIGHTS)
    except OSError as exc:
        raise RegistryError(f"Cannot read {folder / WHISPER_WEIGHTS}: {exc.strerror or exc}.") from None


def _whisper_without_vocabulary(folder: Path) -> bool:
    """A Whisper folder complete but for its vocabulary file (which a copy gets written)."""
    try:
        check_folder(folder, need_vocabulary=False)
    except WhisperFolderError:
        return False
    return True


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


def _check_config(path: Path) -> None:
    """:func:`engine.checkpoint_layout.validate_config` of a Sayso checkpoint (no torch, no weights read)."""
    try:
        validate_config(read_config(path), path)
    except CheckpointError as exc:
        raise RegistryError(str(exc)) from None


def _check_loads(path: Path) -> None:
    from engine.train.checkpoint import load_checkpoint

    try:
        load_checkpoint(path)
    except CheckpointError as exc:
        raise RegistryError(str(exc)) from None
