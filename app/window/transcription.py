"""Transcribing the studio's clip with the active recognizer.

:meth:`TranscriptionWiring.transcribe` sends the shown clip (with the
transcript panel's vocabulary, if one is in use) to the recognizer's worker
process; the answer fills the transcript panel, the word marks on the
waveform and the cross-attention plot. An answer for a clip that was replaced
meanwhile is dropped.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from app.main_window import MainWindow
    from app.recognizer_bridge import RecognizerBridge


class TranscriptionWiring:
    """Transcribe ``window``'s clip and show the recognition."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self._submitted_audio: np.ndarray | None = None

    def connect_recognizer(self, recognizer: RecognizerBridge) -> None:
        """Show ``recognizer``'s answers (called for each new recognizer)."""
        recognizer.started.connect(self._on_started)
        recognizer.finished.connect(self._on_recognition)
        recognizer.failed.connect(self._on_failed)

    def transcribe(self) -> None:
        """Send the current audio to the worker (no-op while busy or without audio or model)."""
        w = self.window
        if w.recognizer is None:
            w.statusBar().showMessage(w.model_error or "No model.")
            return
        if w.audio is None or w.recognizer.busy or w.recorder.is_recording:
            return
        vocab = w.panel.active_vocabulary()
        self._submitted_audio = w.audio
        w.recognizer.submit(w.audio, vocab.phrases if vocab else None)

    def _on_started(self) -> None:
        w = self.window
        w.panel.set_busy(True)
        w.statusBar().showMessage("Transcribing…")
        w.commands.update()

    def _on_recognition(self, rec) -> None:
        w = self.window
        w.panel.set_busy(False)
        w.commands.update()
        if self._submitted_audio is not w.audio:  # opened or recorded something else meanwhile
            w.statusBar().showMessage("The audio changed while transcribing; press Transcribe again.", 8000)
            return
        w.recognition = rec
        w.commands.update()
        w.panel.show_recognition(rec)
        w.waveform.set_words(rec.words)
        w.attention.set_attention(rec.attention, rec.attention_tokens, rec.frame_shift)
        w.statusBar().showMessage(f"Transcribed {rec.duration:.2f} s in {rec.decode_seconds:.2f} s "
                                  f"(RTF {rec.rtf:.3f})", 8000)

    def _on_failed(self, message: str) -> None:
        w = self.window
        w.panel.set_busy(False)
        w.panel.show_error(message)
        w.statusBar().showMessage(message.splitlines()[0], 10000)
        w.commands.update()
