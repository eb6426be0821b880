"""The durable writers under test and the invariants checked after each kill.

Each :class:`Writer` keeps its state in one work folder, runs its ``drive_*`` process through
:func:`tests.faults.harness.run_and_kill` and checks what the kill left with :meth:`Writer.check`,
which returns an :class:`Outcome`:

* ``lost``: facts the writer reported committed (a flushed ``ok`` line) that are missing;
* ``failures``: integrity failures (the store does not open or ``Project.check()`` is not ``[]``,
  a checkpoint does not load or resume, an unparsable ``registry.json`` or an entry without its
  folder, a take that is not a readable WAV, a half-applied write);
* ``orphans``: temporary folders or files a kill left that the next start did not remove.
"""
from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults.harness import Run, run_and_kill, run_to_end

ABSENT = "-"


@dataclass
class Outcome:
    """What one kill (or a final clean start) left. ``facts``: committed facts verified."""

    killed: bool = False
    facts: int = 0
    lost: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.failures or self.orphans)


def _intents(lines: list[str]) -> tuple[list[list[str]], list[str] | None]:
    """``(ok lines as words, the last intent without its ok or None)``."""
    oks, pending = [], None
    for line in lines:
        words = line.split()
        if words[:1] == ["intent"]:
            pending = words[1:]
        elif words[:1] == ["ok"]:
            oks.append(words[1:])
            pending = None
    return oks, pending


