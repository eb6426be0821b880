"""Quality checks of a recorded take, in words a person understands.

:func:`check_take` looks at one take (a prompt read aloud) and says what is
wrong with it before it goes into a data set:

* **too quiet**: the speech peaks below :data:`QUIET_PEAK_DBFS` or its RMS
  is below :data:`QUIET_RMS_DBFS`;
* **clipped**: at least :data:`CLIPPED_MIN_SAMPLES` samples reach full scale
  (:data:`CLIP_LEVEL`); the report counts them;
* **cut off**: speech starts within :data:`EDGE_SECONDS` of the start of the
  take, or runs to within it of the end (recording started late or stopped
  early);
* **no speech found**: the voice activity detector found none;
* **too short**: the take is shorter than :data:`MIN_TAKE_SECONDS`, or its
  speech spans less than :data:`MIN_SPEECH_SECONDS`.

:func:`trim_silence` gives the stretch worth keeping: from the first to the
last speech, padded by ``pad_s`` seconds each side.

Speech is located with the WebRTC voice activity detector (Google's
GMM-based VAD from the WebRTC project, through
:func:`engine.audio.vad.speech_regions`: 30 ms frames, aggressiveness 3).
Its times are multiples of 30 ms. It needs some level to work: speech
peaking below about -35 dBFS is often not detected at all, so a very quiet
take reports "no speech found" as well as "too quiet".

Units: times in seconds, rates in Hz, levels in dBFS (decibels relative to
full scale: 0 dBFS is a sample of magnitude 1.0, ``-inf`` digital silence).
RMS levels are ``20·log10(rms)``, so a full-scale sine wave reads -3 dBFS.
Samples are float32 in [-1, 1]. This module imports no Qt.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from engine.audio.io import SAMPLE_RATE, resample, to_mono
from engine.audio.vad import speech_regions

__all__ = [
    "CLIPPED_MIN_SAMPLES",
    "CLIP_LEVEL",
    "EDGE_SECONDS",
    "MIN_SPEECH_SECONDS",
    "MIN_TAKE_SECONDS",
    "QUIET_PEAK_DBFS",
    "QUIET_RMS_DBFS",
    "TRIM_PAD_SECONDS",
    "Issue",
    "TakeReport",
    "TakeWarning",
    "check_take",
    "dbfs",
    "trim_silence",
]

QUIET_PEAK_DBFS = -24.0
"""Speech whose loudest sample is below this (dBFS) is too quiet. Read
speech recorded at a sensible gain peaks around -12 … -3 dBFS; the real
Speech Commands clips of the tests peak at -7 … -18 dBFS."""
QUIET_RMS_DBFS = -40.0
"""Speech whose RMS level over the detected speech is below this (dBFS) is
too quiet even if a click or a plosive peaks higher. The real Speech
Commands clips of the tests measure -24 … -34 dBFS."""
CLIP_LEVEL = 0.999
"""A sample whose magnitude reaches this (full scale = 1.0) is at full scale,
as in :data:`engine.audio.capture.CLIP_LEVEL`. A 16-bit WAV stores full
scale as 32767/32768 = 0.99997, above this."""
CLIPPED_MIN_SAMPLES = 3
"""A take is clipped when at least this many samples are at full scale. One
or two such samples are what peak normalization to 0 dBFS leaves; a
microphone or gain that overloads flattens whole runs of samples."""
EDGE_SECONDS = 0.05
"""Speech closer than this (seconds) to the start or the end of the take is
cut off: the recording started after the speaker or stopped before them.
(The VAD works in 30 ms frames, so this means "the first or last frame or
two are speech".)"""
MIN_TAKE_SECONDS = 0.5
"""A take shorter than this (seconds) is too short (a slip of the key)."""
MIN_SPEECH_SECONDS = 0.2
"""Speech spanning less than this (seconds, first speech start to last
speech end) is too short: a false start, a cough, a click. The short real
word "up" spans about 0.21 s."""
TRIM_PAD_SECONDS = 0.25
"""Silence kept before the first and after the last speech by default, in
seconds (TTS recipes such as Piper's expect a little silence around speech)."""


class Issue(str, Enum):
    """What can be wrong with a take (the ``code`` of a :class:`TakeWarning`)."""

    TOO_QUIET = "too_quiet"
    CLIPPED = "clipped"
    CUT_OFF = "cut_off"
    NO_SPEECH = "no_speech"
    TOO_SHORT = "too_short"


@dataclass(frozen=True)
class TakeWarning:
    """One problem of a take.

    Attributes:
        issue: which kind of problem.
        message: one sentence for the person recording, saying what is wrong
            and what to do (no jargon beyond "dBFS").
    """

    issue: Issue
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class TakeReport:
    """What :func:`check_take` found in one take.

    Attributes:
        duration: length of the take in seconds.
        sample_rate: rate of the take in Hz.
        speech: speech regions ``(start, end)`` in seconds (WebRTC VAD), in order.
        peak_dbfs: peak level in dBFS of the speech (of the whole take when
            no speech was found; ``-inf`` for digital silence).
        rms_dbfs: RMS level in dBFS of the speech (of the whole take when no
            speech was found).
        clipped_samples: how many samples are at full scale (|x| >= :data:`CLIP_LEVEL`).
        cut_at_start: speech begins within :data:`EDGE_SECONDS` of the start.
        cut_at_end: speech reaches within :data:`EDGE_SECONDS` of the end.
        trim: ``(start, end)`` seconds worth keeping: :func:`trim_silence`
            with :data:`TRIM_PAD_SECONDS` (the whole take when no speech).
        warnings: the problems, in the order too quiet, clipped, cut off,
            no speech, too short; empty for a good take.
    """

    duration: float
    sample_rate: int
    speech: tuple[tuple[float, float], ...]
    peak_dbfs: float
    rms_dbfs: float
    clipped_samples: int
    cut_at_start: bool
    cut_at_end: bool
    trim: tuple[float, float]
    warnings: tuple[TakeWarning, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when there is nothing to warn about."""
        return not self.warnings

    @property
    def issues(self) -> frozenset[Issue]:
        """The kinds of problems found."""
        return frozenset(w.issue for w in self.warnings)

    def has(self, issue: Issue) -> bool:
        """True if ``issue`` was found."""
        return issue in self.issues

    @property
    def messages(self) -> list[str]:
        """The warnings' sentences."""
        return [w.message for w in self.warnings]

    @property
    def speech_span(self) -> tuple[float, float] | None:
        """``(first speech start, last speech end)`` in seconds, or None."""
        return (self.speech[0][0], self.speech[-1][1]) if self.speech else None


def dbfs(value: float) -> float:
    """A linear magnitude (1.0 = full scale) in dBFS; ``-inf`` for 0."""
    return 20.0 * math.log10(value) if value > 0 else -math.inf


def _mono(audio) -> np.ndarray:
    a = to_mono(np.asarray(audio, dtype=np.float32))
    if a.ndim != 1:
        raise ValueError(f"expected mono (samples,) or (samples, channels) audio, got shape {a.shape}")
    return np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=-1.0)


def _regions(audio: np.ndarray, sample_rate: int) -> list[tuple[float, float]]:
    """WebRTC VAD speech regions (seconds) of mono audio at any rate (the VAD runs at 16 kHz)."""
    if sample_rate != SAMPLE_RATE and audio.size:
        audio = resample(audio, sample_rate, SAMPLE_RATE)
    return speech_regions(audio)


def _padded(regions, duration: float, pad_s: float) -> tuple[float, float]:
    if not regions:
        return 0.0, duration
    start = max(0.0, regions[0][0] - pad_s)
    end = min(duration, regions[-1][1] + pad_s)
    return round(start, 6), round(end, 6)


def trim_silence(audio: np.ndarray, pad_s: float = TRIM_PAD_SECONDS,
                 sample_rate: int = SAMPLE_RATE) -> tuple[float, float]:
    """The stretch of a take worth keeping: first to last speech, padded.

    Speech is found with the WebRTC VAD (:func:`engine.audio.vad.speech_regions`).

    Args:
        audio: ``(samples,)`` float32 take in [-1, 1] (``(samples, channels)``
            is mixed down).
        pad_s: seconds of silence to keep before the first and after the last
            speech (clamped to the take).
        sample_rate: rate of ``audio`` in Hz.

    Returns:
        ``(start_s, end_s)`` in seconds, ``0 <= start_s < end_s <= duration``;
        the whole take ``(0.0, duration)`` when no speech is found.

    Raises:
        ValueError: ``pad_s`` is negative, or the audio is not mono/2-D.
    """
    if not pad_s >= 0:
        raise ValueError(f"pad_s must be >= 0 seconds, got {pad_s}")
    a = _mono(audio)
    return _padded(_regions(a, sample_rate), a.size / sample_rate, pad_s)


def check_take(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> TakeReport:
    """Check a recorded take for the problems a person would want to hear about.

    Args:
        audio: ``(samples,)`` float32 take in [-1, 1] (``(samples, channels)``
            is mixed down; NaN counts as silence).
        sample_rate: rate of ``audio`` in Hz.

    Returns:
        A :class:`TakeReport`; its ``warnings`` are empty for a good take.
        Never raises for bad audio (empty, silent, clipped): that is what
        the warnings are for.

    Raises:
        ValueError: ``sample_rate`` is not positive or the audio has more
            than two dimensions.
    """
    if int(sample_rate) <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    sample_rate = int(sample_rate)
    a = _mono(audio)
    duration = a.size / sample_rate
    regions = _regions(a, sample_rate)

    mags = np.abs(a)
    clipped = int(np.count_nonzero(mags >= CLIP_LEVEL))
    if regions:
        parts = [a[int(s * sample_rate):int(math.ceil(e * sample_rate))] for s, e in regions]
        speech = np.concatenate(parts) if parts else a
    else:
        speech = a
    peak = dbfs(float(np.max(np.abs(speech)))) if speech.size else -math.inf
    rms = dbfs(float(np.sqrt(np.mean(np.square(speech, dtype=np.float64))))) if speech.size else -math.inf
    cut_start = bool(regions) and regions[0][0] < EDGE_SECONDS
    cut_end = bool(regions) and regions[-1][1] > duration - EDGE_SECONDS

    warnings: list[TakeWarning] = []
    silent = peak == -math.inf
    if not silent and (peak < QUIET_PEAK_DBFS or rms < QUIET_RMS_DBFS):
        what = "the speech" if regions else "the take"
        warnings.append(TakeWarning(Issue.TOO_QUIET, (
            f"Too quiet: {what} peaks at {peak:.0f} dBFS (RMS {rms:.0f} dBFS); aim for peaks above "
            f"{QUIET_PEAK_DBFS:.0f} dBFS. Speak up, move closer to the microphone or raise its "
            "input gain.")))
    if clipped >= CLIPPED_MIN_SAMPLES:
        warnings.append(TakeWarning(Issue.CLIPPED, (
            f"Clipped: {clipped} sample{'s' if clipped != 1 else ''} "
            f"({clipped / sample_rate * 1000:.0f} ms) hit full scale and are distorted. Lower the "
            "input gain or move back from the microphone.")))
    if cut_start or cut_end:
        where = ("at both ends" if cut_start and cut_end
                 else "at the start: the speech begins right as the take begins" if cut_start
                 else "at the end: the speech runs until the very end of the take")
        fix = ("Start recording before speaking and stop after a short pause."
               if cut_start and cut_end else
               "Start recording, wait a moment, then speak." if cut_start else
               "Pause for a moment after speaking before you stop.")
        warnings.append(TakeWarning(Issue.CUT_OFF, f"Cut off {where}. {fix}"))
    if not regions:
        warnings.append(TakeWarning(Issue.NO_SPEECH, (
            "No speech was found in the take" + (" (it is silent)" if silent else "") +
            ". Check that the right microphone is selected and not muted.")))
    span = (regions[-1][1] - regions[0][0]) if regions else 0.0
    if duration < MIN_TAKE_SECONDS:
        warnings.append(TakeWarning(Issue.TOO_SHORT, (
            f"Too short: the take lasts {duration:.2f} s (at least {MIN_TAKE_SECONDS:g} s expected).")))
    elif regions and span < MIN_SPEECH_SECONDS:
        warnings.append(TakeWarning(Issue.TOO_SHORT, (
            f"Too short: only {span:.2f} s of speech was found; read the whole prompt.")))
    return TakeReport(
        duration=duration, sample_rate=sample_rate, speech=tuple(regions), peak_dbfs=peak, rms_dbfs=rms,
        clipped_samples=clipped, cut_at_start=cut_start, cut_at_end=cut_end,
        trim=_padded(regions, duration, TRIM_PAD_SECONDS), warnings=tuple(warnings))
