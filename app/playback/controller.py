"""Drives :class:`engine.audio.playback.Player` from the GUI thread with a QTimer.

While a sound plays, every :data:`POLL_MS` milliseconds the timer reads the
player's position (seconds into the audio) and re-emits it as a Qt signal,
so plots can move a playhead (:meth:`PlaybackController.attach`).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from engine.audio.playback import PlaybackError, Player

POLL_MS = 15


class PlaybackController(QObject):
    """Play / stop a take or a segment of it, and report where playback is.

    Signals:
        position_changed(float): seconds into the audio of the sample being
            heard; emitted at :meth:`play` (the segment start), on every tick
            while it moves, and once more when playback ends.
        playing_changed(bool): playback started (True) or ended (False: the
            end of the sound, :meth:`stop`, or a lost device).
        error(str): a user message (no output device, it refused to open, or
            it was lost during playback).
    """

    position_changed = Signal(float)
    playing_changed = Signal(bool)
    error = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.device: int | str | None = None
        """Output device for the next :meth:`play` (PortAudio index or name); None = the system default."""
        self.player: Player | None = None
        self._player_device: int | str | None = None
        self._playing = False
        self._last_position: float | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._tick)

    @property
    def is_playing(self) -> bool:
        return self._playing

    @property
    def position(self) -> float:
        """Seconds into the audio being (or last) played; 0.0 before any."""
        return 0.0 if self.player is None else float(self.player.position)

    def play(self, audio: np.ndarray, start: float = 0.0, end: float | None = None) -> bool:
        """Play ``(samples,)`` float32 16 kHz ``audio`` from ``start`` to ``end`` seconds
        (None: its end), replacing what plays now.

        Returns:
            True if playback started; False (and ``error``) if it could not.
        """
        self.stop()
        if self.player is None or self._player_device != self.device:
            self.player = Player(device=self.device)
            self._player_device = self.device
        try:
            self.player.play(audio, start, end)
        except PlaybackError as exc:
            self.error.emit(str(exc))
            return False
        except Exception as exc:  # an empty segment, bad audio shape
            self.error.emit(f"Could not play the audio: {exc}")
            return False
        self._playing = True
        self._last_position = None
        self.playing_changed.emit(True)
        self._emit_position()
        self._timer.start()
        return True

    def stop(self) -> None:
        """Stop playing now (no-op if nothing plays); emits the final position and ``playing_changed(False)``."""
        if not self._playing:
            return
        if self.player is not None:
            self.player.stop()
        self._finish()

    def attach(self, *views, hide_when_stopped: bool = True) -> None:
        """Move the playhead of plots with a ``set_playhead(seconds | None)`` method
        (WaveformView, SpectrogramView) with playback; hide it when playback ends
        unless ``hide_when_stopped`` is False."""
        for view in views:
            follower = _PlayheadFollower(view, hide_when_stopped)  # dies with the view, and so do the connections
            self.position_changed.connect(follower.move)
            self.playing_changed.connect(follower.playing)

    def _emit_position(self) -> None:
        pos = self.position
        if pos != self._last_position:
            self._last_position = pos
            self.position_changed.emit(pos)

    def _finish(self) -> None:
        self._timer.stop()
        self._playing = False
        self._emit_position()
        self.playing_changed.emit(False)
        lost = self.player.error if self.player is not None else None
        if lost:
            self.error.emit(str(lost))

    def _tick(self) -> None:
        player = self.player
        if player is None or not self._playing:
            self._timer.stop()
            return
        if player.is_playing:
            self._emit_position()
        else:
            self._finish()


class _PlayheadFollower(QObject):
    """Child of one plot: forwards the controller's signals to its ``set_playhead``."""

    def __init__(self, view: QObject, hide_when_stopped: bool) -> None:
        super().__init__(view)
        self._view = view
        self._hide = hide_when_stopped

    @Slot(float)
    def move(self, seconds: float) -> None:
        self._view.set_playhead(seconds)

    @Slot(bool)
    def playing(self, playing: bool) -> None:
        if not playing and self._hide:
            self._view.set_playhead(None)
