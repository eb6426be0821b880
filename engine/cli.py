"""Headless command line: ``sayso transcribe | eval | train | personalize | models``.

``--model`` of ``transcribe`` and ``eval`` is any model of the registry
(``sayso models list``: ``sayso-base``, ``whisper-base``, ``whisper-tiny.en`` …) or a
model folder of either family (Sayso checkpoint, CTranslate2 Whisper folder).

Runs without Qt (on a server, in CI, under ``torchrun``). Every user error
(a bad or unreadable file, vocabulary, manifest, checkpoint or job file, a bad
flag, a full disk, a read-only folder) prints one line ``sayso: error: …`` and
exits with status 2; no traceback. ``transcribe`` goes on with the other files
after one it cannot read (one line each) and exits 2 if any failed. Warnings
about audio it reads anyway (a truncated file) are one line ``sayso: warning: …``.

``sayso personalize --base MODEL --train MANIFEST.jsonl --out DIR`` adapts a model of either
family to a person's takes (Sayso: :func:`engine.train.personalize.personalize`; Whisper: LoRA,
:func:`engine.whisper.personalize.personalize_whisper`), registers the result with its lineage and
prints its registry id and folder, ready for ``sayso transcribe --model ID``.

``sayso train --config job.toml`` reads a training job from a TOML file (see
:func:`load_job` for the keys, ``resources/examples/job.toml`` for a sample);
``sayso train --train … --dev … --out …`` builds the same job from flags, and
flags given next to ``--config`` override the file. Both run the same
:class:`engine.train.trainer.Trainer`, which also runs under
``torchrun --nproc_per_node=N -m engine.cli train --config job.toml``.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from engine.audio.errors import AudioError
from engine.audio.io import AUDIO_LOG, audio_info
from engine.checkpoint_layout import CheckpointError
from engine.command_line import OneLineParser, os_error_line, positive_int
from engine.data.errors import ProjectError
from engine.data.manifest import ManifestError, read_manifest
from engine.data.utterance import Utterance
from engine.decode.vocabulary import Vocabulary, VocabularyError
from engine.registry.index import RegistryError
from engine.train.errors import TrainingError

if TYPE_CHECKING:
    from engine.train.trainer import TrainConfig


def _recognizer(args):
    """The recognizer of ``--model`` (a registry id such as ``whisper-base``, or a model folder of
    either family; default the bundled model), with ``--threads`` CPU threads."""
    from engine.registry.index import ModelRegistry
    from engine.resources import BUNDLED_MODEL

    return ModelRegistry().recognizer(args.model or BUNDLED_MODEL, threads=args.threads)


def cmd_transcribe(args) -> int:
    from engine.text.captions import transcript_text, write_transcript

    fmt = "json" if args.json else args.format
    if fmt in ("srt", "vtt", "txt") and len(args.files) > 1 and args.output_dir is None:
        print(f"sayso: error: --format {fmt} with several files needs --output-dir DIR (one file each).",
              file=sys.stderr)
        return 2
    if args.output_dir is not None:
        try:
            args.output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"sayso: error: {args.output_dir}: cannot write there ({exc.strerror or exc}).", file=sys.stderr)
            return 2
    vocab = Vocabulary.from_file(args.vocabulary) if args.vocabulary else None
    files, failed = [], 0
    for f in args.files:  # headers first: a missing file, a FIFO or a folder fails before the model loads
        try:
            audio_info(f)
            files.append(f)
        except AudioError as exc:
            print(f"sayso: error: {exc}", file=sys.stderr)
            failed += 1
    if not files:
        return 2
    rec = _recognizer(args)
    for f in files:
        try:
            r = rec.transcribe_file(f, vocab, attention=False)
        except AudioError as exc:
            print(f"sayso: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        if args.output_dir is not None:
            out = write_transcript(args.output_dir / f"{Path(f).stem}.{'txt' if fmt == 'text' else fmt}", r,
                                   "txt" if fmt == "text" else fmt)
            print(out)
        elif fmt == "json":
            print(json.dumps({"file": str(f), **r.to_json()}))
        elif fmt == "text":
            print(f"{f}\t{r.text}" if len(args.files) > 1 else r.text)
        else:
            print(transcript_text(r, fmt), end="")
    return 2 if failed else 0


def cmd_eval(args) -> int:
    from tqdm import tqdm

    from engine.decode.evaluate import evaluate

    vocab = Vocabulary.from_file(args.vocabulary) if args.vocabulary else None
    utts = read_manifest(args.manifest)
    rec = _recognizer(args)
    with tqdm(total=len(utts), desc="eval", unit="utt", disable=not sys.stderr.isatty()) as bar:
        report = evaluate(rec, utts, vocab, progress=lambda i, n: bar.update(1))
    worst = report.worst(args.worst)
    if args.json:
        print(json.dumps({"wer": report.wer, "cer": report.cer, "rtf": report.rtf, "utterances": len(utts),
                          "worst": [w.__dict__ for w in worst]}, indent=2))
        return 0
    print(f"WER {report.wer:.2%}  CER {report.cer:.2%}  RTF {report.rtf:.3f}  ({len(utts)} utterances, "
          f"{report.audio_seconds:.0f} s of audio)")
    print("worst utterances:")
    for w in worst:
        print(f"  WER {w.wer:6.1%}  ref: {w.reference!r}  hyp: {w.hypothesis!r}  {Path(w.audio_filepath).name}")
    return 0


class JobError(ValueError):
    """A training job file or flag that cannot be used; the message names the file and key."""


@dataclass
class TrainSettings:
    """One training run: what ``sayso train`` needs, from a TOML file, from flags, or both."""

    train: Path | None = None
    dev: Path | None = None
    out: Path | None = None
    init_from: Path | None = None
    resume: bool = False
    epochs: int | None = None
    lr: float | None = None
    warmup_steps: int | None = None
    batch_seconds: float | None = None
    max_batch: int | None = None
    threads: int = 2
    augment: bool = True
    seed: int = 0
    patience: int = 0
    device: str = "auto"
    model: dict = field(default_factory=dict)
    loss: dict = field(default_factory=dict)
    teacher: str = ""
    unlabeled: Path | None = None
    source: str = ""
    """The TOML file's name, for error messages ('' for a job from flags only)."""


