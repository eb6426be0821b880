"""Training data: utterances in memory, batched by total duration."""
from __future__ import annotations

import random
from typing import Callable

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset, Sampler

from engine.audio.io import SAMPLE_RATE, load_audio, resample
from engine.data.manifest import Utterance
from engine.text.normalize import normalize_text
from engine.text.tokenizer import CharTokenizer


def load_segment(utt: Utterance) -> np.ndarray:
    """The utterance's audio as ``(samples,)`` float32 at 16 kHz (its offset and duration applied)."""
    if utt.offset == 0.0:
        return load_audio(utt.audio_filepath, min_seconds=0.0)
    info = sf.info(utt.audio_filepath)
    start = int(utt.offset * info.samplerate)
    stop = start + int(utt.duration * info.samplerate) if utt.duration else -1
    data, sr = sf.read(utt.audio_filepath, start=start, stop=stop, dtype="float32", always_2d=True)
    return resample(data.mean(axis=1), sr, SAMPLE_RATE)


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
            self.audio.append((np.clip(load_segment(u), -1, 1) * 32767).astype(np.int16))
            if progress is not None:
                progress(i + 1, len(utterances))
        self.durations = [a.size / SAMPLE_RATE for a in self.audio]

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, i: int):
        wav = self.audio[i].astype(np.float32) / 32767
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


def collate(items):
    """→ ``wav (batch, samples)``, ``wav_lengths``, ``targets (batch, tokens)``, ``target_lengths``, ``text_ids``."""
    wavs, ids, text_ids = zip(*items)
    wav_lengths = torch.tensor([w.numel() for w in wavs])
    wav = torch.zeros(len(wavs), int(wav_lengths.max()))
    for i, w in enumerate(wavs):
        wav[i, : w.numel()] = w
    target_lengths = torch.tensor([len(t) for t in ids])
    targets = torch.zeros(len(ids), max(1, int(target_lengths.max())), dtype=torch.long)
    for i, t in enumerate(ids):
        targets[i, : len(t)] = torch.tensor(t, dtype=torch.long)
    return wav, wav_lengths, targets, target_lengths, list(text_ids)
