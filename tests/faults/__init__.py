"""Fault injection: durable writers killed with SIGKILL at seeded random moments, then checked.

:mod:`tests.faults.harness` runs and kills (no engine import); :mod:`tests.faults.writers`
knows each writer's driver and invariants; ``drive_*.py`` are the writers' processes;
:mod:`tests.faults.test_kill` is the short suite (``make test``), :mod:`tests.faults.soak`
the long one (``make soak``).
"""
