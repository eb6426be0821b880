"""Which model the studio loads: ``--model PATH``, else ``$SAYSO_MODEL``, else the registry's active
model (chosen in the Models window, so the choice persists), else the bundled base model."""
from __future__ import annotations

import os
from pathlib import Path

from engine.decode.recognizer import BUNDLED_MODEL

ENV_VAR = "SAYSO_MODEL"


def resolve_model_path(cli_path: str | os.PathLike | None = None, environ: dict | None = None) -> Path:
    """The checkpoint folder to use (not checked; see :func:`model_problem`)."""
    environ = os.environ if environ is None else environ
    if cli_path:
        return Path(cli_path).expanduser()
    if environ.get(ENV_VAR):
        return Path(environ[ENV_VAR]).expanduser()
    from engine.registry.index import ModelRegistry, RegistryError

    try:
        return ModelRegistry().active().path  # the bundled model if the active one is gone
    except (RegistryError, OSError):
        return BUNDLED_MODEL


def model_problem(path: Path) -> str | None:
    """A user message if ``path`` is clearly not a checkpoint folder, else ``None``.

    A quick look at the files only; the worker process reports anything
    deeper (corrupt weights) as a ``CheckpointError`` message.
    """
    hint = f"Pass --model PATH or set {ENV_VAR} to use another model."
    if not path.is_dir():
        if path == BUNDLED_MODEL:
            return f"The bundled model is not installed yet ({path}). {hint}"
        return f"No model at {path}. {hint}"
    missing = [f for f in ("config.json", "model.safetensors") if not (path / f).is_file()]
    if missing:
        return f"{path} is not a Sayso model ({', '.join(missing)} missing). {hint}"
    return None
