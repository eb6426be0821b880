"""Live recognition with Whisper: finals only, each utterance decoded whole at its endpoint.

The stream is cut into utterances by the same :class:`~engine.audio.endpoint.Endpointer`
(WebRTC VAD) as the Sayso family's; at each endpoint the utterance's audio is
transcribed by :meth:`WhisperRecognizer.transcribe`, so a final equals offline
decoding of that stretch. Partials (LocalAgreement-2 re-decoding, or the small
model's streaming CTC) are not made here.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from engine.audio.endpoint import EndpointConfig, Endpointer, SpeechEnded
from engine.decode.alignment import WordTiming
from engine.decode.protocol import Final, StreamEvent
from engine.decode.vocabulary import Vocabulary

if TYPE_CHECKING:
    from engine.whisper.recognizer import WhisperRecognizer


class WhisperStream:
    """A :class:`~engine.decode.protocol.StreamSession` over a :class:`WhisperRecognizer`.

    Args:
        recognizer: the loaded model.
        endpoint: VAD endpointing settings (None: the defaults).
        vocabulary: passed to every final's transcription.
    """

    def __init__(self, recognizer: WhisperRecognizer, endpoint: EndpointConfig | None = None,
                 vocabulary: Vocabulary | None = None) -> None:
        self.recognizer, self.vocabulary = recognizer, vocabulary
        self.endpointer = Endpointer(endpoint)
        self.index = 0

    def feed(self, chunk: np.ndarray) -> list[StreamEvent]:
        """Consume ``(samples,)`` float32 16 kHz audio; the finals of the utterances it ended."""
        received = time.perf_counter()
        return [self._final(e, received) for e in self.endpointer.feed(chunk) if isinstance(e, SpeechEnded)]

    def flush(self) -> list[StreamEvent]:
        """End of stream: the final of the utterance in progress, if any."""
        received = time.perf_counter()
        return [self._final(u, received) for u in self.endpointer.flush()]

    def _final(self, utt: SpeechEnded, received: float) -> Final:
        index, self.index = self.index, self.index + 1
        rec = self.recognizer.transcribe(utt.audio, vocabulary=self.vocabulary)
        words = [WordTiming(w.word, w.start + utt.start, w.end + utt.start, w.confidence) for w in rec.words]
        return Final(index, utt.start, utt.end, rec.text, rec.confidence, words, utt.forced,
                     time.perf_counter() - received, False, utt.speech_end)
