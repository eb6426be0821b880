"""Fixtures of the capture and playback tests (helpers: device_helpers.py)."""
from __future__ import annotations

import pytest


@pytest.fixture
def lost_virtual_mic(virtual_mic):
    """The virtual mic, whose daemon the test may kill (or whose feeding it may
    pause); resumed and restarted afterwards."""
    yield virtual_mic
    virtual_mic.pause(False)
    virtual_mic.ensure_running()
