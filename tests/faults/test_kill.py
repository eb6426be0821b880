"""The short fault-injection suite (``make test``): each durable writer is killed with SIGKILL at a
few seeded random moments and checked after each kill (:mod:`tests.faults.writers`): nothing
reported committed is lost, the store opens and ``Project.check()`` is clean, checkpoints load and
resume, ``registry.json`` parses and lists only folders that exist, takes recover as readable WAVs,
and no temp folder outlives the next start. ``make soak`` runs the same for minutes."""
from __future__ import annotations

import random
import signal

import pytest

from tests.faults.writers import Registry, StoreEdits, StoreImport, Takes, Training
from tests.helpers import shared_data

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def kill_and_check(writer, kills: int, seed: int):
    rng = random.Random(seed)
    outcomes = [writer.kill_once(rng) for _ in range(kills)]
    outcomes.append(writer.finish())
    for i, out in enumerate(outcomes):
        assert out.lost == [], f"kill {i + 1}: committed data lost"
        assert out.failures == [], f"kill {i + 1}: integrity"
    assert sum(o.killed for o in outcomes) >= kills - 1, "the writer kept ending before the kill"
    assert sum(o.facts for o in outcomes) > 0, "no committed fact was checked"
    return outcomes


@pytest.mark.parametrize("writer", [StoreImport, StoreEdits])
def test_kill_9_of_store_writers_loses_nothing_committed(tmp_path, writer):
    outcomes = kill_and_check(writer(tmp_path), kills=3, seed=14)
    assert [o.orphans for o in outcomes] == [[]] * len(outcomes)


@pytest.mark.slow
def test_kill_9_of_training_keeps_loadable_resumable_checkpoints_without_orphans(tmp_path):
    shared_data()
    outcomes = kill_and_check(Training(tmp_path), kills=2, seed=14)  # ~4 s of start-up each
    assert [o.orphans for o in outcomes] == [[]] * len(outcomes)


def test_kill_9_of_registry_writes_keeps_a_parsable_index_of_existing_folders(tmp_path):
    outcomes = kill_and_check(Registry(tmp_path), kills=3, seed=14)
    # temp copies, index files and copies a kill cut off before the index listed them are removed by the
    # next change (ModelRegistry.remove_orphans)
    assert [o.orphans for o in outcomes] == [[]] * len(outcomes)


def test_kill_9_while_recording_a_take_recovers_readable_wavs(tmp_path):
    outcomes = kill_and_check(Takes(tmp_path), kills=3, seed=14)
    # a kill inside the sidecar's atomic write leaves a .<take>.partial.json.*.tmp file: recover() removes it
    assert [o.orphans for o in outcomes] == [[]] * len(outcomes)
