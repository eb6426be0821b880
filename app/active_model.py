"""The model the studio transcribes with, and the one signal that says it changed.

Which model at start (:func:`resolve_model_path`): ``--model PATH``, else
``$SAYSO_MODEL``, else the registry's active model (chosen in the Models
window, so the choice persists), else the bundled base model.

:class:`ActiveModel` owns that model's recognizer (a
:class:`~app.recognizer_bridge.RecognizerBridge` to the worker process that
serves it) and emits :attr:`ActiveModel.model_changed` when another model
takes over; the window's collaborators (its own recognition wiring and
labels, the project controller, Insight, the Train tab) listen to that one
signal instead of being handed the new model one by one.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.recognizer_bridge import RecognizerBridge
from engine.checkpoint_layout import SAYSO_FAMILY, family, missing_files
from engine.registry.index import ModelEntry, ModelRegistry, RegistryError
from engine.resources import BUNDLED_MODEL

__all__ = ["ENV_VAR", "ActiveModel", "model_problem", "resolve_model_path"]

ENV_VAR = "SAYSO_MODEL"


def resolve_model_path(cli_path: str | os.PathLike | None = None, environ: dict | None = None) -> Path:
    """The checkpoint folder to use (not checked; see :func:`model_problem`)."""
    environ = os.environ if environ is None else environ
    if cli_path:
        return Path(cli_path).expanduser()
    if environ.get(ENV_VAR):
        return Path(environ[ENV_VAR]).expanduser()
    try:
        return ModelRegistry().active().path  # the bundled model if the active one is gone
    except (RegistryError, OSError):
        return BUNDLED_MODEL


def model_problem(path: Path) -> str | None:
    """A user message if ``path`` is clearly not a model folder of either family
    (:func:`engine.checkpoint_layout.family`: a Sayso checkpoint or a Whisper folder), else ``None``.

    A quick look at the files only; the worker process reports anything
    deeper (corrupt weights) as a ``CheckpointError`` message.
    """
    hint = f"Pass --model PATH or set {ENV_VAR} to use another model."
    if not path.is_dir():
        if path == BUNDLED_MODEL:
            return f"The bundled model is not installed yet ({path}). {hint}"
        return f"No model at {path}. {hint}"
    if family(path) is None:
        missing = ", ".join(missing_files(path))
        return f"{path} is not a Sayso model ({missing} missing), nor a Whisper model. {hint}"
    return None


class ActiveModel(QObject):
    """The studio's model: its checkpoint folder, registry entry and recognizer.

    Args:
        path: the checkpoint folder to start with (see :func:`resolve_model_path`);
            when :func:`model_problem` finds fault with it the studio runs
            without a model (no worker process is started).
        threads: torch CPU threads of the recognizer's worker process.
        parent: the Qt parent.

    Signals:
        model_changed(object): another model is in use; its
            :class:`~engine.registry.index.ModelEntry` (:attr:`path` and
            :attr:`recognizer` are already the new ones).

    Attributes:
        path: the checkpoint folder.
        problem: why there is no model (a user message), or None.
        recognizer: the bridge to the worker serving the model (not started
            until used or :meth:`warm_up`), or None without a model.
    """

    model_changed = Signal(object)

    def __init__(self, path: str | os.PathLike, threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.threads = threads
        self.path = Path(path)
        self.problem = model_problem(self.path)
        self.recognizer: RecognizerBridge | None = None
        if self.problem is None:
            self.recognizer = RecognizerBridge(self.path, threads=threads, parent=self, name=self.entry.name)

    @property
    def busy(self) -> bool:
        """True while the recognizer transcribes or a live session runs (no switching then)."""
        return self.recognizer is not None and (self.recognizer.busy or self.recognizer.live)

    @property
    def family(self) -> str | None:
        """The model's family (``"sayso"`` or ``"whisper"``), or None without a model."""
        return None if self.problem is not None else family(self.path)

    @property
    def sayso(self) -> bool:
        """True if the model is a Sayso checkpoint (cross-attention maps, embeddings, fine-tuning)."""
        return self.family == SAYSO_FAMILY

    @property
    def entry(self) -> ModelEntry | None:
        """The registry's entry for :attr:`path` (a transient one for an unregistered folder), or None
        without a model."""
        if self.problem is not None:
            return None
        try:
            return ModelRegistry().resolve(self.path)
        except (RegistryError, OSError):  # unreadable: the worker reports why when it loads
            return ModelEntry(id=self.path.name, name=self.path.name, path=self.path.absolute(), created="")

    @property
    def lineage(self) -> str:
        """Where the model in use comes from, in words: ``"personalized from sayso-base"``, its source, or ""."""
        entry = self.entry
        if entry is None:
            return ""
        if entry.parent_id or entry.parent_path:
            parent = entry.parent_id or Path(entry.parent_path).name
            try:
                parent = ModelRegistry().get(entry.parent_id).name if entry.parent_id else parent
            except (RegistryError, OSError):
                pass
            return f"trained from {parent}"
        return entry.source

    def warm_up(self) -> None:
        """Start the recognizer's worker now, so the model is loaded before the first request."""
        if self.recognizer is not None:
            self.recognizer.warm_up()

    def use(self, path: str | os.PathLike) -> bool:
        """Transcribe with the model folder at ``path`` (a Sayso checkpoint or a Whisper folder; an offline
        package's model must be assembled first, :meth:`ModelRegistry.prepare`) from now on: a new worker
        process loads it (started at once) and :attr:`model_changed` is emitted.

        Returns:
            False (and nothing changes) if :func:`model_problem` finds fault with
            ``path`` or the current recognizer is :attr:`busy`.
        """
        path = Path(path)
        if model_problem(path) is not None or self.busy:
            return False
        if self.recognizer is not None:
            self.recognizer.shutdown()
            self.recognizer.deleteLater()
        self.path, self.problem = path, None
        self.recognizer = RecognizerBridge(path, threads=self.threads, parent=self, name=self.entry.name)
        self.recognizer.warm_up()
        self.model_changed.emit(self.entry)
        return True

    def shutdown(self) -> None:
        """End the recognizer's worker process (the studio is closing)."""
        if self.recognizer is not None:
            self.recognizer.shutdown()
