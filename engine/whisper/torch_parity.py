"""Proof that a torch Whisper computes what its CTranslate2 folder computes, on one clip.

Both models get the same log-mel features (faster-whisper's extractor, padded to
the 30 s window) and the same prompt (``<|startoftranscript|>`` [``<|en|><|transcribe|>``]
``<|notimestamps|>``).

- **CTranslate2**: greedy decoding (``beam_size=1``) with ``return_logits_vocab``:
  the logits of every step, i.e. the teacher-forced distributions of its own
  greedy transcript (tokens it suppresses come back as ``-3.4e38``).
- **torch**: one teacher-forced decoder pass over prompt + that transcript + ``<|endoftext|>``,
  compared as log-softmax over the tokens CTranslate2 did not suppress (so both are the
  same distribution); and its own greedy decoding with the same suppression
  (``suppress_tokens`` at every step, ``begin_suppress_tokens`` at the first).

Imports torch and CTranslate2; used by tests/engine/whisper/test_torch_parity.py and
benchmarks/whisper_torch_parity.py (and by anything that converts weights, to check them).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import ctranslate2
import numpy as np
import tokenizers
import torch
from faster_whisper.audio import pad_or_trim
from faster_whisper.feature_extractor import FeatureExtractor
from faster_whisper.tokenizer import Tokenizer
from transformers import WhisperForConditionalGeneration

from engine.whisper.folder import TOKENIZER_FILE

__all__ = ["Parity", "ParityModels", "compare"]

SUPPRESSED = -1e30
"""CTranslate2 logits below this are suppressed tokens (it writes ``-FLT_MAX``)."""
MAX_TOKENS = 224
"""Longest transcript decoded (tokens; Whisper's own limit per 30 s window is half the 448 positions)."""


@dataclass(frozen=True)
class Parity:
    """One clip's comparison.

    Attributes:
        ct2_tokens: CTranslate2's greedy transcript (token ids, without prompt and end token).
        torch_tokens: the torch model's greedy transcript.
        text: CTranslate2's transcript as text.
        max_logprob_diff: max over steps and over unsuppressed vocabulary entries of
            ``|log p_torch − log p_ct2|`` (nats), teacher-forced on ``ct2_tokens`` + end.
        max_token_logprob_diff: the same over the transcript's own tokens (and the end token) only.
        logprob: CTranslate2's total log-probability of its transcript and end token (nats).
    """

    ct2_tokens: list[int]
    torch_tokens: list[int]
    text: str
    max_logprob_diff: float
    max_token_logprob_diff: float
    logprob: float

    @property
    def same_transcript(self) -> bool:
        return self.ct2_tokens == self.torch_tokens


class ParityModels:
    """A CTranslate2 Whisper folder loaded by both runtimes.

    Args:
        folder: a CTranslate2 Whisper folder.
        torch_model: its torch model (default :func:`engine.whisper.torch_weights.load_whisper`).
        compute_type: CTranslate2's (``float32``: the weights as stored, widened; ``int8``: as
            :class:`engine.whisper.recognizer.WhisperRecognizer` runs them).
        threads: CTranslate2 intra-op threads.
    """

    def __init__(self, folder: str | os.PathLike, torch_model: WhisperForConditionalGeneration | None = None,
                 compute_type: str = "float32", threads: int = 2) -> None:
        from engine.whisper.torch_weights import load_whisper

        folder = Path(folder)
        self.torch = torch_model if torch_model is not None else load_whisper(folder)
        self.ct2 = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type=compute_type,
                                              intra_threads=threads)
        self.tokenizer = Tokenizer(tokenizers.Tokenizer.from_file(str(folder / TOKENIZER_FILE)),
                                   self.ct2.is_multilingual, task="transcribe", language="en")
        self.prompt = [*self.tokenizer.sot_sequence, self.tokenizer.no_timestamps]
        self.features = FeatureExtractor(feature_size=self.ct2.n_mels)

    def mel(self, audio: np.ndarray) -> np.ndarray:
        """``(1, n_mels, 3000)`` float32 log-mel of 16 kHz audio (≤ 30 s), padded to the window."""
        return np.ascontiguousarray(pad_or_trim(self.features(audio), 3000)[None], dtype=np.float32)


def compare(models: ParityModels, audio: np.ndarray) -> Parity:
    """Compare both runtimes on ``(samples,)`` float32 16 kHz audio (≤ 30 s); see the module docstring."""
    mel = models.mel(audio)
    eot = models.tokenizer.eot
    (result,) = models.ct2.generate(ctranslate2.StorageView.from_array(mel), [models.prompt], beam_size=1,
                                    return_logits_vocab=True, max_length=MAX_TOKENS)
    tokens = list(result.sequences_ids[0])
    ct2_logits = np.asarray(result.logits[0], dtype=np.float64)  # (steps, vocab): transcript + end token
    model = models.torch
    with torch.inference_mode():
        encoded = model.model.encoder(torch.from_numpy(mel).to(model.dtype)).last_hidden_state
        ids = torch.tensor([models.prompt + tokens])
        logits = model(encoder_outputs=(encoded,), decoder_input_ids=ids).logits[0].double().numpy()
    logits = logits[len(models.prompt) - 1:]
    worst = worst_token = 0.0
    total = 0.0
    for step, target in enumerate([*tokens, eot][: len(ct2_logits)]):
        keep = ct2_logits[step] > SUPPRESSED
        a = ct2_logits[step][keep] - np.logaddexp.reduce(ct2_logits[step][keep])
        b = logits[step][keep] - np.logaddexp.reduce(logits[step][keep])
        worst = max(worst, float(np.abs(a - b).max()))
        index = int(np.count_nonzero(keep[:target]))
        worst_token = max(worst_token, abs(float(a[index] - b[index])))
        total += float(a[index])
    return Parity(tokens, _greedy(model, encoded, models.prompt, eot), models.tokenizer.decode(tokens),
                  worst, worst_token, total)


def _greedy(model: WhisperForConditionalGeneration, encoded: torch.Tensor, prompt: list[int], eot: int) -> list[int]:
    """The torch model's greedy transcript with CTranslate2's suppression (no timestamps asked)."""
    config = model.config
    tokens: list[int] = []
    with torch.inference_mode():
        while len(tokens) < MAX_TOKENS:
            ids = torch.tensor([prompt + tokens])
            logits = model(encoder_outputs=(encoded,), decoder_input_ids=ids).logits[0, -1].clone()
            logits[list(config.suppress_tokens or [])] = -torch.inf
            if not tokens:
                logits[list(config.begin_suppress_tokens or [])] = -torch.inf
            token = int(logits.argmax())
            if token == eot:
                break
            tokens.append(token)
    return tokens
