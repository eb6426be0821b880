"""Playing audio on the speakers with sounddevice (PortAudio).

A :class:`Player` plays ``(samples,)`` float32 16 kHz mono audio, or a
``[start, end)`` segment of it (seconds), on one output device. It opens the
device at 16 kHz when the device accepts that, else at the device's own
default rate, the segment then being resampled with
:func:`engine.audio.io.resample` before the stream starts.

The PortAudio callback runs on PortAudio's audio thread. It only copies the
next block out of a buffer prepared by :meth:`Player.play` (broadcast to every
channel of a multi-channel device, zero-padded after the end) and bumps
counters: no allocation, no lock, no logging. A small watchdog thread closes
the stream once playback ended and reports a device that stopped asking for
audio.

:attr:`Player.position` is the time in seconds (into the whole audio, not the
segment) of the sample being heard now: frames handed to PortAudio, minus the
frames still queued in the device (the callback's DAC time, else the stream's
reported output latency), interpolated with the clock between callbacks so a
cursor moves smoothly. It never goes backwards during one playback.

Failures a user can act on raise :class:`PlaybackError` with a plain message.
A device lost in the middle of playback (unplugged, sound server gone) does
not raise: playback ends, :attr:`Player.error` says what happened, and
:meth:`Player.wait` returns.

Devices come from :mod:`engine.audio.devices`, which imports ``sounddevice``
lazily: importing this module touches no audio hardware.
"""
from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass

import numpy as np

from engine.audio.devices import Device, Direction, close_stream, import_sounddevice, list_devices, resolve_device
from engine.audio.io import SAMPLE_RATE, resample, to_mono

__all__ = ["OutputDevice", "PlaybackError", "Player", "list_output_devices"]

NO_SPEAKERS = (
    "No audio output device was found. Connect speakers or headphones (or enable an "
    "output in the system sound settings) and try again."
)

STALL_SECONDS = 4.0
"""A stream that asks for no audio for this long is reported as lost. Generous:
a sound server may take a second or two to wake a suspended sink."""

DRAIN_GRACE_SECONDS = 2.0
"""After the last block was handed over, PortAudio gets the output latency plus
this long to report the end before the stream is closed anyway."""


class PlaybackError(RuntimeError):
    """The speakers cannot be used.

    Raised by :meth:`Player.play` for: no output device, a device that does not
    exist, and a device that refuses to open or start. The message is meant for
    users and never contains a traceback.
    """


@dataclass
class OutputDevice(Device):
    """One playback device as PortAudio sees it: pass its ``index`` as
    ``Player(device=...)``; ``name`` (e.g. ``"HDA Intel PCH: ALC892 Analog (hw:0,0)"``)
    and ``default_samplerate`` (Hz) as in :class:`~engine.audio.devices.Device`.

    Attributes:
        max_output_channels: number of output channels (>= 1).
        is_default: True for the system's default output device.
    """

    max_output_channels: int
    is_default: bool


_DIRECTION = Direction(
    kind="output", error=PlaybackError, no_device=NO_SPEAKERS,
    device="output device", default_device="audio output device", devices="output devices",
)


def _sounddevice():
    """Import sounddevice, or raise :class:`PlaybackError` if PortAudio cannot start.

    Looked up at each call, so tests can stand in a fake sounddevice module."""
    return import_sounddevice(_DIRECTION)


def list_output_devices() -> list[OutputDevice]:
    """All devices with at least one output channel, in PortAudio's order.

    Returns:
        The devices; ``[]`` when PortAudio finds none or cannot start. Never
        raises for "no devices".
    """
    return list_devices(_DIRECTION, OutputDevice, _sounddevice)


