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
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import jiwer
import numpy as np
import torch
from torch.utils.data import DataLoader

from engine.audio.features import LogMel
from engine.data.manifest import Utterance
from engine.decode.ctc import greedy
from engine.model.config import ModelConfig
from engine.model.cross_modal import CrossModalModel
from engine.text.tokenizer import CharTokenizer
from engine.train import distributed
from engine.train.augment import AugmentConfig, SpecAugment, WaveAugment
from engine.train.checkpoint import load_checkpoint, load_trainer_state, save_checkpoint
from engine.train.dataset import DurationBatchSampler, SpeechDataset, collate
from engine.train.losses import JointLoss, LossConfig
from engine.train.schedule import warmup_cosine

log = logging.getLogger("sayso.train")


class TrainingError(RuntimeError):
    """Training cannot start or cannot go on; the message says why (bad data, NaN loss, …)."""


class NonFiniteLossError(TrainingError):
    """The loss became NaN or infinite; the message says where and what to try."""


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
    empty = [u.audio_filepath for u in utterances if not normalize_text(u.text)]
    if empty:
        raise TrainingError(f"{len(empty)} {name} utterance(s) have an empty transcript, e.g. {empty[0]}.")
    short = [u.audio_filepath for u in utterances if 0 < u.duration < 0.1]
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
            wav, wav_lengths, _, _, _ = collate([(torch.from_numpy(dataset.audio[i].astype(np.float32) / 32767), [1], 0) for i in batch])
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
            return self._fit(train, dev, noises, resume, device)
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
        cfg, main = self.cfg, self.rank == 0
        torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        if main:
            self.out_dir.mkdir(parents=True, exist_ok=True)

        if cfg.init_from:
            model, tokenizer, _ = load_checkpoint(cfg.init_from)
            cfg.model = model.cfg
            model.train()
        else:
            tokenizer = CharTokenizer()
            cfg.model.vocab_size = tokenizer.vocab_size
            model = CrossModalModel(cfg.model)
        model.to(device)
        parallel = f", {self.world_size} processes (global batch {self.world_size} × {cfg.max_batch_seconds:g} s)" \
            if self.world_size > 1 else ""
        self._log(f"model: {model.num_parameters() / 1e6:.2f}M parameters; {len(train)} training and {len(dev)} "
                  f"validation utterances; {device}{parallel}")

        augment = WaveAugment(cfg.augment, noises, seed=cfg.seed + self.rank)
        train_set = SpeechDataset(train, tokenizer, augment,
                                  progress=lambda i, n: self._emit("progress", stage="loading", done=i, total=n))
        dev_set = SpeechDataset(dev, tokenizer) if main else None
        sampler = DurationBatchSampler(train_set.durations, cfg.max_batch_seconds, cfg.max_batch, seed=cfg.seed,
                                       rank=self.rank, world_size=self.world_size)
        loader = DataLoader(train_set, batch_sampler=sampler, collate_fn=collate, num_workers=0)
        frontend, specaug = LogMel().to(device), SpecAugment(cfg.augment).to(device)
        steps_per_epoch = len(sampler)
        if self.world_size > 1:
            # All ranks must run the same number of steps; they do when they read the same data.
            # The mean of n and n² over ranks shows whether any rank differs (variance 0 ⇔ all equal).
            n = float(steps_per_epoch)
            mean, mean_sq = distributed.all_reduce_mean(torch.tensor([n, n * n], dtype=torch.float64)).tolist()
            if mean_sq != mean * mean:
                raise TrainingError(
                    f"The {self.world_size} processes see different training data ({steps_per_epoch} batches "
                    f"per epoch on rank {self.rank}, {mean:g} on average); give every rank the same manifest.")

        decay = [p for n, p in model.named_parameters() if p.dim() > 1 and "embedding" not in n]
        no_decay = [p for n, p in model.named_parameters() if not (p.dim() > 1 and "embedding" not in n)]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=cfg.peak_lr, betas=(0.9, 0.98))
        total_steps = steps_per_epoch * cfg.epochs
        start_epoch, step, best_wer, history = 0, 0, math.inf, []
        last = self.out_dir / "last"
        if resume and (last / "trainer.json").exists():
            model_state, _, _ = load_checkpoint(last)
            model.load_state_dict(model_state.state_dict())
            info = load_trainer_state(last, opt)
            start_epoch, step, best_wer = info["epoch"], info["step"], info.get("best_wer", math.inf)
            history = [EpochReport(**h) for h in info.get("history", [])]
            self._log(f"resumed from {last} after epoch {start_epoch}")

        net: torch.nn.Module = JointLoss(model, cfg.loss)
        if self.world_size > 1:
            net = torch.nn.parallel.DistributedDataParallel(
                net, device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=_may_skip_parameters(cfg, sampler, start_epoch))
            # Different dropout and SpecAugment masks on each rank (DDP has already synced the weights).
            torch.manual_seed(cfg.seed + 1000 * self.rank)
        use_amp = cfg.amp and device.type == "cuda"
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

        bad_epochs = 0
        for epoch in range(start_epoch, cfg.epochs):
            model.train()
            sampler.set_epoch(epoch)
            t0, sums, n_batches, stopped = time.time(), np.zeros(4), 0, False
            for wav, wav_lengths, targets, target_lengths, text_ids in loader:
                lr = cfg.peak_lr * warmup_cosine(step, cfg.warmup_steps, total_steps)
                for g in opt.param_groups:
                    g["lr"] = lr
                wav, wav_lengths = wav.to(device, non_blocking=True), wav_lengths.to(device)
                targets, target_lengths = targets.to(device, non_blocking=True), target_lengths.to(device)
                warp = cfg.augment.warp_factors(wav.shape[0])
                feats, lengths = frontend(wav, wav_lengths, warp=None if warp is None else warp.to(device))
                feats = specaug(feats)
                with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                    out = net(feats, lengths, targets, target_lengths, text_ids)
                # The mean over ranks is what is reported; a NaN on any rank makes it NaN on all,
                # so every rank raises here together instead of leaving the others waiting.
                losses = distributed.all_reduce_mean(
                    torch.stack([out.total.detach(), out.ctc, out.attention, out.contrastive]).float()).tolist()
                if not math.isfinite(losses[0]):
                    raise NonFiniteLossError(
                        f"The loss became {losses[0]} at epoch {epoch + 1}, step {step}. "
                        "Lower the learning rate or check the data for silent or clipped clips.")
                opt.zero_grad(set_to_none=True)
                scaler.scale(out.total).backward()
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                scaler.step(opt)
                scaler.update()
                step += 1
                n_batches += 1
                sums += losses
                self._emit("progress", stage="train", epoch=epoch + 1, epochs=cfg.epochs, done=n_batches,
                           total=steps_per_epoch, loss=losses[0], lr=lr)
                if self._agreed_stop():
                    stopped = True
                    break
            if not stopped:
                stopped = self._agreed_stop()
            means = sums / max(1, n_batches)
            wer = cer = math.nan
            if main and not stopped:
                wer, cer, _ = evaluate_greedy(model, dev_set)
            wer, cer = distributed.broadcast_floats([wer, cer])
            report = EpochReport(epoch + 1, *map(float, means), wer, cer, time.time() - t0, lr)
            history.append(report)
            self._log(f"epoch {epoch + 1}/{cfg.epochs}{' (stopped early)' if stopped else ''}: loss {means[0]:.3f} "
                      f"(ctc {means[1]:.3f}, att {means[2]:.3f}, con {means[3]:.3f}), dev WER {wer:.2%} CER {cer:.2%}, "
                      f"{report.seconds:.0f} s")
            self._emit("epoch", **asdict(report))
            if not stopped and wer < best_wer:
                best_wer, bad_epochs = wer, 0
                if main:
                    save_checkpoint(self.out_dir / "best", model, tokenizer,
                                    meta={"epoch": epoch + 1, "dev_wer": wer, "dev_cer": cer, "train": cfg.to_json()})
            elif not stopped:
                bad_epochs += 1
            if main:
                # A stopped epoch is unfinished: resume runs it again, from the weights reached so far.
                done = history[:-1] if stopped else history
                save_checkpoint(last, model, tokenizer, meta={"epoch": done[-1].epoch if done else 0, "train": cfg.to_json()},
                                optimizer=opt, trainer_state={"epoch": done[-1].epoch if done else 0,
                                                              "step": step, "best_wer": best_wer,
                                                              "history": [asdict(h) for h in done]})
            distributed.barrier()  # no rank runs ahead while rank 0 validates and writes
            if stopped:
                self._log("stopped on request; resume continues from the last checkpoint")
                break
            if distributed.broadcast_flag(bool(cfg.patience and bad_epochs >= cfg.patience)):
                self._log(f"early stop: no better validation WER for {cfg.patience} epochs")
                break
        return history

    def _agreed_stop(self) -> bool:
        """``should_stop()`` polled on rank 0 and broadcast, so every rank breaks at the same step."""
        if self.world_size == 1:
            return bool(self.should_stop())
        return distributed.broadcast_flag(bool(self.should_stop()) if self.rank == 0 else False)
