"""Checkpoints: safetensors weights + JSON config, written atomically. No pickle.

A checkpoint is a folder laid out as :mod:`engine.checkpoint_layout` says
(``config.json``, ``model.safetensors``, and ``trainer.json`` +
``trainer.safetensors`` in training checkpoints).

It is written to a temporary sibling folder and renamed into place, so a
kill or a full disk leaves either the old checkpoint or the new one, never a
mix.
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from engine.atomic import atomic_write
from engine.checkpoint_layout import (
    CONFIG_FILE,
    TRAINER_STATE_FILE,
    TRAINER_TENSORS_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    finish_interrupted_write,
    old_sibling,
    read_config,
    temp_prefix,
    validate_config,
)
from engine.model.config import ModelConfig
from engine.model.cross_modal import CrossModalModel
from engine.text.tokenizer import CharTokenizer


def save_checkpoint(
    path: str | os.PathLike,
    model: CrossModalModel,
    tokenizer: CharTokenizer,
    meta: dict | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    trainer_state: dict | None = None,
    float16: bool = False,
) -> Path:
    """Write a checkpoint folder atomically and return its path.

    ``float16`` stores the floating-point weights at half precision (half the size on disk, e.g. for a
    model that ships with Sayso); :func:`load_checkpoint` reads them back into float32.

    Raises:
        OSError: disk full or not writable (safetensors' own write errors too), its
            ``strerror`` one line such as ``"cannot write the checkpoint runs/a/last: the disk is full"``;
            any earlier checkpoint at ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=temp_prefix(path)))
    try:
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        # The decoder and text encoder share the embedding; store it once.
        state = {k: v for k, v in state.items() if not k.startswith(("decoder.embedding.", "text_encoder.embedding."))}
        if float16:
            state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})
        _write_json(tmp / CONFIG_FILE, {
            "model": model.cfg.to_json(), "tokenizer": tokenizer.to_json(), "meta": meta or {},
        })
        if optimizer is not None:
            tensors, opt_json = _flatten_optimizer(optimizer)
            save_file(tensors, str(tmp / TRAINER_TENSORS_FILE))
            _write_json(tmp / TRAINER_STATE_FILE, {"optimizer": opt_json, **(trainer_state or {})})
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        old = None
        if path.exists():
            old = old_sibling(path)
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, (OSError, SafetensorError)):
            raise _write_error(path, exc) from exc
        raise
    return path


def _write_error(path: Path, exc: OSError | SafetensorError) -> OSError:
    """``exc`` as an OSError whose ``strerror`` says in one line what failed and why (safetensors
    reports the OS error only in its message, as ``"… (os error 28)"``)."""
    code = exc.errno if isinstance(exc, OSError) else None
    if code is None and (m := re.search(r"os error (\d+)", str(exc))):
        code = int(m.group(1))
    if code in (errno.ENOSPC, errno.EDQUOT):
        reason = "the disk is full"
    else:
        reason = os.strerror(code) if code is not None else str(exc)
    return OSError(code if code is not None else errno.EIO, f"cannot write the checkpoint {path}: {reason}")


def load_checkpoint(path: str | os.PathLike) -> tuple[CrossModalModel, CharTokenizer, dict]:
    """Load ``(model in eval mode, tokenizer, meta)`` from a checkpoint folder.

    Raises:
        CheckpointError: the folder, ``config.json`` or ``model.safetensors`` is
            missing or unreadable, the config is invalid
            (:func:`engine.checkpoint_layout.validate_config`), or the weights do not fit it.
    """
    path = Path(path)
    finish_interrupted_write(path)
    config = read_config(path)
    validate_config(config, path)
    try:
        cfg = ModelConfig.from_json(config["model"])
        tokenizer = CharTokenizer.from_json(config["tokenizer"])
        state = load_file(str(path / WEIGHTS_FILE))
    except FileNotFoundError:  # removed since validate_config looked
        raise CheckpointError(f"{path}: not a Sayso checkpoint ({WEIGHTS_FILE} is missing).") from None
    except Exception as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint ({exc}).") from None
    model = CrossModalModel(cfg)
    if "embedding.weight" in state:
        state["decoder.embedding.weight"] = state["embedding.weight"]
        state["text_encoder.embedding.weight"] = state["embedding.weight"]
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise CheckpointError(f"{path}: weights do not match the config ({str(exc).splitlines()[1].strip()}).") from None
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]}).")
    model.eval()
    return model, tokenizer, config.get("meta", {})


def load_trainer_state(path: str | os.PathLike, optimizer: torch.optim.Optimizer) -> dict:
    """Restore the optimizer from a training checkpoint; returns its ``trainer.json`` (epoch, step, …).

    Raises:
        CheckpointError: the checkpoint holds no trainer state, or it is unreadable, malformed
            (``epoch``/``step`` not counts, no optimizer groups) or does not fit ``optimizer``.
    """
    path = Path(path)
    try:
        info = json.loads((path / TRAINER_STATE_FILE).read_text(encoding="utf-8"))
        tensors = load_file(str(path / TRAINER_TENSORS_FILE))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: holds no trainer state to resume from.") from None
    except (OSError, ValueError, SafetensorError) as exc:  # ValueError: not JSON or not UTF-8
        raise CheckpointError(f"{path}: unreadable trainer state ({exc}).") from None
    try:
        if not isinstance(info, dict):
            raise ValueError(f"{TRAINER_STATE_FILE} is not a JSON object")
        for key in ("epoch", "step"):
            if isinstance(info.get(key), bool) or not isinstance(info.get(key), int) or info[key] < 0:
                raise ValueError(f"{TRAINER_STATE_FILE}: {key} must be a count, got {info.get(key)!r}")
        state = {"state": {}, "param_groups": info["optimizer"]["param_groups"]}
        for key, value in tensors.items():
            _, idx, name = key.split(".", 2)
            state["state"].setdefault(int(idx), {})[name] = value
        optimizer.load_state_dict(state)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: malformed trainer state ({what}).") from None
    return info


def _flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    sd = optimizer.state_dict()
    tensors = {}
    for idx, st in sd["state"].items():
        for name, value in st.items():
            tensors[f"state.{idx}.{name}"] = torch.as_tensor(value).detach().clone().contiguous()
    return tensors, {"param_groups": sd["param_groups"]}


def _write_json(path: Path, data: dict) -> None:
    with atomic_write(path) as fh:
        json.dump(data, fh, indent=2)
