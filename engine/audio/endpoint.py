"""Streaming VAD endpointing: cut a live 16 kHz stream into utterances.

The WebRTC VAD (webrtcvad-wheels) labels each 20 ms frame speech or not. A
small state machine, as in classic endpointers (e.g. Kaldi's online
endpointing rules, WebRTC's own VAD hangover), turns those labels into
utterances:

* **start**: ``start_frames`` speech frames among the last ``start_window``
  frames; the utterance then begins ``pad_s`` seconds before its first speech
  frame (pre-roll kept in a small buffer);
* **end** (the *endpoint*): ``end_silence_s`` seconds without speech after
  the last speech frame; the utterance ends ``pad_s`` after that frame;
* stretches with less than ``min_speech_s`` of speech are dropped (clicks,
  coughs), and an utterance that reaches ``max_utterance_s`` is cut there so
  that no decoding unit grows without bound.

All times are seconds from the start of the stream; audio is ``(samples,)``
float32 mono at 16 kHz.
"""
from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

import numpy as np
import webrtcvad

from engine.audio.io import SAMPLE_RATE
from engine.audio.pcm import to_pcm16

FRAME_S = 0.02
"""Seconds per VAD frame."""
FRAME = int(FRAME_S * SAMPLE_RATE)  # 320 samples


@dataclass
class EndpointConfig:
    """Endpointing settings (seconds unless noted).

    Attributes:
        aggressiveness: WebRTC VAD mode, 0 (keeps most) … 3 (drops most non-speech).
        start_frames: speech frames needed among the last ``start_window`` to start.
        start_window: frames considered for the start decision.
        end_silence_s: silence after the last speech frame that ends an utterance.
        pad_s: audio kept before the first and after the last speech frame
            (must not exceed ``end_silence_s``).
        min_speech_s: utterances with less speech than this are dropped.
        max_utterance_s: an utterance this long is cut and a new one begins.
    """

    aggressiveness: int = 3
    start_frames: int = 3
    start_window: int = 5
    end_silence_s: float = 0.3
    pad_s: float = 0.25
    min_speech_s: float = 0.12
    max_utterance_s: float = 15.0

    def __post_init__(self) -> None:
        """Raises ValueError with a user message for an inconsistent combination."""
        if not 0 <= int(self.aggressiveness) <= 3:
            raise ValueError(f"The VAD aggressiveness must be 0 to 3, not {self.aggressiveness}.")
        if not 1 <= self.start_frames <= self.start_window:
            raise ValueError(f"start_frames must be between 1 and start_window ({self.start_window}).")
        if not 0 <= self.pad_s <= self.end_silence_s:
            raise ValueError(f"The padding ({self.pad_s:g} s) must not be longer than the pause that ends "
                             f"an utterance ({self.end_silence_s:g} s).")
        if self.max_utterance_s < 1.0:
            raise ValueError(f"The longest utterance must be at least 1 s, not {self.max_utterance_s:g} s.")

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SpeechStarted:
    """Speech began; the utterance's audio starts at ``start`` seconds."""

    start: float


@dataclass(frozen=True)
class SpeechEnded:
    """Speech ended: the finished utterance of the stream, ``audio`` ``(samples,)`` float32 16 kHz
    from ``start`` to ``end`` seconds of the stream.

    ``forced`` is True when it was cut at ``max_utterance_s`` rather than at a pause;
    ``speech_end`` is where its last speech frame ends (seconds, ≤ ``end``).
    """

    start: float
    end: float
    audio: np.ndarray
    forced: bool = False
    speech_end: float = 0.0


