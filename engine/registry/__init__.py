"""Trained models: the registry (lineage, data fingerprints, metrics, the active model) and export.

:mod:`engine.registry.index` needs neither torch nor Qt to list or change
the index; :mod:`engine.registry.export` imports torch.
"""
from engine.registry.index import (
    BUILTIN_ID,
    Comparison,
    ModelEntry,
    ModelRegistry,
    RegistryError,
    UtteranceComparison,
    fingerprint,
    test_set_name,
)

__all__ = [
    "BUILTIN_ID", "Comparison", "ModelEntry", "ModelRegistry", "RegistryError", "UtteranceComparison",
    "fingerprint", "test_set_name",
]
