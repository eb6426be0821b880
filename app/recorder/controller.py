"""Drives :class:`engine.audio.capture.Recorder` from the GUI thread with a QTimer.

Every :data:`POLL_MS` milliseconds the timer drains the recorder's new
samples (16 kHz float32) and its level, and re-emits them as Qt signals.
Every drained chunk is also streamed to disk by an
:class:`engine.audio.take.TakeWriter`, so a crash loses well under a second of
a take; :meth:`RecorderController.recover_unfinished` finishes the takes a
crash left behind.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from engine import paths
from engine.audio.devices import rescan_devices
from engine.audio.take import TakeError, TakeWriter, find_unfinished, recover

log = logging.getLogger("sayso.recorder")

POLL_MS = 15
NO_DEVICE_MESSAGE = "No microphone found: connect an input device, then choose Record → Rescan input devices."


def list_input_devices() -> list:
    """The capture module's input devices (a seam: tests replace it to control device presence).

    Raises:
        ImportError: the capture module or its audio backend (PortAudio) is missing.
    """
    from engine.audio import capture

    return capture.list_input_devices()


def _capture_module():
    from engine.audio import capture

    return capture


class RecorderController(QObject):
    """Record / stop, live samples and level for the window.

    Signals:
        recording_changed(bool): recording started (True) or stopped (False).
        samples_arrived(object): ``(n,)`` float32 16 kHz samples since the last tick.
        level(float, bool): peak dBFS of the last ~50 ms and whether it clipped.
        recorded(object): the whole take, ``(samples,)`` float32 16 kHz, after stop
            (:attr:`last_take_path` is already set when it is emitted).
        error(str): a user message (the device failed to open or was lost, or
            the take could not be saved to disk).
        availability_changed(bool, str): whether recording is possible, and why not.
        overflows_changed(int): input overflows so far in this take (audio the
            system dropped because Sayso read it too late); emitted when it grows.

    Args:
        parent: the Qt parent.
        takes_dir: where takes are streamed and kept (``<take_id>.wav``);
            None for :func:`engine.paths.takes_dir`.
    """

    recording_changed = Signal(bool)
    samples_arrived = Signal(object)
    level = Signal(float, bool)
    recorded = Signal(object)
    error = Signal(str)
    availability_changed = Signal(bool, str)
    overflows_changed = Signal(int)

    def __init__(self, parent: QObject | None = None, takes_dir: str | Path | None = None) -> None:
        super().__init__(parent)
        self.recorder = None
        self.device: int | str | None = None
        """Input device for the next take (PortAudio index or name); None = the system default."""
        self.unavailable_reason: str | None = None
        self.takes_dir = Path(takes_dir) if takes_dir is not None else paths.takes_dir()
        """Folder the takes are streamed to and kept in."""
        self.take: TakeWriter | None = None
        """The take being streamed to disk while recording; None otherwise."""
        self.last_take_path: Path | None = None
        """The finished WAV of the last take (None before one, or if it could not be finished)."""
        self._take_problem: str | None = None
        self.overflows = 0
        """Input overflows of the current (or last) take."""
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
            rescan_devices()
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
        try:  # no take on disk, no recording: a crash would lose it all
            self.take = TakeWriter(self.takes_dir, device_name=str(getattr(self.recorder, "device_name", "")))
        except TakeError as exc:
            rec, self.recorder = self.recorder, None
            try:
                rec.stop()
            except Exception:
                pass
            self.error.emit(f"Recording could not start. {exc}")
            return False
        self._take_problem = None
        self.last_take_path = None
        self.overflows = 0
        self._timer.start()
        self.recording_changed.emit(True)
        return True

    def stop(self) -> np.ndarray | None:
        """Stop; finishes the take on disk (:attr:`last_take_path`), emits ``recorded``
        with the whole take and returns it (None if not recording).

        Problems saving the take are emitted as ``error`` after ``recorded``.
        """
        if self.recorder is None:
            return None
        self._timer.stop()
        rec, self.recorder = self.recorder, None
        problems: list[str] = []
        try:
            self._drain(rec.read_new())
        except Exception:
            pass
        try:
            audio = np.asarray(rec.stop(), dtype=np.float32)
        except Exception as exc:
            audio = None
            problems.append(f"Recording stopped with an error: {exc}")
        try:
            self._drain(rec.read_new())  # after stop: what the resampler held back
        except Exception:
            pass
        take, self.take = self.take, None
        if self._take_problem:
            problems.insert(0, self._take_problem)
        self._take_problem = None
        if take is not None:
            try:
                if take.samples:
                    self.last_take_path = take.finish()
                else:
                    take.discard()  # nothing reached the disk: no empty take
            except TakeError as exc:
                problems.append(str(exc))
        self.level.emit(float("-inf"), False)
        self.recording_changed.emit(False)
        if audio is not None:
            self.recorded.emit(audio)
        for message in problems:
            self.error.emit(message)
        return audio

    def recover_unfinished(self) -> list[tuple[Path, float]]:
        """Finish the takes a crash left in :attr:`takes_dir` (call once at startup).

        Takes being recorded right now (by this or another Sayso) are left
        alone; partial takes with no audio are deleted. Takes that cannot be
        recovered (disk trouble) are reported through ``error`` and stay on
        disk for the next attempt.

        Returns:
            ``(wav_path, duration_seconds)`` for each recovered take, oldest first.
        """
        try:
            found = find_unfinished(self.takes_dir)
        except TakeError as exc:
            self.error.emit(str(exc))
            return []
        out: list[tuple[Path, float]] = []
        problems: list[str] = []
        for unfinished in found:
            try:
                path = recover(unfinished)
            except TakeError as exc:
                problems.append(str(exc))
                continue
            if path is not None:
                out.append((path, unfinished.duration))
        if problems:
            self.error.emit("\n".join(problems))
        return out

    def _drain(self, chunk) -> None:
        """Emit new samples and stream them to the take on disk."""
        if not len(chunk):
            return
        chunk = np.asarray(chunk, dtype=np.float32)
        self.samples_arrived.emit(chunk)
        take = self.take
        if take is None or take.failed:
            return
        try:
            take.write(chunk)
        except TakeError as exc:
            log.warning("recording stopped: %s", exc)
            if self._take_problem is None:
                self._take_problem = str(exc)

    def _tick(self) -> None:
        rec = self.recorder
        if rec is None:
            return
        try:
            chunk = rec.read_new()
            level, clipped, lost = float(rec.level_dbfs), bool(rec.clipped), rec.error
        except Exception as exc:
            chunk, level, clipped, lost = [], float("-inf"), False, f"Recording failed: {exc}"
        self._drain(chunk)
        self.level.emit(level, clipped)
        overflows = int(getattr(rec, "overflows", 0) or 0)
        if overflows > self.overflows:
            self.overflows = overflows
            self.overflows_changed.emit(overflows)
        if lost:
            message = str(lost)
            self.stop()
            self.error.emit(message)
        elif self._take_problem:  # the disk is full or failed: stop (stop() emits the message)
            self.stop()
