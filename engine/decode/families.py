"""Model families: which :class:`~engine.decode.protocol.Recognizer` implementation reads a checkpoint.

:func:`engine.checkpoint_layout.family` names a checkpoint folder's family
from its files; :data:`FAMILIES` maps each name to the class that loads it
(imported only when that family is loaded, so this module needs neither
torch nor Qt). A new family adds its layout check to
:mod:`engine.checkpoint_layout` and one line here; nothing else changes.

>>> load_recognizer("resources/models/base").name           # doctest: +SKIP
'sayso-base'
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from engine.checkpoint_layout import SAYSO_FAMILY, CheckpointError, family, finish_interrupted_write, missing_files

if TYPE_CHECKING:
    from engine.decode.protocol import Recognizer
    from engine.registry.index import ModelEntry

__all__ = ["FAMILIES", "load_recognizer"]

FAMILIES: dict[str, str] = {
    SAYSO_FAMILY: "engine.decode.recognizer:SaysoRecognizer",
}
"""Family name → ``"module:class"`` whose ``from_checkpoint(path, **settings)`` loads it."""


def load_recognizer(model: ModelEntry | str | os.PathLike, **settings) -> Recognizer:
    """Load the recognizer of a checkpoint folder or a registry entry.

    Args:
        model: a checkpoint folder, or a :class:`~engine.registry.index.ModelEntry`
            (then the recognizer takes the entry's name).
        settings: decoding settings of the family (Sayso: ``ctc_weight``,
            ``beam_size``, ``window_s``), over those stored in the checkpoint.

    Raises:
        CheckpointError: no family reads the folder, or its files are unreadable
            or do not fit its config.
    """
    path = Path(getattr(model, "path", model))
    finish_interrupted_write(path)
    name = family(path)
    if name is None:
        raise CheckpointError(f"{path}: not a Sayso checkpoint ({', '.join(missing_files(path))} missing).")
    module, cls = FAMILIES[name].split(":")
    recognizer = getattr(importlib.import_module(module), cls).from_checkpoint(path, **settings)
    if hasattr(model, "path"):
        recognizer.name = model.name
    return recognizer
