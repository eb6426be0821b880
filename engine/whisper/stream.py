"""Live recognition with Whisper: partials while a person speaks, a final decoded whole at each endpoint.

The stream is cut into utterances by the same :class:`~engine.audio.endpoint.Endpointer`
(WebRTC VAD) as the Sayso family's. **Finals**: at each endpoint the utterance's
audio is transcribed by :meth:`WhisperRecognizer.transcribe` (beam search, VAD
filter, word times), so a final equals offline decoding of that stretch.

**Partials** (``partials=``):

- ``"whisper"`` — LocalAgreement-2 (Macháček et al. 2023, "Turning Whisper into
  Real-Time Transcription System"). Every ``partial_interval_s`` of new audio the
  open utterance so far is re-decoded cheaply (greedy, no timestamps, no VAD
  filter, a :data:`PARTIAL_WINDOW_S` encoder window instead of 30 s: a quarter of
  the cost). The longest common word prefix of the last two hypotheses is
  *committed*: committed words only grow and never change within the utterance.
  The UI gets a :class:`~engine.decode.protocol.Partial` whose ``text`` is the
  committed words followed by the newest hypothesis's words after them
  (normalized, lowercase), ``start``/``end`` the utterance so far (stream seconds),
  ``compute_seconds`` the decode's wall time; the final then replaces the row.
- ``"ctc"`` — the bundled Sayso model's greedy CTC over the open utterance every
  0.25 s (:meth:`engine.decode.streaming.StreamingRecognizer.partial_text`; imports
  torch and loads that model once per process).
- ``"none"`` — finals only.

Partials never delay a final on purpose: none is decoded while the VAD hears a
pause (the utterance may be ending: the endpoint comes ``end_silence_s`` after
the last speech), and after a partial that cost ``c`` seconds the next waits for
at least ``2c`` seconds of new audio (at most half the CPU goes to partials).

**Measured** (``benchmarks/whisper_live.py``: 24 held-out AN4 utterances ≤ 5 s,
0.8 s apart, fed in real time in 20 ms chunks, 2 threads, load average 0.3–0.8
for tiny.en, 1.4–1.7 for base; endpointer defaults: 0.3 s end silence, 0.25 s pad):

=============  ========  ==============  ===============  =============  =================
model          partials  speech end →    partial compute  first partial  partial words in
                         final p50/p95   p50 (interval)   p50 after      the final
                                                          speech start
=============  ========  ==============  ===============  =============  =================
tiny.en        none      736 / 784 ms    –                –              –
tiny.en        whisper   759 / 881 ms    116 ms (1.0 s)   850 ms         committed 90 %, last 72 %
tiny.en        ctc       938 / 1069 ms   26 ms (0.26 s)   158 ms         last 15 %
base           none      1423 / 1776 ms  –                –              –
base           whisper   1463 / 1715 ms  258 ms (1.0 s)   981 ms         committed 96 %, last 70 %
base           ctc       1413 / 1628 ms  22 ms (0.26 s)   487 ms         last 12 %
=============  ========  ==============  ===============  =============  =================

Finals are the same in every mode (WER 35.4 % tiny.en, 42.5 % base on normalized text,
digit strings as Whisper writes them). **Default: Whisper LocalAgreement-2**: its words
are the final's (90–96 % of committed words survive, against 12–15 % of the small model's
CTC words, which knows digits and commands but spells open speech as noise) and it did
not delay finals measurably (within the run-to-run spread), at the price of a first
partial about a second into the utterance instead of a quarter second. Re-decoding with
faster-whisper's own ``transcribe`` (30 s window) would cost 0.33–0.41 s (tiny.en) and
0.9–1.1 s (base) a partial: not real time for base on 2 threads, hence the short window.
The final's latency is the whole-utterance decode (base: 0.86–1.16 s of it, p50; its
encoder's 30 s window costs about 0.8 s), not the endpointer's 0.3 s pause.
"""
from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Literal

import numpy as np

