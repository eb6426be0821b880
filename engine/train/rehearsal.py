"""Rehearsal data for personalization: utterances the base model was trained on, replayed while it adapts.

Mixing some of the base model's own training data into every step of a
few-shot fine-tune limits forgetting and over-fitting to a handful of takes
(rehearsal, Robins 1995; "experience replay" in continual learning). On the
held-out FSDD speaker it is worth about 8 points at one take per digit
(``benchmarks/few_shot.py``: 77 % without, 85 % with).

The base model's data are the corpora in ``$SAYSO_DATA`` or ``../shared/data``
(:func:`engine.recipes.datasets.real_splits`, training speakers only). On a
machine without them there is nothing to rehearse and personalization runs
without it.
"""
from __future__ import annotations

import random

from engine.data.utterance import Utterance

REHEARSAL_SIZE = 400
"""Utterances drawn (the benchmark's setting)."""


def rehearsal_set(count: int = REHEARSAL_SIZE, seed: int = 0) -> tuple[list[Utterance], str]:
    """Up to ``count`` training utterances of the base model's corpora, drawn with ``seed``.

    Returns:
        ``(utterances, description)``; ``([], why)`` if the corpora are not on this machine.
    """
    from engine.recipes.datasets import real_splits

    try:
        train = real_splits().train
    except (FileNotFoundError, OSError) as exc:
        return [], f"no base training data on this machine ({exc})"
    pool = [u for u in train if (u.speaker or "").startswith(("sc-", "fsdd-"))]
    if not pool:
        return [], "no base training data on this machine"
    chosen = random.Random(seed).sample(pool, min(count, len(pool)))
    return chosen, f"{len(chosen)} base training utterances (Speech Commands and FSDD training speakers)"