_JOB_TYPES = {
    "train": Path, "dev": Path, "out": Path, "init_from": Path, "resume": bool, "epochs": int, "lr": float,
    "warmup_steps": int, "batch_seconds": float, "max_batch": int, "threads": int, "augment": bool, "seed": int,
    "patience": int, "device": str, "model": dict, "loss": dict, "teacher": str, "unlabeled": Path,
}
_TYPE_NAMES = {Path: "a path (string)", bool: "true or false", int: "an integer", float: "a number",
               str: "a string", dict: "a table"}


def _check_type(source: str, key: str, value, kind):
    ok = (isinstance(value, bool) if kind is bool
          else isinstance(value, int) and not isinstance(value, bool) if kind is int
          else isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float
          else isinstance(value, str) if kind in (str, Path)
          else isinstance(value, dict))
    if not ok:
        raise JobError(f"{source}: {key} must be {_TYPE_NAMES[kind]}, got {value!r}")
    return float(value) if kind is float else value


def _check_table(source: str, name: str, table: dict, schema) -> dict:
    defaults = {f.name: f.default for f in fields(schema)}
    allowed = {k: v for k, v in defaults.items() if k != "vocab_size"}  # the tokenizer fixes vocab_size
    out = {}
    for key, value in table.items():
        if key not in allowed:
            raise JobError(f"{source}: unknown key '{name}.{key}' (known in [{name}]: {', '.join(sorted(allowed))})")
        out[key] = _check_type(source, f"{name}.{key}", value, float if isinstance(allowed[key], float) else int)
    return out


