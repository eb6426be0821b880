"""The layout of a model checkpoint folder, and reading it without torch.

A Sayso checkpoint is a folder::

    config.json          {"model": ModelConfig, "tokenizer": {...}, "meta": {...}}
    model.safetensors    model weights (safetensors, Hugging Face)
    trainer.json         epoch, step, scheduler, optimizer hyper-parameters, metrics }  training
    trainer.safetensors  optimizer tensors                                          }  checkpoints only
    MODEL_CARD.md        optional, written by the recipe and by export

:mod:`engine.train.checkpoint` writes and loads it (with torch) through a
temporary sibling ``.<name>.tmp*`` (:func:`temp_prefix`) renamed into place, the old folder kept as
``.<name>.old`` for the moment between the two renames. Everything else that
needs to know what a checkpoint looks like (the registry, the studio's model
checks, the recipe, the recognizer loader) asks this module; it imports
neither torch nor Qt.

A checkpoint's **family** says which recognizer reads it
(:func:`engine.decode.families.load_recognizer`): ``"sayso"`` (:data:`MODEL_FILES`
present) or ``"whisper"`` (a CTranslate2 Whisper folder, checked by
:func:`engine.whisper.folder.check_folder`, which reads no weights and imports
neither faster-whisper nor CTranslate2).
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

__all__ = [
    "CONFIG_FILE", "CheckpointError", "MODEL_CARD_FILE", "MODEL_FILES", "SAYSO_FAMILY", "TRAINER_FILES",
    "TRAINER_STATE_FILE", "TRAINER_TENSORS_FILE", "WEIGHTS_FILE", "family", "finish_interrupted_write",
    "has_trainer_state", "is_checkpoint", "missing_files", "old_sibling", "read_config", "read_header",
    "temp_prefix", "temp_siblings", "unrecognized", "validate_config",
]

CONFIG_FILE = "config.json"
"""Model sizes, tokenizer and free-form ``meta`` (JSON object)."""
WEIGHTS_FILE = "model.safetensors"
"""Model weights."""
TRAINER_STATE_FILE = "trainer.json"
"""Epoch, step, optimizer hyper-parameters, history (training checkpoints only)."""
TRAINER_TENSORS_FILE = "trainer.safetensors"
"""Optimizer tensors (training checkpoints only)."""
MODEL_CARD_FILE = "MODEL_CARD.md"
"""The human-readable model card, when there is one."""
MODEL_FILES = (CONFIG_FILE, WEIGHTS_FILE)
"""The files every checkpoint has; a model registered or exported for use needs only these."""
TRAINER_FILES = (TRAINER_STATE_FILE, TRAINER_TENSORS_FILE)
"""What a training checkpoint has on top, to resume from."""
SAYSO_FAMILY = "sayso"
"""The family of checkpoints written by :mod:`engine.train.checkpoint`."""
MAX_HEADER_BYTES = 100 << 20
"""A safetensors header larger than this is taken as a corrupt file."""


class CheckpointError(ValueError):
    """A checkpoint folder that is missing, incomplete or does not fit the model."""


def missing_files(path: str | os.PathLike) -> list[str]:
    """The names of :data:`MODEL_FILES` that ``path`` lacks (all of them if it is no folder)."""
    path = Path(path)
    return [f for f in MODEL_FILES if not (path / f).is_file()]


def is_checkpoint(path: str | os.PathLike) -> bool:
    """True if ``path`` is a folder with :data:`MODEL_FILES` (a quick look: nothing is read)."""
    return not missing_files(path)


def has_trainer_state(path: str | os.PathLike) -> bool:
    """True if ``path`` holds :data:`TRAINER_STATE_FILE` (a training checkpoint one can resume from)."""
    return (Path(path) / TRAINER_STATE_FILE).is_file()


def family(path: str | os.PathLike) -> str | None:
    """The recognizer family that reads folder ``path``: :data:`SAYSO_FAMILY`,
    :data:`engine.whisper.folder.WHISPER_FAMILY` (``"whisper"``), or None if no family does."""
    from engine.whisper.folder import WHISPER_FAMILY, is_whisper_folder  # it imports this module

    if is_checkpoint(path):
        return SAYSO_FAMILY
    return WHISPER_FAMILY if is_whisper_folder(path) else None


def unrecognized(path: str | os.PathLike) -> CheckpointError:
    """The error for a folder that no family reads (:func:`family` is None), saying what each family misses.

    >>> str(unrecognized("/nowhere"))
    '/nowhere: not a model folder: no such folder.'
    """
    from engine.whisper.folder import WhisperFolderError, check_folder

    path = Path(path)
    if not path.is_dir():
        return CheckpointError(f"{path}: not a model folder: no such folder.")
    try:
        check_folder(path)
        whisper = "unreadable"
    except WhisperFolderError as exc:
        whisper = str(exc).removeprefix(f"{path}: ").rstrip(".")
    return CheckpointError(f"{path}: not a Sayso checkpoint ({', '.join(missing_files(path))} missing), "
                           f"and as a Whisper model: {whisper}.")


def read_config(path: str | os.PathLike) -> dict:
    """The parsed :data:`CONFIG_FILE` of checkpoint folder ``path``.

    Raises:
        CheckpointError: the file is missing, unreadable, not JSON or not a JSON object.
    """
    file = Path(path) / CONFIG_FILE
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: not a Sayso checkpoint ({CONFIG_FILE} is missing).") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable {CONFIG_FILE} ({exc}).") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: {CONFIG_FILE} is not a JSON object.")
    return config


def validate_config(config: dict, path: str | os.PathLike) -> None:
    """Check a Sayso checkpoint's parsed :data:`CONFIG_FILE` (:func:`read_config`) against itself and
    its folder ``path``, without torch: :data:`WEIGHTS_FILE` present, model sizes that build
    (:meth:`engine.model.config.ModelConfig.check`), a tokenizer of exactly ``vocab_size``
    symbols, ``meta`` an object and ``meta["decode"]`` valid decoding settings
    (:func:`engine.decode.settings.check_decode_settings`). The one check behind loading
    (:func:`engine.train.checkpoint.load_checkpoint`) and registering a checkpoint.

    Raises:
        CheckpointError: one line starting with ``path`` and naming the file and field.
    """
    from engine.decode.settings import check_decode_settings
    from engine.model.config import ModelConfig

    if not (Path(path) / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"{path}: not a Sayso checkpoint ({WEIGHTS_FILE} is missing).")
    try:
        cfg = ModelConfig.from_json(config.get("model"))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: bad model sizes in {CONFIG_FILE}: {exc}.") from None
    tokenizer = config.get("tokenizer")
    symbols = tokenizer.get("symbols") if isinstance(tokenizer, dict) else None
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise CheckpointError(f"{path}: {CONFIG_FILE} has no tokenizer symbols (a list of strings).")
    if len(symbols) != cfg.vocab_size:
        raise CheckpointError(f"{path}: the tokenizer in {CONFIG_FILE} has {len(symbols)} symbols "
                              f"but the model's vocab_size is {cfg.vocab_size}.")
    meta = config.get("meta", {})
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: \"meta\" in {CONFIG_FILE} must be a JSON object, got {json.dumps(meta)}.")
    decode = meta.get("decode", {})
    if not isinstance(decode, dict):
        raise CheckpointError(f"{path}: meta.decode in {CONFIG_FILE} must be a JSON object, got {json.dumps(decode)}.")
    try:
        check_decode_settings(decode)
    except ValueError as exc:
        raise CheckpointError(f"{path}: bad meta.decode in {CONFIG_FILE}: {exc}.") from None


def read_header(path: str | os.PathLike) -> dict:
    """The safetensors header of :data:`WEIGHTS_FILE`: tensor name → ``{"dtype", "shape", "data_offsets"}``
    (plus ``"__metadata__"``), read without loading the weights (8 bytes of length, then JSON).

    Raises:
        CheckpointError: the file is missing, truncated, or its header is not JSON
            or larger than :data:`MAX_HEADER_BYTES`.
    """
    file = Path(path) / WEIGHTS_FILE
    try:
        with open(file, "rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
            if n > MAX_HEADER_BYTES:
                raise ValueError("safetensors header too large")
            header = json.loads(fh.read(n))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: not a Sayso checkpoint ({WEIGHTS_FILE} is missing).") from None
    except (OSError, ValueError, struct.error) as exc:
        raise CheckpointError(f"{path}: unreadable {WEIGHTS_FILE} header ({exc}).") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: the {WEIGHTS_FILE} header is not a JSON object.")
    return header


def old_sibling(path: str | os.PathLike) -> Path:
    """``.<name>.old`` beside ``path``: the previous checkpoint while a new one is renamed into place."""
    path = Path(path)
    return path.with_name(f".{path.name}.old")


def temp_prefix(path: str | os.PathLike) -> str:
    """``.<name>.tmp``: the name prefix of the temporary sibling folder a checkpoint at ``path``
    is written into before it is renamed into place (a random suffix follows)."""
    return f".{Path(path).name}.tmp"


def temp_siblings(path: str | os.PathLike) -> list[Path]:
    """The temporary sibling folders (:func:`temp_prefix`) of ``path`` that writes killed midway
    left behind; ``[]`` if there are none or the parent folder does not exist."""
    path = Path(path)
    prefix = temp_prefix(path)
    try:
        return sorted(p for p in path.parent.iterdir() if p.name.startswith(prefix) and p.is_dir())
    except FileNotFoundError:
        return []


def finish_interrupted_write(path: str | os.PathLike) -> None:
    """Finish a checkpoint swap that a kill interrupted between its two renames.

    If ``path`` is gone but its :func:`old_sibling` exists, the old checkpoint is
    renamed back to ``path``; otherwise nothing happens.

    Raises:
        OSError: the rename failed.
    """
    path = Path(path)
    old = old_sibling(path)
    if not path.exists() and old.exists():
        os.replace(old, path)
