"""What a recognizer offers, whatever model family is behind it, and what it returns.

The studio, the worker processes and the command line use a recognizer only
through :class:`Recognizer`; a model family implements it and is picked by
:func:`engine.decode.families.load_recognizer` from the checkpoint's layout.
Two families: Sayso's cross-modal model
(:class:`engine.decode.recognizer.SaysoRecognizer`) and pretrained Whisper
through faster-whisper (:class:`engine.whisper.recognizer.WhisperRecognizer`).

Conventions of every method:

- **audio** is ``(samples,)`` float32 mono at 16 kHz
  (:data:`engine.audio.io.SAMPLE_RATE`), samples in [-1, 1];
- **times** are seconds from the start of the audio (of the stream, for
  streaming); **text** is normalized (lowercase words, see
  :func:`engine.text.normalize.normalize_text`);
- audio that cannot be recognized (empty, shorter than 0.1 s) raises
  :class:`engine.audio.errors.AudioError`.

This module imports neither torch nor Qt.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from engine.decode.confidence import utterance_confidence

if TYPE_CHECKING:
    from engine.audio.endpoint import EndpointConfig
    from engine.decode.alignment import TokenTiming, WordTiming
    from engine.decode.vocabulary import Vocabulary

__all__ = ["Final", "Partial", "Recognition", "Recognizer", "Segment", "StreamEvent", "StreamSession",
           "TranscriptScore"]


# --------------------------------------------------------------------------- offline results

@dataclass
class Segment:
    """One decoded window: ``start``/``end`` in seconds."""

    start: float
    end: float
    text: str


@dataclass
class Recognition:
    """What the recognizer heard.

    Attributes:
        text: the transcript (normalized: lowercase words).
        confidence: the expected share of the transcript's words that are right, in [0, 1]: the
            mean of ``words``' calibrated confidences (:mod:`engine.decode.confidence`).
        tokens, words: timings in seconds (for the Sayso family: CTC forced alignment).
        attention: decoder cross-attention ``(layers, heads, tokens, frames)``;
            rows are the transcript's characters plus ``<eos>``, columns are
            encoder frames of ``frame_shift`` seconds from the audio start.
            None when not asked for, or when the family has none.
        attention_tokens: the row labels.
        audio_embedding, text_embedding: ``(embed_dim,)`` L2-normalized points
            in the shared space (their dot product is the audio–text similarity);
            None when the family has no joint audio–text space.
        duration: audio seconds; decode_seconds: wall time spent decoding.
        model: the recognizer's :attr:`Recognizer.name`.
        segments: the windows decoded one by one (a long recording is cut at pauses).
        frame_shift: seconds per attention column (0.0 for a family without attention).
    """

    text: str
    confidence: float
    tokens: list[TokenTiming]
    words: list[WordTiming]
    attention: np.ndarray | None
    attention_tokens: list[str]
    audio_embedding: np.ndarray | None
    text_embedding: np.ndarray | None
    duration: float
    decode_seconds: float
    model: str
    segments: list[Segment] = field(default_factory=list)
    frame_shift: float = 0.0

    @property
    def rtf(self) -> float:
        """Real-time factor: decode seconds per audio second."""
        return self.decode_seconds / max(self.duration, 1e-9)

    @property
    def similarity(self) -> float:
        """Cosine similarity of the audio and text embeddings (NaN without embeddings)."""
        if self.audio_embedding is None or self.text_embedding is None:
            return float("nan")
        return float(np.dot(self.audio_embedding, self.text_embedding))

    @classmethod
    def from_finals(cls, finals: list[Final], duration: float, model: str) -> Recognition:
        """A live session's transcript: its :class:`Final` events (in stream seconds) as one recognition
        of the take (``duration`` seconds): their texts, words and times as segments, the confidence
        the mean of all their words' (:mod:`engine.decode.confidence`; the finals' mean when they
        carry no words, 0.0 when nothing was said); no attention maps or embeddings."""
        finals = sorted(finals, key=lambda f: f.index)
        spoken = [f for f in finals if f.text]
        words = [w for f in spoken for w in f.words]
        empty = float(np.mean([f.confidence for f in spoken])) if spoken else 0.0
        return cls(text=" ".join(f.text for f in spoken), confidence=utterance_confidence(words, empty), tokens=[],
                   words=words, attention=None, attention_tokens=[],
                   audio_embedding=None, text_embedding=None, duration=duration, decode_seconds=0.0, model=model,
                   segments=[Segment(f.start, f.end, f.text) for f in finals])

    def to_json(self) -> dict:
        return {
            "text": self.text, "confidence": round(self.confidence, 4), "model": self.model,
            "duration": round(self.duration, 3), "rtf": round(self.rtf, 4),
            "audio_text_similarity": round(self.similarity, 4),
            "words": [{"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3),
                       "confidence": round(w.confidence, 4)} for w in self.words],
            "tokens": [{"token": t.token, "start": round(t.start, 3), "end": round(t.end, 3)} for t in self.tokens],
            "segments": [{"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text} for s in self.segments],
        }


@dataclass(frozen=True)
class TranscriptScore:
    """How well a given transcript fits given audio (label QA: probable mislabels score low).

    Attributes:
        likelihood: the transcript's log-likelihood per token (nats, ≤ 0; for the
            Sayso family ``log p_CTC(y | x) / (|y| + 1)``, floored at −10⁴/(|y| + 1)).
            Comparable between pairs scored by the same model only.
        similarity: cosine similarity of the audio and transcript embeddings, in
            [-1, 1]; None when the family has no joint audio–text space.
        audio_embedding, text_embedding: the two ``(embed_dim,)`` L2-normalized
            embeddings, or None (as ``similarity``).
    """

    likelihood: float
    similarity: float | None = None
    audio_embedding: np.ndarray | None = field(default=None, repr=False, compare=False)
    text_embedding: np.ndarray | None = field(default=None, repr=False, compare=False)


# --------------------------------------------------------------------------- streaming results

@dataclass(frozen=True)
class Partial:
    """A provisional transcript of utterance ``index`` so far (``start``–``end`` seconds)."""

    index: int
    start: float
    end: float
    text: str
    compute_seconds: float = 0.0


@dataclass(frozen=True)
class Final:
    """The transcript of utterance ``index``, decoded like an offline segment.

    ``words`` carry stream times in seconds; ``confidence`` is in [0, 1];
    ``latency_seconds`` is the wall time from receiving the audio that
    completed the endpoint to this result; ``early`` is True when the
    decoder's end-of-sentence probability ended the utterance before the
    VAD's full pause; ``speech_end`` is where the VAD heard the last speech
    (stream seconds).
    """

    index: int
    start: float
    end: float
    text: str
    confidence: float
    words: list[WordTiming] = field(default_factory=list)
    forced: bool = False
    latency_seconds: float = 0.0
    early: bool = False
    speech_end: float = 0.0


StreamEvent = Partial | Final
"""What a :class:`StreamSession` reports: partials while an utterance is open, one final per utterance."""


# --------------------------------------------------------------------------- the protocols

@runtime_checkable
class StreamSession(Protocol):
    """Live recognition over one stream (see :meth:`Recognizer.stream`)."""

    def feed(self, chunk: np.ndarray) -> list[StreamEvent]:
        """Consume ``(samples,)`` float32 16 kHz audio of any length; the new events, in order."""
        ...

    def flush(self) -> list[StreamEvent]:
        """End of stream: the final of the utterance in progress, if any."""
        ...


@runtime_checkable
class Recognizer(Protocol):
    """A loaded speech recognizer (one model family's implementation; see the module docstring).

    Attributes:
        name: the model's name, shown to the user and stored in each
            :attr:`Recognition.model`.
    """

    name: str

    def transcribe(self, audio: np.ndarray, vocabulary: Vocabulary | None = None,
                   attention: bool = True) -> Recognition:
        """Transcribe ``(samples,)`` float32 16 kHz audio.

        Args:
            vocabulary: constrain the result to these words and phrases (None: open vocabulary).
            attention: also return the cross-attention maps, if the family has them.

        Raises:
            engine.audio.errors.AudioError: empty or shorter than 0.1 s.
        """
        ...

    def transcribe_file(self, path: str | os.PathLike, vocabulary: Vocabulary | None = None,
                        attention: bool = True) -> Recognition:
        """Read an audio file (any rate, resampled to 16 kHz) and :meth:`transcribe` it.

        Raises:
            engine.audio.errors.AudioError: unreadable, empty, too short or too long.
        """
        ...

    def score(self, audio: np.ndarray, transcript: str) -> TranscriptScore:
        """How well ``transcript`` (normalized text) fits ``(samples,)`` float32 16 kHz audio.

        Raises:
            engine.audio.errors.AudioError: empty or shorter than 0.1 s.
        """
        ...

    def stream(self, endpoint: EndpointConfig | None = None,
               vocabulary: Vocabulary | None = None) -> StreamSession:
        """A live session: feed it audio as it arrives, read partials and finals.

        Args:
            endpoint: how utterances are cut (VAD settings; None: the defaults).
            vocabulary: constrain the finals (partials may stay open-vocabulary).
        """
        ...
