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
        live = w.live_recognition
        note = ""
        if live is not None and w.recognition is live:
            note = ("Re-transcribed: the whole take decoded at once; the live transcript said “"
                    f"{live.text}”." if live.text != rec.text else "Re-transcribed: the same as the live transcript.")
        w.recognition = rec
        w.commands.update()
        w.panel.show_recognition(rec, note=note)
        self.show_model_hint()
        w.waveform.set_words(rec.words)
        w.attention.set_attention(rec.attention, rec.attention_tokens, rec.frame_shift)
        w.statusBar().showMessage(f"Transcribed {rec.duration:.2f} s in {rec.decode_seconds:.2f} s "
                                  f"(RTF {rec.rtf:.3f})", 8000)

    def show_model_hint(self) -> None:
        """Under the transcript: when a small-vocabulary model (a Sayso one) transcribes without a vocabulary
        and a general model is installed, say what the model in use is made for and offer the general one."""
        from engine.registry.index import ModelRegistry, RegistryError

        w = self.window
        entry = w.active_model.entry
        if entry is None or not w.active_model.sayso or w.panel.active_vocabulary() is not None:
            w.panel.set_model_hint()
            return
        try:
            general = ModelRegistry().general()
        except (RegistryError, OSError):
            general = None
        if general is None:
            from engine.whisper.runtime import WHISPER_EXTRA, whisper_missing

            extra = f" For sentences, {WHISPER_EXTRA} adds Whisper." if whisper_missing() else ""
            w.panel.set_model_hint(f"{entry.name} is made for {made_for(entry)}: load a vocabulary of your words "
                                   f"for the best results.{extra}")
            return
        w.panel.set_model_hint(f"{entry.name} is made for {made_for(entry)}; for other sentences, {general.name} "
                               "transcribes any English.", (general.id, general.name))

    def _on_failed(self, message: str) -> None:
        w = self.window
        w.panel.set_busy(False)
        w.panel.show_error(message)
        w.statusBar().showMessage(message.splitlines()[0], 10000)
        w.commands.update()


GENERIC_MADE_FOR = "digits, commands and your own words, best with a vocabulary"
"""What a Sayso model without a card of its own (one trained or personalized here) is made for."""


def made_for(entry) -> str:
    """What a Sayso model is made for, in a phrase: a bundled model's card (the first clause of its "good at"
    notes, lower-cased, any parenthesis dropped), else :data:`GENERIC_MADE_FOR` (a user's notes are theirs,
    not a claim about the model)."""
    import re

    if not entry.builtin or not entry.notes:
        return GENERIC_MADE_FOR
    clause = re.split(r"[.:;](?:\s|$)", entry.notes.strip(), maxsplit=1)[0]
    clause = re.sub(r"\s*\([^)]*\)", "", clause).strip()
    if not clause:
        return GENERIC_MADE_FOR
    return clause[0].lower() + clause[1:] if not clause[:2].isupper() else clause
