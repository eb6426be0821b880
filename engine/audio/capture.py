"""Microphone capture with sounddevice (PortAudio).

A :class:`Recorder` opens one input device at the device's own sample rate
(or ``device_rate``), lets the PortAudio callback copy each block into a
preallocated ring buffer, and resamples to :data:`~engine.audio.io.SAMPLE_RATE`
(16 kHz) with ``torchaudio.functional.resample`` outside the callback:

* :meth:`Recorder.read_new` returns the 16 kHz samples captured since the
  previous call (for live waveforms and meters);
* :meth:`Recorder.stop` returns the whole take.

Samples are ``float32`` mono in [-1, 1]; rates are in Hz, times in seconds and
levels in dBFS (0 dBFS = full scale, ``-inf`` = digital silence).

The callback runs on PortAudio's audio thread. It does nothing but copy the
block into the ring (first channel of a multi-channel device), take the
block's min/max for clip detection and bump counters: no allocation beyond
that copy, no lock, no logging. Everything else (resampling, levels, stall
detection) happens on the caller's thread or in a small watchdog thread.

Failures a user can act on raise :class:`CaptureError` with a plain message.
A device lost in the middle of a take (unplugged, sound server gone) does not
raise: :attr:`Recorder.error` says what happened and :meth:`Recorder.stop`
still returns what was captured.

Devices come from :mod:`engine.audio.devices`, which imports ``sounddevice``
lazily: importing this module touches no audio hardware.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from engine.audio.devices import Device, Direction, close_stream, import_sounddevice, list_devices, resolve_device
from engine.audio.io import SAMPLE_RATE, resample

__all__ = ["CaptureError", "InputDevice", "Recorder", "list_input_devices"]

NO_MICROPHONE = (
    "No microphone was found. Connect a microphone (or enable one in the system "
    "sound settings) and try again."
)

CLIP_LEVEL = 0.999
"""A sample whose magnitude reaches this (full scale = 1.0) counts as clipped."""

LEVEL_WINDOW_SECONDS = 0.05
""":attr:`Recorder.level_dbfs` is the peak of this much of the latest audio."""

STALL_SECONDS = 1.0
"""A recording stream that delivers no audio for this long is reported as lost."""

FIRST_BLOCK_SECONDS = 10.0
"""How long a just-started stream may take to deliver its first block before it
is reported as lost: on a loaded machine the sound server can take seconds to
resume a source, which is a slow start, not an unplugged microphone."""

_LOWPASS_FILTER_WIDTH = 6  # torchaudio.functional.resample defaults
_ROLLOFF = 0.99


class CaptureError(RuntimeError):
    """The microphone cannot be used.

    Raised for: no input device, a device that does not exist, a device that
    refuses the settings (rate, channels) or cannot be opened, and a
    :class:`Recorder` used out of order. The message is meant for users and
    never contains a traceback.
    """


@dataclass
class InputDevice(Device):
    """One capture device as PortAudio sees it: pass its ``index`` as
    ``Recorder(device=...)``; ``name`` and ``default_samplerate`` (Hz) as in
    :class:`~engine.audio.devices.Device`.

    Attributes:
        max_input_channels: number of input channels (>= 1).
        is_default: True for the system's default input device.
    """

    max_input_channels: int
    is_default: bool


_DIRECTION = Direction(
    kind="input", error=CaptureError, no_device=NO_MICROPHONE,
    device="microphone", default_device="microphone", devices="microphones",
)


def list_input_devices() -> list[InputDevice]:
    """All devices with at least one input channel, in PortAudio's order.

    Returns:
        The devices; ``[]`` when PortAudio finds none or cannot start. Never
        raises for "no devices".
    """
    return list_devices(_DIRECTION, InputDevice)


class Recorder:
    """Records one microphone into a ring buffer; hands out 16 kHz mono float32.

    Args:
        device: PortAudio device index, a unique substring of its name, or None
            for the system's default input device.
        device_rate: rate in Hz to open the device at; None for the device's
            default rate. The audio is resampled to 16 kHz either way.
        ring_seconds: capacity of the ring buffer in seconds (at the device
            rate). A longer take keeps its most recent ``ring_seconds`` and
            :attr:`dropped_seconds` says how much was lost.

    Raises:
        ValueError: ``ring_seconds`` or ``device_rate`` is not positive.

    A recorder can record several takes one after another; each
    :meth:`start` begins a fresh take.
    """

    def __init__(self, device: int | str | None = None, device_rate: int | None = None,
                 ring_seconds: float = 600.0):
        if not ring_seconds > 0:
            raise ValueError(f"ring_seconds must be positive, got {ring_seconds}")
        if device_rate is not None and int(device_rate) <= 0:
            raise ValueError(f"device_rate must be positive, got {device_rate}")
        self._device = device
        self._requested_rate = int(device_rate) if device_rate is not None else None
        self._ring_seconds = float(ring_seconds)

        self._lock = threading.Lock()  # start/stop/watchdog/read_new; never the callback
        self._stream = None
        self._device_name = ""
        self._rate = self._requested_rate or 0
        self._ring = np.zeros(0, dtype=np.float32)
        self._size = 0
        self._lost_message = ""
        self._reset_take()
        self._take: np.ndarray | None = None
        self._watchdog: threading.Thread | None = None
        self._watchdog_stop = threading.Event()

    # ------------------------------------------------------------ state

    def _reset_take(self) -> None:
        self._written = 0          # device-rate samples written since start (monotonic)
        self._overflows = 0
        self._clipped = False
        self._error: str | None = None
        self._running = False
        self._stopping = False
        # read_new() position: device-rate input consumed and 16 kHz samples emitted
        self._read_in = 0
        self._read_out = 0

    @property
    def is_recording(self) -> bool:
        """True between :meth:`start` and :meth:`stop` while the device delivers audio.

        Becomes False by itself when the device is lost (see :attr:`error`).
        """
        return self._running and self._error is None

    @property
    def device_rate(self) -> int:
        """Rate in Hz the device is (or was last) opened at; before the first
        :meth:`start`, the requested ``device_rate`` or 0 for "device default"."""
        return self._rate

    @property
    def device_name(self) -> str:
        """Name of the device opened by the last :meth:`start` ("" before)."""
        return self._device_name

    @property
    def overflows(self) -> int:
        """How many callbacks of this take reported an input overflow (audio lost
        because the callback ran late)."""
        return self._overflows

    @property
    def clipped(self) -> bool:
        """True if any sample of this take reached full scale (|x| >= 0.999)."""
        return self._clipped

    @property
    def error(self) -> str | None:
        """Why the take ended on its own (device lost or stalled), for users; None if it did not."""
        return self._error

    @property
    def dropped_seconds(self) -> float:
        """Seconds of the start of this take discarded because the take
        outgrew ``ring_seconds`` (the ring keeps the most recent audio)."""
        if self._size == 0 or self._rate == 0:
            return 0.0
        return max(0, self._written - self._size) / self._rate

    @property
    def duration(self) -> float:
        """Seconds captured so far in this take (including any dropped)."""
        return self._written / self._rate if self._rate else 0.0

    @property
    def level_dbfs(self) -> float:
        """Peak level in dBFS of the most recent ~50 ms: ``-inf`` (silence, or not
        recording) up to 0.0 (full scale)."""
        if not self.is_recording or self._rate == 0:
            return -math.inf
        w = self._written
        n = max(1, int(LEVEL_WINDOW_SECONDS * self._rate))
        seg = self._gather(w - n, w, w)
        if seg.size == 0:
            return -math.inf
        peak = float(np.max(np.abs(seg)))
        if peak <= 0.0:
            return -math.inf
        return min(0.0, 20.0 * math.log10(peak))

    # ------------------------------------------------------------ start

    def start(self) -> None:
        """Open the device and start a new take.

        Raises:
            CaptureError: no input device exists ("No microphone was found…"),
                the requested device does not exist, or it refuses to open at
                the rate; also if this recorder is already recording.
        """
        if self._running and self._error is not None:
            self.stop()  # the previous take ended with a lost device: release it
        with self._lock:
            if self._running:
                raise CaptureError("A recording is already running; stop it first.")
            sd = import_sounddevice(_DIRECTION)
            info = self._resolve_device(sd)
            name = str(info["name"])
            rate = self._requested_rate or int(round(float(info["default_samplerate"])))
            if rate <= 0:
                raise CaptureError(f"The microphone '{name}' reports no usable sample rate.")

            self._prepare(rate, name)
            if rate != SAMPLE_RATE:
                # import torch now: an import during the take would hold the GIL
                # long enough to starve the callback, and delay stop()
                resample(np.zeros(rate // 10, dtype=np.float32), rate, SAMPLE_RATE)
            stream = self._open(sd, info, rate)
            self._running = True
            try:
                stream.start()
            except Exception as exc:
                self._running = False
                close_stream(stream, abort=False)
                raise CaptureError(
                    f"The microphone '{name}' could not be started at {rate} Hz ({exc}). "
                    "It may be in use by another program; try another microphone."
                ) from None
            self._stream = stream
            self._watchdog_stop.clear()
            self._watchdog = threading.Thread(
                target=self._watch, name="sayso-capture-watchdog", daemon=True)
            self._watchdog.start()

    def _prepare(self, rate: int, name: str) -> None:
        """Allocate the ring for ``rate`` Hz and reset the take (no device involved)."""
        size = max(1, int(round(self._ring_seconds * rate)))
        if self._ring.shape[0] != size:
            self._ring = np.zeros(size, dtype=np.float32)
        self._size = size
        self._rate = rate
        self._device_name = name
        self._take = None
        self._reset_take()
        self._lost_message = (
            f"The microphone '{name}' stopped working during the recording (it was "
            "unplugged or the sound system stopped). The audio recorded up to that "
            "point was kept."
        )

    def _resolve_device(self, sd) -> dict:
        """PortAudio's info of the requested device; :class:`CaptureError` if there is none."""
        return resolve_device(sd, _DIRECTION, self._device, list_input_devices)

    def _open(self, sd, info: dict, rate: int):
        """Open an InputStream: mono if the device allows it, else its first channels."""
        name = str(info["name"])
        tried = [1]
        max_ch = int(info["max_input_channels"])
        if max_ch > 1:
            tried.append(min(max_ch, 2))
        last = None
        for ch in tried:
            try:
                stream = sd.InputStream(
                    device=int(info["index"]), samplerate=rate, channels=ch,
                    dtype="float32", latency="high",
                    callback=self._callback, finished_callback=self._finished)
            except Exception as exc:
                last = exc
                continue
            return stream
        raise CaptureError(
            f"The microphone '{name}' could not be opened at {rate} Hz ({last}). "
            "Try another sample rate or microphone."
        )

    # ------------------------------------------------------------ audio thread

    def _callback(self, indata, frames, time_info, status) -> None:
        """PortAudio callback: copy ``indata[:, 0]`` into the ring, update counters."""
        if status and status.input_overflow:
            self._overflows += 1
        x = indata[:, 0]
        ring = self._ring
        size = self._size
        w = self._written
        n = frames
        if n > size:  # a block longer than the whole ring: keep its end
            x = x[n - size:]
            w += n - size
            n = size
        start = w % size
        first = size - start
        if n <= first:
            ring[start:start + n] = x
        else:
            ring[start:] = x[:first]
            ring[:n - first] = x[first:]
        if not self._clipped and n and (x.max() >= CLIP_LEVEL or x.min() <= -CLIP_LEVEL):
            self._clipped = True
        self._written = self._written + frames

    def _finished(self) -> None:
        """PortAudio finished-callback: the stream ended; if we did not stop it, the device is gone."""
        if not self._stopping and self._error is None:
            self._error = self._lost_message

    # ------------------------------------------------------------ watchdog

    def _watch(self) -> None:
        """Report a stream that stopped delivering audio as a lost device.

        PortAudio normally ends the stream with an error when the device goes
        away (see :meth:`_finished`); some back ends just stop calling back.
        """
        last_written = self._written
        last_change = time.monotonic()
        limit = FIRST_BLOCK_SECONDS  # until the first block arrives
        while not self._watchdog_stop.wait(0.1):
            if self._stopping or self._error is not None:
                break
            w = self._written
            now = time.monotonic()
            if w != last_written:
                last_written, last_change = w, now
                limit = STALL_SECONDS
                continue
            if now - last_change > limit:
                with self._lock:
                    if self._stopping or self._error is not None:
                        break
                    self._error = (
                        f"The microphone '{self._device_name}' stopped delivering audio for "
                        f"more than {limit:g} s (it was unplugged or the sound system "
                        "stopped). The audio recorded up to that point was kept."
                    ) if last_written else (
                        f"The microphone '{self._device_name}' delivered no audio in the "
                        f"{limit:g} s after it was started (it may be muted, unplugged or "
                        "held by another program). Try again or choose another microphone."
                    )
                    self._close_stream()
                break
        # a stream that ended on its own: release the device now
        if self._error is not None and not self._stopping:
            with self._lock:
                if not self._stopping:
                    self._close_stream()

    def _close_stream(self) -> None:
        """Abort and close the stream (lock held). Abort, not stop: Pa_StopStream
        waits for the callback thread and hangs on a device that stalled."""
        stream, self._stream = self._stream, None
        close_stream(stream)

    # ------------------------------------------------------------ reading

    def _gather(self, i0: int, i1: int, w: int) -> np.ndarray:
        """Device-rate samples with absolute indices [i0, i1) of the take, given
        ``w`` samples written: zeros outside what the ring still holds."""
        out = np.zeros(max(0, i1 - i0), dtype=np.float32)
        size = self._size
        lo = max(i0, 0, w - size)
        hi = min(i1, w)
        if hi <= lo or size == 0:
            return out
        s, e = lo % size, lo % size + (hi - lo)
        dst = out[lo - i0:hi - i0]
        if e <= size:
            dst[:] = self._ring[s:e]
        else:
            k = size - s
            dst[:k] = self._ring[s:]
            dst[k:] = self._ring[:e - size]
        return out

    def _resample_geometry(self) -> tuple[int, int, int]:
        """(orig, new, pad): rates reduced by their gcd, and the context in
        device samples (a multiple of ``orig``) that torchaudio's windowed-sinc
        filter reads on each side of a segment."""
        g = math.gcd(self._rate, SAMPLE_RATE)
        orig, new = self._rate // g, SAMPLE_RATE // g
        if orig == new:
            return 1, 1, 0
        width = math.ceil(_LOWPASS_FILTER_WIDTH * orig / (min(orig, new) * _ROLLOFF))
        pad = (math.ceil((width + orig) / orig) + 1) * orig
        return orig, new, pad

    def read_new(self) -> np.ndarray:
        """16 kHz samples captured since the previous call (or since :meth:`start`).

        Returns:
            ``(samples,)`` float32 at 16 kHz; empty if nothing new. While
            recording at a rate other than 16 kHz, the last few ms are held
            back until the resampling filter has its right-hand context; after
            :meth:`stop` (or a lost device) the rest is flushed. Concatenated,
            the pieces equal :meth:`stop`'s take (unless the ring wrapped or the
            caller fell more than ``ring_seconds`` behind, which skips ahead).
        """
        with self._lock:
            if self._rate == 0 or self._size == 0:
                return np.zeros(0, dtype=np.float32)
            w = self._written
            final = not self.is_recording
            orig, new, pad = self._resample_geometry()
            a = self._read_in
            # keep clear of the part of the ring the callback may be overwriting
            oldest = w - self._size + min(self._size // 4, self._rate // 2)
            if a - pad < oldest and a - pad >= 0:
                skip_to = math.ceil((oldest + pad) / orig) * orig
                self._read_out += (skip_to - a) // orig * new
                a = skip_to
            if final:
                b = math.ceil(w / orig) * orig
            else:
                b = (w - pad) // orig * orig
            if b <= a:
                return np.zeros(0, dtype=np.float32)
            seg = self._gather(a - pad, b + pad, w)
            if orig == new:
                out = seg
            else:
                out = resample(seg, self._rate, SAMPLE_RATE)
                k = pad // orig * new
                out = out[k:len(out) - k]
            if final:  # the whole-take resample has ceil(w * new / orig) samples
                total = math.ceil(w * new / orig)
                out = out[:max(0, total - self._read_out)]
            self._read_in = b
            self._read_out += len(out)
            return np.ascontiguousarray(out, dtype=np.float32)

    # ------------------------------------------------------------ stop

    def stop(self) -> np.ndarray:
        """Stop recording and return the take.

        Returns:
            ``(samples,)`` float32 mono at 16 kHz: everything captured since
            :meth:`start` (the most recent ``ring_seconds`` if longer), also
            after a lost device (then :attr:`error` says so). Calling it again
            returns the same take; before any :meth:`start`, an empty array.
            Never raises for device trouble.
        """
        self._stopping = True
        self._watchdog_stop.set()
        wd = self._watchdog
        if wd is not None and wd is not threading.current_thread():
            wd.join(timeout=5.0)
        self._watchdog = None
        with self._lock:
            self._close_stream()
            self._running = False
            if self._take is None:
                if self._rate == 0 or self._size == 0:
                    self._take = np.zeros(0, dtype=np.float32)
                else:
                    w = self._written
                    raw = self._gather(max(0, w - self._size), w, w)
                    take = resample(raw, self._rate, SAMPLE_RATE) if raw.size else raw
                    self._take = np.ascontiguousarray(take, dtype=np.float32)
            return self._take

    def __enter__(self) -> Recorder:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __del__(self):
        try:
            if self._stream is not None:
                self._stopping = True
                self._watchdog_stop.set()
                self._close_stream()
        except Exception:
            pass
