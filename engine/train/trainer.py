"""The trainer: joint CTC/attention/contrastive training with AdamW.

AdamW (Loshchilov & Hutter 2019), linear warmup + cosine decay, gradient
clipping, speed/noise/channel augmentation and SpecAugment, validation CER
and WER (jiwer) every epoch, atomic safetensors checkpoints (``last`` every
epoch, ``best`` by validation WER) and resume from ``last``.

The same code runs under ``torchrun`` with DistributedDataParallel: when
``WORLD_SIZE`` > 1, :meth:`Trainer.fit` joins the process group
(:mod:`engine.train.distributed`: gloo on CPU, nccl on CUDA), each rank trains
on its share of the batches (the same number on every rank), gradients are
averaged across ranks, only rank 0 validates, logs and writes checkpoints, the
ranks agree on cancel, early stop and non-finite losses, and the group is
destroyed at the end. The global batch is ``WORLD_SIZE × max_batch_seconds``.
Mixed precision (``torch.autocast`` float16 + ``GradScaler``) is used only on a
CUDA GPU.
"""
from __future__ import annotations

import logging
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import jiwer
import numpy as np
import torch
from torch.utils.data import DataLoader

from engine.audio.features import LogMel
from engine.checkpoint_layout import CheckpointError, finish_interrupted_write, has_trainer_state, temp_siblings
from engine.data.utterance import Utterance
from engine.decode.ctc import greedy
from engine.model.config import ModelConfig
from engine.model.cross_modal import CrossModalModel
from engine.text.tokenizer import CharTokenizer
from engine.train import distributed
from engine.train.augment import AugmentConfig, SpecAugment, WaveAugment
from engine.train.checkpoint import load_checkpoint, load_trainer_state, save_checkpoint
from engine.train.dataset import DurationBatchSampler, SpeechDataset, collate, pad_audio
from engine.train.errors import NonFiniteLossError, TrainingError
from engine.train.losses import JointLoss, LossConfig
from engine.train.schedule import warmup_cosine

log = logging.getLogger("sayso.train")

CHECKPOINT_NAMES = ("last", "best")
"""The checkpoint folders a run writes in its output folder: ``last/`` every epoch (with the optimizer,
to resume from), ``best/`` at each better validation WER."""




@dataclass
class TrainConfig:
    epochs: int = 30
    peak_lr: float = 1.5e-3
    weight_decay: float = 1e-2
    warmup_steps: int = 400
    grad_clip: float = 5.0
    max_batch_seconds: float = 80.0
    max_batch: int = 64
    seed: int = 0
    threads: int = 2
    patience: int = 0
    """Stop after this many epochs without a better validation WER (0: never)."""
    init_from: str = ""
    """A checkpoint to fine-tune from ('' trains from scratch)."""
    device: str = "auto"
    """``"auto"`` (the process's CUDA GPU if there is one, else the CPU), ``"cpu"`` or ``"cuda"``."""
    amp: bool = True
    """Mixed precision (float16 autocast + gradient scaling) when training on a CUDA GPU; never on the CPU."""
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class EpochReport:
    epoch: int
    train_loss: float
    ctc_loss: float
    attention_loss: float
    contrastive_loss: float
    dev_wer: float
    dev_cer: float
    seconds: float
    lr: float


def check_dataset(utterances: list[Utterance], name: str, minimum: int = 2) -> None:
    """Refuse data that cannot train a model, before any time is spent.

    Raises:
        TrainingError: fewer than ``minimum`` utterances, empty transcripts,
            or clips shorter than 0.1 s; the message counts and names examples.
    """
    from engine.text.normalize import normalize_text

    if len(utterances) < minimum:
        raise TrainingError(f"The {name} set has {len(utterances)} utterance(s); at least {minimum} are needed.")
    empty = [str(u.audio_path) for u in utterances if not normalize_text(u.text)]
    if empty:
        raise TrainingError(f"{len(empty)} {name} utterance(s) have an empty transcript, e.g. {empty[0]}.")
    short = [str(u.audio_path) for u in utterances if 0 < (u.duration or 0.0) < 0.1]
    if short:
        raise TrainingError(f"{len(short)} {name} utterance(s) are shorter than 0.1 s, e.g. {short[0]}.")


