"""The settings of a Whisper personalization (:mod:`engine.whisper.personalize`), importable without torch
(the studio builds a job's settings in its GUI process)."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WhisperPersonalizeConfig"]


@dataclass
class WhisperPersonalizeConfig:
    """Settings of a Whisper personalization.

    The defaults adapt the top two encoder layers and leave the decoder as it is, with no rehearsal:
    on whisper-base, one take per digit of a held-out FSDD speaker, that reached 98 % on his other
    takes in 28 s and left the open WER on 20 held-out AN4 sentences at 3.5 % (base 7.0 %); adapting the
    decoder too (all its linear layers, or its attention's queries and values) reached 94 % and raised
    that WER to 15–38 %, and replaying other people's clips with the base model's transcripts made it
    worse, not better (benchmarks/whisper_personalize.py; README, Figures).

    Attributes:
        steps: optimizer steps.
        lr: AdamW learning rate of the adapters (linear warmup over the first 5 steps).
        rank: LoRA rank; ``alpha`` its scale (the update is ``alpha / rank · B A``).
        top_encoder_layers: encoder layers (from the top) that get adapters; 0: the decoder only.
        decoder: the decoder's modules that get adapters: ``"all"`` its linear layers, ``"attention"`` the
            self-attention's queries and values and the cross-attention's queries, ``"none"``.
        batch_takes: takes of the person per step (all of them if fewer).
        batch_rehearse: rehearsal clips per step (0: none).
        rehearse_clips: rehearsal clips drawn (:func:`rehearsal_clips`) when the caller gives none.
        threads: torch CPU threads.
        seed: makes the run repeatable.
        quantization: CTranslate2 weight type of the export (``int8``, ``float16``, ``float32``).
    """

    steps: int = 30
    lr: float = 5e-4
    rank: int = 8
    alpha: float = 16.0
    top_encoder_layers: int = 2
    decoder: str = "none"
    batch_takes: int = 8
    batch_rehearse: int = 0
    rehearse_clips: int = 16
    threads: int = 2
    seed: int = 0
    quantization: str = "int8"