def load_job(path: str | Path) -> TrainSettings:
    """Read a training job from a TOML file (sample: ``resources/examples/job.toml``).

    Top-level keys (``train``, ``dev`` and ``out`` are required; the others
    default as shown):

    ==================  =========================================================
    ``train``           training manifest (JSONL)
    ``dev``             validation manifest (JSONL)
    ``out``             output folder: ``best/``, ``last/``, ``train.log``
    ``init_from``       checkpoint folder to fine-tune from (default: from scratch)
    ``resume = false``  continue from ``out/last``
    ``epochs = 30``     epochs
    ``lr = 1.5e-3``     peak learning rate (AdamW, warmup then cosine decay)
    ``warmup_steps``    linear warmup steps (default: 400, at most about a tenth of
                        the run, :func:`engine.train.presets.scaled_warmup`)
    ``batch_seconds``   audio seconds per batch *per process* (default 80; under
                        ``torchrun`` the global batch is N × this)
    ``max_batch``       utterances per batch at most (default 64)
    ``threads = 2``     CPU threads *per process*
    ``augment = true``  speed/noise/channel augmentation, VTLP and SpecAugment;
                        ``false`` trains on the clips as they are
    ``seed = 0``        random seed (shuffling, initialization, augmentation)
    ``patience = 0``    stop after this many epochs without a better dev WER (0: never)
    ``device``          ``"auto"`` (default: a CUDA GPU if present), ``"cpu"`` or ``"cuda"``
    ``[model]``         model sizes for training from scratch, fields of
                        :class:`engine.model.config.ModelConfig` (``d_model``,
                        ``encoder_layers``, …); not with ``init_from``
    ``[loss]``          fields of :class:`engine.train.losses.LossConfig`
                        (``ctc_weight``, ``contrastive_weight``, ``label_smoothing``)
    ``teacher``         a model id or folder (``whisper-base``): it transcribes
                        ``unlabeled`` and the model also trains on those transcripts
                        (sequence-level distillation, Kim & Rush 2016)
    ``unlabeled``       a JSONL manifest (``text`` may be empty) or a Sayso project
                        folder (its unlabeled utterances outside dev and test)
    ==================  =========================================================

    Relative paths are relative to the TOML file's folder. Required keys,
    ranges and the files named are checked by :func:`check_job` (flags may
    still supply what the file leaves out).

    Raises:
        JobError: the file is missing or not TOML, a key is unknown (the message
            names it, ``model.foo`` for one inside a table) or a value has the
            wrong type.
    """
    from engine.model.config import ModelConfig
    from engine.train.losses import LossConfig

    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise JobError(f"no such job file: {path}") from None
    except IsADirectoryError:
        raise JobError(f"{path} is a folder, not a job file") from None
    except tomllib.TOMLDecodeError as exc:
        raise JobError(f"{path.name}: not valid TOML ({exc})") from None
    source = path.name
    job = TrainSettings(source=source)
    for key, value in data.items():
        if key not in _JOB_TYPES:
            raise JobError(f"{source}: unknown key '{key}' (known: {', '.join(_JOB_TYPES)})")
        value = _check_type(source, key, value, _JOB_TYPES[key])
        if _JOB_TYPES[key] is Path:
            value = Path(value).expanduser()
            value = value if value.is_absolute() else path.parent / value
        elif key == "model":
            value = _check_table(source, key, value, ModelConfig)
            try:
                ModelConfig(**value)  # sizes the model can be built with (ModelConfig.check)
            except ValueError as exc:
                raise JobError(f"{source}: [model] {exc}") from None
        elif key == "loss":
            value = _check_table(source, key, value, LossConfig)
        setattr(job, key, value)
    return job


def check_job(job: TrainSettings) -> None:
    """Refuse a job that cannot run, before loading any audio.

    Raises:
        JobError: a required setting is missing, a number is out of range, a
            manifest or the ``init_from`` checkpoint does not exist.
    """
    src = f"{job.source}: " if job.source else ""
    for key in ("train", "dev", "out"):
        if getattr(job, key) is None:
            raise JobError(f"{src}missing key '{key}' (train, dev and out are required; or give --{key})")
    positive = {"epochs": job.epochs, "lr": job.lr, "batch_seconds": job.batch_seconds, "max_batch": job.max_batch,
                "threads": job.threads}
    for key, value in positive.items():
        if value is not None and not value > 0:
            raise JobError(f"{src}{key} must be greater than 0, got {value!r}")
    for key in ("warmup_steps", "patience"):
        if (getattr(job, key) or 0) < 0:
            raise JobError(f"{src}{key} must not be negative, got {getattr(job, key)!r}")
    if job.device not in {"auto", "cpu", "cuda"}:
        raise JobError(f"{src}device must be \"auto\", \"cpu\" or \"cuda\", got {job.device!r}")
    if job.init_from and job.model:
        raise JobError(f"{src}[model] cannot be combined with init_from (the checkpoint fixes the model sizes)")
    for key, what in (("train", "training manifest"), ("dev", "validation manifest")):
        if not getattr(job, key).is_file():
            raise JobError(f"{src}{what} not found: {getattr(job, key)}")
    if job.init_from and not job.init_from.is_dir():
        raise JobError(f"{src}init_from checkpoint folder not found: {job.init_from}")
    if bool(job.teacher) != bool(job.unlabeled):
        raise JobError(f"{src}teacher and unlabeled go together: the teacher transcribes the unlabeled audio")
    if job.unlabeled and not job.unlabeled.exists():
        raise JobError(f"{src}unlabeled audio not found: {job.unlabeled} (a JSONL manifest or a project folder)")