class Endpointer:
    """Feed audio chunks of any size; get :class:`SpeechStarted` and :class:`SpeechEnded` events.

    >>> ep = Endpointer()
    >>> events = ep.feed(np.zeros(16000, np.float32))   # one second of silence
    >>> events
    []
    """

    def __init__(self, cfg: EndpointConfig | None = None) -> None:
        self.cfg = cfg or EndpointConfig()
        self._vad = webrtcvad.Vad(int(self.cfg.aggressiveness))
        self._pad_frames = int(round(self.cfg.pad_s / FRAME_S))
        self._end_frames = max(1, int(round(self.cfg.end_silence_s / FRAME_S)))
        self._max_frames = int(round(self.cfg.max_utterance_s / FRAME_S))
        self.reset()

    def reset(self) -> None:
        """Forget all audio and state (a new stream starts at 0 s)."""
        self._rest = np.zeros(0, dtype=np.float32)
        self._frame_index = 0  # frames consumed so far
        self._history: deque[tuple[np.ndarray, bool]] = deque(maxlen=self._pad_frames + self.cfg.start_window)
        self._frames: list[np.ndarray] = []  # the current utterance's frames
        self._first = 0  # frame index of the utterance's first frame
        self._last_speech = -1  # frame index of the last speech frame
        self._speech_count = 0
        self.in_speech = False

    @property
    def time(self) -> float:
        """Seconds of audio consumed (whole frames)."""
        return self._frame_index * FRAME_S

    @property
    def current_audio(self) -> np.ndarray:
        """``(samples,)`` float32 of the utterance in progress (empty if none)."""
        return np.concatenate(self._frames) if self._frames else np.zeros(0, dtype=np.float32)

    @property
    def trailing_silence_s(self) -> float:
        """Seconds of non-speech since the last speech frame of the open utterance (0 if none is open)."""
        if not self.in_speech:
            return 0.0
        return (self._frame_index - 1 - self._last_speech) * FRAME_S

    def end_now(self) -> SpeechEnded | None:
        """End the open utterance at once (a caller that knows it is complete, e.g. the
        recognizer's end-of-sentence probability): it ends ``pad_s`` after its last speech
        frame, or where the audio so far ends if that is sooner. None if none is open or
        it holds too little speech."""
        return self._finish(forced=False) if self.in_speech else None

    @property
    def current_start(self) -> float:
        """Start in seconds of the utterance in progress."""
        return self._first * FRAME_S

    def feed(self, chunk: np.ndarray) -> list[SpeechStarted | SpeechEnded]:
        """Consume ``(samples,)`` float32 16 kHz audio; return the events it completes, in order."""
        x = np.concatenate([self._rest, np.asarray(chunk, dtype=np.float32).reshape(-1)])
        n = len(x) // FRAME
        self._rest = x[n * FRAME:].copy()
        events: list[SpeechStarted | SpeechEnded] = []
        if n == 0:
            return events
        pcm = to_pcm16(x[: n * FRAME])
        for k in range(n):
            frame = x[k * FRAME:(k + 1) * FRAME]
            speech = self._vad.is_speech(pcm[k * FRAME:(k + 1) * FRAME].tobytes(), SAMPLE_RATE)
            events.extend(self._step(frame, speech))
            self._frame_index += 1
        return events

    def flush(self) -> list[SpeechEnded]:
        """End of stream: finish the utterance in progress (if it has enough speech)."""
        if not self.in_speech:
            return []
        out = self._finish(forced=False)
        return [out] if out is not None else []

    # -- state machine -------------------------------------------------------
    def _step(self, frame: np.ndarray, speech: bool) -> list[SpeechStarted | SpeechEnded]:
        i = self._frame_index
        if not self.in_speech:
            self._history.append((frame, speech))
            recent = list(self._history)[-self.cfg.start_window:]
            if sum(s for _, s in recent) < self.cfg.start_frames:
                return []
            first_speech = i - len(recent) + 1 + next(k for k, (_, s) in enumerate(recent) if s)
            keep = min(len(self._history), i - first_speech + 1 + self._pad_frames)
            self._frames = [f for f, _ in list(self._history)[-keep:]]
            self._first = i - keep + 1
            self._speech_count = sum(s for _, s in list(self._history)[-keep:])
            self._last_speech = i
            self._history.clear()
            self.in_speech = True
            return [SpeechStarted(self._first * FRAME_S)]
        self._frames.append(frame)
        if speech:
            self._last_speech = i
            self._speech_count += 1
        if i - self._last_speech >= self._end_frames:
            out = self._finish(forced=False)
            return [out] if out is not None else []
        if len(self._frames) >= self._max_frames:
            out = self._finish(forced=True)
            if out is None:
                return []
            # keep listening: the speech goes on in a new utterance
            self.in_speech, self._frames, self._first = True, [], i + 1
            self._speech_count, self._last_speech = 0, i
            return [out, SpeechStarted((i + 1) * FRAME_S)]
        return []

    def _finish(self, forced: bool) -> SpeechEnded | None:
        """Close the utterance in progress; None if it holds too little speech."""
        end_frame = len(self._frames) if forced else min(len(self._frames), self._last_speech - self._first + 1 + self._pad_frames)
        frames, first, speech = self._frames[:end_frame], self._first, self._speech_count
        self.in_speech, self._frames, self._speech_count = False, [], 0
        self._history.clear()
        if speech * FRAME_S < self.cfg.min_speech_s or not frames:
            return None
        end = (first + len(frames)) * FRAME_S
        speech_end = min(end, (self._last_speech + 1) * FRAME_S)
        return SpeechEnded(first * FRAME_S, end, np.concatenate(frames), forced, speech_end)
