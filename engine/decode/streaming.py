"""Streaming recognition: partial hypotheses while a person speaks, a final one at each endpoint.

:class:`StreamingRecognizer` takes a live 16 kHz stream in chunks of any
size. An :class:`~engine.audio.endpoint.Endpointer` (WebRTC VAD) cuts it into
utterances. While an utterance is open, every ``partial_interval_s`` seconds
of new audio the encoder re-reads the utterance so far and greedy CTC gives a
:class:`Partial`. This is *bounded recomputation*: an utterance is capped at
``max_utterance_s`` (15 s by default), so one partial costs at most one
encoder pass over 15 s of audio (about 0.15 s at RTF 0.01), and the model
needs no separate streaming training. At the endpoint the utterance's audio
is decoded exactly as offline decoding would decode that segment
(:meth:`SaysoRecognizer.transcribe`: beam search, attention rescoring, optional
vocabulary), so a :class:`Final` equals offline decoding of the same segment
by construction.

**Early endpoint** (optional, off by default). The VAD alone must wait out a
pause long enough not to cut a word at its own stop closure (300 ms by
default). After a shorter pause (``early_end_s``, e.g. 100 ms) the attention
decoder can be asked instead: if
the greedy transcript so far is non-empty and the decoder gives ``<eos>``
after it a probability of at least ``eos_threshold`` (with a vocabulary: if
that transcript is one of its phrases), the utterance ends there. This is
decoder-based end-of-utterance detection in the spirit of Shannon et al. 2017
("Improved End-of-Query Detection for Streaming Speech Recognition") and
Chang et al. 2019 ("Joint Endpointing and Decoding with End-to-End Models").
Measured on held-out speakers (``benchmarks/live_latency.py --early 0.1``) it
ends most utterances about 130 ms sooner but splits some words at their
closures (WER 15.0 % vs 11.7 %), hence off by default.

Times are seconds from the start of the stream.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from engine.audio.endpoint import EndpointConfig, Endpointer, SpeechEnded, SpeechStarted
from engine.audio.io import SAMPLE_RATE
from engine.decode.alignment import WordTiming
from engine.decode.ctc import greedy
from engine.decode.protocol import Final, Partial, StreamEvent
from engine.decode.recognizer import SILENCE_DBFS, SaysoRecognizer, rms_dbfs
from engine.decode.vocabulary import Vocabulary
from engine.text.tokenizer import SOS_EOS

PARTIAL_INTERVAL_S = 0.25
"""Seconds of new speech between two partial hypotheses."""
MIN_PARTIAL_S = 0.2
"""No partial for less audio than this (seconds)."""
EARLY_END_S = None
"""Pause (seconds) after which the decoder may end an utterance early; off by default (see README figures)."""
EOS_THRESHOLD = 0.9
"""End-of-sentence probability that ends an utterance early."""


class StreamingRecognizer:
    """Live recognition over one stream: the Sayso family's :class:`~engine.decode.protocol.StreamSession`
    (made by :meth:`SaysoRecognizer.stream`; its events are :class:`~engine.decode.protocol.Partial`
    and :class:`~engine.decode.protocol.Final`).

    Args:
        recognizer: a loaded :class:`SaysoRecognizer` (its final decoding settings apply).
        endpoint: VAD endpointing settings.
        vocabulary: constrain finals (partials stay open-vocabulary greedy CTC).
        partial_interval_s: seconds of new audio between partials (≤ 0.3 s
            keeps words appearing while the person speaks).
        early_end_s: pause (seconds) after which the decoder may end the
            utterance early; None turns early endpoints off.
        eos_threshold: end-of-sentence probability needed for an early endpoint.

    >>> stream = SaysoRecognizer.from_checkpoint().stream()             # doctest: +SKIP
    >>> for chunk in chunks: events = stream.feed(chunk)               # doctest: +SKIP
    """

    def __init__(self, recognizer: SaysoRecognizer, endpoint: EndpointConfig | None = None,
                 vocabulary: Vocabulary | None = None, partial_interval_s: float = PARTIAL_INTERVAL_S,
                 early_end_s: float | None = EARLY_END_S, eos_threshold: float = EOS_THRESHOLD) -> None:
        self.recognizer = recognizer
        self.endpointer = Endpointer(endpoint)
        self.vocabulary = vocabulary
        self.partial_interval_s = partial_interval_s
        self.early_end_s = early_end_s
        self.eos_threshold = eos_threshold
        self._early_checked_at = -1.0  # stream time of the pause already checked
        self.index = 0
        self._last_partial_at = 0.0  # seconds of the open utterance at the last partial
        self._last_partial_text = ""

    @property
    def time(self) -> float:
        """Seconds of the stream consumed."""
        return self.endpointer.time

    def reset(self) -> None:
        """Start a new stream at 0 s (utterance numbering continues)."""
        self.endpointer.reset()
        self._last_partial_at, self._last_partial_text = 0.0, ""

    def feed(self, chunk: np.ndarray) -> list[StreamEvent]:
        """Consume ``(samples,)`` float32 16 kHz audio; return new partials and finals in order.

        A partial is emitted only when its text changed.
        """
        received = time.perf_counter()
        out: list[StreamEvent] = []
        for event in self.endpointer.feed(chunk):
            if isinstance(event, SpeechStarted):
                self._last_partial_at, self._last_partial_text = 0.0, ""
            elif isinstance(event, SpeechEnded):
                out.append(self._final(event, received))
        if self.endpointer.in_speech and self._early_end():
            utt = self.endpointer.end_now()
            if utt is not None:
                out.append(self._final(utt, received, early=True))
        if self.endpointer.in_speech:
            audio = self.endpointer.current_audio
            seconds = len(audio) / SAMPLE_RATE
            if seconds >= MIN_PARTIAL_S and seconds - self._last_partial_at >= self.partial_interval_s:
                self._last_partial_at = seconds
                t0 = time.perf_counter()
                text = self.partial_text(audio)
                if text != self._last_partial_text:
                    self._last_partial_text = text
                    start = self.endpointer.current_start
                    out.append(Partial(self.index, start, start + seconds, text, time.perf_counter() - t0))
        return out

    def flush(self) -> list[StreamEvent]:
        """End of stream: the final of the utterance in progress, if any."""
        received = time.perf_counter()
        return [self._final(u, received) for u in self.endpointer.flush()]

    @torch.inference_mode()
    def _early_end(self) -> bool:
        """True if the open utterance should end now (see the module docstring)."""
        ep = self.endpointer
        if self.early_end_s is None or ep.trailing_silence_s < self.early_end_s:
            return False
        pause_start = ep.time - ep.trailing_silence_s
        if pause_start == self._early_checked_at:  # asked once per pause
            return False
        self._early_checked_at = pause_start
        audio = ep.current_audio
        if rms_dbfs(audio) < SILENCE_DBFS:
            return False
        rec = self.recognizer
        feats, lengths = rec.frontend(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)))
        enc = rec.model.encode(feats, lengths)
        ids, _ = greedy(enc.ctc_log_probs[0, : int(enc.lengths[0])])
        text = rec.tokenizer.decode(ids).strip()
        if not text:
            return False
        if self.vocabulary is not None:
            return text in self.vocabulary.phrases
        ids = rec.tokenizer.encode(text)
        logits, _ = rec.model.decode_teacher_forced(enc, torch.tensor([ids]), torch.tensor([len(ids)]))
        p_eos = float(logits[0, len(ids)].softmax(-1)[SOS_EOS])
        return p_eos >= self.eos_threshold

    @torch.inference_mode()
    def partial_text(self, audio: np.ndarray) -> str:
        """Greedy CTC transcript of ``(samples,)`` float32 16 kHz audio (one encoder pass)."""
        if rms_dbfs(audio) < SILENCE_DBFS:
            return ""
        rec = self.recognizer
        feats, lengths = rec.frontend(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)))
        enc = rec.model.encode(feats, lengths)
        ids, _ = greedy(enc.ctc_log_probs[0, : int(enc.lengths[0])])
        return rec.tokenizer.decode(ids).strip()

    def _final(self, utt: SpeechEnded, received: float, early: bool = False) -> Final:
        index, self.index = self.index, self.index + 1
        rec = self.recognizer.transcribe(utt.audio, vocabulary=self.vocabulary, attention=False)
        words = [WordTiming(w.word, w.start + utt.start, w.end + utt.start, w.confidence) for w in rec.words]
        return Final(index, utt.start, utt.end, rec.text, rec.confidence, words, utt.forced,
                     time.perf_counter() - received, early, utt.speech_end)
