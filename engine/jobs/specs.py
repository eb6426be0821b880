"""What a queued job is: training, fine-tuning, personalization, evaluation and comparison (headless, no Qt).

Jobs are picklable dataclasses queued by :class:`engine.jobs.queue.JobRunner`
and run by :mod:`engine.jobs.runners` in a worker process; data is a JSONL
manifest path or a list of :class:`~engine.data.utterance.Utterance`:

- :class:`TrainJob`: :class:`~engine.train.trainer.Trainer` from scratch;
- :class:`FineTuneJob`: the same, starting from a checkpoint (``init_from``);
- :class:`PersonalizeJob`: few-shot :func:`~engine.train.personalize.personalize`,
  the result saved to ``<out_dir>/model``;
- :class:`EvaluateJob`: :func:`~engine.decode.evaluate.evaluate` of a checkpoint
  on a test set, the report saved to ``<out_dir>/eval.json``;
- :class:`CompareJob`: :meth:`~engine.registry.index.ModelRegistry.compare` of two
  registered models on the same test set, saved to ``<out_dir>/compare.json``.

Each has a ``kind`` (``"train"``, ``"finetune"``…), a ``noun`` for messages
(``"training"``…) and ``resume`` (see :meth:`engine.jobs.queue.JobRunner.resume`).
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from engine.checkpoint_layout import TRAINER_STATE_FILE
from engine.data.utterance import Utterance

if TYPE_CHECKING:  # the caller's process need not import torch
    from engine.train.personalize import PersonalizeConfig
    from engine.train.trainer import TrainConfig
    from engine.whisper.personalize import WhisperPersonalizeConfig

JobKind = Literal["train", "finetune", "personalize", "evaluate", "compare"]

Data = str | os.PathLike | Sequence[Utterance]
"""Utterances: a JSONL manifest (:func:`engine.data.manifest.read_manifest`) or a list."""


@dataclass
class TrainJob:
    """Train a model from scratch into ``out_dir`` (``last/``, ``best/``, ``train.log``, ``job.log``).

    Attributes:
        config: a :class:`~engine.train.trainer.TrainConfig` (``None``: the defaults).
        noises: mix the Speech Commands background noises into the augmentation
            (:func:`engine.recipes.datasets.background_noises`; none if absent).
        resume: continue from ``out_dir/last`` (see :meth:`~engine.jobs.queue.JobRunner.resume`).
        teacher: a model id of the registry or a model folder, of either family (normally
            Whisper, e.g. ``"whisper-base"``): before training it
            transcribes ``unlabeled`` into ``out_dir/pseudo_labels.jsonl``
            (:func:`engine.recipes.distill.pseudo_label`, resumable) and the model trains on
            those transcripts beside ``train`` — sequence-level knowledge distillation
            (Kim & Rush, EMNLP 2016). ``""``: no teacher.
        unlabeled: the utterances the teacher transcribes (their ``text`` is ignored).
    """

    out_dir: str | os.PathLike
    train: Data
    dev: Data
    config: TrainConfig | None = None
    noises: bool = False
    resume: bool = False
    teacher: str | os.PathLike = ""
    unlabeled: Data = ()
    kind: ClassVar[str] = "train"
    noun: ClassVar[str] = "training"


@dataclass
class FineTuneJob(TrainJob):
    """:class:`TrainJob` that starts from the checkpoint ``init_from`` (the config's ``init_from`` is ignored)."""

    init_from: str | os.PathLike = ""
    kind: ClassVar[str] = "finetune"
    noun: ClassVar[str] = "fine-tuning"


@dataclass
class PersonalizeJob:
    """Few-shot personalization of ``checkpoint`` on ``takes``; the result goes to ``out_dir/model``.

    **A Sayso checkpoint**: ``base`` utterances are rehearsed at every step; with ``rehearse`` and no
    ``base``, the base model's own corpora are (:func:`engine.train.rehearsal.rehearsal_set`,
    if they are on this machine). ``noises``: mix recorded background noise into
    the takes (synthetic coloured noise where none is found). ``config`` is a
    :class:`~engine.train.personalize.PersonalizeConfig` (``None``: the
    defaults).

    **A CTranslate2 Whisper folder** (:func:`engine.whisper.personalize.personalize_whisper`):
    ``base`` clips are rehearsed with the base model's own transcripts of them; with ``rehearse``
    and no ``base``, :func:`engine.whisper.personalize.rehearsal_clips`; ``noises`` is ignored;
    ``config`` is a :class:`~engine.whisper.personalize.WhisperPersonalizeConfig` (anything else:
    its defaults). The exported CTranslate2 folder is registered in the model registry (``registry``:
    its folder, ``None`` the default) with its lineage (the base model, the takes, the steps), under
    ``name`` (default: the run folder's name); the report's ``model_id`` names the entry.

    ``resume`` has no effect (the run is about a minute long: it starts over).
    """

    out_dir: str | os.PathLike
    checkpoint: str | os.PathLike
    takes: Data
    base: Data = ()
    config: PersonalizeConfig | WhisperPersonalizeConfig | None = None
    noises: bool = False
    rehearse: bool = False
    resume: bool = False
    registry: str | os.PathLike | None = None
    name: str | None = None
    kind: ClassVar[str] = "personalize"
    noun: ClassVar[str] = "personalization"


@dataclass
class EvaluateJob:
    """WER/CER of ``checkpoint`` (a model folder of either family, :func:`~engine.decode.families.load_recognizer`)
    on ``test`` (optional vocabulary), decoded with ``threads`` CPU threads; the report goes to ``out_dir/eval.json``.

    ``resume`` has no effect (an evaluation starts over).
    """

    out_dir: str | os.PathLike
    checkpoint: str | os.PathLike
    test: Data
    vocabulary: tuple[str, ...] | None = None
    threads: int = 2
    worst: int = 10
    resume: bool = False
    kind: ClassVar[str] = "evaluate"
    noun: ClassVar[str] = "evaluation"


@dataclass
class CompareJob:
    """Two registered models (ids of :class:`~engine.registry.index.ModelRegistry`) on the same ``test`` set.

    Both decode every utterance (with the optional vocabulary); the figures
    are stored in both registry entries and the
    :meth:`~engine.registry.index.Comparison.to_json` report goes to
    ``out_dir/compare.json``. ``registry`` is the registry's folder (``None``:
    the default). ``resume`` has no effect.
    """

    out_dir: str | os.PathLike
    model_a: str
    model_b: str
    test: Data
    vocabulary: tuple[str, ...] | None = None
    registry: str | os.PathLike | None = None
    threads: int = 2
    resume: bool = False
    kind: ClassVar[str] = "compare"
    noun: ClassVar[str] = "comparison"


Job = TrainJob | FineTuneJob | PersonalizeJob | EvaluateJob | CompareJob


def last_checkpoint_epoch(out_dir: str | os.PathLike) -> int | None:
    """The epoch saved in ``<out_dir>/last`` (None if there is no training checkpoint)."""
    try:
        return int(json.loads((Path(out_dir) / "last" / TRAINER_STATE_FILE).read_text(encoding="utf-8"))["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def resume_hint(job: Job) -> str:
    """A sentence for a failure message: what resuming ``job`` would do (starts with a space)."""
    if job.kind not in ("train", "finetune"):
        return " Run it again to start over."
    epoch = last_checkpoint_epoch(job.out_dir)
    if epoch is None:
        return " No checkpoint was saved yet; resuming starts from the beginning."
    return f" The last checkpoint (after epoch {epoch}) is kept; resume continues from it."
