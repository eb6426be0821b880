"""The settings of a Whisper personalization (:mod:`engine.whisper.personalize`), importable without torch
(the studio builds a job's settings in its GUI process)."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WhisperPersonalizeConfig"]


@dataclass
class WhisperPersonalizeConfig:
    """Settings of a Whisper personalization.

    Attributes:
        steps: optimizer steps.
        lr: AdamW learning rate of the adapters (linear warmup over the first 5 steps).
        rank: LoRA rank; ``alpha`` its scale (the update is ``alpha / rank · B A``).
        top_encoder_layers: encoder layers (from the top) that get adapters; 0: the decoder only.
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
    top_encoder_layers: int = 0
    batch_takes: int = 8
    batch_rehearse: int = 8
    rehearse_clips: int = 16
    threads: int = 2
    seed: int = 0
    quantization: str = "int8"
