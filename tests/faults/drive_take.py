"""A recording writer to be killed: ``python -m tests.faults.drive_take TAKES_DIR SEED``.

Streams real speech (:func:`tests.faults.drive_take.source`) into :class:`engine.audio.take.TakeWriter`
takes in chunks, as the studio's timer does, and finishes some of them. One flushed line each:
``ready``; ``wrote <take_id> <samples>`` after each ``write`` (the audio is in the kernel);
``finished <take_id> <samples>`` after ``finish``.
"""
from __future__ import annotations

import random
import sys
import time

import numpy as np
import soundfile as sf

from engine.audio.take import TakeWriter
from tests.helpers import SAMPLES

CHUNK = 800  # 50 ms at 16 kHz


def source() -> np.ndarray:
    """``(samples,)`` float32: the bundled 16 kHz sample clips, concatenated (about 2 s)."""
    parts = [sf.read(str(p), dtype="float32")[0] for p in sorted(SAMPLES.glob("sc_*.wav"))]
    return np.concatenate([p if p.ndim == 1 else p.mean(axis=1) for p in parts]).astype(np.float32)


def main(argv: list[str]) -> None:
    folder, seed = argv[0], int(argv[1])
    rng = random.Random(seed)
    audio = source()
    print("ready", flush=True)
    while True:
        take = TakeWriter(folder)
        n = 0
        length = rng.randint(2, len(audio) // CHUNK)
        for _ in range(length):
            take.write(audio[n:n + CHUNK])
            n += len(audio[n:n + CHUNK])
            print(f"wrote {take.take_id} {n}", flush=True)
            time.sleep(rng.uniform(0.0, 0.01))
        take.finish()
        print(f"finished {take.take_id} {n}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
