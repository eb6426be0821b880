"""The default split of new takes: stable per take, 80/10/10 over many."""
from __future__ import annotations

from collections import Counter

from engine.data.splits import SHARES, default_split, describe_policy


def test_new_takes_are_split_by_a_stable_hash_in_the_stated_shares():
    keys = [f"{i:064x}" for i in range(3000)]
    counts = Counter(default_split(k) for k in keys)
    for split, share in SHARES:
        assert abs(counts[split] / len(keys) - share) < 0.03, counts
    assert [default_split(k) for k in keys[:50]] == [default_split(k) for k in keys[:50]]  # the same every time
    assert "train 80%" in describe_policy() and "dev 10%" in describe_policy()
