"""The split a new take goes to: train, dev or test by a stable hash, so a held-out share exists from the start.

Prompted takes and clips added to a project get :func:`default_split` of their audio's SHA-256:
the same take always lands in the same split (re-adding it or rebuilding the project does not
move it between training and evaluation), and about :data:`SHARES` of the takes go to each split.
A person can still move any utterance (the Dataset tab, one row or many). Imports keep the
splits their dataset gives.
"""
from __future__ import annotations

import hashlib

__all__ = ["SHARES", "default_split", "describe_policy"]

SHARES = (("train", 0.8), ("dev", 0.1), ("test", 0.1))
"""Each split's share of new takes."""


def default_split(key: str) -> str:
    """``"train"``, ``"dev"`` or ``"test"`` for ``key`` (e.g. the take's SHA-256), by the shares in
    :data:`SHARES`: the first 8 bytes of SHA-256(key) as a fraction in [0, 1).

    >>> [default_split(k) for k in ("a", "b", "c")] == [default_split(k) for k in ("a", "b", "c")]
    True
    """
    x = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") / 2 ** 64
    edge = 0.0
    for split, share in SHARES:
        edge += share
        if x < edge:
            return split
    return SHARES[-1][0]


def describe_policy() -> str:
    """One sentence for the Train tab."""
    shares = ", ".join(f"{split} {share:.0%}" for split, share in SHARES)
    return (f"New takes are split by a hash of their audio ({shares}), so each stays in its split; "
            "move any of them in the Dataset tab.")
