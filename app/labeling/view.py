"""The labeling view: filter bar, utterance table and editor on a project, keyboard first.

:class:`LabelingView` is where a personal speech dataset gets labeled: pick
utterances with the :class:`~app.labeling.filter_bar.FilterBar`, walk them in
the :class:`~app.labeling.utterance_table.UtteranceTable` (a lazy
:class:`~app.labeling.table_model.UtteranceTableModel`), listen, fix the
boundaries and type the transcript in the
:class:`~app.labeling.editor.UtteranceEditor`.

Nothing is ever lost and there is no Save button: every change is written
to the project at once, one undoable edit each (``Project.update_utterance``,
``split_utterance``, ``merge_with_next``, ``delete_utterance``); typing in the
transcript field is written when the user accepts it (Enter), moves to
another utterance, or leaves the view (:meth:`LabelingView.commit_pending`).
Undo and redo are the project's own, so they survive a restart.

The commands and their keys (:data:`app.shortcuts.SHORTCUTS`, group
``LABELING``, with the user's overrides) are in
:class:`~app.labeling.commands.LabelingCommands`, with the edits that write
the project; the commands that act on the selected utterance are active while
focus is in the table or the editor, the others (search, undo, redo, help)
anywhere in the view. Errors become a status message, or a warning box when
the project refused a write; never a traceback.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QSplitter, QToolButton, QVBoxLayout, QWidget

from app.labeling.commands import LabelingCommands
from app.labeling.editor import UtteranceEditor
from app.labeling.filter_bar import FilterBar
from app.labeling.help_overlay import HelpOverlay
from app.labeling.table_model import UtteranceTableModel
from app.labeling.utterance_table import UtteranceTable
from app.playback.controller import PlaybackController
from app.settings import StudioSettings
from engine.data.errors import ProjectError
from engine.data.query import UtteranceFilter, UtteranceRow
from engine.data.recordings import Recording


def accept_status(status: str, text: str) -> str:
    """Status after the user accepted ``text``: verified stays verified, any text makes a draft,
    no text leaves (or makes) it unlabeled."""
    if status == "verified":
        return "verified"
    return "draft" if text.strip() else "unlabeled"


class LabelingView(QWidget):
    """Filter bar + utterance table + editor over a project.

    Args:
        project: the :class:`~engine.data.store.Project` to label, or None.
        playback: the studio's shared playback controller.
        settings: the studio's settings (shortcut overrides, layout).
        parent: the parent widget.

    Signals:
        current_changed(int): the selected utterance's id (-1: none).
        edited(str): an edit was written to the project (what, e.g. "Split utterance 12 at 1.20 s").
        message(str): a status message for the window's status bar.
        undo_state_changed(bool, bool): whether undo / redo have something to do now.

    Attributes:
        commands: the labeling commands, their keys and the edits (:class:`LabelingCommands`).
    """

    current_changed = Signal(int)
    edited = Signal(str)
    message = Signal(str)
    undo_state_changed = Signal(bool, bool)

    def __init__(self, project, playback: PlaybackController, settings: StudioSettings, parent=None) -> None:
        super().__init__(parent)
        self._project = None
        self.playback = playback
        self.settings = settings
        self.current: UtteranceRow | None = None
        """The utterance in the editor (as last read from the project)."""
        self.current_row = -1
        self.last_message = ""
        self._recordings: dict[int, Recording] = {}
        self._syncing = False

        self.model = UtteranceTableModel(None, parent=self)
        self.filter_bar = FilterBar()
        self.table = UtteranceTable(self.model)
        self.table.installEventFilter(self)
        self.editor = UtteranceEditor(playback)
        self.status_label = QLabel()
        self.status_label.setStyleSheet("color: #888")
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.help_button = QToolButton(text="?")
        self.help_button.setToolTip("Labeling shortcuts")
        self.shortcuts_button = QToolButton(text="Keys…")
        self.shortcuts_button.setToolTip("Customize the keyboard shortcuts")
        for b in (self.help_button, self.shortcuts_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._build_layout()
        self.overlay = HelpOverlay(self)
        self.commands = LabelingCommands(self)
        self._connect()
        self._restore_layout()
        self.set_project(project)

    # -- construction ----------------------------------------------------------------
    def _build_layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.filter_bar, 1)
        top.addWidget(self.help_button)
        top.addWidget(self.shortcuts_button)
        self.work = QSplitter(Qt.Orientation.Vertical)
        self.work.addWidget(self.table)
        self.work.addWidget(self.editor)
        self.work.setChildrenCollapsible(False)
        self.work.setSizes([320, 420])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 2)
        layout.addLayout(top)
        layout.addWidget(self.work, 1)
        layout.addWidget(self.status_label)

    def _connect(self) -> None:
        self.filter_bar.filter_changed.connect(self.set_filter)
        self.filter_bar.leave_down.connect(self._focus_table)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.table.customContextMenuRequested.connect(self.commands.show_bulk_menu)
        self.table.horizontalHeader().sortIndicatorChanged.connect(self._on_sort_indicator)
        self.model.fetch_failed.connect(self.say)
        self.editor.step.connect(lambda step: self._move(step))
        self.editor.bounds_edited.connect(self.commands.set_bounds)
        self.editor.speaker_edited.connect(self.commands.set_speaker)
        self.editor.split_edited.connect(self.commands.set_split)
        self.editor.message.connect(self.say)
        self.editor.autoplay_box.setChecked(self.settings.labeling_autoplay)
        self.editor.autoplay_box.toggled.connect(lambda on: setattr(self.settings, "labeling_autoplay", on))
        self.playback.error.connect(self._on_playback_error)
        self.help_button.clicked.connect(self.commands.toggle_help)
        self.shortcuts_button.clicked.connect(self.commands.customize_shortcuts)

    def _restore_layout(self) -> None:
        if self.settings.labeling_splitter is not None:
            self.work.restoreState(self.settings.labeling_splitter)
        if self.settings.labeling_header is not None:
            self.table.horizontalHeader().restoreState(self.settings.labeling_header)  # widths and sort order

    def save_state(self) -> None:
        """Remember the layout (splitter, column widths, sort order) in the settings."""
        self.settings.labeling_splitter = self.work.saveState()
        self.settings.labeling_header = self.table.horizontalHeader().saveState()

    # -- project -----------------------------------------------------------------------
    @property
    def project(self):
        """The project shown, or None."""
        return self._project

    def set_project(self, project) -> None:
        """Label ``project`` (None: show nothing). Unsaved typing in the old one is saved first."""
        if self._project is not None:
            self.commit_pending()
        self.editor.stop()
        self._project = project
        self._recordings.clear()
        self.editor.cache.clear()
        self.filter_bar.reset()
        self._syncing = True
        try:
            self.model.set_filter(UtteranceFilter())
            self.model.set_project(project)
        finally:
            self._syncing = False
        self.commands.set_enabled(project is not None)
        self.filter_bar.setEnabled(project is not None)
        self.refresh_speakers()
        self._update_counts()
        self._show_row(0 if self.model.rowCount() else -1)
        self._update_undo()
        self.status_label.setText("No project open: File → New project… or Open project…" if project is None
                                  else f"{project.folder.name}: every edit is saved at once; Ctrl+Z undoes it.")

    # -- the selection -----------------------------------------------------------------
    def select_row(self, row: int) -> None:
        """Select the utterance shown on ``row`` of the table (unsaved typing is saved first)."""
        if 0 <= row < self.model.rowCount():
            self.table.setCurrentIndex(self.model.index(row, 0))

    def select_utterance(self, utterance_id: int) -> bool:
        """Select the utterance ``utterance_id`` if the table shows it; False otherwise."""
        row = self.model.row_of(utterance_id, self.current_row)
        if row < 0:
            return False
        self.select_row(row)
        return True

    def set_filter(self, f: UtteranceFilter | None) -> None:
        """Show only the utterances matching ``f``; keeps the selected one if it still matches."""
        keep = self.current.id if self.current is not None else None
        if not self.commit_pending():
            return
        self._syncing = True
        try:
            self.model.set_filter(f)
        finally:
            self._syncing = False
        row = self.model.row_of(keep, 0) if keep is not None else -1
        self._show_row(row if row >= 0 else (0 if self.model.rowCount() else -1))
        self._update_counts()

    def need_current(self) -> UtteranceRow | None:
        """The selected utterance; None (and a message saying what to do) without one."""
        if self._project is None:
            self.say("Open a project first.")
            return None
        if self.current is None:
            self.say("Select an utterance first.")
        return self.current

    def recording(self, recording_id: int) -> Recording | None:
        """The project's recording ``recording_id`` (cached); None (and a message) if it cannot be read."""
        rec = self._recordings.get(recording_id)
        if rec is None and self._project is not None:
            try:
                rec = self._project.recording(recording_id)
            except ProjectError as exc:
                self.say(str(exc))
                return None
            self._recordings[recording_id] = rec
        return rec

    # -- moving ------------------------------------------------------------------------
    def accept_and_next(self) -> None:
        """Save the transcript (unlabeled becomes draft, verified stays) and go to the next utterance."""
        self._move(1, accept=True)

    def verify_and_next(self) -> None:
        """Save the transcript as verified and go to the next utterance."""
        self._move(1, accept=True, status="verified")

    def next(self) -> None:
        self._move(1)

    def previous(self) -> None:
        self._move(-1)

    def edit_transcript(self) -> None:
        if self.need_current():
            self.editor.focus_transcript(select_all=True)

    def play_segment(self) -> None:
        """Play the selected segment from its start (again if it plays)."""
        if self.need_current():
            self.editor.play()

    def commit_pending(self) -> bool:
        """Write unsaved typing (transcript, speaker) of the selected utterance now.

        Returns:
            False if the project refused it (the user was told; the typing is kept).
        """
        cur = self.current
        if cur is None or self._project is None:
            return True
        fields = self._pending_fields(cur)
        if not fields:
            return True
        if not self.commands.write("Cannot save the transcript",
                                   lambda: self._project.update_utterance(cur.id, **fields))[0]:
            return False
        self.editor.transcript.load(self.editor.transcript.text())
        self.after_edit(f"Saved utterance {cur.id}", cur.id, keep_view=True)
        return True

    def _move(self, step: int, accept: bool = False, status: str | None = None) -> None:
        cur = self.current
        if cur is None:
            if self.model.rowCount():
                self._show_row(0)
            return
        old_row = self.current_row
        fields = self._pending_fields(cur, accept=accept, status=status)
        if fields:
            if not self.commands.write("Cannot save the transcript",
                                       lambda: self._project.update_utterance(cur.id, **fields))[0]:
                return
            self.editor.transcript.load(self.editor.transcript.text())
            self.after_edit(f"Saved utterance {cur.id}" + (" as verified" if status == "verified" else ""),
                            cur.id, keep_view=True, fallback_row=old_row, reload=False)
        row = self.model.row_of(cur.id, old_row)
        count = self.model.rowCount()
        if row >= 0:
            target = row + step
        else:  # it left the table (e.g. the filter shows unlabeled ones only): the next one took its place
            target = old_row if step > 0 else old_row - 1
        if count == 0:
            self._show_row(-1)
            return
        if not 0 <= target < count:
            self.say("This is the last utterance." if step > 0 else "This is the first utterance.")
            target = min(max(target, 0), count - 1)
        if target != self.current_row or row < 0 or fields:
            self._show_row(target)

    def _pending_fields(self, cur: UtteranceRow, accept: bool = False, status: str | None = None) -> dict:
        text = self.editor.transcript.text()
        fields: dict = {}
        if self.editor.transcript.dirty or accept:
            if text != cur.text:
                fields["transcript"] = text
            new_status = status or accept_status(cur.status, text)
            if new_status != cur.status:
                fields["status"] = new_status
        speaker = self.editor.pending_speaker()
        if speaker is not None:
            fields["speaker"] = speaker or None
        return fields

    def _show_row(self, row: int, keep_view: bool = False) -> None:
        """Select ``row`` (-1: nothing) without saving anything and load it into the editor."""
        self._syncing = True
        try:
            self.table.select(row)
        finally:
            self._syncing = False
        self._load(self.model.utterance(row) if row >= 0 else None, row, keep_view)

    def _load(self, row: UtteranceRow | None, table_row: int, keep_view: bool = False) -> None:
        previous = self.current
        self.current, self.current_row = row, table_row if row is not None else -1
        same = previous is not None and row is not None and previous.id == row.id
        recording = self.recording(row.recording_id) if row is not None else None
        self.editor.show_utterance(row, recording, keep_view=keep_view and same)
        if not same:
            self.current_changed.emit(row.id if row is not None else -1)
            if row is not None and self.editor.autoplay and self.isVisible():
                self.editor.play()

    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._syncing:
            return
        row = current.row() if current.isValid() else -1
        target = self.model.utterance(row) if row >= 0 else None
        cur = self.current
        if cur is not None and (target is None or target.id != cur.id) and self._pending_fields(cur):
            old_row = self.current_row
            fields = self._pending_fields(cur)
            if not self.commands.write("Cannot save the transcript",
                                       lambda: self._project.update_utterance(cur.id, **fields))[0]:
                self._show_row(old_row, keep_view=True)  # stay: the typing is not lost
                return
            self.editor.transcript.load(self.editor.transcript.text())
            self.after_edit(f"Saved utterance {cur.id}", cur.id, reload=False)
            new_row = self.model.row_of(target.id, row) if target is not None else -1
            self._show_row(new_row)
            return
        self._load(target, row)

    def _focus_table(self) -> None:
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        if self.current is None and self.model.rowCount():
            self._show_row(0)

    # -- after an edit -------------------------------------------------------------------
    def after_edit(self, what: str, utterance_id: int | None, keep_view: bool = False,
                   fallback_row: int | None = None, reload: bool = True) -> None:
        """Re-read the table after a write, keep ``utterance_id`` selected (or the row it was on),
        and tell the user ``what`` was done ("": nothing to say)."""
        old_row = self.current_row if fallback_row is None else fallback_row
        scroll = self.table.verticalScrollBar().value()
        self._syncing = True
        try:
            self.model.refresh()
        finally:
            self._syncing = False
        self.table.verticalScrollBar().setValue(scroll)
        self._update_counts()
        self._update_undo()
        if reload:
            row = self.model.row_of(utterance_id, old_row) if utterance_id is not None else -1
            if row < 0 and self.model.rowCount():
                row = min(max(old_row, 0), self.model.rowCount() - 1)
            self._show_row(row, keep_view=keep_view)
        else:
            row = self.model.row_of(utterance_id, old_row) if utterance_id is not None else -1
            if row >= 0:
                self.current_row = row
        if what:
            self.edited.emit(what)
            self.say(what)

    def refresh(self) -> None:
        """Read the project again after a change made elsewhere (an import, a split, pre-labeling, Add to
        project): the rows, the counts, the speakers and the undo state."""
        if self._project is None:
            return
        if not self.commit_pending():
            return
        self.after_edit("", self.current.id if self.current is not None else None)
        self.refresh_speakers()

    def reload_current(self, keep_view: bool = False) -> None:
        """Read the selected utterance again (an edit was refused: show what is stored)."""
        if self.current is not None:
            self.after_edit("", self.current.id, keep_view=keep_view)

    def _update_counts(self) -> None:
        total = self.model.rowCount()
        if self._project is not None and self.model.filter != UtteranceFilter():
            try:
                total = self._project.count()
            except ProjectError as exc:
                self.say(str(exc))
        self.filter_bar.set_count(self.model.rowCount(), total)

    def _update_undo(self) -> None:
        can_undo = can_redo = False
        if self._project is not None:
            try:
                can_undo, can_redo = self._project.can_undo, self._project.can_redo
            except ProjectError as exc:
                self.say(str(exc))
        self.undo_state_changed.emit(can_undo, can_redo)

    def refresh_speakers(self) -> None:
        """Offer the project's speakers in the filter bar and the editor."""
        names: list[str] = []
        if self._project is not None:
            try:
                names = self._project.speakers()
            except ProjectError as exc:
                self.say(str(exc))
        self.filter_bar.set_speakers(names)
        self.editor.set_speakers(names)

    def _on_sort_indicator(self, column: int, order: Qt.SortOrder) -> None:
        if not self.model.is_sortable(column):
            self.table.restore_sort_indicator()
            self.say(f"The table cannot be sorted by {self.model.headerData(column, Qt.Orientation.Horizontal)}; "
                     "filter by it instead.")
            return
        if not self.commit_pending():
            self.table.restore_sort_indicator()
            return
        self.table.sort_indicator = (column, order)
        keep = self.current.id if self.current is not None else None
        self._syncing = True
        try:
            self.model.sort(column, order)
        finally:
            self._syncing = False
        row = self.model.row_of(keep, self.current_row) if keep is not None else -1
        self._show_row(row if row >= 0 else (0 if self.model.rowCount() else -1))

    def sort_by(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the table as a click on the header of ``column`` would."""
        self.table.horizontalHeader().setSortIndicator(column, order)

    # -- messages and events -----------------------------------------------------------
    def say(self, text: str) -> None:
        """Show ``text`` in the status line and send it to the window's status bar ("": nothing)."""
        if not text:
            return
        self.last_message = text
        self.status_label.setText(text)
        self.message.emit(text)

    def _on_playback_error(self, text: str) -> None:
        if self.isVisible():
            self.say(text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Typing a character in the table starts editing the transcript."""
        if watched is self.table and event.type() == QEvent.Type.KeyPress and self.current is not None:
            text = event.text()
            mods = event.modifiers() & ~(Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier)
            if text and text.isprintable() and not text.isspace() and mods == Qt.KeyboardModifier.NoModifier:
                self.editor.focus_transcript()
                QApplication.sendEvent(self.editor.transcript,
                                       QKeyEvent(QEvent.Type.KeyPress, event.key(), event.modifiers(), text))
                return True
        return super().eventFilter(watched, event)

    def hideEvent(self, event) -> None:
        self.commit_pending()
        self.editor.stop()
        super().hideEvent(event)
