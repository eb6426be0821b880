"""The live transcript: one row per utterance, partials grey, finals black, with timestamps."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
)

from engine.text.captions import Caption, write_captions

PARTIAL_COLOR = QColor(140, 140, 140)
FINAL_COLOR = QColor(0, 0, 0)
EXPORT_FILTER = "SubRip subtitles (*.srt);;WebVTT (*.vtt);;Plain text (*.txt)"


def stamp(seconds: float) -> str:
    """``mm:ss.s`` for a time in seconds."""
    return f"{int(seconds // 60):02d}:{seconds % 60:04.1f}"


class LiveTranscriptView(QGroupBox):
    """What live recognition heard in the current session.

    Rows are utterances in order: a partial hypothesis replaces the row's
    text in grey italics until the final arrives in black. Clicking a row
    emits ``seek(start, end)`` in seconds. **Export…** writes the finals as
    SRT, VTT or TXT.

    Signals:
        seek(float, float): the clicked utterance's start and end, seconds.
        enabled_changed(bool): the "Transcribe while recording" box changed.
    """

    seek = Signal(float, float)
    enabled_changed = Signal(bool)

    def __init__(self, parent=None) -> None:
        super().__init__("Live transcript", parent)
        self.enable_box = QCheckBox("Transcribe while recording", self)
        self.enable_box.setToolTip("Show words while you speak; each pause ends an utterance (Ctrl+Shift+T)")
        self.enable_box.toggled.connect(self.enabled_changed)
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.itemClicked.connect(self._on_click)
        self.export_button = QPushButton("Export…", self)
        self.export_button.setToolTip("Save the live transcript as SRT, VTT or TXT")
        self.export_button.clicked.connect(self.choose_export_path)
        self.clear_button = QPushButton("Clear", self)
        self.clear_button.clicked.connect(self.clear)
        row = QHBoxLayout()
        row.addWidget(self.enable_box)
        row.addStretch(1)
        row.addWidget(self.export_button)
        row.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.list, 1)
        self.folder = str(Path.home())
        self._rows: dict[int, QListWidgetItem] = {}
        self._captions: dict[int, Caption] = {}
        self._update_buttons()

    # -- state ------------------------------------------------------------------
    @property
    def captions(self) -> list[Caption]:
        """The finals so far, in order."""
        return [self._captions[k] for k in sorted(self._captions)]

    @property
    def partial_rows(self) -> int:
        """How many rows still show a partial hypothesis."""
        return len(self._rows) - len(self._captions)

    def set_live_enabled(self, on: bool) -> None:
        self.enable_box.setChecked(on)

    def begin_session(self) -> None:
        """A new recording: clear the rows (times restart at 0 s)."""
        self.clear()

    def clear(self) -> None:
        self.list.clear()
        self._rows.clear()
        self._captions.clear()
        self._update_buttons()

    def add_events(self, events) -> None:
        """Show :class:`~engine.decode.protocol.Partial` / :class:`~engine.decode.protocol.Final` events."""
        for e in events:
            item = self._rows.get(e.index)
            if item is None:
                item = QListWidgetItem()
                self.list.addItem(item)
                self._rows[e.index] = item
            final = hasattr(e, "confidence")
            font = QFont(self.list.font())
            font.setItalic(not final)
            item.setFont(font)
            item.setForeground(QBrush(FINAL_COLOR if final else PARTIAL_COLOR))
            text = e.text if (e.text or not final) else "(no speech recognized)"
            item.setText(f"{stamp(e.start)}  {text}" + ("" if final else " …"))
            item.setData(Qt.ItemDataRole.UserRole, (e.start, e.end))
            if final:
                item.setToolTip(f"{stamp(e.start)}–{stamp(e.end)} · confidence {e.confidence:.2f}")
                if e.text:
                    self._captions[e.index] = Caption(e.start, e.end, e.text)
            self.list.scrollToItem(item)
        self._update_buttons()

    def show_error(self, message: str) -> None:
        item = QListWidgetItem(message)
        item.setForeground(QBrush(QColor("#b00020")))
        self.list.addItem(item)

    # -- export -----------------------------------------------------------------
    def choose_export_path(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self, "Export live transcript",
                                                   str(Path(self.folder) / "transcript.srt"), EXPORT_FILTER)
        if not path:
            return
        if not Path(path).suffix:
            path += "." + chosen.split("*.")[1].rstrip(")")
        self.export(path)

    def export(self, path: str | Path) -> bool:
        """Write the finals to ``path`` (format from the suffix); a failure becomes a warning box."""
        try:
            write_captions(path, self.captions)
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "Export live transcript", f"{Path(path).name}: {getattr(exc, 'strerror', None) or exc}")
            return False
        self.folder = str(Path(path).parent)
        return True

    def _update_buttons(self) -> None:
        self.export_button.setEnabled(bool(self._captions))
        self.clear_button.setEnabled(self.list.count() > 0)

    def _on_click(self, item: QListWidgetItem) -> None:
        span = item.data(Qt.ItemDataRole.UserRole)
        if span:
            self.seek.emit(*span)
