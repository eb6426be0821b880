"""Feeds live samples to the live views and redraws them on a timer of its own.

Samples arrive in chunks (every ~15 ms from
:class:`app.recorder.controller.RecorderController`, but any size and rate
works); :meth:`LiveFeed.push` stores them in the waveform and turns them
into spectrogram columns with :class:`engine.audio.features.StreamingLogMel`
without drawing. A :class:`QTimer` every :data:`REDRAW_MS` ms then redraws
each view that changed, at most once per tick, so the redraw rate does not
depend on how chunks arrive.

Wiring to the recorder (the feed replaces a direct
``samples_arrived → waveform.append`` connection, which would append every
chunk twice; without follow mode the waveform would redraw the whole take on
every tick)::

    waveform.set_follow(live_spectrogram.span_s)
    feed = LiveFeed(waveform, live_spectrogram, parent=window)
    feed.attach(recorder_controller)
"""
from __future__ import annotations

import time
from collections import deque

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Slot

from engine.audio.features import StreamingLogMel
from engine.audio.io import SAMPLE_RATE

REDRAW_MS = 15
"""Redraw tick: at most ~66 redraws per second."""
LOG_LENGTH = 100_000
"""Redraws remembered in :attr:`LiveFeed.draw_log` (about 25 minutes at 66 per second)."""


class LiveFeed(QObject):
    """Live samples in (:meth:`push`), live views redrawn on a timer.

    Args:
        waveform: a :class:`app.widgets.waveform_view.WaveformView` (drawn with
            :meth:`~app.widgets.waveform_view.WaveformView.redraw_live`) or None.
        spectrogram: a :class:`app.widgets.live_spectrogram.LiveSpectrogramView` or None.
        interval_ms: the redraw tick.

    Each redraw is counted (:attr:`frames_drawn`, :attr:`draw_log`, :meth:`fps`).
    """

    def __init__(self, waveform=None, spectrogram=None, interval_ms: int = REDRAW_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.waveform = waveform
        self.spectrogram = spectrogram
        self.stream = StreamingLogMel()
        self.samples = 0
        """Samples pushed since the last :meth:`start`."""
        self.frames_drawn = 0
        """Redraws since the last :meth:`start` (ticks on which some view changed)."""
        self.draw_log: deque[tuple[float, float]] = deque(maxlen=LOG_LENGTH)
        """``(time.perf_counter() at the redraw, seconds it took)`` of the recent redraws."""
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.redraw)

    @property
    def running(self) -> bool:
        return self.timer.isActive()

    def attach(self, recorder) -> None:
        """Follow a :class:`RecorderController`: its samples feed the views, takes start and finish the feed."""
        recorder.samples_arrived.connect(self.push)
        recorder.recording_changed.connect(lambda recording: self.start() if recording else self.finish())

    @Slot()
    def start(self) -> None:
        """Begin a take: clear the views and the feature stream, start the redraw timer."""
        self.stream.reset()
        if self.waveform is not None:
            self.waveform.clear_audio()
        if self.spectrogram is not None:
            self.spectrogram.clear_frames()
        self.samples = 0
        self.frames_drawn = 0
        self.draw_log.clear()
        self.timer.start()

    @Slot(object)
    def push(self, samples) -> None:
        """Take ``(n,)`` float32 16 kHz samples (no drawing here; the timer draws). Starts the timer if needed."""
        chunk = np.asarray(samples, dtype=np.float32).reshape(-1)
        if len(chunk) == 0:
            return
        self.samples += len(chunk)
        if self.waveform is not None:
            self.waveform.append(chunk, redraw=False)
        if self.spectrogram is not None:
            frames = self.stream.push(chunk)
            if len(frames):
                self.spectrogram.append_frames(frames, redraw=False)
        if not self.timer.isActive():
            self.timer.start()

    @Slot()
    def finish(self) -> None:
        """End the take: add the last spectrogram frames, draw once more, stop the timer."""
        frames = self.stream.flush()
        if self.spectrogram is not None and len(frames):
            self.spectrogram.append_frames(frames, redraw=False)
        self.redraw()
        self.timer.stop()

    @Slot()
    def redraw(self) -> bool:
        """Redraw the views that changed since the last call; True if any did (counted in :attr:`frames_drawn`)."""
        t0 = time.perf_counter()
        drew = False
        if self.waveform is not None:
            drew |= self.waveform.redraw_live()
        if self.spectrogram is not None:
            # one right edge for both views: the time of the last sample (the spectrogram's columns lag by ~12 ms)
            drew |= self.spectrogram.redraw(end_s=self.samples / SAMPLE_RATE)
        if drew:
            took = time.perf_counter() - t0
            self.frames_drawn += 1
            self.draw_log.append((t0, took))
        return drew

    def fps(self, window_s: float = 1.0) -> float:
        """Redraws per second over the last ``window_s`` seconds."""
        now = time.perf_counter()
        n = 0
        for t, _ in reversed(self.draw_log):
            if now - t > window_s:
                break
            n += 1
        return n / window_s