from engine.audio.endpoint import EndpointConfig, Endpointer, SpeechEnded, SpeechStarted
from engine.audio.io import SAMPLE_RATE
from engine.decode.alignment import WordTiming
from engine.decode.protocol import Final, Partial, StreamEvent
from engine.decode.vocabulary import Vocabulary
from engine.text.normalize import normalize_text

if TYPE_CHECKING:
    from engine.whisper.recognizer import WhisperRecognizer

__all__ = ["DEFAULT_PARTIALS", "PARTIALS", "PartialMode", "WhisperStream", "common_prefix"]

PartialMode = Literal["whisper", "ctc", "none"]
PARTIALS: tuple[PartialMode, ...] = ("whisper", "ctc", "none")
"""The partial modes (see the module docstring)."""
DEFAULT_PARTIALS: PartialMode = "whisper"
"""The live pane's partials (chosen from the measured figures in the module docstring)."""
PARTIAL_INTERVAL_S = 1.0
"""Seconds of new audio between two Whisper partials (and the audio needed for the first)."""
PARTIAL_WINDOW_S = 10
"""Encoder window (seconds) of a partial decode; longer open utterances use Whisper's own (30 s)."""
MAX_PARTIAL_SHARE = 0.5
"""At most this share of real time goes to partial decoding."""
NO_SPEECH_PROB = 0.6
"""A hypothesis with a higher no-speech probability (and average log-probability below −1) is empty."""


