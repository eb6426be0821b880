"""Training data: utterances in memory, batched by total duration."""
from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from engine.audio.io import SAMPLE_RATE, load_segment
from engine.audio.pcm import from_pcm16, to_pcm16
from engine.data.utterance import Utterance
from engine.model.cross_modal import pad_tokens
from engine.text.normalize import normalize_text
from engine.text.tokenizer import CharTokenizer


def load_utterance(utt: Utterance) -> np.ndarray:
    """The utterance's audio as ``(samples,)`` float32 at 16 kHz (mono; its start and end applied; any length).

    Raises:
        engine.audio.errors.AudioError: the file is missing or unreadable, or
            the stretch lies outside it.
    """
    return load_segment(utt.audio_path, utt.start, utt.end, min_seconds=0.0)


class SpeechDataset(Dataset):
    """Utterances held in memory as int16 at 16 kHz; yields ``(wav (samples,), ids, text_id)``.

    ``text_id`` numbers distinct transcripts, for the contrastive loss.
    """

    def __init__(self, utterances: list[Utterance], tokenizer: CharTokenizer,
                 augment: Callable[[np.ndarray], np.ndarray] | None = None, progress=None) -> None:
        self.utterances = utterances
        self.tokenizer = tokenizer
        self.augment = augment
        self.texts = [normalize_text(u.text) for u in utterances]
        self.text_ids = {t: i for i, t in enumerate(sorted(set(self.texts)))}
        self.audio = []
        for i, u in enumerate(utterances):
            self.audio.append(to_pcm16(load_utterance(u)))
            if progress is not None:
                progress(i + 1, len(utterances))
        self.durations = [a.size / SAMPLE_RATE for a in self.audio]

    def __len__(self) -> int:
        return len(self.utterances)

    def wave(self, i: int) -> np.ndarray:
        """Utterance ``i``'s audio as stored, ``(samples,)`` float32 (not augmented)."""
        return from_pcm16(self.audio[i])

    def __getitem__(self, i: int):
        wav = self.wave(i)
        if self.augment is not None:
            wav = self.augment(wav)
        return torch.from_numpy(wav), self.tokenizer.encode(self.texts[i]), self.text_ids[self.texts[i]]


class DurationBatchSampler(Sampler):
    """Batches of similar length whose padded audio totals at most ``max_seconds``.

    Sorting by duration inside shuffled pools keeps padding low; the batch
    order is reshuffled every epoch (``set_epoch``). ``rank``/``world_size``
    give each DistributedDataParallel process its share of the batches: every
    rank builds the same list (same durations, seed and epoch) and takes every
    ``world_size``-th batch; the list is padded by repeating its first batches
    so that all ranks get exactly ``ceil(batches / world_size)``.
    """

    def __init__(self, durations: list[float], max_seconds: float, max_batch: int = 64, shuffle: bool = True,
                 seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        self.durations, self.max_seconds, self.max_batch = durations, max_seconds, max_batch
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0
        self.rank, self.world_size = rank, world_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = random.Random(self.seed + self.epoch)
        order = list(range(len(self.durations)))
        if self.shuffle:
            rng.shuffle(order)
        batches = []
        pool = 2000
        for p in range(0, len(order), pool):
            chunk = sorted(order[p: p + pool], key=lambda i: self.durations[i])
            batch, longest = [], 0.0
            for i in chunk:
                longest2 = max(longest, self.durations[i])
                if batch and (longest2 * (len(batch) + 1) > self.max_seconds or len(batch) >= self.max_batch):
                    batches.append(batch)
                    batch, longest2 = [], self.durations[i]
                batch.append(i)
                longest = longest2
            if batch:
                batches.append(batch)
        if self.shuffle:
            rng.shuffle(batches)
        if self.world_size > 1 and batches:
            # Every rank must run the same number of steps, or DistributedDataParallel waits
            # forever for the missing ones: pad the list, cycling from its start (as
            # torch's DistributedSampler does), then deal the batches out round-robin.
            per_rank = -(-len(batches) // self.world_size)
            batches = [batches[i % len(batches)] for i in range(per_rank * self.world_size)]
            batches = batches[self.rank::self.world_size]
        return batches

    def __iter__(self):
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())


def pad_audio(waves: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(samples,)`` waveforms → ``wav (batch, longest)`` zero-padded and ``wav_lengths (batch,)``."""
    wav_lengths = torch.tensor([w.numel() for w in waves])
    wav = torch.zeros(len(waves), int(wav_lengths.max()))
    for i, w in enumerate(waves):
        wav[i, : w.numel()] = w
    return wav, wav_lengths


def collate(items):
    """→ ``wav (batch, samples)``, ``wav_lengths``, ``targets (batch, tokens)``, ``target_lengths``, ``text_ids``."""
    wavs, ids, text_ids = zip(*items)
    wav, wav_lengths = pad_audio(wavs)
    targets, target_lengths = pad_tokens(ids)
    return wav, wav_lengths, targets, target_lengths, list(text_ids)
