"""Looking at one utterance: where the model listened, and when each word was said.

:func:`inspect` runs the model once on ``(audio, transcript)`` and returns an
:class:`Inspection`: the decoder cross-attention (tokens × encoder frames,
teacher-forced on the transcript), the Conformer encoder's self-attention
(frames × frames, Gulati et al. 2020) and the CTC forced alignment of the
transcript (characters and words in seconds, Graves et al. 2006; see
:mod:`engine.decode.alignment`).

The decoder returns its cross-attention through an explicit path
(``return_attention``). The encoder's self-attention is captured by
:func:`capture_self_attention`, which adds forward hooks to the Conformer's
attention modules only while it is open: normal decoding never runs them
(``benchmarks/attention_overhead.py`` measures both).

Audio is ``(samples,)`` float32 at 16 kHz. No Qt here.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from engine.audio.errors import AudioError
from engine.audio.io import SAMPLE_RATE, check_audio
from engine.decode.alignment import TokenTiming, WordTiming, align, words_from_tokens
from engine.model.audio_encoder import ENCODER_FRAME_S
from engine.text.normalize import normalize_text

MAX_INSPECT_S = 30.0
"""Longest audio (seconds) :func:`inspect` takes in one pass; the self-attention grows with its square."""


@dataclass
class Inspection:
    """What the model did with one utterance.

    Attributes:
        transcript: the normalized text that was aligned (the given one, or
            the model's own when none was given).
        recognized: True when ``transcript`` is the model's transcription.
        tokens: every character (spaces too) with start/end in seconds.
        words: the words with start/end in seconds.
        cross_attention: decoder cross-attention ``(layers, heads, tokens + 1, frames)``
            float32; each row sums to 1 over the frames.
        attention_tokens: row labels: the transcript's characters then ``"<eos>"``.
        self_attention: encoder self-attention ``(layers, heads, frames, frames)``
            float16 (row = query frame, column = key frame; rows sum to 1).
        frame_shift: seconds per encoder frame (column ``i`` starts at ``i·frame_shift``).
        duration: seconds of audio.
        seconds: wall time of the inspection.
        model: the model's name.
        alignment_heads: ``(layer, head)`` pairs of ``cross_attention`` whose attention follows the
            speech (Whisper's alignment heads, :mod:`engine.insight.whisper_attention`); empty for a
            Sayso model.
    """

    transcript: str
    recognized: bool
    tokens: list[TokenTiming]
    words: list[WordTiming]
    cross_attention: np.ndarray
    attention_tokens: list[str]
    self_attention: np.ndarray
    frame_shift: float
    duration: float
    seconds: float
    model: str
    alignment_heads: tuple[tuple[int, int], ...] = ()


@contextmanager
def capture_self_attention(model) -> Iterator[list[torch.Tensor]]:
    """Collect the encoder's self-attention weights while the block is open.

    Yields a list that fills with one ``(batch, heads, frames, frames)``
    tensor per Conformer layer, in order, for every encoder pass inside the
    block. The hooks make each layer's ``nn.MultiheadAttention`` return its
    per-head weights (``need_weights=True, average_attn_weights=False``,
    which takes PyTorch's slower explicit path); they are removed on exit,
    so later passes run exactly as before.
    """
    maps: list[torch.Tensor] = []
    handles = []

    def want_weights(_module, args, kwargs):
        kwargs["need_weights"] = True
        kwargs["average_attn_weights"] = False
        return args, kwargs

    def keep(_module, _args, _kwargs, output):
        maps.append(output[1].detach())

    for layer in model.encoder.conformer.conformer_layers:
        handles.append(layer.self_attn.register_forward_pre_hook(want_weights, with_kwargs=True))
        handles.append(layer.self_attn.register_forward_hook(keep, with_kwargs=True))
    try:
        yield maps
    finally:
        for h in handles:
            h.remove()


@torch.inference_mode()
def inspect(recognizer, audio: np.ndarray, transcript: str | None = None) -> Inspection:
    """Cross-attention, encoder self-attention and forced alignment of ``transcript`` on ``audio``.

    Args:
        recognizer: an :class:`engine.decode.recognizer.SaysoRecognizer`.
        audio: ``(samples,)`` float32 at 16 kHz, at most :data:`MAX_INSPECT_S` seconds.
        transcript: the text to align (normalized here); ``None`` or empty:
            the model transcribes the audio first and its text is used.

    Raises:
        AudioError: empty, shorter than 0.1 s or longer than :data:`MAX_INSPECT_S`;
            or the transcript is too long to fit the audio (CTC needs a frame per character).
    """
    t0 = time.perf_counter()
    audio = check_audio(audio)
    duration = len(audio) / SAMPLE_RATE
    if duration > MAX_INSPECT_S:
        raise AudioError(f"The utterance is {duration:.1f} s long; attention can be shown for up to "
                         f"{MAX_INSPECT_S:.0f} s. Split it into shorter utterances first.")
    text = normalize_text(transcript or "")
    recognized = not text
    if recognized:
        text = recognizer.transcribe(audio, attention=False).text
    model, tok = recognizer.model, recognizer.tokenizer
    ids = tok.encode(text)
    feats, lengths = recognizer.frontend(torch.from_numpy(np.ascontiguousarray(audio)))
    with capture_self_attention(model) as maps:
        enc = model.encode(feats, lengths)
    n_frames = int(enc.lengths[0])
    log_probs = enc.ctc_log_probs[0, :n_frames]
    tokens = align(log_probs, ids, tok, audio, ENCODER_FRAME_S) if ids else []
    if ids and not tokens:
        raise AudioError(f"The transcript ({len(ids)} characters) is too long for {duration:.2f} s of audio.")
    target = torch.tensor([ids or [0]])[:, : len(ids)]
    _, cross = model.decode_teacher_forced(enc, target, torch.tensor([len(ids)]), return_attention=True)
    self_att = torch.stack([m[0, :, :n_frames, :n_frames] for m in maps])  # (layers, heads, frames, frames)
    return Inspection(
        transcript=text, recognized=recognized, tokens=tokens, words=words_from_tokens(tokens),
        cross_attention=cross[:, 0, :, :, :n_frames].float().numpy(),
        attention_tokens=[tok.symbols[i] for i in ids] + ["<eos>"],
        self_attention=self_att.to(torch.float16).numpy(), frame_shift=ENCODER_FRAME_S, duration=duration,
        seconds=time.perf_counter() - t0, model=recognizer.name,
    )


def attended_span(weights: np.ndarray, frame_shift: float, share: float = 0.5,
                  min_seconds: float = 0.15) -> tuple[float, float]:
    """The stretch a row of attention looks at most: ``(start, end)`` seconds.

    Args:
        weights: ``(frames,)`` one token's attention over encoder frames.
        frame_shift: seconds per frame.
        share: frames next to the peak are included while their weight is at
            least ``share`` × the peak weight.
        min_seconds: the stretch is widened around its centre to at least this.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.size == 0:
        return 0.0, 0.0
    peak = int(np.argmax(w))
    lo = hi = peak
    while lo > 0 and w[lo - 1] >= share * w[peak]:
        lo -= 1
    while hi + 1 < len(w) and w[hi + 1] >= share * w[peak]:
        hi += 1
    start, end = lo * frame_shift, (hi + 1) * frame_shift
    if end - start < min_seconds:
        mid = (start + end) / 2
        start, end = max(0.0, mid - min_seconds / 2), min(len(w) * frame_shift, mid + min_seconds / 2)
    return start, end


def word_rows(attention_map: np.ndarray, tokens: list[str]) -> tuple[np.ndarray, list[str], list[list[int]]]:
    """Average a ``(tokens, frames)`` map over each word's tokens.

    ``tokens`` are the row labels, then ``"<eos>"``: characters with ``" "`` between words (a
    Sayso model), or Whisper's pieces, where a piece that starts with a space starts a word
    (``" Three"``, ``","``, ``" one"``) and punctuation stays with the word before it. Returns
    ``(map (words + 1, frames), labels, rows of each word)``; ``"<eos>"`` stays a row of its own,
    spaces are left out.
    """
    groups, labels, cur = [], [], []

    def close() -> None:
        if cur:
            groups.append(list(cur))
            labels.append("".join(tokens[j] for j in cur).strip())
        cur.clear()

    for i, t in enumerate(tokens):
        if t == " " or t == "<eos>":
            close()
            if t == "<eos>":
                groups.append([i])
                labels.append(t)
        elif t.startswith(" "):  # a Whisper piece that starts a word
            close()
            cur.append(i)
        else:
            cur.append(i)
    close()
    rows = np.stack([attention_map[g].mean(axis=0) for g in groups]) if groups else attention_map[:0]
    return rows, labels, groups
