"""Drives :class:`engine.audio.capture.Recorder` from the GUI thread with a QTimer.

Every :data:`POLL_MS` milliseconds the timer drains the recorder's new
samples (16 kHz float32) and its level, and re-emits them as Qt signals.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

POLL_MS = 15
NO_DEVICE_MESSAGE = "No microphone found: connect an input device, then choose Record → Rescan input devices."


def list_input_devices() -> list:
    """The capture module's input devices (a seam: tests replace it to control device presence).

    Raises:
        ImportError: the capture module or its audio backend (PortAudio) is missing.
    """
    from engine.audio import capture

    return capture.list_input_devices()


def _reenumerate_devices() -> None:
    """Make PortAudio list devices afresh (it caches the list from its first start)."""
    import sys

    sd = sys.modules.get("sounddevice")
    if sd is not None and hasattr(sd, "_terminate") and hasattr(sd, "_initialize"):
        try:
            sd._terminate()
            sd._initialize()
        except Exception:
            pass


def _capture_module():
    from engine.audio import capture

    return capture


class RecorderController(QObject):
    """Record / stop, live samples and level for the window.

    Signals:
        recording_changed(bool): recording started (True) or stopped (False).
        samples_arrived(object): ``(n,)`` float32 16 kHz samples since the last tick.
        level(float, bool): peak dBFS of the last ~50 ms and whether it clipped.
        recorded(object): the whole take, ``(samples,)`` float32 16 kHz, after stop.
        error(str): a user message (the device failed to open or was lost).
        availability_changed(bool, str): whether recording is possible, and why not.
    """

    recording_changed = Signal(bool)
    samples_arrived = Signal(object)
    level = Signal(float, bool)
    recorded = Signal(object)
    error = Signal(str)
    availability_changed = Signal(bool, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.recorder = None
        self.device: int | str | None = None
        """Input device for the next take (PortAudio index or name); None = the system default."""
        self.unavailable_reason: str | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._tick)

    @property
    def available(self) -> bool:
        return self.unavailable_reason is None

    @property
    def is_recording(self) -> bool:
        return self.recorder is not None and bool(self.recorder.is_recording)

    def rescan(self) -> bool:
        """Re-enumerate input devices (after plugging a microphone in), then :meth:`check_devices`."""
        if not self.is_recording:
            _reenumerate_devices()
        return self.check_devices()

    def check_devices(self) -> bool:
        """Look for an input device; emits ``availability_changed``; True if recording is possible."""
        try:
            devices = list_input_devices()
            reason = None if devices else NO_DEVICE_MESSAGE
        except ImportError as exc:
            reason = f"Recording is unavailable: the audio capture backend is missing ({exc})."
        except Exception as exc:  # PortAudio errors while enumerating devices
            reason = f"Recording is unavailable: {exc}"
        self.unavailable_reason = reason
        self.availability_changed.emit(reason is None, reason or "")
        return reason is None

    def toggle(self) -> None:
        self.stop() if self.is_recording else self.start()

    def start(self) -> bool:
        """Open the default input device and start recording; False (and ``error``) on failure."""
        if self.is_recording:
            return True
        if not self.available:
            self.error.emit(self.unavailable_reason)
            return False
        capture = _capture_module()
        try:
            self.recorder = capture.Recorder(device=self.device)
            self.recorder.start()
        except Exception as exc:  # CaptureError carries a user message; anything else gets a prefix
            self.recorder = None
            self.error.emit(str(exc) if isinstance(exc, capture.CaptureError) else f"Could not start recording: {exc}")
            return False
        self._timer.start()
        self.recording_changed.emit(True)
        return True

    def stop(self) -> np.ndarray | None:
        """Stop; emits ``recorded`` with the whole take and returns it (None if not recording)."""
        if self.recorder is None:
            return None
        self._timer.stop()
        rec, self.recorder = self.recorder, None
        try:
            rest = rec.read_new()
            if len(rest):
                self.samples_arrived.emit(np.asarray(rest, dtype=np.float32))
        except Exception:
            pass
        try:
            audio = np.asarray(rec.stop(), dtype=np.float32)
        except Exception as exc:
            self.recording_changed.emit(False)
            self.error.emit(f"Recording stopped with an error: {exc}")
            return None
        self.level.emit(float("-inf"), False)
        self.recording_changed.emit(False)
        self.recorded.emit(audio)
        return audio

    def _tick(self) -> None:
        rec = self.recorder
        if rec is None:
            return
        try:
            chunk = rec.read_new()
            level, clipped, lost = float(rec.level_dbfs), bool(rec.clipped), rec.error
        except Exception as exc:
            chunk, level, clipped, lost = [], float("-inf"), False, f"Recording failed: {exc}"
        if len(chunk):
            self.samples_arrived.emit(np.asarray(chunk, dtype=np.float32))
        self.level.emit(level, clipped)
        if lost:
            message = str(lost)
            self.stop()
            self.error.emit(message)