def evaluate_greedy(model: CrossModalModel, dataset: SpeechDataset, max_batch_seconds: float = 120.0) -> tuple[float, float, list[str]]:
    """Greedy CTC WER and CER (jiwer) of ``model`` on ``dataset``; returns ``(wer, cer, hypotheses)``."""
    model.eval()
    device = next(model.parameters()).device
    frontend = LogMel().to(device)
    hyps = [""] * len(dataset)
    sampler = DurationBatchSampler(dataset.durations, max_batch_seconds, shuffle=False)
    with torch.inference_mode():
        for batch in sampler:
            wav, wav_lengths = pad_audio([torch.from_numpy(dataset.wave(i)) for i in batch])
            feats, lengths = frontend(wav.to(device), wav_lengths.to(device))
            enc = model.encode(feats, lengths)
            for row, i in enumerate(batch):
                ids, _ = greedy(enc.ctc_log_probs[row], int(enc.lengths[row]))
                hyps[i] = dataset.tokenizer.decode(ids)
    refs = dataset.texts
    return float(jiwer.wer(refs, hyps)), float(jiwer.cer(refs, hyps)), hyps


def _may_skip_parameters(cfg: TrainConfig, sampler: DurationBatchSampler, start_epoch: int) -> bool:
    """Whether some step leaves parameters out of the graph, so DDP must look for them each step.

    The contrastive term (text encoder, embedding heads, ``logit_scale``) is skipped when its
    weight is 0 or a batch holds one utterance (:func:`engine.train.losses.joint_loss`); DDP would
    otherwise wait for their gradients forever. Finding them costs a graph traversal per step,
    so it is switched on only when needed. The answer must be the same on every rank, so it
    looks at all ranks' batches (the unsharded list), which are cheap to list in advance.
    """
    if cfg.loss.contrastive_weight <= 0:
        return True
    every_rank = DurationBatchSampler(sampler.durations, sampler.max_seconds, sampler.max_batch, seed=sampler.seed)
    for epoch in range(start_epoch, cfg.epochs):
        every_rank.set_epoch(epoch)
        if any(len(batch) < 2 for batch in every_rank):
            return True
    return False


