"""A project-store writer to be killed: ``python -m tests.faults.drive_store import|edits FOLDER RUN SEED``.

Protocol (one flushed line each, on stdout):

* ``ready``: the project is open; writes start now.
* import: ``intent <tag> <n>`` before ``import_items`` of ``n`` utterances tagged ``<tag>``, then
  ``ok <tag>`` once it returned (committed). Loops until killed (or ``--ops`` imports).
* edits: ``intent add <new>``, ``intent upd <uid> <old> <new>``, ``intent undo <uid> <old> <new>`` (``old``/``new``:
  the utterance's transcript before/after, ``-`` for absent), then ``ok add <uid> <text>`` / ``ok upd`` /
  ``ok undo`` once committed. Transcripts have no spaces.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

from engine.data.store import Project
from engine.data.utterance import Utterance
from tests.helpers import SAMPLES

CLIPS = (SAMPLES / "sc_yes_03401e93.wav", SAMPLES / "sc_no_03401e93.wav")
BATCH = 400
ABSENT = "-"


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def do_import(project: Project, run: str, rng: random.Random, ops: int) -> None:
    k = 0
    while ops <= 0 or k < ops:
        tag = f"{run}-b{k}"
        n = rng.randint(BATCH // 2, BATCH)
        items = [Utterance(CLIPS[i % 2], f"{tag} {i}", (i % 90) / 100, (i % 90) / 100 + 0.05,
                           speaker=f"speaker {i % 7}", split="train", tags=(tag,)) for i in range(n)]
        say(f"intent {tag} {n}")
        project.import_items(items, f"{tag}.jsonl")
        say(f"ok {tag}")
        k += 1


def do_edits(project: Project, run: str, rng: random.Random, ops: int) -> None:
    rec = project.recordings()[0].id
    mine: list[tuple[int, str, str]] = []   # this run's undoable edits: (uid, old, new), newest last
    text: dict[int, str] = {u.id: u.text for u in project.fetch(limit=1_000_000)}
    k = 0
    while ops <= 0 or k < ops:
        new = f"{run}-e{k}"
        roll = rng.random()
        if roll < 0.35 or not text:
            say(f"intent add {new}")
            uid = project.add_utterance(rec, 0.1, 0.6, new)
            mine.append((uid, ABSENT, new))
            text[uid] = new
            say(f"ok add {uid} {new}")
        elif roll < 0.8 or not mine:
            uid = rng.choice(sorted(text))
            old = text[uid]
            say(f"intent upd {uid} {old} {new}")
            project.update_utterance(uid, transcript=new)
            mine.append((uid, old, new))
            text[uid] = new
            say(f"ok upd {uid}")
        else:
            uid, old, new_then = mine.pop()
            say(f"intent undo {uid} {new_then} {old}")
            done = project.undo()
            if done is None or not done.endswith(f"utterance {uid}"):
                raise SystemExit(f"undo reverted {done!r}, expected an edit of utterance {uid}")
            if old == ABSENT:
                del text[uid]
            else:
                text[uid] = old
            say("ok undo")
        k += 1


def main(argv: list[str]) -> None:
    mode, folder, run, seed = argv[0], Path(argv[1]), argv[2], int(argv[3])
    ops = int(argv[4]) if len(argv) > 4 else 0
    if not (folder / "project.sqlite").exists():
        with Project.create(folder) as p:
            p.add_recording(CLIPS[0])
    project = Project.open(folder)
    say("ready")
    rng = random.Random(seed)
    (do_import if mode == "import" else do_edits)(project, run, rng, ops)
    project.close()
    say("done")


if __name__ == "__main__":
    main(sys.argv[1:])
