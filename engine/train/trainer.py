"""The trainer: joint CTC/attention/contrastive training with AdamW.

AdamW (Loshchilov & Hutter 2019), linear warmup + cosine decay, gradient
clipping, speed/noise/channel augmentation and SpecAugment, validation CER
and WER (jiwer) every epoch, atomic safetensors checkpoints (``last`` every
epoch, ``best`` by validation WER) and resume from ``last``.

The same code runs under ``torchrun`` with DistributedDataParallel (gloo on
CPU); only rank 0 validates and writes checkpoints.
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
from engine.train.augment import AugmentConfig, SpecAugment, WaveAugment
from engine.train.checkpoint import load_checkpoint, load_trainer_state, save_checkpoint
from engine.train.dataset import DurationBatchSampler, SpeechDataset, collate
from engine.train.losses import JointLoss, LossConfig
from engine.train.schedule import warmup_cosine

log = logging.getLogger("sayso.train")


class TrainingError(RuntimeError):
    """Training cannot start or cannot go on; the message says why (bad data, NaN loss, …)."""


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
    frontend = LogMel()
    hyps = [""] * len(dataset)
    sampler = DurationBatchSampler(dataset.durations, max_batch_seconds, shuffle=False)
    with torch.inference_mode():
        for batch in sampler:
            wav, wav_lengths, _, _, _ = collate([(torch.from_numpy(dataset.audio[i].astype(np.float32) / 32767), [1], 0) for i in batch])
            feats, lengths = frontend(wav, wav_lengths)
            enc = model.encode(feats, lengths)
            for row, i in enumerate(batch):
                ids, _ = greedy(enc.ctc_log_probs[row], int(enc.lengths[row]))
                hyps[i] = dataset.tokenizer.decode(ids)
    refs = dataset.texts
    return float(jiwer.wer(refs, hyps)), float(jiwer.cer(refs, hyps)), hyps


class Trainer:
    """Train or fine-tune a :class:`CrossModalModel`.

    Args:
        cfg: hyper-parameters.
        out_dir: where ``last/``, ``best/`` and ``train.log`` go.
        on_event: called with plain dicts (``{"type": "progress", ...}``,
            ``"epoch"``, ``"log"``) for the studio's job view.
        should_stop: polled between batches; ``True`` ends training after
            saving a checkpoint (cooperative cancel).
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
        """Train; returns one report per epoch run.

        Raises:
            TrainingError: unusable data (see :func:`check_dataset`) or a
                non-finite loss.
        """
        cfg = self.cfg
        check_dataset(train, "training")
        check_dataset(dev, "validation")
        torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        self.out_dir.mkdir(parents=True, exist_ok=True)

        if cfg.init_from:
            model, tokenizer, _ = load_checkpoint(cfg.init_from)
            cfg.model = model.cfg
            model.train()
        else:
            tokenizer = CharTokenizer()
            cfg.model.vocab_size = tokenizer.vocab_size
            model = CrossModalModel(cfg.model)
        self._log(f"model: {model.num_parameters() / 1e6:.2f}M parameters; {len(train)} training and {len(dev)} validation utterances")

        augment = WaveAugment(cfg.augment, noises, seed=cfg.seed + self.rank)
        train_set = SpeechDataset(train, tokenizer, augment,
                                  progress=lambda i, n: self._emit("progress", stage="loading", done=i, total=n))
        dev_set = SpeechDataset(dev, tokenizer)
        sampler = DurationBatchSampler(train_set.durations, cfg.max_batch_seconds, cfg.max_batch, seed=cfg.seed,
                                       rank=self.rank, world_size=self.world_size)
        loader = DataLoader(train_set, batch_sampler=sampler, collate_fn=collate, num_workers=0)
        frontend, specaug = LogMel(), SpecAugment(cfg.augment)

        net: torch.nn.Module = JointLoss(model, cfg.loss)
        if self.world_size > 1:
            net = torch.nn.parallel.DistributedDataParallel(net)
        decay = [p for n, p in model.named_parameters() if p.dim() > 1 and "embedding" not in n]
        no_decay = [p for n, p in model.named_parameters() if not (p.dim() > 1 and "embedding" not in n)]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=cfg.peak_lr, betas=(0.9, 0.98))
        steps_per_epoch = len(sampler)
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

        bad_epochs = 0
        for epoch in range(start_epoch, cfg.epochs):
            model.train()
            sampler.set_epoch(epoch)
            t0, sums, n_batches = time.time(), np.zeros(4), 0
            for wav, wav_lengths, targets, target_lengths, text_ids in loader:
                lr = cfg.peak_lr * warmup_cosine(step, cfg.warmup_steps, total_steps)
                for g in opt.param_groups:
                    g["lr"] = lr
                feats, lengths = frontend(wav, wav_lengths, warp=cfg.augment.warp_factors(wav.shape[0]))
                feats = specaug(feats)
                out = net(feats, lengths, targets, target_lengths, text_ids)
                if not torch.isfinite(out.total):
                    raise TrainingError(
                        f"The loss became {out.total.item()} at epoch {epoch + 1}, step {step}. "
                        "Lower the learning rate or check the data for silent or clipped clips.")
                opt.zero_grad(set_to_none=True)
                out.total.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                step += 1
                n_batches += 1
                sums += [out.total.item(), out.ctc.item(), out.attention.item(), out.contrastive.item()]
                self._emit("progress", stage="train", epoch=epoch + 1, epochs=cfg.epochs, done=n_batches,
                           total=steps_per_epoch, loss=float(out.total.item()), lr=lr)
                if self.should_stop():
                    break
            stopped = self.should_stop()
            means = sums / max(1, n_batches)
            wer = cer = math.nan
            if self.rank == 0 and not stopped:
                wer, cer, _ = evaluate_greedy(model, dev_set)
            report = EpochReport(epoch + 1, *map(float, means), wer, cer, time.time() - t0, lr)
            history.append(report)
            self._log(f"epoch {epoch + 1}/{cfg.epochs}{' (stopped early)' if stopped else ''}: loss {means[0]:.3f} "
                      f"(ctc {means[1]:.3f}, att {means[2]:.3f}, con {means[3]:.3f}), dev WER {wer:.2%} CER {cer:.2%}, "
                      f"{report.seconds:.0f} s")
            self._emit("epoch", **asdict(report))
            if self.rank == 0:
                if not stopped and wer < best_wer:
                    best_wer, bad_epochs = wer, 0
                    save_checkpoint(self.out_dir / "best", model, tokenizer,
                                    meta={"epoch": epoch + 1, "dev_wer": wer, "dev_cer": cer, "train": cfg.to_json()})
                elif not stopped:
                    bad_epochs += 1
                # A stopped epoch is unfinished: resume runs it again, from the weights reached so far.
                done = history[:-1] if stopped else history
                save_checkpoint(last, model, tokenizer, meta={"epoch": done[-1].epoch if done else 0, "train": cfg.to_json()},
                                optimizer=opt, trainer_state={"epoch": done[-1].epoch if done else 0,
                                                              "step": step, "best_wer": best_wer,
                                                              "history": [asdict(h) for h in done]})
            if stopped:
                self._log("stopped on request; resume continues from the last checkpoint")
                break
            if cfg.patience and bad_epochs >= cfg.patience:
                self._log(f"early stop: no better validation WER for {cfg.patience} epochs")
                break
        return history