def _job_from_args(args) -> TrainSettings:
    """The job of ``--config`` (if given) with every explicitly given flag on top."""
    job = load_job(args.config) if args.config else TrainSettings()
    for key in ("train", "dev", "out", "init_from", "epochs", "threads", "teacher", "unlabeled"):
        value = getattr(args, key)
        if value is not None:
            setattr(job, key, value)
    job.resume = job.resume or args.resume
    return job


def _no_augment():
    from engine.train.augment import AugmentConfig

    return AugmentConfig(speed_factors=(1.0,), noise_prob=0.0, lowpass_prob=0.0, telephone_prob=0.0,
                         highpass_prob=0.0, gain_db=(0.0, 0.0), vtlp=None, freq_masks=0, time_masks=0)


def train_config(job: TrainSettings, train: list[Utterance]) -> TrainConfig:
    """The :class:`~engine.train.trainer.TrainConfig` of ``job`` training on ``train`` (its utterances).

    Settings the job leaves out keep the config's defaults, except the warmup:
    without ``warmup_steps`` it is :func:`engine.train.presets.scaled_warmup`
    of ``train`` (as in the studio), so a small run is not all warmup.
    """
    from engine.model.config import ModelConfig
    from engine.train.losses import LossConfig
    from engine.train.presets import scaled_warmup
    from engine.train.trainer import TrainConfig

    cfg = TrainConfig(threads=job.threads, seed=job.seed, patience=job.patience, device=job.device,
                      init_from=str(job.init_from) if job.init_from else "",
                      model=ModelConfig(**job.model), loss=LossConfig(**job.loss))
    for key, attr in (("epochs", "epochs"), ("lr", "peak_lr"), ("warmup_steps", "warmup_steps"),
                      ("batch_seconds", "max_batch_seconds"), ("max_batch", "max_batch")):
        if getattr(job, key) is not None:
            setattr(cfg, attr, getattr(job, key))
    if not job.augment:
        cfg.augment = _no_augment()
    return cfg if job.warmup_steps is not None else scaled_warmup(cfg, train)


def run_job(job: TrainSettings) -> list:
    """Train as ``job`` says (the one code path behind every ``sayso train`` form); returns the epoch reports."""
    from engine.train import distributed
    from engine.train.trainer import Trainer

    check_job(job)
    train, dev = read_manifest(job.train), read_manifest(job.dev)
    train = train + teacher_labels(job)
    cfg = train_config(job, train)
    noises = []
    if job.augment:
        from engine.recipes.datasets import background_noises

        try:
            noises = background_noises()
        except FileNotFoundError:
            pass
    from engine.train.progress import progress_printer

    on_event = progress_printer() if distributed.is_main() else None
    return Trainer(cfg, job.out, on_event=on_event).fit(train, dev, noises, resume=job.resume)


def teacher_labels(job: TrainSettings) -> list[Utterance]:
    """The transcripts of ``job.unlabeled`` by ``job.teacher``, written to ``job.out/pseudo_labels.jsonl``
    (a second run resumes it) and returned as training utterances; none without a teacher.

    Raises:
        JobError: under ``torchrun`` (label once without it), or the teacher heard nothing.
        RegistryError: the teacher is neither a known model id nor a model folder.
    """
    if not job.teacher:
        return []
    from engine.recipes.distill import PSEUDO_LABELS, project_unlabeled, pseudo_label
    from engine.registry.index import ModelRegistry
    from engine.train import distributed

    if distributed.world_size() > 1:
        raise JobError("--teacher cannot run under torchrun: run it once without torchrun (the labels are kept "
                       f"in {job.out / PSEUDO_LABELS}), then train from a manifest that includes them")
    registry = ModelRegistry()
    entry = registry.prepare(registry.resolve(job.teacher))
    if job.unlabeled.is_dir():
        from engine.data.store import Project

        with Project.open(job.unlabeled, read_only=True) as project:
            unlabeled = project_unlabeled(project)
    else:
        unlabeled = read_manifest(job.unlabeled)
    if not unlabeled:
        raise JobError(f"{job.unlabeled} has no unlabeled utterance for the teacher to transcribe")
    print(f"{entry.name} transcribes {len(unlabeled)} unlabeled utterance(s)…", file=sys.stderr, flush=True)
    manifest = pseudo_label(unlabeled, job.out / PSEUDO_LABELS, entry.name, job.threads, folder=entry.path)
    labelled = read_manifest(manifest)
    if not labelled:
        raise JobError(f"the teacher {entry.name} heard no speech in {job.unlabeled}")
    print(f"{len(labelled)} utterance(s) labelled by {entry.name} ({manifest}) train beside the labelled ones",
          file=sys.stderr, flush=True)
    return labelled