def _optimizer(model: CrossModalModel, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on the weight matrices only (not on biases, norms or embeddings)."""
    decay = [p for n, p in model.named_parameters() if p.dim() > 1 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() > 1 and "embedding" not in n)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=cfg.peak_lr, betas=(0.9, 0.98))


@dataclass
class _Run:
    """One :meth:`Trainer.fit`: what it built, and the counters the loop updates."""

    cfg: TrainConfig
    """The caller's config with the model's config filled in (a copy)."""
    model: CrossModalModel
    tokenizer: CharTokenizer
    net: torch.nn.Module
    """The loss module the steps call (:class:`JointLoss`, DDP-wrapped under ``torchrun``)."""
    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    frontend: LogMel
    specaug: SpecAugment
    dev_set: SpeechDataset | None
    """Validation data (rank 0 only)."""
    sampler: DurationBatchSampler
    loader: DataLoader
    device: torch.device
    use_amp: bool
    steps_per_epoch: int
    total_steps: int
    start_epoch: int = 0
    step: int = 0
    best_wer: float = math.inf
    history: list[EpochReport] = field(default_factory=list)
    lr: float = 0.0
    bad_epochs: int = 0
    improved: bool = False
    """The last epoch set a new best validation WER."""


class Trainer:
    """Train or fine-tune a :class:`CrossModalModel`.

    Args:
        cfg: hyper-parameters.
        out_dir: where ``last/``, ``best/`` and ``train.log`` go.
        on_event: called with plain dicts (``{"type": "progress", ...}``,
            ``"epoch"``, ``"log"``) for the studio's job view; on rank 0 only
            under ``torchrun``.
        should_stop: polled between batches; ``True`` ends training after
            saving a checkpoint (cooperative cancel). Under ``torchrun`` it is
            polled on rank 0 and its answer broadcast, so all ranks stop at
            the same step.

    ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (set by ``torchrun``) are read from
    the environment; without them the trainer is a plain single process.
    """

    def __init__(self, cfg: TrainConfig, out_dir: str | os.PathLike,
                 on_event: Callable[[dict], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> None:
        self.cfg, self.out_dir = cfg, Path(out_dir)
        self.on_event = on_event or (lambda e: None)
        self.should_stop = should_stop or (lambda: False)
        self.rank = int(os.environ.get("RANK", 0))
        self.world_size = int(os.environ.get("WORLD_SIZE", 1))

    def _emit(self, kind: str, **data) -> None:
        if self.rank == 0:
            self.on_event({"type": kind, **data})

    def _log(self, msg: str) -> None:
        if self.rank == 0:
            log.info(msg)
            with open(self.out_dir / "train.log", "a", encoding="utf-8") as fh:
                fh.write(time.strftime("%H:%M:%S ") + msg + "\n")
            self._emit("log", message=msg)

    def fit(self, train: list[Utterance], dev: list[Utterance], noises: list[np.ndarray] | None = None,
            resume: bool = False) -> list[EpochReport]:
        """Train; returns one report per epoch run (the same list on every rank).

        Under ``torchrun`` (``WORLD_SIZE`` > 1) every rank calls this with the
        same data; the process group is created here and destroyed on return
        unless the caller had already created it.

        Raises:
            TrainingError: unusable data (see :func:`check_dataset`), ranks that
                see different data, or a non-finite loss (on any rank: all raise).
        """
        check_dataset(train, "training")
        check_dataset(dev, "validation")
        device = self._device()
        owned = distributed.init("nccl" if device.type == "cuda" else "gloo")
        try:
            if self.world_size > 1:
                self.rank, self.world_size = distributed.rank(), distributed.world_size()
            reports = self._fit(train, dev, noises, resume, device)
            if owned:  # rank 0 saves after the last collective: tear the group down together (not on errors,
                distributed.barrier()  # where a rank that raised alone would wait here for ever)
            return reports
        finally:
            if owned:
                distributed.cleanup()

    def _device(self) -> torch.device:
        want = self.cfg.device
        if want not in {"auto", "cpu", "cuda"}:
            raise TrainingError(f"Unknown device {want!r}: use 'auto', 'cpu' or 'cuda'.")
        if want == "cuda" and not torch.cuda.is_available():
            raise TrainingError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU.")
        if want == "cpu" or not torch.cuda.is_available():
            return torch.device("cpu")
        return torch.device("cuda", distributed.local_rank() if self.world_size > 1 else torch.cuda.current_device())

    def _fit(self, train: list[Utterance], dev: list[Utterance], noises: list[np.ndarray] | None,
             resume: bool, device: torch.device) -> list[EpochReport]:
        """The training loop: every epoch, train steps over the batches, then validate, save, and stop or go on."""
        self._seed()
        run = self._start(train, dev, noises, resume, device)
        for epoch in range(run.start_epoch, run.cfg.epochs):
            run.model.train()
            run.sampler.set_epoch(epoch)
            t0, sums, n_batches, stopped = time.time(), np.zeros(4), 0, False
            for batch in run.loader:
                losses = self._train_step(run, batch, epoch)
                n_batches += 1
                sums += losses
                self._emit("progress", stage="train", epoch=epoch + 1, epochs=run.cfg.epochs, done=n_batches,
                           total=run.steps_per_epoch, loss=losses[0], lr=run.lr)
                if self._agreed_stop():
                    stopped = True
                    break
            stopped = stopped or self._agreed_stop()
            wer, cer = self._validate(run, stopped)
            report = EpochReport(epoch + 1, *map(float, sums / max(1, n_batches)), wer, cer, time.time() - t0, run.lr)
            self._end_epoch(run, report, stopped)
            self._save(run, stopped)
            if self._should_end(run, stopped):
                break
        return run.history

    def _seed(self) -> None:
        """Threads and seeds for a reproducible run; the output folder (rank 0), cleared of
        the temporary checkpoint folders that killed runs left (:meth:`_remove_orphans`)."""
        torch.set_num_threads(self.cfg.threads)
        torch.manual_seed(self.cfg.seed)
        random.seed(self.cfg.seed)
        if self.rank == 0:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._remove_orphans()

    def _remove_orphans(self) -> None:
        """Delete the ``.last.tmp*``/``.best.tmp*`` folders (:func:`~engine.checkpoint_layout.temp_siblings`)
        that a kill during a checkpoint write left in ``out_dir`` (each a full model with its optimizer
        state); nothing else is touched. Only one training runs in an output folder at a time."""
        for name in CHECKPOINT_NAMES:
            for orphan in temp_siblings(self.out_dir / name):
                shutil.rmtree(orphan, ignore_errors=True)
                self._log(f"removed {orphan.name}, the unfinished checkpoint write of an interrupted run")

    def _model(self, device: torch.device) -> tuple[CrossModalModel, CharTokenizer, TrainConfig]:
        """The model to train (``init_from``'s weights, or new) on ``device``, its tokenizer, and a copy
        of the config holding the model's config (the caller's config is never changed)."""
        cfg = self.cfg
        if cfg.init_from:
            model, tokenizer, _ = load_checkpoint(cfg.init_from)
            cfg = replace(cfg, model=model.cfg)
            model.train()
        else:
            tokenizer = CharTokenizer()
            cfg = replace(cfg, model=replace(cfg.model, vocab_size=tokenizer.vocab_size))
            model = CrossModalModel(cfg.model)
        return model.to(device), tokenizer, cfg

    def _start(self, train: list[Utterance], dev: list[Utterance], noises: list[np.ndarray] | None,
               resume: bool, device: torch.device) -> _Run:
        """Everything the loop needs: model, data, optimizer, the loss module (DDP-wrapped under
        ``torchrun``), and the counters of ``last/`` when resuming."""
        model, tokenizer, cfg = self._model(device)
        parallel = f", {self.world_size} processes (global batch {self.world_size} × {cfg.max_batch_seconds:g} s)" \
            if self.world_size > 1 else ""
        self._log(f"model: {model.num_parameters() / 1e6:.2f}M parameters; {len(train)} training and {len(dev)} "
                  f"validation utterances; {device}{parallel}")

        augment = WaveAugment(cfg.augment, noises, seed=cfg.seed + self.rank)
        train_set = SpeechDataset(train, tokenizer, augment,
                                  progress=lambda i, n: self._emit("progress", stage="loading", done=i, total=n))
        dev_set = SpeechDataset(dev, tokenizer) if self.rank == 0 else None
        sampler = DurationBatchSampler(train_set.durations, cfg.max_batch_seconds, cfg.max_batch, seed=cfg.seed,
                                       rank=self.rank, world_size=self.world_size)
        loader = DataLoader(train_set, batch_sampler=sampler, collate_fn=collate, num_workers=0)
        frontend, specaug = LogMel().to(device), SpecAugment(cfg.augment).to(device)
        steps_per_epoch = len(sampler)
        self._check_same_data(steps_per_epoch)

        opt = _optimizer(model, cfg)
        start_epoch, step, best_wer, history = self._resume(model, opt) if resume else (0, 0, math.inf, [])
        net: torch.nn.Module = JointLoss(model, cfg.loss)
        if self.world_size > 1:
            net = torch.nn.parallel.DistributedDataParallel(
                net, device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=_may_skip_parameters(cfg, sampler, start_epoch))
            # Different dropout and SpecAugment masks on each rank (DDP has already synced the weights).
            torch.manual_seed(cfg.seed + 1000 * self.rank)
        use_amp = cfg.amp and device.type == "cuda"
        return _Run(cfg, model, tokenizer, net, opt, torch.amp.GradScaler("cuda", enabled=use_amp), frontend, specaug,
                    dev_set, sampler, loader, device, use_amp, steps_per_epoch, steps_per_epoch * cfg.epochs,
                    start_epoch, step, best_wer, history)

    def _resume(self, model: CrossModalModel, opt: torch.optim.Optimizer) -> tuple[int, int, float, list[EpochReport]]:
        """Load ``last/`` (weights, optimizer) if it holds trainer state; returns ``(epochs done, step,
        best WER, history)``, all zero/empty when there is nothing to resume."""
        last = self.out_dir / "last"
        finish_interrupted_write(last)  # a kill between save_checkpoint's two renames leaves only .last.old
        if not has_trainer_state(last):
            return 0, 0, math.inf, []
        model_state, _, _ = load_checkpoint(last)
        model.load_state_dict(model_state.state_dict())
        info = load_trainer_state(last, opt)
        try:
            best_wer = float(info.get("best_wer", math.inf))
            history = [EpochReport(**h) for h in info.get("history", [])]
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{last}: malformed trainer state (best_wer or history: {exc}).") from None
        self._log(f"resumed from {last} after epoch {info['epoch']}")
        return info["epoch"], info["step"], best_wer, history

    def _check_same_data(self, steps_per_epoch: int) -> None:
        """Under ``torchrun``: raise unless every rank runs the same number of steps per epoch.

        All ranks must run the same number of steps; they do when they read the same data.
        The mean of n and n² over ranks shows whether any rank differs (variance 0 ⇔ all equal).

        Raises:
            TrainingError: the ranks see different training data.
        """
        if self.world_size == 1:
            return
        n = float(steps_per_epoch)
        mean, mean_sq = distributed.all_reduce_mean(torch.tensor([n, n * n], dtype=torch.float64)).tolist()
        if mean_sq != mean * mean:
            raise TrainingError(
                f"The {self.world_size} processes see different training data ({steps_per_epoch} batches "
                f"per epoch on rank {self.rank}, {mean:g} on average); give every rank the same manifest.")

    def _train_step(self, run: _Run, batch, epoch: int) -> list[float]:
        """One optimizer step on one batch (learning rate, augmentation, loss, clipped AdamW step).

        Returns:
            ``[total, ctc, attention, contrastive]`` losses, the mean over ranks.

        Raises:
            NonFiniteLossError: the loss is NaN or infinite (on any rank: all raise together).
        """
        cfg, device = run.cfg, run.device
        wav, wav_lengths, targets, target_lengths, text_ids = batch
        run.lr = cfg.peak_lr * warmup_cosine(run.step, cfg.warmup_steps, run.total_steps)
        for g in run.opt.param_groups:
            g["lr"] = run.lr
        wav, wav_lengths = wav.to(device, non_blocking=True), wav_lengths.to(device)
        targets, target_lengths = targets.to(device, non_blocking=True), target_lengths.to(device)
        warp = cfg.augment.warp_factors(wav.shape[0])
        feats, lengths = run.frontend(wav, wav_lengths, warp=None if warp is None else warp.to(device))
        feats = run.specaug(feats)
        with torch.autocast(device.type, dtype=torch.float16, enabled=run.use_amp):
            out = run.net(feats, lengths, targets, target_lengths, text_ids)
        # The mean over ranks is what is reported; a NaN on any rank makes it NaN on all,
        # so every rank raises here together instead of leaving the others waiting.
        losses = distributed.all_reduce_mean(
            torch.stack([out.total.detach(), out.ctc, out.attention, out.contrastive]).float()).tolist()
        if not math.isfinite(losses[0]):
            raise NonFiniteLossError(
                f"The loss became {losses[0]} at epoch {epoch + 1}, step {run.step}. "
                "Lower the learning rate or check the data for silent or clipped clips.")
        run.opt.zero_grad(set_to_none=True)
        run.scaler.scale(out.total).backward()
        run.scaler.unscale_(run.opt)
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.grad_clip)
        run.scaler.step(run.opt)
        run.scaler.update()
        run.step += 1
        return losses

    def _validate(self, run: _Run, stopped: bool) -> tuple[float, float]:
        """Greedy-CTC validation ``(WER, CER)`` computed on rank 0 and shared; NaN for a stopped epoch."""
        wer = cer = math.nan
        if self.rank == 0 and not stopped:
            wer, cer, _ = evaluate_greedy(run.model, run.dev_set)
        wer, cer = distributed.broadcast_floats([wer, cer])
        return wer, cer

    def _end_epoch(self, run: _Run, report: EpochReport, stopped: bool) -> None:
        """Record, log and announce the epoch; update the best WER and the epochs without progress."""
        run.history.append(report)
        self._log(f"epoch {report.epoch}/{run.cfg.epochs}{' (stopped early)' if stopped else ''}: "
                  f"loss {report.train_loss:.3f} (ctc {report.ctc_loss:.3f}, att {report.attention_loss:.3f}, "
                  f"con {report.contrastive_loss:.3f}), dev WER {report.dev_wer:.2%} CER {report.dev_cer:.2%}, "
                  f"{report.seconds:.0f} s")
        self._emit("epoch", **asdict(report))
        run.improved = not stopped and report.dev_wer < run.best_wer
        if run.improved:
            run.best_wer, run.bad_epochs = report.dev_wer, 0
        elif not stopped:
            run.bad_epochs += 1

    def _save(self, run: _Run, stopped: bool) -> None:
        """Rank 0 writes ``best/`` (a better WER) and ``last/`` (with the optimizer); all ranks then wait for it.

        A stopped epoch is unfinished: ``last/`` keeps the epochs before it, and resume runs
        it again from the weights reached so far.
        """
        if self.rank == 0:
            try:
                self._write_checkpoints(run, stopped)
            except OSError as exc:  # disk full, folder not writable: one line for the user
                raise TrainingError(exc.strerror or str(exc)) from exc
        distributed.barrier()  # no rank runs ahead while rank 0 validates and writes

    def _write_checkpoints(self, run: _Run, stopped: bool) -> None:
        """Write ``best/`` (after a better WER) and ``last/`` (see :meth:`_save`).

        Raises:
            OSError: a checkpoint cannot be written (:func:`~engine.train.checkpoint.save_checkpoint`).
        """
        report = run.history[-1]
        if run.improved:
            save_checkpoint(self.out_dir / "best", run.model, run.tokenizer,
                            meta={"name": self.out_dir.name, "epoch": report.epoch, "dev_wer": report.dev_wer,
                                  "dev_cer": report.dev_cer, "train": run.cfg.to_json()})
        done = run.history[:-1] if stopped else run.history
        epoch = done[-1].epoch if done else 0
        save_checkpoint(self.out_dir / "last", run.model, run.tokenizer,
                        meta={"name": self.out_dir.name, "epoch": epoch, "train": run.cfg.to_json()},
                        optimizer=run.opt,
                        trainer_state={"epoch": epoch, "step": run.step, "best_wer": run.best_wer,
                                       "history": [asdict(h) for h in done]})

    def _should_end(self, run: _Run, stopped: bool) -> bool:
        """True after a cancel, or when ``patience`` epochs brought no better WER (agreed by all ranks)."""
        if stopped:
            self._log("stopped on request; resume continues from the last checkpoint")
            return True
        if distributed.broadcast_flag(bool(run.cfg.patience and run.bad_epochs >= run.cfg.patience)):
            self._log(f"early stop: no better validation WER for {run.cfg.patience} epochs")
            return True
        return False

    def _agreed_stop(self) -> bool:
        """``should_stop()`` polled on rank 0 and broadcast, so every rank breaks at the same step."""
        if self.world_size == 1:
            return bool(self.should_stop())
        return distributed.broadcast_flag(bool(self.should_stop()) if self.rank == 0 else False)