class Player:
    """Plays 16 kHz mono float32 audio on one output device, one sound at a time.

    Args:
        device: PortAudio device index, a unique substring of its name, or None
            for the system's default output device.
        device_rate: rate in Hz to open the device at; None tries 16 kHz and
            falls back to the device's default rate when the device refuses it.
        latency: PortAudio's suggested output latency, ``"low"``, ``"high"``
            or seconds. :attr:`position` compensates for it either way;
            ``"high"`` survives a busy machine without dropouts.

    Raises:
        ValueError: ``device_rate`` is not positive.

    Construction touches no audio hardware; :meth:`play` opens the device and
    :meth:`stop` (or the end of the audio) closes it. A player can play any
    number of sounds one after another; :meth:`play` during playback replaces
    the current sound.
    """

    def __init__(self, device: int | str | None = None, device_rate: int | None = None,
                 latency: str | float = "high"):
        if device_rate is not None and int(device_rate) <= 0:
            raise ValueError(f"device_rate must be positive, got {device_rate}")
        self._device = device
        self._requested_rate = int(device_rate) if device_rate is not None else None
        self._latency = latency

        self._lock = threading.Lock()  # play/stop/watchdog; never the callbacks
        self._stream = None
        self._device_name = ""
        self._rate = 0
        self._latency_s = 0.0
        self._callback_stop: type[BaseException] = Exception
        self._buffer = np.zeros(0, dtype=np.float32)
        self._total = 0
        self._start = 0.0
        self._end = 0.0
        self._done = threading.Event()
        self._done.set()
        self._watchdog: threading.Thread | None = None
        self._lost_message = ""
        self._generation = 0  # bumped per stream: a late finished-callback of an old one is ignored
        self._reset()

    # ------------------------------------------------------------ state

    def _reset(self) -> None:
        """Fresh counters for a new playback (no stream running)."""
        self._handed = 0            # device-rate frames given to PortAudio (monotonic)
        self._clock: tuple[int, float] | None = None  # (frames before the last block, when its first frame is heard)
        self._last_callback = 0.0   # time.monotonic() of the last callback
        self._end_heard_at = 0.0    # time.monotonic() when the last frame will have been heard; 0 until handed
        self._underflows = 0
        self._error: str | None = None
        self._stopping = False
        self._finished = False      # PortAudio reported the end of the stream
        self._frozen: float | None = None  # position once playback is over
        self._last_position = 0.0

    @property
    def is_playing(self) -> bool:
        """True from :meth:`play` until the sound ends, :meth:`stop`, or the device is lost."""
        return not self._done.is_set()

    @property
    def position(self) -> float:
        """Seconds into the audio given to :meth:`play` of the sample being heard now.

        Runs from ``start`` to ``end`` of the segment, never backwards within
        one playback; equals ``end`` once the sound played to its end, stays
        where it was after :meth:`stop` or a lost device, and is 0.0 before
        the first :meth:`play`.
        """
        frozen = self._frozen
        if frozen is not None:
            return frozen
        return self._live_position()

    def _live_position(self) -> float:
        clock, rate = self._clock, self._rate
        if clock is None or rate <= 0:
            return self._start
        before, heard_at = clock
        handed = self._handed
        frames = before + (time.monotonic() - heard_at) * rate
        frames = min(max(frames, 0.0), float(handed))  # nothing not yet handed can be heard
        pos = min(self._start + frames / rate, self._end)
        if pos < self._last_position:
            return self._last_position
        self._last_position = pos
        return pos

    @property
    def segment(self) -> tuple[float, float]:
        """``(start, end)`` in seconds of the sound playing or last played; (0, 0) before any."""
        return self._start, self._end

    @property
    def error(self) -> str | None:
        """Why the last playback ended on its own before its end (device lost), for users; None if it did not."""
        return self._error

    @property
    def device_rate(self) -> int:
        """Rate in Hz the device was opened at by the last :meth:`play` (0 before)."""
        return self._rate

    @property
    def device_name(self) -> str:
        """Name of the device opened by the last :meth:`play` ("" before)."""
        return self._device_name

    @property
    def output_latency(self) -> float:
        """Output latency in seconds PortAudio reported for the last stream (0.0 before)."""
        return self._latency_s

    @property
    def underflows(self) -> int:
        """How many callbacks of this playback reported an output underflow (a dropout)."""
        return self._underflows

    def wait(self, timeout: float | None = None) -> bool:
        """Block until playback is over (end of the sound, :meth:`stop`, or a lost device).

        Args:
            timeout: seconds to wait at most; None waits for as long as it takes.

        Returns:
            True if playback is over (also when nothing was playing), False if
            ``timeout`` passed first.
        """
        return self._done.wait(timeout)

    # ------------------------------------------------------------ play

    def play(self, audio: np.ndarray, start: float = 0.0, end: float | None = None) -> None:
        """Start playing ``audio[start:end]`` and return at once.

        Args:
            audio: ``(samples,)`` float32 in [-1, 1] at 16 kHz (a
                ``(samples, channels)`` array is mixed down to mono).
            start: where to start, in seconds from the beginning of ``audio``.
            end: where to stop (exclusive), in seconds; None for the end of ``audio``.
                Both are clamped to the audio.

        Raises:
            ValueError: ``audio`` is not 1-D after mixing down, or the segment
                holds no sample (``end <= start``, or ``start`` at or past the end).
            PlaybackError: no output device exists, the requested device does not
                exist, or it refuses to open or start.

        A sound still playing is stopped first. The device is opened at
        16 kHz, else at its default rate (the segment is then resampled here,
        before the stream starts).
        """
        x = to_mono(audio)
        if x.ndim != 1:
            raise ValueError(f"expected (samples,) audio, got shape {np.shape(audio)}")
        i0 = min(max(int(round(float(start) * SAMPLE_RATE)), 0), len(x))
        i1 = len(x) if end is None else min(max(int(round(float(end) * SAMPLE_RATE)), 0), len(x))
        if i1 <= i0:
            raise ValueError(
                f"nothing to play: segment [{start}, {end}) s of {len(x) / SAMPLE_RATE:.3f} s of audio")
        self.stop()
        with self._lock:
            sd = _sounddevice()
            info = self._resolve_device(sd)
            stream, rate = self._open(sd, info)
            self._reset()
            self._start, self._end = i0 / SAMPLE_RATE, i1 / SAMPLE_RATE
            self._last_position = self._start
            starting = False
            try:
                seg = x[i0:i1]
                if rate != SAMPLE_RATE:
                    seg = resample(seg, SAMPLE_RATE, rate)
                self._buffer = np.ascontiguousarray(np.clip(seg, -1.0, 1.0), dtype=np.float32)
                self._total = len(self._buffer)
                self._stream = stream
                self._done.clear()
                starting = True
                stream.start()
            except BaseException as exc:
                self._stream = None
                self._done.set()
                self._frozen = self._start
                close_stream(stream, abort=False)
                if not (starting and isinstance(exc, Exception)):
                    raise  # resampling failed, or KeyboardInterrupt: not the device's fault
                raise PlaybackError(
                    f"The output device '{self._device_name}' could not be started at {rate} Hz "
                    f"({exc}). It may be in use by another program; try another output device."
                ) from None
            self._watchdog = threading.Thread(
                target=self._watch, name="sayso-playback-watchdog", daemon=True)
            self._watchdog.start()

    def _resolve_device(self, sd) -> dict:
        """PortAudio's info of the requested device; :class:`PlaybackError` if there is none."""
        return resolve_device(sd, _DIRECTION, self._device, list_output_devices)

    def _open(self, sd, info: dict):
        """Open an OutputStream: at the requested rate, else 16 kHz, else the
        device's default rate; mono if the device allows it, else stereo.

        Returns:
            ``(stream, rate)``; the stream is not started.
        """
        name = str(info["name"])
        default_rate = int(round(float(info["default_samplerate"])))
        if self._requested_rate is not None:
            rates = [self._requested_rate]
        else:
            rates = [SAMPLE_RATE] + ([default_rate] if default_rate > 0 and default_rate != SAMPLE_RATE else [])
        max_ch = int(info["max_output_channels"])
        channels = [1] + ([2] if max_ch > 1 else [])
        last = None
        for rate in rates:
            for ch in channels:
                try:
                    stream = sd.OutputStream(
                        device=int(info["index"]), samplerate=rate, channels=ch,
                        dtype="float32", latency=self._latency,
                        callback=self._callback,
                        finished_callback=functools.partial(self._finished_cb, self._generation + 1))
                except Exception as exc:
                    last = exc
                    continue
                self._generation += 1
                self._device_name = name
                self._rate = rate
                self._callback_stop = sd.CallbackStop
                try:
                    self._latency_s = max(0.0, float(stream.latency))
                except Exception:
                    self._latency_s = 0.0
                self._lost_message = (
                    f"Playback on '{name}' stopped: the output device was unplugged or the "
                    "sound system stopped."
                )
                return stream, rate
        tried = " or ".join(f"{r} Hz" for r in rates)
        raise PlaybackError(
            f"The output device '{name}' could not be opened at {tried} ({last}). "
            "It may be in use by another program; try another output device."
        )

    # ------------------------------------------------------------ audio thread

    def _callback(self, outdata, frames, time_info, status) -> None:
        """PortAudio callback: copy the next ``frames`` of the buffer to every channel."""
        if status.output_underflow:
            self._underflows += 1
        p = self._handed
        n = min(frames, self._total - p)
        if n > 0:
            outdata[:n] = self._buffer[p:p + n, None]
        else:
            n = 0
        if n < frames:
            outdata[n:] = 0.0
        now = time.monotonic()
        lat = time_info.outputBufferDacTime - time_info.currentTime
        if not (time_info.outputBufferDacTime > 0.0 and 0.0 <= lat < 2.0):
            lat = self._latency_s
        self._clock = (p, now + lat)
        self._last_callback = now
        self._handed = p + n
        if p + n >= self._total:
            if not self._end_heard_at:
                self._end_heard_at = now + lat + n / self._rate
            raise self._callback_stop

    def _finished_cb(self, generation: int) -> None:
        """PortAudio finished-callback: the stream ended (played out, stopped, or the device failed).

        After the last block the watchdog ends playback once that block has
        been heard; before it, the device failed: end playback now.
        """
        if generation != self._generation:
            return  # a stream replaced by a later play()
        self._finished = True
        if self._stopping or self._end_heard_at or self._frozen is not None:
            return
        if self._error is None:
            self._error = self._lost_message
        self._frozen = self._live_position()
        self._done.set()

    # ------------------------------------------------------------ watchdog

    def _watch(self) -> None:
        """End playback when the last sample has been heard (then close the stream),
        or when the stream stopped asking for audio (then report the device lost)."""
        started = time.monotonic()
        while True:
            end_at = self._end_heard_at
            timeout = 0.05 if not end_at else min(0.05, max(0.01, end_at - time.monotonic()))
            if self._done.wait(timeout) or self._stopping:
                break  # stop(), or the device failed (see _finished_cb)
            now = time.monotonic()
            if end_at:
                if self._finished and now >= end_at:
                    break  # played to the end
                if now > end_at + DRAIN_GRACE_SECONDS:
                    break  # PortAudio never reported the end: the sound has played anyway
                continue
            if now - (self._last_callback or started) > STALL_SECONDS:
                if self._error is None:
                    self._error = (
                        f"Playback on '{self._device_name}' stopped: the output device took no "
                        f"audio for more than {STALL_SECONDS:g} s (it was unplugged or the sound "
                        "system stopped)."
                    )
                break
        with self._lock:
            if self._stopping or self._watchdog is not threading.current_thread():
                return
            if self._frozen is None:
                self._frozen = self._end if self._error is None else self._live_position()
            self._close_stream()
            self._done.set()

    def _close_stream(self) -> None:
        """Abort and close the stream (lock held). Abort, not stop: Pa_StopStream
        waits for the buffers to play out and hangs on a device that stalled."""
        stream, self._stream = self._stream, None
        close_stream(stream)

    # ------------------------------------------------------------ stop

    def stop(self) -> None:
        """Stop playing now (no-op if nothing plays). :attr:`position` stays where
        playback stopped. Never raises for device trouble, never blocks on a dead device."""
        with self._lock:
            if self._stream is None and self._watchdog is None:
                self._done.set()
                return
            if self._frozen is None:
                self._frozen = self._live_position()
            self._stopping = True
            self._close_stream()
            self._done.set()
            wd, self._watchdog = self._watchdog, None
        if wd is not None and wd is not threading.current_thread():
            wd.join(timeout=5.0)

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __del__(self):
        try:
            if self._stream is not None:
                self._stopping = True
                self._close_stream()
        except Exception:
            pass