class Writer:
    """One durable writer. ``delay``: seconds after the process's first line when it is killed."""

    name = ""
    delay = (0.0, 1.0)

    def __init__(self, work: Path) -> None:
        self.work = Path(work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.runs = 0

    def kill_once(self, rng: random.Random) -> Outcome:
        """Run the writer, kill it at a random moment, check what it left."""
        self.runs += 1
        run = run_and_kill(self.module, self.args(rng), rng, self.delay)
        out = self.check(run)
        out.killed = run.killed
        return out

    def finish(self) -> Outcome:
        """A last clean start after the kills: its checks (e.g. temp folders removed)."""
        return Outcome()

    module = ""

    def args(self, rng: random.Random) -> list:
        raise NotImplementedError

    def check(self, run: Run) -> Outcome:
        raise NotImplementedError


# ---------------------------------------------------------------- project store


def _open_project(folder: Path, out: Outcome):
    from engine.data.errors import ProjectError
    from engine.data.store import Project
    try:
        project = Project.open(folder)
    except ProjectError as exc:
        out.failures.append(f"Project.open: {exc}")
        return None
    problems = project.check()
    if problems:
        out.failures.append(f"Project.check(): {problems[:3]}")
    return project


class StoreImport(Writer):
    """``import_items`` of 200–400 utterances per call, in a loop. Each import is all or nothing."""

    name = "import"
    module = "tests.faults.drive_store"
    delay = (0.0, 2.0)
    MAX_ROWS = 20_000  # then a new project, so checks stay fast

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.committed: dict[str, int] = {}  # tag -> utterances, in the current project
        self.folder = self.work / "p0"

    def args(self, rng):
        if sum(self.committed.values()) > self.MAX_ROWS:
            self.folder, self.committed = self.work / f"p{self.runs}", {}
        return ["import", self.folder, f"r{self.runs}", rng.randrange(2**31)]

    def check(self, run):
        from engine.data.store import UtteranceFilter
        out = Outcome()
        oks, pending = _intents(run.lines)
        sizes = {w[0]: int(w[1]) for w in (line.split()[1:] for line in run.lines if line.startswith("intent"))}
        for (tag,) in oks:
            self.committed[tag] = sizes[tag]
        project = _open_project(self.folder, out)
        if project is None:
            return out
        with project:
            for tag, n in self.committed.items():
                got = project.count(UtteranceFilter(tag=tag))
                out.facts += 1
                if got == 0:
                    out.lost.append(f"import {tag}: committed {n} utterances, none left")
                elif got != n:
                    out.failures.append(f"import {tag}: {got} of {n} utterances")
            if pending:
                tag, n = pending[0], int(pending[1])
                got = project.count(UtteranceFilter(tag=tag))
                if got not in (0, n):
                    out.failures.append(f"import {tag} cut by the kill: {got} of {n} utterances (all or none)")
                elif got:
                    self.committed[tag] = n
        return out


class StoreEdits(Writer):
    """``add_utterance`` / ``update_utterance`` / ``undo`` in a loop, in one project."""

    name = "edits"
    module = "tests.faults.drive_store"
    delay = (0.0, 1.5)
    MAX_ROWS = 3_000

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.folder = self.work / "p0"
        self.expected: dict[int, str] | None = None  # uid -> transcript, as last verified

    def args(self, rng):
        if self.expected is not None and len(self.expected) > self.MAX_ROWS:
            self.folder, self.expected = self.work / f"p{self.runs}", None
        return ["edits", self.folder, f"r{self.runs}", rng.randrange(2**31)]

    def check(self, run):
        out = Outcome()
        expected = dict(self.expected or {})
        pending = None
        for line in run.lines:
            w = line.split()
            if w[:2] == ["intent", "add"]:
                pending = ("add", None, ABSENT, w[2])
            elif w[:2] in (["intent", "upd"], ["intent", "undo"]):
                pending = (w[1], int(w[2]), w[3], w[4])
            elif w[:2] == ["ok", "add"]:
                expected[int(w[2])] = w[3]
                pending = None
            elif w[:1] == ["ok"]:
                _, uid, _, new = pending
                if new == ABSENT:
                    expected.pop(uid, None)
                else:
                    expected[uid] = new
                pending = None
            out.facts += line.startswith("ok")
        project = _open_project(self.folder, out)
        if project is None:
            return out
        with project:
            found = {u.id: u.text for u in project.fetch(limit=1_000_000)}
        if pending is not None:
            kind, uid, old, new = pending
            if kind == "add":
                extra = sorted(set(found) - set(expected))
                if len(extra) == 1 and found[extra[0]] == new:
                    expected[extra[0]] = new  # committed just before the kill
            elif found.get(uid, ABSENT) == new:
                if new == ABSENT:
                    expected.pop(uid, None)
                else:
                    expected[uid] = new
        for uid, text in expected.items():
            if uid not in found:
                out.lost.append(f"utterance {uid} ({text!r}) is gone")
            elif found[uid] != text:
                out.lost.append(f"utterance {uid}: {found[uid]!r}, committed {text!r}")
        for uid in sorted(set(found) - set(expected)):
            out.failures.append(f"utterance {uid} ({found[uid]!r}) was never reported")
        self.expected = found
        return out


# ---------------------------------------------------------------- training


class Training(Writer):
    """``Trainer.fit(resume=True)`` of a tiny model, one or two steps per epoch (``last/`` every epoch)."""

    name = "training"
    module = "tests.faults.drive_train"
    delay = (0.0, 3.0)

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.out = self.work / "run"
        self.saved = 0  # epochs in last/ at the last check
        self.orphans: list[Path] = []  # temp folders the last kill left

    def args(self, rng):
        return [self.out]

    def _temp_folders(self) -> list[Path]:
        from engine.checkpoint_layout import temp_siblings
        return temp_siblings(self.out / "last") + temp_siblings(self.out / "best")

    def _check_start(self, run: Run, out: Outcome) -> None:
        """What a start must do: resume from what ``last/`` held, remove the old temp folders."""
        started = any(line.startswith("epoch") for line in run.lines)
        resumed = [int(line.split()[1]) for line in run.lines if line.startswith("resumed")]
        if started and self.saved and resumed != [self.saved]:
            out.lost.append(f"resume: last/ held {self.saved} epochs, the next start resumed {resumed or 'nothing'}")
        if started:
            out.orphans += [f"{p.name} (left by a kill, still there after the next start)"
                            for p in self.orphans if p.exists()]

    def check(self, run):
        from engine.checkpoint_layout import CheckpointError, has_trainer_state
        from engine.train.checkpoint import load_checkpoint
        out = Outcome()
        self._check_start(run, out)
        epochs = [int(line.split()[1]) for line in run.lines if line.startswith("epoch")]
        reported = max(epochs, default=1) - 1  # epochs that were in last/ when the writer said so
        last = self.out / "last"
        if not last.exists():
            # a kill between save_checkpoint's two renames leaves only .last.old: the next start must cope
            if reported or self.saved:
                out.failures.append(f"last/ is missing ({sorted(p.name for p in self.out.iterdir())})")
            self.orphans = self._temp_folders()
            return out
        for name in ("last", "best"):
            if (self.out / name).exists():
                try:
                    _, _, meta = load_checkpoint(self.out / name)
                except CheckpointError as exc:
                    out.failures.append(f"{name}/ does not load: {exc}")
                    continue
                if name == "last":
                    out.facts += 1
                    if not has_trainer_state(last):
                        out.failures.append("last/ has no trainer state")
                    if meta.get("epoch", 0) < max(reported, self.saved):
                        out.lost.append(f"last/ holds epoch {meta.get('epoch')}, reported {reported} "
                                        f"(before: {self.saved})")
                    self.saved = int(meta.get("epoch", 0))
        self.orphans = self._temp_folders()
        return out

    def finish(self):
        """One clean start (resume, one more epoch): it resumes and removes every temp folder."""
        out = Outcome()
        run = run_to_end(self.module, [self.out, self.saved + 1])
        self._check_start(run, out)
        out.orphans += [p.name for p in self._temp_folders()]
        return out


# ---------------------------------------------------------------- model registry


class Registry(Writer):
    """``register(copy=True)`` / ``remove`` / ``set_active`` in a loop on one registry folder."""

    name = "registry"
    module = "tests.faults.drive_registry"
    delay = (0.0, 1.5)

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.root = self.work / "models"
        self.source = self.work / "source"
        self.present: set[str] = set()
        if not self.source.exists():
            run_to_end(self.module, ["--make-checkpoint", self.source])

    def args(self, rng):
        return [self.root, self.source, f"r{self.runs}", rng.randrange(2**31)]

    def check(self, run):
        from engine.checkpoint_layout import CheckpointError
        from engine.train.checkpoint import load_checkpoint
        from tests.faults.drive_registry import registry
        out = Outcome()
        oks, pending = _intents(run.lines)
        for kind, mid in oks:
            if kind == "reg":
                self.present.add(mid)
            elif kind == "rm":
                self.present.discard(mid)
        index = self.root / "registry.json"
        try:
            listed = {e["id"]: e for e in json.loads(index.read_text(encoding="utf-8"))["models"]}
        except FileNotFoundError:
            listed = {}
            if self.present:
                out.failures.append("registry.json is missing")
        except (ValueError, KeyError, TypeError) as exc:
            out.failures.append(f"registry.json does not parse: {exc}")
            return out
        reg = registry(self.root)
        entries = {e.id: e for e in reg.list() if not e.read_only}
        if reg.recovered is not None:
            out.failures.append(f"registry.json was corrupt (kept as {reg.recovered.name})")
        if set(entries) != set(listed):
            out.failures.append(f"list() {sorted(entries)} differs from registry.json {sorted(listed)}")
        if pending and pending[0] == "reg" and pending[1] in entries:
            self.present.add(pending[1])
        if pending and pending[0] == "rm" and pending[1] not in entries:
            self.present.discard(pending[1])
        for mid in sorted(self.present):
            out.facts += 1
            if mid not in entries:
                out.lost.append(f"registered model {mid} is not listed")
        for mid in sorted(set(entries) - self.present):
            out.failures.append(f"model {mid} is listed but was never registered (or was removed)")
        for mid, entry in entries.items():
            if not entry.path.is_dir():
                out.failures.append(f"model {mid}: its folder {entry.path} is missing")
                continue
            try:
                load_checkpoint(entry.path)
            except CheckpointError as exc:
                out.failures.append(f"model {mid} does not load: {exc}")
        reg.remove_orphans(min_age_s=0)  # what the next change does once they are ORPHAN_AGE_S old
        out.orphans += [f"{p.name} (temp)" for p in self.root.glob(".*tmp*")]
        out.orphans += [f"{p.name}/ (not in the index)" for p in self.root.iterdir()
                        if p.is_dir() and not p.name.startswith(".") and p.name not in entries]
        self.present = set(entries)
        return out


# ---------------------------------------------------------------- takes


class Takes(Writer):
    """:class:`engine.audio.take.TakeWriter` fed real speech in 50 ms chunks; some takes finished.
    After each kill the studio's recovery (``find_unfinished`` + ``recover``) runs."""

    name = "takes"
    module = "tests.faults.drive_take"
    delay = (0.0, 1.0)

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.folder = self.work / "takes"
        self.verified: set[str] = set()

    def args(self, rng):
        return [self.folder, rng.randrange(2**31)]

    def check(self, run):
        import numpy as np
        import soundfile as sf

        from engine.audio.pcm import to_pcm16
        from engine.audio.take import TakeError, find_unfinished, recover
        from tests.faults.drive_take import CHUNK, source
        out = Outcome()
        wrote: dict[str, int] = {}
        finished: set[str] = set()
        for line in run.lines:
            w = line.split()
            if w[0] in ("wrote", "finished"):
                wrote[w[1]] = int(w[2])
            if w[0] == "finished":
                finished.add(w[1])
        try:
            for u in find_unfinished(self.folder):
                # killed between creating the file and its sidecar: an empty take, which recover() removes
                if u.problem not in (None, "holds no audio", "no sidecar; holds no audio"):
                    out.failures.append(f"unfinished take {u.take_id}: {u.problem}")
                recover(u)
        except TakeError as exc:
            out.failures.append(f"recovery: {exc}")
        left = sorted(p.name for p in self.folder.iterdir() if ".partial" in p.name or p.name.startswith("."))
        out.orphans += [f"{n} (after recovery)" for n in left]
        pcm = to_pcm16(source())
        for take_id, n in wrote.items():
            out.facts += 1
            wav = self.folder / f"{take_id}.wav"
            if not wav.exists():
                out.lost.append(f"take {take_id} ({n} samples written) has no WAV")
                continue
            try:
                data, rate = sf.read(str(wav), dtype="int16")
            except (RuntimeError, sf.LibsndfileError) as exc:
                out.failures.append(f"take {take_id}: unreadable WAV ({exc})")
                continue
            if rate != 16_000 or data.ndim != 1:
                out.failures.append(f"take {take_id}: {rate} Hz, shape {data.shape}")
            elif len(data) < n:
                out.lost.append(f"take {take_id}: {len(data)} samples, {n} were written")
            elif len(data) > n + (0 if take_id in finished else CHUNK) or not np.array_equal(data, pcm[:len(data)]):
                out.failures.append(f"take {take_id}: {len(data)} samples do not match the audio written")
        for wav in self.folder.glob("*.wav"):  # keep the folder small: verified takes are done with
            wav.unlink()
        return out


WRITERS = (StoreImport, StoreEdits, Training, Registry, Takes)
"""Every writer, in the order the suites run them."""


def remove(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