def cmd_train(args) -> int:
    if args.recipe:
        if args.config:
            raise JobError("--recipe and --config cannot be combined")
        from engine.recipes import base

        return base.main(["--epochs", str(args.epochs)] if args.epochs else [])
    if not args.config and not (args.train and args.dev and args.out):
        raise JobError("give --recipe base, --config JOB.toml, or --train MANIFEST --dev MANIFEST --out DIR")
    from engine.train import distributed

    job = _job_from_args(args)
    history = run_job(job)
    if history and distributed.is_main():
        print(f"best dev WER {min(h.dev_wer for h in history):.2%}; checkpoints in {job.out}/best and {job.out}/last")
    return 0


def _step_printer(what: str):
    """``on_step(step, steps, loss)`` printing to stderr about once a second (and the last step)."""
    import time

    last = [0.0]

    def on_step(step: int, steps: int, loss: float) -> bool:
        now = time.monotonic()
        if step == steps or now - last[0] >= 1.0:
            last[0] = now
            print(f"{what}: step {step}/{steps}, loss {loss:.3f}", file=sys.stderr, flush=True)
        return False

    return on_step


def cmd_personalize(args) -> int:
    """Personalize a model of either family on a NeMo manifest; register it; print its id and folder."""
    from engine.checkpoint_layout import SAYSO_FAMILY
    from engine.registry.index import ModelRegistry

    if not args.train.is_file():
        raise JobError(f"the training manifest {args.train} does not exist")
    takes = read_manifest(args.train)
    if not takes:
        raise JobError(f"the training manifest {args.train} has no utterances")
    for u in takes:  # every take readable before the model loads
        audio_info(u.audio_path)
    out = args.out.expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise JobError(f"{out} already exists; give a new folder for the personalized model")
    registry = ModelRegistry()
    entry = registry.prepare(registry.resolve(args.base))
    if out.exists():
        out.rmdir()  # empty: written whole below
    log = lambda line: print(f"sayso: {line}", file=sys.stderr, flush=True)  # noqa: E731
    if entry.family == SAYSO_FAMILY:
        from engine.train.checkpoint import save_checkpoint
        from engine.train.personalize import PersonalizeConfig, personalize
        from engine.train.rehearsal import rehearsal_set

        cfg = PersonalizeConfig(threads=args.threads, **({"steps": args.steps} if args.steps else {}))
        base, what = rehearsal_set(seed=cfg.seed)
        log(f"rehearsal: {what}")
        from engine.recipes.datasets import background_noises
        from engine.train.augment import coloured_noises

        try:  # the studio's recipe: recorded background noise into the takes, synthetic where none is found
            noises = background_noises() or coloured_noises()
        except FileNotFoundError:
            noises = coloured_noises()
        model, tokenizer, meta, report = personalize(str(entry.path), takes, base, cfg, noises,
                                                     on_step=_step_printer("personalize"))
        folder = save_checkpoint(out, model, tokenizer, meta={**meta, "name": out.name, "personalized": {
            "from": str(entry.path), **report.to_json()}})
        new = registry.register(folder, out.name, parent=entry.id, train_data=takes, check=False,
                                notes=f"Personalized from {entry.name} on {len(takes)} take(s), {report.steps} steps.")
    else:
        from engine.whisper.personalize import WhisperPersonalizeConfig, personalize_whisper, register_personalized

        cfg = WhisperPersonalizeConfig(threads=args.threads, **({"steps": args.steps} if args.steps else {}))
        folder, report = personalize_whisper(entry.path, takes, out, cfg=cfg, on_step=_step_printer("personalize"),
                                             log=log, lineage={"base_id": entry.id, "name": out.name})
        new = register_personalized(folder, entry.path, takes, report, registry, name=out.name)
    log(f"personalized {entry.id} on {len(takes)} take(s) in {report.seconds:.1f} s; "
        f"use it with: sayso transcribe --model {new.id} FILE")
    print(f"id: {new.id}")
    print(f"folder: {folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from engine.version import version

    p = OneLineParser(prog="sayso", description="Sayso speech studio (headless commands). "
                                "Run `sayso` with no command to open the studio; `sayso --install-desktop` "
                                "adds it to the desktop's application menu (`--uninstall-desktop` removes it).")
    p.add_argument("--version", action="version", version=f"sayso {version()}")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--model", help="a model id of `sayso models list` (sayso-base, whisper-base, …) or a model "
                        "folder, Sayso or CTranslate2 Whisper (default: the bundled sayso-base)")
        sp.add_argument("--threads", type=positive_int, default=2, help="CPU threads (default 2)")

    t = sub.add_parser("transcribe", help="print the transcript of audio files")
    t.add_argument("files", nargs="+", type=Path)
    t.add_argument("--format", choices=["text", "json", "srt", "vtt", "txt"], default="text",
                   help="text: the transcript; json: one object per file (times, confidence, model); "
                        "srt/vtt: subtitles of the segments; txt: timed lines")
    t.add_argument("--json", action="store_true", help="the same as --format json")
    t.add_argument("--output-dir", type=Path, help="write <name>.<format> per file there instead of printing")
    t.add_argument("--vocabulary", type=Path, help="file with one word or phrase per line to constrain decoding")
    common(t)
    t.set_defaults(func=cmd_transcribe)

    e = sub.add_parser("eval", help="WER/CER of a model on a JSONL manifest, worst utterances first")
    e.add_argument("manifest", type=Path)
    e.add_argument("--vocabulary", type=Path)
    e.add_argument("--worst", type=int, default=10)
    e.add_argument("--json", action="store_true")
    common(e)
    e.set_defaults(func=cmd_eval)

    tr = sub.add_parser("train", help="train or fine-tune a model headless (also under torchrun)")
    tr.add_argument("--recipe", choices=["base"], help="run a bundled recipe end to end")
    tr.add_argument("--config", type=Path, metavar="JOB.toml",
                    help="training job file (keys: resources/examples/job.toml); flags given too override it")
    tr.add_argument("--train", type=Path, help="training manifest (JSONL)")
    tr.add_argument("--dev", type=Path, help="validation manifest (JSONL)")
    tr.add_argument("--out", type=Path, help="output folder for checkpoints")
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--init-from", type=Path, help="checkpoint to fine-tune from")
    tr.add_argument("--resume", action="store_true", help="continue from OUT/last")
    tr.add_argument("--threads", type=positive_int, help="CPU threads per process (default 2)")
    tr.add_argument("--teacher", metavar="MODEL", help="distil: this model (an id such as whisper-base, or a "
                    "folder) transcribes --unlabeled and the model also trains on its transcripts")
    tr.add_argument("--unlabeled", type=Path, metavar="PATH", help="audio for the teacher: a JSONL manifest "
                    "(text may be empty) or a Sayso project folder (its unlabeled utterances)")
    tr.set_defaults(func=cmd_train)

    pe = sub.add_parser("personalize", help="adapt a model (Sayso or Whisper) to a person's takes; register it")
    pe.add_argument("--base", required=True, help="the model to start from: a registry id (whisper-base, "
                    "sayso-base, …) or a model folder")
    pe.add_argument("--train", required=True, type=Path, metavar="MANIFEST.jsonl",
                    help="the takes: NeMo JSONL (audio_filepath, text, duration)")
    pe.add_argument("--out", required=True, type=Path, metavar="DIR", help="the new model's folder (must not exist)")
    pe.add_argument("--steps", type=positive_int, help="optimizer steps (default: the family's recipe)")
    pe.add_argument("--threads", type=positive_int, default=2, help="CPU threads (default 2)")
    pe.set_defaults(func=cmd_personalize)

    sub.add_parser("models", help="the model registry: list, show, register, compare, export, use, remove",
                   add_help=False)  # listed in --help; engine.registry.cli parses its arguments
    return p


def _one_line_warnings(name: str) -> None:
    """Print the warnings of logger ``name`` as one line ``sayso: warning: …`` each (not passed on)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("sayso: warning: %(message)s"))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    _one_line_warnings(AUDIO_LOG)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["models"]:  # its own parser (engine.registry.cli), --help included
        from engine.registry.cli import main as models_main

        return models_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (AudioError, ManifestError, VocabularyError, CheckpointError, TrainingError, JobError,
            RegistryError, ProjectError) as exc:
        print(f"sayso: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a missing or unreadable file, a folder given for a file, a full disk, a read-only folder
        print(f"sayso: error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sayso: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
