"""Whisper in torch, ready to look inside: the model, its feature extractor and tokens, and cross-attention.

:func:`load_torch_whisper` loads a CTranslate2 folder (converted in memory by
:mod:`engine.whisper.torch_weights`) or a Hugging Face folder (safetensors) as a
:class:`TorchWhisper`: the ``transformers`` model (eager attention, so that
every attention module returns its weights), a ``WhisperFeatureExtractor``
(log-mel, padded to the 30 s window; pure numpy, nothing downloaded), the
folder's tokenizer and the decoder prompt for English transcription without
timestamps.

:meth:`TorchWhisper.cross_attention` runs one teacher-forced pass over a
transcript and returns the decoder's cross-attention ``(layers, heads, tokens,
frames)``: row ``i`` is the position that predicts token ``i`` (as Whisper's word
timing reads it), frames are encoder frames of :data:`FRAME_S` cropped to the
audio. The alignment heads (``config.json``'s ``alignment_heads``: the heads
whose attention follows the speech) are given with it. :meth:`TorchWhisper.look` is
the same pass keeping the encoder's self-attention and the tokens' probabilities too (Insight,
:mod:`engine.insight.whisper_attention`).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tokenizers
import torch
from scipy.ndimage import median_filter
from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration

from engine.audio.io import SAMPLE_RATE, check_audio
from engine.whisper.folder import TOKENIZER_FILE, WhisperFolderError
from engine.whisper.torch_weights import load_whisper

__all__ = ["FRAME_S", "CrossAttention", "Look", "TorchWhisper", "load_torch_whisper"]

FRAME_S = 0.02
"""Seconds per encoder frame (the encoder's second convolution halves the 10 ms mel frames)."""
WINDOW_S = 30
"""Whisper's input window (seconds)."""
MEDIAN_WIDTH = 7
"""Frames of the median filter over the alignment heads' attention (Whisper's word timing uses 7)."""


@dataclass(frozen=True)
class CrossAttention:
    """The decoder's cross-attention over a transcript.

    Attributes:
        weights: ``(layers, heads, tokens, frames)`` float32, each row a distribution over the
            whole 30 s window (so cropped rows sum to ≤ 1); frames cropped to the audio.
        tokens: the transcript's token ids (one per row).
        pieces: each token as text (``" Yes"``, ``","``), for labels.
        alignment_heads: ``(layer, head)`` pairs whose attention follows the speech.
        frame_s: seconds per frame (:data:`FRAME_S`).
    """

    weights: np.ndarray
    tokens: list[int]
    pieces: list[str]
    alignment_heads: list[tuple[int, int]]
    frame_s: float = FRAME_S

    def peaks(self) -> np.ndarray:
        """``(tokens,)`` seconds: where each token listens, the median over the alignment heads of
        each head's most-attended frame (robust to the one or two heads that park on a pause)."""
        heads = np.stack([self.weights[layer, head] for layer, head in self.alignment_heads])
        return np.median(heads.argmax(axis=-1), axis=0) * self.frame_s

    def alignment(self, median_width: int = MEDIAN_WIDTH) -> np.ndarray:
        """``(tokens, frames)``: the alignment heads' attention as Whisper's word timing reads it: each
        row renormalized over the audio's frames, each head standardized per frame over the tokens,
        median-filtered along the frames (``median_width``), then averaged over the heads."""
        heads = np.stack([self.weights[layer, head] for layer, head in self.alignment_heads])
        heads = heads / np.maximum(heads.sum(axis=-1, keepdims=True), 1e-12)
        heads = (heads - heads.mean(axis=-2, keepdims=True)) / (heads.std(axis=-2, keepdims=True) + 1e-6)
        return median_filter(heads, size=(1, 1, median_width), mode="nearest").mean(axis=0)


@dataclass
class TorchWhisper:
    """A loaded Whisper in torch (:func:`load_torch_whisper`).

    Attributes:
        model: ``WhisperForConditionalGeneration`` in eval mode, float32, eager attention.
        features: its feature extractor: ``features(audio, sampling_rate=16000, return_tensors="pt")
            .input_features`` is ``(1, n_mels, 3000)``.
        tokenizer: the folder's ``tokenizer.json``.
        prompt: the decoder's start (``<|startoftranscript|>`` [``<|en|><|transcribe|>``] ``<|notimestamps|>``).
    """

    model: WhisperForConditionalGeneration
    features: WhisperFeatureExtractor
    tokenizer: tokenizers.Tokenizer
    prompt: list[int]

    @property
    def alignment_heads(self) -> list[tuple[int, int]]:
        """``(layer, head)`` pairs of the alignment heads (the last half of the layers if unknown)."""
        heads = getattr(self.model.generation_config, "alignment_heads", None)
        if not heads:
            config = self.model.config
            heads = [(la, h) for la in range(config.decoder_layers // 2, config.decoder_layers)
                     for h in range(config.decoder_attention_heads)]
        return [(int(la), int(h)) for la, h in heads]

    def encode_text(self, text: str) -> list[int]:
        """Token ids of ``text`` as Whisper writes it (a leading space: ``" Yes, left."``)."""
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def mel(self, audio: np.ndarray) -> torch.Tensor:
        """``(1, n_mels, 3000)`` log-mel of ``(samples,)`` float32 16 kHz audio (≤ 30 s)."""
        return self.features(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features

    def cross_attention(self, audio: np.ndarray, tokens: list[int]) -> CrossAttention:
        """Cross-attention of every decoder layer and head over ``tokens`` (teacher-forced).

        Args:
            audio: ``(samples,)`` float32 16 kHz, up to 30 s.
            tokens: the transcript's token ids (:meth:`encode_text`, or a decoder's output), no prompt.

        Raises:
            engine.audio.errors.AudioError: empty or shorter than 0.1 s.
            ValueError: audio longer than 30 s, or no tokens.
        """
        return self.look(audio, tokens).cross

    def look(self, audio: np.ndarray, tokens: list[int], encoder: bool = False) -> Look:
        """One teacher-forced pass over ``tokens`` that keeps what Insight shows (:class:`Look`).

        The weights are taken by forward hooks on the attention modules, each layer's cropped to
        the audio's frames as it is computed (a 30 s window's full self-attention would be 1500 × 1500
        per head); the hooks are removed before this returns.

        Args:
            encoder: also keep the encoder's self-attention (frames × frames).

        Raises:
            engine.audio.errors.AudioError: empty or shorter than 0.1 s.
            ValueError: audio longer than 30 s, or no tokens.
        """
        audio = check_audio(audio)
        if len(audio) > WINDOW_S * SAMPLE_RATE or not tokens:
            raise ValueError("cross_attention takes up to 30 s of audio and at least one token")
        frames = min(math.ceil(len(audio) / SAMPLE_RATE / FRAME_S), self.model.config.max_source_positions)
        first = len(self.prompt) - 1
        rows = slice(first, first + len(tokens))
        cross: list[torch.Tensor] = []
        selfs: list[torch.Tensor] = []

        def keep(store, crop):
            def hook(_module, _args, output):
                store.append(crop(output[1][0]))
            return hook

        modules = [(layer.encoder_attn, keep(cross, lambda w: w[:, rows, :frames].float()))
                   for layer in self.model.model.decoder.layers]
        if encoder:
            modules += [(layer.self_attn, keep(selfs, lambda w: w[:, :frames, :frames].to(torch.float16)))
                        for layer in self.model.model.encoder.layers]
        handles = [module.register_forward_hook(hook) for module, hook in modules]
        ids = torch.tensor([self.prompt + list(tokens)])
        try:
            with torch.inference_mode():
                out = self.model(input_features=self.mel(audio).to(self.model.dtype), decoder_input_ids=ids)
        finally:
            for h in handles:
                h.remove()
        probs = torch.softmax(out.logits[0, rows].float(), dim=-1)[torch.arange(len(tokens)), torch.tensor(tokens)]
        ca = CrossAttention(torch.stack(cross).numpy(), list(tokens), [self.tokenizer.decode([t]) for t in tokens],
                            self.alignment_heads)
        return Look(ca, torch.stack(selfs).numpy() if encoder else None, probs.numpy())


@dataclass(frozen=True)
class Look:
    """What :meth:`TorchWhisper.look` keeps of one teacher-forced pass.

    Attributes:
        cross: the decoder's cross-attention (:class:`CrossAttention`).
        encoder: ``(layers, heads, frames, frames)`` float16 encoder self-attention cropped to the
            audio's frames (rows over the whole window, so cropped rows sum to ≤ 1), or None.
        probs: ``(tokens,)`` the model's probability of each given token.
    """

    cross: CrossAttention
    encoder: np.ndarray | None
    probs: np.ndarray


def load_torch_whisper(folder: str | os.PathLike, threads: int | None = None) -> TorchWhisper:
    """Load a CTranslate2 or Hugging Face Whisper folder for torch (see the module docstring).

    Args:
        threads: set torch's intra-op threads (default: leave them).

    Raises:
        WhisperFolderError: neither kind of folder, weights that do not fit, or no ``tokenizer.json``.
    """
    folder = Path(folder).expanduser()
    if threads:
        torch.set_num_threads(threads)
    model = load_whisper(folder)
    model.set_attn_implementation("eager")
    if not (folder / TOKENIZER_FILE).is_file():
        raise WhisperFolderError(f"{folder}: no {TOKENIZER_FILE}.")
    tokenizer = tokenizers.Tokenizer.from_file(str(folder / TOKENIZER_FILE))
    config = model.config
    prompt = [config.decoder_start_token_id]
    if config.vocab_size >= 51865:  # multilingual: say the language and the task
        prompt += [tokenizer.token_to_id("<|en|>"), tokenizer.token_to_id("<|transcribe|>")]
    prompt.append(tokenizer.token_to_id("<|notimestamps|>"))
    if None in prompt:
        raise WhisperFolderError(f"{folder}: {TOKENIZER_FILE} lacks Whisper's special tokens.")
    return TorchWhisper(model, WhisperFeatureExtractor(feature_size=config.num_mel_bins), tokenizer, prompt)
