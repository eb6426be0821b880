"""Opening, saving and dropping audio files in the studio (WAV, FLAC, OGG).

Problems become a warning box with the reason (an
:class:`~engine.audio.errors.AudioError` message, or the system's for a
failed save), never a traceback; the folder last used is remembered.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine.audio.errors import AudioError
from engine.audio.io import load_audio, write_audio
from engine.text.captions import write_transcript

if TYPE_CHECKING:
    from app.main_window import MainWindow

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
"""The audio files the studio opens (by name)."""
AUDIO_FILTER = f"Audio files ({' '.join('*' + s for s in AUDIO_SUFFIXES)});;All files (*)"
"""The file-dialog filter for :data:`AUDIO_SUFFIXES`."""
SAVE_FILTER = "WAV (*.wav);;FLAC (*.flac)"
TRANSCRIPT_FILTER = "Subtitles (*.srt);;WebVTT (*.vtt);;Timed text (*.txt);;JSON (*.json)"


def dropped_audio_file(event) -> Path | None:
    """The first local audio file (:data:`AUDIO_SUFFIXES`) of a drag-and-drop event, or None."""
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    files = [Path(u.toLocalFile()) for u in urls if u.isLocalFile()]
    return next((f for f in files if f.suffix.lower() in AUDIO_SUFFIXES), None)


class AudioFiles:
    """File → Open / Save audio and drag-and-drop for ``window``: what is opened is shown with
    :meth:`~app.main_window.MainWindow.set_audio`; what is saved is the shown clip."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def choose_file(self) -> None:
        """Ask for an audio file and open it."""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open audio", self.window.settings.last_folder,
                                              AUDIO_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path: str | Path) -> bool:
        """Load and show a WAV/FLAC/OGG file (a take being recorded is stopped first);
        an ``AudioError`` becomes a warning box. True on success."""
        w = self.window
        path = Path(path)
        if w.recorder.is_recording:
            w.recorder.stop()
        try:
            audio = load_audio(path)
        except AudioError as exc:
            QMessageBox.warning(w, "Cannot open audio", str(exc))
            return False
        w.settings.last_folder = str(path.parent)
        w.set_audio(audio, path.name, path)
        return True

    def export_transcript(self, path: str | None = None) -> Path | None:
        """Write the shown recognition (:attr:`MainWindow.recognition`) as SRT, WebVTT, timed text or JSON
        (by the suffix; ``path`` None: ask where). Returns the file written, or None."""
        w = self.window
        rec = w.recognition
        if rec is None:
            return None
        if path is None:
            stem = Path(w.audio_name).stem or "transcript"
            path, _ = QFileDialog.getSaveFileName(w, "Export transcript",
                                                  str(Path(w.settings.last_folder) / f"{stem}.srt"), TRANSCRIPT_FILTER)
            if not path:
                return None
        if not Path(path).suffix:
            path = f"{path}.srt"
        try:
            out = write_transcript(path, rec)
        except (OSError, ValueError) as exc:
            QMessageBox.warning(w, "Cannot export the transcript", f"{Path(path).name}: {getattr(exc, 'strerror', None) or exc}")
            return None
        w.settings.last_folder = str(out.parent)
        w.statusBar().showMessage(f"Exported the transcript to {out}", 5000)
        return out

    def choose_save_path(self) -> None:
        """Ask where to save the shown clip (WAV or FLAC) and write it there."""
        w = self.window
        if w.audio is None:
            return
        stem = Path(w.audio_name).stem or "recording"
        path, _ = QFileDialog.getSaveFileName(w, "Save audio", str(Path(w.settings.last_folder) / f"{stem}.wav"),
                                              SAVE_FILTER)
        if not path:
            return
        try:
            write_audio(path, w.audio)
        except OSError as exc:
            QMessageBox.warning(w, "Cannot save audio", f"{Path(path).name}: {exc.strerror or exc}")
            return
        w.settings.last_folder = str(Path(path).parent)
        w.statusBar().showMessage(f"Saved {path}", 5000)
