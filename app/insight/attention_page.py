"""Insight → Attention & alignment: where the model listened for each word of one utterance.

Shows the utterance selected in the Dataset tab: its waveform with the
forced-alignment word regions and character marks, its log-mel spectrogram,
the decoder cross-attention (tokens × encoder frames) on the same time axis,
and beside them the encoder self-attention (frames × frames). Layer and head
pickers (or the average) for both; rows by character or by word.

Hovering a row of the cross-attention highlights the frames it attends to
(the row's weights as a curve on the waveform, its most-attended stretch
shaded); clicking it plays that stretch (by word: the word as aligned).
Clicking a word on the waveform plays it.

A Whisper model is shown alike: its decoder's cross-attention per layer and head (the 30 s
window cropped to the audio; its alignment heads amber in the head picker and averaged as
"alignment heads", shown first), its encoder's self-attention, and word times from the
alignment heads (:mod:`engine.insight.whisper_attention`; the worker loads its weights in
torch on the first inspection, and says in one line if torch or transformers is missing).

The model never runs here: the page asks the recognition worker
(:meth:`app.recognizer_bridge.RecognizerBridge.inspect`) and only while it is shown, so
normal decoding pays nothing for it. The word timings of an aligned
transcript are written into the project (``Project.set_word_timings``).

Keys: Ctrl+I inspect again, Ctrl+E export the alignment as a TextGrid (with
the clip beside it), Ctrl+Shift+E export the plots as PNG, Ctrl+Space play
the utterance.

Signals:
    play_requested(object, float, float): play ``(samples,)`` float32 16 kHz
        audio from ``start`` to ``end`` seconds.
    message(str): a line for the status bar.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.widgets.attention_view import AttentionView
from app.widgets.head_chooser import ALIGNMENT
from app.widgets.self_attention_view import SelfAttentionView
from app.widgets.spectrogram_view import SpectrogramView
from app.widgets.waveform_view import WaveformView
from engine.audio.errors import AudioError
from engine.audio.features import log_mel_db
from engine.audio.io import SAMPLE_RATE, load_segment, write_audio
from engine.data.errors import ProjectError
from engine.decode.alignment import WordTiming
from engine.insight.attention import attended_span, word_rows
from engine.text.normalize import normalize_text
from engine.workers.recognition import InspectResult, RecognitionFailure

CROSS_VIEW_KEY = "insight/cross_view"
SELF_VIEW_KEY = "insight/self_view"
BY_WORD_KEY = "insight/by_word"
SCALE_ROWS_KEY = "insight/scale_rows"
LONG_ROWS = 24
"""Transcripts with more tokens than this are shown with one row per word until the user chooses."""
SPLITTER_KEY = "insight/attention_splitter"
FOLDER_KEY = "insight/export_folder"
MIN_FEATURE_SAMPLES = 512
ATTEND_PEN = pg.mkPen((120, 230, 255), width=2)
ATTEND_BRUSH = pg.mkBrush(120, 230, 255, 45)
BOUNDARY_PEN = pg.mkPen((255, 220, 120, 160), width=1, style=Qt.PenStyle.DashLine)


def _by_word(m: np.ndarray, tokens: list[str]):
    rows, labels, _ = word_rows(m, tokens)
    return rows, labels


class AttentionPage(QWidget):
    play_requested = Signal(object, float, float)
    message = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.project = None
        self.recognizer = None
        self.utterance = None  # the UtteranceRow shown, or None
        self.audio = np.zeros(0, np.float32)
        self.transcript = ""
        self.inspection = None
        self._request: int | None = None
        self._pending = False  # an inspection is wanted once the page is shown
        self._deferred: tuple | None = None  # (utterance,) selected while the page was hidden
        self._selected = None  # the last utterance the Dataset tab selected
        self._settings = QSettings()
        self._overlay: list = []
        self._build()
        self._restore()

    # -- layout ----------------------------------------------------------------
    def _build(self) -> None:
        self.title = QLabel("Select an utterance in the Dataset tab to see where the model listened.")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setMinimumWidth(40)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.inspect_button = QPushButton("Inspect")
        self.inspect_button.setToolTip("Run the model on this utterance again (Ctrl+I)")
        self.by_word = QCheckBox("Rows by word")
        self.by_word.setToolTip("Average the cross-attention of each word's characters")
        self.scale_rows = QCheckBox("Scale each row")
        self.scale_rows.setToolTip("Colour each row over its own range: where each token looks most, "
                                   "even when a few frames (often the first) draw much more attention")
        self.textgrid_button = QPushButton("Export TextGrid…")
        self.textgrid_button.setToolTip("Word and character tiers, with the clip beside it (Ctrl+E)")
        self.png_button = QPushButton("Export PNG…")
        self.png_button.setToolTip("Save the plots as an image (Ctrl+Shift+E)")
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 0)
        bar.addWidget(self.title, 1)
        for w in (self.by_word, self.scale_rows, self.inspect_button, self.textgrid_button, self.png_button):
            bar.addWidget(w)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setContentsMargins(6, 0, 6, 2)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        self.waveform = WaveformView()
        self.spectrogram = SpectrogramView()
        self.cross = AttentionView(title="Decoder cross-attention:")
        self.cross.placeholder.setText("cross-attention appears here")
        for view in (self.spectrogram, self.cross.plot):
            view.setXLink(self.waveform)
        for view in (self.waveform, self.spectrogram, self.cross.plot):
            view.setMinimumHeight(80)  # the Insight tab must fit a small window
        self.attend_curve = pg.PlotDataItem(pen=ATTEND_PEN)
        self.attend_region = pg.LinearRegionItem((0, 0), movable=False, brush=ATTEND_BRUSH, pen=pg.mkPen(None))
        self.spec_region = pg.LinearRegionItem((0, 0), movable=False, brush=ATTEND_BRUSH, pen=ATTEND_PEN)
        for item, plot in ((self.attend_curve, self.waveform), (self.attend_region, self.waveform),
                           (self.spec_region, self.spectrogram)):
            item.setVisible(False)
            item.setZValue(15)
            plot.addItem(item, ignoreBounds=True)
        self.cross_bounds = pg.PlotDataItem(pen=BOUNDARY_PEN, connect="pairs")
        self.cross_bounds.setZValue(5)
        self.cross.plot.addItem(self.cross_bounds, ignoreBounds=True)
        self.char_marks = pg.PlotDataItem(pen=pg.mkPen((255, 220, 120), width=1), connect="pairs")
        self.waveform.addItem(self.char_marks, ignoreBounds=True)

        self.time_plots = QSplitter(Qt.Orientation.Vertical)
        for w in (self.waveform, self.spectrogram, self.cross):
            self.time_plots.addWidget(w)
        self.time_plots.setSizes([160, 160, 260])
        self.self_view = SelfAttentionView()
        self.self_view.plot.setMinimumHeight(80)
        self.plots = QSplitter(Qt.Orientation.Horizontal)
        self.plots.addWidget(self.time_plots)
        self.plots.addWidget(self.self_view)
        self.plots.setStretchFactor(0, 3)
        self.plots.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.plots, 1)

        self.inspect_button.clicked.connect(lambda: self.inspect())
        self.textgrid_button.clicked.connect(lambda: self.export_textgrid())
        self.png_button.clicked.connect(lambda: self.export_png())
        self.by_word.toggled.connect(self._on_by_word)
        self.scale_rows.toggled.connect(self._on_scale_rows)
        self.cross.token_hovered.connect(self._on_hover)
        self.cross.token_clicked.connect(self.play_row)
        self.cross.view_changed.connect(lambda v: self._settings.setValue(CROSS_VIEW_KEY, v))
        self.self_view.view_changed.connect(lambda v: self._settings.setValue(SELF_VIEW_KEY, v))
        self.plots.splitterMoved.connect(lambda *_: self._settings.setValue(SPLITTER_KEY, self.plots.saveState()))
        self.waveform.scene().sigMouseClicked.connect(self._on_waveform_click)
        for keys, slot in (("Ctrl+I", self.inspect), ("Ctrl+E", self.export_textgrid),
                           ("Ctrl+Shift+E", self.export_png), ("Ctrl+Space", self.play_all)):
            sc = QShortcut(QKeySequence(keys), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(lambda slot=slot: slot())
        self._update_buttons()

    def _restore(self) -> None:
        s = self._settings
        self.cross.set_view(str(s.value(CROSS_VIEW_KEY, "average")))
        self.self_view.set_view(str(s.value(SELF_VIEW_KEY, "average")))
        self.by_word.setChecked(str(s.value(BY_WORD_KEY, "false")).lower() == "true")
        self.scale_rows.setChecked(str(s.value(SCALE_ROWS_KEY, "true")).lower() == "true")
        self.cross.set_scale_rows(self.scale_rows.isChecked())
        state = s.value(SPLITTER_KEY)
        if state is not None:
            self.plots.restoreState(state)

    # -- inputs ----------------------------------------------------------------
    def set_project(self, project) -> None:
        """The open project, or None. The Dataset tab may announce its selection before its project arrives."""
        self.project = project
        self.show_audio(None)
        if project is None:
            self._selected = self._deferred = None
        elif self._selected is not None:
            self.show_utterance(self._selected)

    def set_recognizer(self, recognizer) -> None:
        """The recognition worker of the model in use; an utterance on show is inspected again with a new model
        (now if the page is visible, else when it is shown)."""
        changed = recognizer is not self.recognizer
        self.recognizer = recognizer
        self._request = None
        if changed and recognizer is not None and len(self.audio) and self.inspection is not None:
            self._pending = True
            if self.isVisible():
                self.inspect()
        self._update_buttons()

    def show_utterance(self, utterance) -> None:
        """Show an :class:`engine.data.query.UtteranceRow` of the open project (None: nothing).

        Its stored word timings are drawn at once; the model is asked for
        the attention now if the page is visible, else when it is shown
        (nothing is loaded while the page is hidden).
        """
        self._selected = utterance
        if not self.isVisible():
            self._deferred = (utterance,)
            return
        self._deferred = None
        if utterance is None or self.project is None:
            self.show_audio(None)
            return
        try:
            recording = self.project.recording(utterance.recording_id)
            audio = load_segment(recording.file, utterance.start, utterance.end, min_seconds=0.0)
        except (AudioError, ProjectError) as exc:
            self.show_audio(None)
            self._say(f"Utterance {utterance.id} cannot be shown: {exc}")
            return
        title = f"Utterance {utterance.id} ({utterance.start:.2f}–{utterance.end:.2f} s of {recording.file.name})"
        self.show_audio(audio, utterance.text, title)
        self.utterance = utterance
        stored = self._stored_timings()
        if stored:
            self.waveform.set_words(stored)
            self._set_status("Word timings stored in the project; the attention is on its way.")

    def show_audio(self, audio: np.ndarray | None, transcript: str = "", title: str = "") -> None:
        """Show ``(samples,)`` float32 16 kHz audio and align ``transcript`` ("" = what the model hears)."""
        self.utterance, self.inspection, self._request = None, None, None
        self._clear_plots()
        if audio is None or len(audio) == 0:
            self.audio, self.transcript = np.zeros(0, np.float32), ""
            self.title.setText("Select an utterance in the Dataset tab to see where the model listened.")
            self._set_status("")
            self._pending = False
            self._update_buttons()
            return
        self.audio, self.transcript = np.asarray(audio, np.float32), transcript
        self.title.setText(title or f"{len(audio) / SAMPLE_RATE:.2f} s of audio")
        self.waveform.set_audio(self.audio)
        self.spectrogram.set_features(_features(self.audio))
        self._pending = True
        if self.isVisible():
            self.inspect()
        self._update_buttons()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self._deferred is not None:
            self.show_utterance(self._deferred[0])
        elif self._pending and self._request is None:
            self.inspect()

    # -- the worker ------------------------------------------------------------
    def inspect(self) -> bool:
        """Ask the worker for attention and alignment of the shown audio; False if it cannot."""
        if not len(self.audio):
            self._say("Select an utterance in the Dataset tab first.")
            return False
        if self.recognizer is None:
            self._set_status("No model is loaded, so the attention cannot be shown (Transcribe → Models… chooses one).")
            return False
        self._pending = False
        self._request = self.recognizer.inspect(self.audio, self.transcript or None, self._on_answer)
        self._set_status("Asking the model where it listens…")
        self._update_buttons()
        return True

    def _on_answer(self, answer) -> None:
        if getattr(answer, "request_id", None) != self._request:
            return  # an answer for an utterance no longer shown
        self._request = None
        self._update_buttons()
        if isinstance(answer, RecognitionFailure):
            self._set_status(f"The attention cannot be shown: {answer.message.splitlines()[0]}")
            return
        if isinstance(answer, InspectResult):
            self.set_inspection(answer.inspection)

    def set_inspection(self, r) -> None:
        """Show an :class:`engine.insight.attention.Inspection` of the shown audio. Until the user
        chooses "Rows by word", a transcript of more than :data:`LONG_ROWS` tokens is shown by word."""
        self.inspection = r
        if self._settings.value(BY_WORD_KEY) is None:
            by_word = len(r.attention_tokens) > LONG_ROWS
            if by_word != self.by_word.isChecked():
                self.by_word.blockSignals(True)  # not the user's choice: not remembered
                self.by_word.setChecked(by_word)
                self.by_word.blockSignals(False)
                self.cross.set_rows(_by_word if by_word else None)
        heads = tuple(getattr(r, "alignment_heads", ()))
        if heads and self._settings.value(CROSS_VIEW_KEY) is None:
            self.cross.set_view(ALIGNMENT)  # until the user chooses: where Whisper's word times come from
        self.cross.set_attention(r.cross_attention, r.attention_tokens, r.frame_shift, heads)
        self.self_view.set_attention(r.self_attention, r.frame_shift)
        self.waveform.set_words(r.words)
        self._draw_marks()
        what = "the model's own transcription" if r.recognized else "the transcript"
        line = (f"Aligned {what} “{r.transcript}” ({len(r.words)} word{'s' if len(r.words) != 1 else ''}) "
                f"with {r.model} in {r.seconds:.2f} s. Hover a row to see where the model listened; click it to hear.")
        if heads:
            line += (f" Word times from its {len(heads)} alignment heads (amber in the head picker: "
                     + ", ".join(f"L{la + 1}·H{h + 1}" for la, h in heads) + ").")
        if not r.transcript:
            line = "The model hears no words here; the attention of its end-of-text token is shown."
        saved = self._save_timings(r)
        self._set_status(line + (" Word timings saved to the project." if saved else ""))
        self._update_buttons()

    # -- project ---------------------------------------------------------------
    def _stored_timings(self) -> list[WordTiming]:
        """The shown utterance's stored timings (seconds into the clip) if they match its transcript."""
        if self.project is None or self.utterance is None:
            return []
        try:
            stored = self.project.word_timings(self.utterance.id)
        except ProjectError:
            return []
        if stored is None or not stored.current:
            return []
        off = self.utterance.start
        return [WordTiming(w.word, w.start - off, w.end - off, w.confidence if w.confidence is not None else 0.0)
                for w in stored.words]

    def _save_timings(self, r) -> bool:
        if self.project is None or self.utterance is None or r.recognized or not r.words:
            return False
        off = self.utterance.start
        words = [WordTiming(w.word, w.start + off, w.end + off, w.confidence) for w in r.words]
        try:
            self.project.set_word_timings(self.utterance.id, words, r.transcript, r.model)
        except ProjectError as exc:
            self._say(str(exc))
            return False
        return True

    # -- interaction -----------------------------------------------------------
    def _row_weights(self, row: int) -> np.ndarray | None:
        m = self.cross.shown_map
        return None if m is None or not 0 <= row < m.shape[0] else m[row]

    def _on_hover(self, row: int) -> None:
        w = self._row_weights(row)
        if w is None or self.inspection is None:
            for item in (self.attend_curve, self.attend_region, self.spec_region):
                item.setVisible(False)
            self.self_view.show_time(None)
            return
        fs = self.inspection.frame_shift
        x = (np.arange(len(w)) + 0.5) * fs
        self.attend_curve.setData(x, -1.0 + 2.0 * w / max(float(w.max()), 1e-9))
        start, end = self.row_span(row)
        for region in (self.attend_region, self.spec_region):
            region.setRegion((start, end))
        for item in (self.attend_curve, self.attend_region, self.spec_region):
            item.setVisible(True)
        self.self_view.show_time((start + end) / 2)

    def row_span(self, row: int) -> tuple[float, float]:
        """Seconds of the stretch row ``row`` stands for: its most-attended stretch, or by word its aligned word."""
        r = self.inspection
        if self.by_word.isChecked() and r is not None:
            _, labels, _ = word_rows(r.cross_attention[0, 0], r.attention_tokens)
            if 0 <= row < len(r.words) and normalize_text(labels[row]) == r.words[row].word:
                return r.words[row].start, r.words[row].end
        w = self._row_weights(row)
        return attended_span(w, r.frame_shift) if w is not None and r is not None else (0.0, 0.0)

    def play_row(self, row: int) -> None:
        """Play what row ``row`` of the cross-attention listened to."""
        if self.inspection is None or self._row_weights(row) is None:
            return
        start, end = self.row_span(row)
        self.play_requested.emit(self.audio, start, end)

    def play_all(self) -> None:
        if len(self.audio):
            self.play_requested.emit(self.audio, 0.0, len(self.audio) / SAMPLE_RATE)

    def _on_waveform_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.inspection is None:
            return
        vb = self.waveform.getPlotItem().vb
        if not self.waveform.sceneBoundingRect().contains(event.scenePos()):
            return
        t = vb.mapSceneToView(event.scenePos()).x()
        for w in self.inspection.words:
            if w.start <= t <= w.end:
                self.play_requested.emit(self.audio, w.start, w.end)
                return

    def _on_scale_rows(self, on: bool) -> None:
        self._settings.setValue(SCALE_ROWS_KEY, "true" if on else "false")
        self.cross.set_scale_rows(on)

    def _on_by_word(self, on: bool) -> None:
        self._settings.setValue(BY_WORD_KEY, "true" if on else "false")
        self.cross.set_rows(_by_word if on else None)
        self._draw_marks()

    # -- drawing ---------------------------------------------------------------
    def _clear_plots(self) -> None:
        self.waveform.clear_audio()
        self.spectrogram.clear_features()
        self.cross.clear_attention()
        self.self_view.clear_attention()
        self.cross_bounds.setData([], [])
        self.char_marks.setData([], [])
        self._on_hover(-1)

    def _draw_marks(self) -> None:
        r = self.inspection
        if r is None:
            return
        n_rows = len(self.cross.row_labels)
        xs, ys = [], []
        for w in r.words:
            for t in (w.start, w.end):
                xs += [t, t]
                ys += [0.0, float(n_rows)]
        self.cross_bounds.setData(xs, ys)
        # a Sayso model's characters are marked under its words; Whisper's pieces are the rows of its
        # cross-attention (mostly whole words), so its waveform shows the words alone
        marked = [] if getattr(r, "alignment_heads", ()) else [t for t in r.tokens if t.token != " "]
        cx, cy = [], []
        for t in marked:
            cx += [t.start, t.start]
            cy += [-1.0, -0.85]
        self.char_marks.setData(cx, cy)
        for item in self._overlay:
            self.waveform.removeItem(item)
        self._overlay = []
        for t in marked:
            label = pg.TextItem(t.token, color=(255, 220, 120), anchor=(0.5, 1.0))
            label.setPos((t.start + t.end) / 2, -0.85)
            self.waveform.addItem(label, ignoreBounds=True)
            self._overlay.append(label)

    # -- export ----------------------------------------------------------------
    def _folder(self) -> str:
        return str(self._settings.value(FOLDER_KEY, str(Path.home())))

    def _stem(self) -> str:
        return f"utterance_{self.utterance.id}" if self.utterance is not None else "clip"

    def export_png(self, path: str | Path | None = None) -> Path | None:
        """Save the plots (waveform, spectrogram, both attentions) as a PNG; asks where when ``path`` is None."""
        if self.inspection is None:
            self._say("Nothing to export yet: select an utterance and wait for its attention.")
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export attention as PNG",
                                                  str(Path(self._folder()) / f"{self._stem()}_attention.png"),
                                                  "PNG image (*.png)")
            if not path:
                return None
        path = Path(path).with_suffix(".png")
        if not self.plots.grab().save(str(path), "PNG"):
            self._say(f"{path} could not be written (is the folder writable?).")
            return None
        self._settings.setValue(FOLDER_KEY, str(path.parent))
        self._say(f"Saved {path.name}.")
        return path

    def export_textgrid(self, path: str | Path | None = None) -> Path | None:
        """Write the alignment as a TextGrid (words and characters tiers) with the clip as WAV beside it."""
        from engine.data.formats.textgrid import write_alignment

        r = self.inspection
        if r is None or not r.words:
            self._say("Nothing to export yet: select an utterance with words and wait for its alignment.")
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export alignment as TextGrid",
                                                  str(Path(self._folder()) / f"{self._stem()}.TextGrid"),
                                                  "Praat TextGrid (*.TextGrid)")
            if not path:
                return None
        path = Path(path).with_suffix(".TextGrid")
        try:
            write_audio(path.with_suffix(".wav"), self.audio)
            write_alignment(path, r.duration, r.words, r.tokens)
        except (OSError, ValueError, AudioError) as exc:
            self._say(f"The TextGrid could not be written: {exc}")
            return None
        self._settings.setValue(FOLDER_KEY, str(path.parent))
        self._say(f"Saved {path.name} and {path.with_suffix('.wav').name}.")
        return path

    # -- misc ------------------------------------------------------------------
    def _update_buttons(self) -> None:
        has = self.inspection is not None
        self.inspect_button.setEnabled(bool(len(self.audio)) and self.recognizer is not None and self._request is None)
        self.textgrid_button.setEnabled(has and bool(self.inspection.words))
        self.png_button.setEnabled(has)

    def _set_status(self, text: str) -> None:
        self.status.setText(text)

    def _say(self, text: str) -> None:
        self._set_status(text)
        self.message.emit(text)


def _features(audio: np.ndarray) -> np.ndarray:
    if len(audio) < MIN_FEATURE_SAMPLES:  # log_mel_db's reflection padding needs a few hundred samples
        padded = np.zeros(MIN_FEATURE_SAMPLES, np.float32)
        padded[: len(audio)] = audio
        return log_mel_db(padded)[: len(audio) // 160 + 1]
    return log_mel_db(audio)
