"""The user's Sayso folders (``platformdirs``): models, takes, caches.

The only module that asks ``platformdirs`` where things go; on Linux:

==================  ===========================================================
:func:`data_dir`    ``~/.local/share/sayso`` (``$XDG_DATA_HOME/sayso``)
:func:`models_dir`  ``<data_dir>/models``: the model registry and every
                    training run the studio starts
:func:`takes_dir`   ``<data_dir>/takes``: recorded takes (crash-safe WAVs)
:func:`cache_dir`   ``~/.cache/sayso`` (``$XDG_CACHE_HOME/sayso``): data a
                    recipe can regenerate
:func:`projects_dir` ``~/Documents/Sayso`` (``$XDG_DOCUMENTS_DIR/Sayso``): where
                    the studio offers to put new projects
:func:`user_data_home` ``~/.local/share`` (``$XDG_DATA_HOME``): the desktop's own
                    folders (``applications/``, ``icons/``), for ``--install-desktop``
==================  ===========================================================

Each call reads the environment afresh (tests point ``XDG_DATA_HOME``
elsewhere); nothing is created here. The studio's own settings are kept by
Qt (``QSettings``, :mod:`app.settings`), not here. Imports neither torch
nor Qt.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["APP_NAME", "cache_dir", "data_dir", "models_dir", "projects_dir", "takes_dir", "user_data_home"]

APP_NAME = "sayso"
"""The folder name under the platform's data and cache folders."""


def data_dir() -> Path:
    """``platformdirs.user_data_dir("sayso")``."""
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME))


def cache_dir() -> Path:
    """``platformdirs.user_cache_dir("sayso")``."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME))


def models_dir() -> Path:
    """Where models go: the registry's root and the studio's training runs (``<data_dir>/models``)."""
    return data_dir() / "models"


def takes_dir() -> Path:
    """Where recorded takes are kept (``<data_dir>/takes``)."""
    return data_dir() / "takes"


def projects_dir() -> Path:
    """Where the studio offers to create projects: ``platformdirs.user_documents_dir()/Sayso``."""
    from platformdirs import user_documents_dir

    return Path(user_documents_dir()) / "Sayso"


def user_data_home() -> Path:
    """The user's data folder itself, ``platformdirs.user_data_dir()`` (``$XDG_DATA_HOME`` or
    ``~/.local/share`` on Linux): where desktop entries and icon themes go."""
    from platformdirs import user_data_dir

    return Path(user_data_dir())