def common_prefix(a: list[str], b: list[str]) -> list[str]:
    """The longest common prefix of two word lists."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


class WhisperStream:
    """A :class:`~engine.decode.protocol.StreamSession` over a :class:`WhisperRecognizer`.

    Args:
        recognizer: the loaded model.
        endpoint: VAD endpointing settings (None: the defaults).
        vocabulary: passed to every final's transcription (partials stay open-vocabulary).
        partials: ``"whisper"`` (LocalAgreement-2), ``"ctc"`` (the bundled Sayso model) or ``"none"``.
        partial_interval_s: seconds of new audio between Whisper partials (CTC partials keep the
            Sayso family's :data:`engine.decode.streaming.PARTIAL_INTERVAL_S`).

    Attributes:
        committed: the open utterance's committed words (LocalAgreement-2; empty between utterances).

    Raises:
        ValueError: an unknown ``partials`` mode.

    >>> stream = WhisperRecognizer.from_checkpoint(folder).stream()           # doctest: +SKIP
    >>> for chunk in chunks: events = stream.feed(chunk)                    # doctest: +SKIP
    """

    def __init__(self, recognizer: WhisperRecognizer, endpoint: EndpointConfig | None = None,
                 vocabulary: Vocabulary | None = None, partials: PartialMode = DEFAULT_PARTIALS,
                 partial_interval_s: float = PARTIAL_INTERVAL_S) -> None:
        if partials not in PARTIALS:
            raise ValueError(f"Unknown partials {partials!r} (one of {', '.join(PARTIALS)}).")
        self.recognizer, self.vocabulary, self.partials = recognizer, vocabulary, partials
        self._ctc = _bundled_ctc() if partials == "ctc" else None
        self.partial_interval_s = self._ctc.partial_interval_s if self._ctc is not None else partial_interval_s
        self.endpointer = Endpointer(endpoint)
        self.index = 0
        self._open_utterance()

    def _open_utterance(self) -> None:
        self.committed: list[str] = []
        self._previous: list[str] | None = None  # the last hypothesis (None: none yet)
        self._text = ""
        self._next_at = self.partial_interval_s  # seconds of the open utterance due for the next partial

    def feed(self, chunk: np.ndarray) -> list[StreamEvent]:
        """Consume ``(samples,)`` float32 16 kHz audio; the finals of the utterances it ended and
        the partial of the open one (when due and its text changed), in order."""
        received = time.perf_counter()
        out: list[StreamEvent] = []
        for e in self.endpointer.feed(chunk):
            if isinstance(e, SpeechStarted):
                self._open_utterance()
            elif isinstance(e, SpeechEnded):
                out.append(self._final(e, received))
        partial = self._partial()
        return out + ([partial] if partial is not None else [])

    def flush(self) -> list[StreamEvent]:
        """End of stream: the final of the utterance in progress, if any."""
        received = time.perf_counter()
        return [self._final(u, received) for u in self.endpointer.flush()]

    # ------------------------------------------------------------------ partials

    def _partial(self) -> Partial | None:
        ep = self.endpointer
        if self.partials == "none" or not ep.in_speech or ep.trailing_silence_s > 0:
            return None
        seconds = ep.time - ep.current_start
        if seconds < self._next_at:
            return None
        t0 = time.perf_counter()
        words = self.hypothesis(ep.current_audio)
        text = " ".join(words) if self._ctc is not None else self._agree(words)
        cost = time.perf_counter() - t0
        self._next_at = seconds + max(self.partial_interval_s, cost / MAX_PARTIAL_SHARE)
        if text == self._text:
            return None
        self._text = text
        return Partial(self.index, ep.current_start, ep.current_start + seconds, text, cost)

    def _agree(self, words: list[str]) -> str:
        """LocalAgreement-2: commit what the last two hypotheses agree on; the text to show."""
        if self._previous is not None:
            agreed = common_prefix(self._previous, words)
            if len(agreed) > len(self.committed) and agreed[: len(self.committed)] == self.committed:
                self.committed = agreed
        self._previous = words
        return " ".join(self.committed + words[len(self.committed):])

    def hypothesis(self, audio: np.ndarray) -> list[str]:
        """A partial hypothesis of ``(samples,)`` float32 16 kHz audio, as normalized words.

        ``"ctc"``: the bundled Sayso model's greedy CTC. Otherwise Whisper, cheaply: one encoder
        pass over a :data:`PARTIAL_WINDOW_S` window (30 s for longer audio), greedy decoding without
        timestamps, the token count capped near the speech rate; [] if Whisper calls it no speech.
        """
        if self._ctc is not None:
            return self._ctc.partial_text(audio).split()
        model, tokenizer = self.recognizer.model, self.recognizer.tokenizer
        features = model.feature_extractor(audio)  # (mels, frames), 100 frames a second
        window = 100 * PARTIAL_WINDOW_S
        if features.shape[-1] > window:
            window = model.feature_extractor.nb_max_frames  # Whisper's own 30 s
        features = features[:, :window]
        features = np.pad(features, ((0, 0), (0, window - features.shape[-1])))
        encoded = model.encode(np.ascontiguousarray(features, dtype=np.float32))
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        (result,) = model.model.generate(
            encoded, [prompt], beam_size=1, max_length=len(prompt) + 16 + int(12 * len(audio) / SAMPLE_RATE),
            return_scores=True, return_no_speech_prob=True, suppress_blank=True, suppress_tokens=[-1])
        if result.no_speech_prob > NO_SPEECH_PROB and result.scores[0] < -1.0:
            return []
        return normalize_text(tokenizer.decode(result.sequences_ids[0])).split()

    # ------------------------------------------------------------------ finals

    def _final(self, utt: SpeechEnded, received: float) -> Final:
        index, self.index = self.index, self.index + 1
        self._open_utterance()
        rec = self.recognizer.transcribe(utt.audio, vocabulary=self.vocabulary)
        words = [WordTiming(w.word, w.start + utt.start, w.end + utt.start, w.confidence) for w in rec.words]
        return Final(index, utt.start, utt.end, rec.text, rec.confidence, words, utt.forced,
                     time.perf_counter() - received, False, utt.speech_end)


@functools.cache
def _bundled_ctc():
    """A :class:`~engine.decode.streaming.StreamingRecognizer` over the bundled Sayso model, loaded once."""
    from engine.decode.recognizer import SaysoRecognizer
    from engine.decode.streaming import StreamingRecognizer

    return StreamingRecognizer(SaysoRecognizer.from_checkpoint())
