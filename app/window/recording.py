"""The recorder and live transcription, wired to the studio's views.

:class:`RecordingWiring` follows the :class:`~app.recorder.controller.RecorderController`:
the input-device menu and the "No microphone" label, the live waveform and
spectrogram while a take runs, the finished take shown as the clip, takes a
crash left behind recovered at startup, and errors as a status message or a
warning box. While recording with "Transcribe while recording" on, the
samples also go to the recognizer's live session, whose events fill the live
transcript; the endpointing settings (:class:`~engine.audio.endpoint.EndpointConfig`)
are the user's, saved in the settings.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtWidgets import QMessageBox

from app.live.endpoint_dialog import EndpointDialog
from app.widgets.level_meter import LevelMeter
from app.window.commands import icon
from engine.audio.endpoint import EndpointConfig
from engine.audio.errors import AudioError
from engine.audio.io import SAMPLE_RATE, load_audio
from engine.decode.protocol import Final, Recognition

if TYPE_CHECKING:
    from app.main_window import MainWindow
    from app.recognizer_bridge import RecognizerBridge


class RecordingWiring:
    """Connects ``window.recorder`` and the recognizer's live session to ``window``'s views."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self._finals: list[Final] = []  # the live session's finals, for the take's transcript
        self._live_done = self._take_shown = False

    def connect(self) -> None:
        """Connect the recorder's and the live transcript's signals (once, after the layout is built)."""
        w, rec = self.window, self.window.recorder
        rec.recording_changed.connect(self._on_recording_changed)
        w.live_feed.attach(rec)  # live waveform and spectrogram
        rec.samples_arrived.connect(self._feed_live)
        rec.overflows_changed.connect(self._on_overflows)
        rec.level.connect(w.level_meter.set_level)
        rec.recorded.connect(self._on_recorded)
        rec.error.connect(self._on_record_error)
        rec.availability_changed.connect(self._on_availability)
        w.live_view.enabled_changed.connect(self._on_live_toggled)
        w.live_view.seek.connect(w.play_segment)

    def connect_recognizer(self, recognizer: RecognizerBridge) -> None:
        """Show ``recognizer``'s live events and failures (called for each new recognizer)."""
        recognizer.live_events.connect(self.window.live_view.add_events)
        recognizer.live_events.connect(self._collect_finals)
        recognizer.live_ended.connect(self._on_live_ended)
        recognizer.live_failed.connect(self._on_live_failed)

    # -- the take's transcript -------------------------------------------------
    def _collect_finals(self, events) -> None:
        self._finals.extend(e for e in events if isinstance(e, Final))

    def _on_live_ended(self) -> None:
        self._live_done = True
        self._show_live_transcript()

    def _show_live_transcript(self) -> None:
        """Once the take is shown and its live session ended: its finals are the take's transcript
        (one transcript per take; Transcribe decodes it again and says so)."""
        w = self.window
        if not (self._live_done and self._take_shown) or w.audio is None or w.recognizer is None:
            return
        self._live_done = self._take_shown = False
        if not self._finals:
            return
        rec = Recognition.from_finals(self._finals, len(w.audio) / SAMPLE_RATE, w.active_model.entry.name)
        w.recognition = w.live_recognition = rec
        w.panel.show_recognition(rec, note="Live transcript of this take (its finals while you spoke). "
                                           "Transcribe (Ctrl+T) decodes the whole take again.")
        w.waveform.set_words(rec.words)
        w.commands.update()

    # -- devices -------------------------------------------------------------
    def _on_availability(self, available: bool, reason: str) -> None:
        w = self.window
        self._fill_device_menu()
        w.device_label.setText("" if available else "No microphone")
        w.device_label.setToolTip(reason)
        w.level_meter.setEnabled(available)
        w.level_meter.setToolTip(LevelMeter.TOOLTIP if available else reason)
        if not available:
            w.statusBar().showMessage(reason)
        w.commands.update()

    def _fill_device_menu(self) -> None:
        """Record → Input device: the system default plus every input device, the chosen one checked."""
        from app.recorder.controller import list_input_devices  # looked up now: tests replace it

        menu, group = self.window.commands.device_menu, self.window.commands.device_group
        menu.clear()
        for action in group.actions():
            group.removeAction(action)
        try:
            devices = list_input_devices()
        except Exception:  # no audio backend: the availability message already says so
            devices = []
        chosen = self.window.recorder.device
        names = [None] + [d.name for d in devices]
        if chosen and chosen not in names:
            names.append(chosen)  # remembered but absent now: keep it visible
        for name in names:
            label = "System default" if name is None else name
            if name is not None and name not in [d.name for d in devices]:
                label += " (not connected)"
            action = menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(name == chosen)
            action.setData(name)
            action.triggered.connect(lambda _=False, n=name: self.choose_input_device(n))
            group.addAction(action)

    def choose_input_device(self, name: str | None) -> None:
        """Record from the device called ``name`` (None = system default) from the next take on; persisted."""
        w = self.window
        w.recorder.device = name
        w.settings.input_device = name or ""
        w.statusBar().showMessage(f"Input device: {name or 'system default'}", 5000)

    # -- takes ---------------------------------------------------------------
    def _on_recording_changed(self, recording: bool) -> None:
        w = self.window
        record = w.commands.record
        record.setChecked(recording)
        record.setText("Stop" if recording else "Record")
        record.setIcon(icon("stop" if recording else "record"))
        if recording:
            w.playback.stop()
            w.overflow_label.setText("")
            w.spectrograms.setCurrentWidget(w.live_spectrogram)
            w.spectrogram.clear_features()
            w.attention.clear_attention()
            w.panel.clear()
            w.audio, w.recognition, w.live_recognition = None, None, None
            self._finals, self._live_done, self._take_shown = [], False, False
            w.statusBar().showMessage("Recording…")
            if w.live_view.enable_box.isChecked() and w.recognizer is not None:
                w.live_view.begin_session()
                self._start_live_session()
        else:
            w.level_meter.reset()
            w.spectrograms.setCurrentWidget(w.spectrogram)
            if w.recognizer is not None and w.recognizer.live:
                w.recognizer.live_stop()
        w.commands.update()

    def _on_overflows(self, count: int) -> None:
        self.window.overflow_label.setText(f"{count} input overflow{'s' if count != 1 else ''}")

    def recover_takes(self) -> list[tuple[Path, float]]:
        """Finish takes a crash left behind (see :meth:`RecorderController.recover_unfinished`),
        open the newest and say so; returns ``(path, seconds)`` pairs."""
        w = self.window
        recovered = w.recorder.recover_unfinished()
        if recovered:
            path, seconds = recovered[-1]
            try:
                w.set_audio(load_audio(path), path.name, path)
            except AudioError:
                pass
            more = f" and {len(recovered) - 1} more" if len(recovered) > 1 else ""
            message = (f"Recovered an unfinished recording from the last session: {path.name} "
                       f"({seconds:.1f} s){more}, saved in {path.parent}.")
            w.statusBar().showMessage(message)
            w.panel.set_idle_message(message)
        return recovered

    def _on_recorded(self, audio: np.ndarray) -> None:
        w = self.window
        if len(audio) == 0:
            w.statusBar().showMessage("Nothing was recorded.", 5000)
            return
        take = w.recorder.last_take_path
        w.set_audio(audio, take.name if take is not None else "recording", take)
        if take is not None:
            w.statusBar().showMessage(f"Take saved: {take}", 8000)
        self._take_shown = True
        self._show_live_transcript()

    def _on_record_error(self, message: str) -> None:
        w = self.window
        w.commands.record.setChecked(w.recorder.is_recording)
        w.statusBar().showMessage(message)
        QMessageBox.warning(w, "Recording", message)

    # -- live transcription --------------------------------------------------
    def _start_live_session(self) -> None:
        vocab = self.window.panel.active_vocabulary()
        self.window.recognizer.live_start(vocab.phrases if vocab else None, self.endpoint_config().to_json())

    def _feed_live(self, chunk: np.ndarray) -> None:
        w = self.window
        if w.recognizer is not None and w.recognizer.live and w.recorder.is_recording:
            w.recognizer.live_feed(chunk)

    def _on_live_toggled(self, on: bool) -> None:
        w = self.window
        if on and w.recognizer is None:
            w.live_view.set_live_enabled(False)
            w.statusBar().showMessage(w.model_error or "No model.", 8000)
            return
        w.commands.live.setChecked(on)
        w.settings.live_enabled = on
        if not on and w.recognizer is not None and w.recognizer.live:
            w.recognizer.live_stop()
        elif on and w.recorder.is_recording and w.recognizer is not None and not w.recognizer.live:
            self._start_live_session()

    def _on_live_failed(self, message: str) -> None:
        self.window.live_view.show_error(message)
        self.window.statusBar().showMessage(message.splitlines()[0], 10000)

    def endpoint_config(self) -> EndpointConfig:
        """The saved endpointing settings (defaults if none or unusable)."""
        try:
            return EndpointConfig(**self.window.settings.endpoint)
        except (TypeError, ValueError):
            return EndpointConfig()

    def edit_live_settings(self) -> None:
        """The live settings dialog; what the user accepts is saved and applies from the next take."""
        dialog = EndpointDialog(self.endpoint_config(), self.window)
        if dialog.exec():
            self.window.settings.endpoint = dialog.config().to_json()
            self.window.statusBar().showMessage("Live settings saved; they apply from the next recording.", 5000)
