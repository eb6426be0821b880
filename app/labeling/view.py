"""The labeling view: filter bar, utterance table and editor on a project, keyboard first.

:class:`LabelingView` is where a personal speech dataset gets labeled: pick
utterances with the :class:`~app.labeling.filter_bar.FilterBar`, walk them in
the lazy :class:`~app.labeling.table_model.UtteranceTableModel`, listen, fix
the boundaries and type the transcript in the
:class:`~app.labeling.editor.UtteranceEditor`.

Nothing is ever lost and there is no Save button: every change is written
to the project at once, one undoable edit each (``Project.update_utterance``,
``split_utterance``, ``merge_with_next``, ``delete_utterance``); typing in the
transcript field is written when the user accepts it (Enter), moves to
another utterance, or leaves the view (:meth:`LabelingView.commit_pending`).
Undo and redo are the project's own, so they survive a restart.

Keys come from :data:`app.shortcuts.SHORTCUTS` (group ``LABELING``) with the
user's overrides (:class:`app.shortcut_editor.ShortcutEditorDialog`); the
commands that act on the selected utterance are active while focus is in the
table or the editor, the others (search, undo, redo, help) anywhere in the
view. Errors become a status message, or a warning box when the project
refused a write; never a traceback.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.labeling.actions import apply_shortcuts, make_action
from app.labeling.editor import UtteranceEditor
from app.labeling.filter_bar import FilterBar
from app.labeling.help_overlay import HelpOverlay
from app.labeling.segment_plots import MIN_SEGMENT_S
from app.labeling.table_model import Column, UtteranceTableModel
from app.playback.controller import PlaybackController
from app.settings import StudioSettings
from app.shortcut_editor import ShortcutEditorDialog
from app.shortcuts import LABELING, SHORTCUTS, Command, keys_for, native_text
from engine.audio.errors import AudioError
from engine.data.errors import ProjectError
from engine.data.query import UtteranceFilter, UtteranceRow
from engine.data.recordings import Recording

log = logging.getLogger("sayso.labeling")

SMALL_STEP_S = 0.010
LARGE_STEP_S = 0.050
NUDGES: dict[Command, tuple[str, float]] = {
    Command.LABEL_START_EARLIER: ("start", -SMALL_STEP_S),
    Command.LABEL_START_LATER: ("start", SMALL_STEP_S),
    Command.LABEL_END_EARLIER: ("end", -SMALL_STEP_S),
    Command.LABEL_END_LATER: ("end", SMALL_STEP_S),
    Command.LABEL_START_EARLIER_MORE: ("start", -LARGE_STEP_S),
    Command.LABEL_START_LATER_MORE: ("start", LARGE_STEP_S),
    Command.LABEL_END_EARLIER_MORE: ("end", -LARGE_STEP_S),
    Command.LABEL_END_LATER_MORE: ("end", LARGE_STEP_S),
}
VIEW_WIDE = (Command.LABEL_FIND, Command.UNDO, Command.REDO, Command.LABEL_HELP, Command.LABEL_PLAY)
"""Commands active anywhere in the view (the others need focus in the table or the editor)."""
EXTRA_HELP = [
    ("Up / Down", "Previous / next utterance (in the table or the transcript field)"),
    ("Typing in the table", "Starts editing the transcript"),
    ("Escape", "Revert unsaved typing, or stop playing"),
    ("Click a plot", "Put the split cursor there"),
    ("Drag the green edges", "Move the segment's boundaries (one undo step per drag)"),
]
COLUMN_WIDTHS = {Column.ID: 64, Column.TIMES: 110, Column.DURATION: 70, Column.STATUS: 80,
                 Column.SPEAKER: 100, Column.SPLIT: 60, Column.CONFIDENCE: 80,
                 Column.MISLABEL: 75}


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
        self.table = QTableView()
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
        self._setup_table()
        self._build_layout()
        self.overlay = HelpOverlay(self)
        self.command_actions: dict[Command, QAction] = {}
        """The labeling commands' actions (their keys follow the settings)."""
        self._build_actions()
        self._connect()
        self._restore_layout()
        self.set_project(project)

    # -- construction ----------------------------------------------------------------
    def _setup_table(self) -> None:
        t = self.table
        t.setModel(self.model)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.setAlternatingRowColors(True)
        t.setWordWrap(False)
        t.setTabKeyNavigation(False)
        t.verticalHeader().hide()
        t.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        t.verticalHeader().setDefaultSectionSize(t.fontMetrics().height() + 8)
        header = t.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(int(Column.TRANSCRIPT), QHeaderView.ResizeMode.Stretch)
        for column, width in COLUMN_WIDTHS.items():
            t.setColumnWidth(int(column), width)
        header.setSectionsClickable(True)  # sorting is ours (see _on_sort_indicator), not QTableView's
        header.setSortIndicatorShown(True)
        header.setSortIndicator(int(Column.ID), Qt.SortOrder.AscendingOrder)
        self._sort_indicator = (int(Column.ID), Qt.SortOrder.AscendingOrder)
        t.installEventFilter(self)

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

    def _build_actions(self) -> None:
        slots: dict[Command, tuple[str, Callable[[], object]]] = {
            Command.LABEL_PLAY: ("Play segment", self.play_segment),
            Command.LABEL_ACCEPT_NEXT: ("Accept and next", self.accept_and_next),
            Command.LABEL_VERIFY_NEXT: ("Verify and next", self.verify_and_next),
            Command.LABEL_PREVIOUS: ("Previous utterance", self.previous),
            Command.LABEL_NEXT: ("Next utterance", self.next),
            Command.LABEL_EDIT_TEXT: ("Edit transcript", self.edit_transcript),
            Command.LABEL_FIND: ("Search", self.filter_bar.focus_search),
            Command.LABEL_SPLIT: ("Split at cursor", self.split_at_cursor),
            Command.LABEL_MERGE: ("Merge with next", self.merge_with_next),
            Command.LABEL_DELETE: ("Delete utterance", self.delete_utterance),
            Command.UNDO: ("Undo", self.undo),
            Command.REDO: ("Redo", self.redo),
            Command.LABEL_HELP: ("Labeling shortcuts", self.toggle_help),
        }
        for command, (boundary, delta) in NUDGES.items():
            slots[command] = (f"Move the {boundary} by {delta * 1000:+.0f} ms",
                              lambda b=boundary, d=delta: self.nudge(b, d))
        missing = {s.command for s in SHORTCUTS if s.group == LABELING} - set(slots)
        assert not missing, f"labeling commands without a slot: {missing}"
        for command, (text, slot) in slots.items():
            owner = self if command in VIEW_WIDE else self.work
            self.command_actions[command] = make_action(owner, command, text, slot, self.settings)
        self._update_field_keys()

    def _connect(self) -> None:
        self.filter_bar.filter_changed.connect(self.set_filter)
        self.filter_bar.leave_down.connect(self._focus_table)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.table.horizontalHeader().sortIndicatorChanged.connect(self._on_sort_indicator)
        self.model.fetch_failed.connect(self._say)
        self.editor.step.connect(lambda step: self._move(step))
        self.editor.bounds_edited.connect(self.set_bounds)
        self.editor.speaker_edited.connect(self._on_speaker_edited)
        self.editor.split_edited.connect(self._on_split_edited)
        self.editor.message.connect(self._say)
        self.editor.autoplay_box.setChecked(self.settings.labeling_autoplay)
        self.editor.autoplay_box.toggled.connect(lambda on: setattr(self.settings, "labeling_autoplay", on))
        self.playback.error.connect(self._on_playback_error)
        self.help_button.clicked.connect(self.toggle_help)
        self.shortcuts_button.clicked.connect(self.customize_shortcuts)

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
        for action in self.command_actions.values():
            action.setEnabled(project is not None)
        self.filter_bar.setEnabled(project is not None)
        self._refresh_speakers()
        self._update_counts()
        self._show_row(0 if self.model.rowCount() else -1)
        self._update_undo()
        self.status_label.setText("No project open: File → New project… or Open project…" if project is None
                                  else f"{project.folder.name}: every edit is saved at once; Ctrl+Z undoes it.")

    # -- reading the selection -------------------------------------------------------
    def current_utterance(self) -> UtteranceRow | None:
        """The selected utterance, or None."""
        return self.current

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

    # -- commands ------------------------------------------------------------------------
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
        if self._need_current():
            self.editor.focus_transcript(select_all=True)

    def play_segment(self) -> None:
        """Play the selected segment from its start (again if it plays)."""
        if self._need_current():
            self.editor.play()

    def split_at_cursor(self, at: float | None = None) -> None:
        """Split the selected utterance at ``at`` seconds (None: the playback position while it
        plays, else the split cursor or the mouse pointer over the plots)."""
        cur = self._need_current()
        if cur is None:
            return
        at = self.editor.split_point() if at is None else float(at)
        if at is None or not cur.start + MIN_SEGMENT_S / 2 < at < cur.end - MIN_SEGMENT_S / 2:
            where = "" if at is None else f" ({at:.2f} s is outside {cur.start:.2f}–{cur.end:.2f} s)"
            self._say("To split, put the cursor inside the segment: click the waveform, point at it, "
                      f"or split while it plays{where}.")
            return
        self.editor.stop()
        if not self.commit_pending():
            return
        if not self._write("Cannot split", lambda: self._project.split_utterance(cur.id, at))[0]:
            return
        self._after_edit(f"Split utterance {cur.id} at {at:.2f} s", cur.id, keep_view=True)

    def merge_with_next(self) -> None:
        """Merge the selected utterance with the next one of its recording."""
        cur = self._need_current()
        if cur is None or not self.commit_pending():
            return
        if not self._write("Cannot merge", lambda: self._project.merge_with_next(cur.id))[0]:
            return
        self._after_edit(f"Merged utterance {cur.id} with the next one", cur.id, keep_view=True)

    def delete_utterance(self) -> None:
        """Delete the selected utterance (undo brings it back); the next one is selected."""
        cur = self._need_current()
        if cur is None:
            return
        self.editor.stop()
        if not self._write("Cannot delete", lambda: self._project.delete_utterance(cur.id))[0]:
            return
        undo = native_text(keys_for(Command.UNDO, self.settings)[:1])
        self._after_edit(f"Deleted utterance {cur.id}" + (f" ({undo} brings it back)" if undo else ""),
                         cur.id, fallback_row=self.current_row)

    def nudge(self, boundary: str, delta: float) -> None:
        """Move the ``"start"`` or ``"end"`` of the selected segment by ``delta`` seconds."""
        cur = self._need_current()
        if cur is None:
            return
        rec = self._recording(cur.recording_id)
        duration = rec.duration if rec is not None else None
        start, end = cur.start, cur.end
        if boundary == "start":
            start = min(max(0.0, start + delta), end - MIN_SEGMENT_S)
        else:
            end = max(end + delta, start + MIN_SEGMENT_S)
            if duration is not None:
                end = min(end, duration)
        start, end = round(start, 6), round(end, 6)
        if (start, end) == (round(cur.start, 6), round(cur.end, 6)):
            self._say(f"The {boundary} cannot move further that way.")
            return
        self.set_bounds(start, end)

    def set_bounds(self, start: float, end: float) -> None:
        """Give the selected utterance new boundaries (seconds; one undoable edit)."""
        cur = self._need_current()
        if cur is None:
            return
        if end - start < MIN_SEGMENT_S:
            self._say(f"A segment must last at least {MIN_SEGMENT_S * 1000:.0f} ms.")
            self._reload_current(keep_view=True)
            return
        fields = {}
        if abs(start - cur.start) > 1e-9:
            fields["start"] = start
        if abs(end - cur.end) > 1e-9:
            fields["end"] = end
        if not fields:
            return
        if not self._write("Cannot move the boundaries",
                           lambda: self._project.update_utterance(cur.id, **fields))[0]:
            self._reload_current(keep_view=True)
            return
        self._after_edit(f"Utterance {cur.id}: {start:.3f}–{end:.3f} s", cur.id, keep_view=True)

    def undo(self) -> None:
        """Undo the last edit of the project (unsaved typing is discarded first, as its own step)."""
        if self._project is None:
            return
        if self.editor.transcript.dirty:
            self.editor.transcript.revert()
            self._say("Discarded the unsaved text.")
            return
        self._undo_redo("undo")

    def redo(self) -> None:
        """Redo the edit undone last."""
        if self._project is not None:
            self._undo_redo("redo")

    def toggle_help(self) -> None:
        """Show or hide the overlay listing the labeling shortcuts."""
        rows = []
        for s in SHORTCUTS:
            if s.group == LABELING:
                keys = keys_for(s.command, self.settings)
                rows.append((native_text(keys) if keys else "(none)", s.description))
        self.overlay.set_rows("Labeling shortcuts", rows + EXTRA_HELP,
                              "Every change is saved at once. Click or press any key to close; "
                              "“Shortcuts…” (top right) changes the keys.")
        self.overlay.toggle()

    def customize_shortcuts(self) -> bool:
        """Open the shortcut editor; on OK the new keys apply at once. True if they changed."""
        dialog = ShortcutEditorDialog(self.settings, self)
        accepted = bool(dialog.exec())
        if accepted:
            self.apply_shortcuts()
            self._say("Shortcuts saved.")
        return accepted

    def apply_shortcuts(self) -> None:
        """Re-read the keys of every labeling action from the settings."""
        apply_shortcuts(self.command_actions, self.settings)
        self._update_field_keys()

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
        if not self._write("Cannot save the transcript", lambda: self._project.update_utterance(cur.id, **fields))[0]:
            return False
        self.editor.transcript.load(self.editor.transcript.text())
        self._after_edit(f"Saved utterance {cur.id}", cur.id, keep_view=True)
        return True

    # -- moving -------------------------------------------------------------------------
    def _move(self, step: int, accept: bool = False, status: str | None = None) -> None:
        cur = self.current
        if cur is None:
            if self.model.rowCount():
                self._show_row(0)
            return
        old_row = self.current_row
        fields = self._pending_fields(cur, accept=accept, status=status)
        if fields:
            if not self._write("Cannot save the transcript",
                               lambda: self._project.update_utterance(cur.id, **fields))[0]:
                return
            self.editor.transcript.load(self.editor.transcript.text())
            self._after_edit(f"Saved utterance {cur.id}" + (" as verified" if status == "verified" else ""),
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
            self._say("This is the last utterance." if step > 0 else "This is the first utterance.")
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
            sm = self.table.selectionModel()
            if row < 0:
                sm.clearSelection()
                sm.setCurrentIndex(QModelIndex(), QItemSelectionModel.SelectionFlag.Clear)
            else:
                index = self.model.index(row, 0)
                sm.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                   | QItemSelectionModel.SelectionFlag.Rows)
                self.table.scrollTo(index, QAbstractItemView.ScrollHint.EnsureVisible)
        finally:
            self._syncing = False
        self._load(self.model.utterance(row) if row >= 0 else None, row, keep_view)

    def _load(self, row: UtteranceRow | None, table_row: int, keep_view: bool = False) -> None:
        previous = self.current
        self.current, self.current_row = row, table_row if row is not None else -1
        same = previous is not None and row is not None and previous.id == row.id
        recording = self._recording(row.recording_id) if row is not None else None
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
            if not self._write("Cannot save the transcript",
                               lambda: self._project.update_utterance(cur.id, **fields))[0]:
                self._show_row(old_row, keep_view=True)  # stay: the typing is not lost
                return
            self.editor.transcript.load(self.editor.transcript.text())
            self._after_edit(f"Saved utterance {cur.id}", cur.id, reload=False)
            new_row = self.model.row_of(target.id, row) if target is not None else -1
            self._show_row(new_row)
            return
        self._load(target, row)

    def _focus_table(self) -> None:
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        if self.current is None and self.model.rowCount():
            self._show_row(0)

    # -- after an edit -------------------------------------------------------------------
    def _after_edit(self, what: str, utterance_id: int | None, keep_view: bool = False,
                    fallback_row: int | None = None, reload: bool = True) -> None:
        """Re-read the table after a write, keep ``utterance_id`` selected (or the row it was on),
        and tell the user."""
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
            self._say(what)

    def _reload_current(self, keep_view: bool = False) -> None:
        if self.current is not None:
            self._after_edit("", self.current.id, keep_view=keep_view)

    def _undo_redo(self, which: str) -> None:
        self.editor.stop()
        fn = self._project.undo if which == "undo" else self._project.redo
        ok, done = self._write(f"Cannot {which}", fn)
        if not ok:
            return
        if done is None:
            self._say(f"Nothing to {which}.")
            return
        keep = self.current.id if self.current is not None else None
        verb = "Undone" if which == "undo" else "Redone"
        self._after_edit(f"{verb}: {done}", keep)

    def _update_counts(self) -> None:
        total = self.model.rowCount()
        if self._project is not None and self.model.filter != UtteranceFilter():
            try:
                total = self._project.count()
            except ProjectError as exc:
                self._say(str(exc))
        self.filter_bar.set_count(self.model.rowCount(), total)

    def _update_undo(self) -> None:
        can_undo = can_redo = False
        if self._project is not None:
            try:
                can_undo, can_redo = self._project.can_undo, self._project.can_redo
            except ProjectError as exc:
                self._say(str(exc))
        self.undo_state_changed.emit(can_undo, can_redo)

    def _refresh_speakers(self) -> None:
        names: list[str] = []
        if self._project is not None:
            try:
                names = self._project.speakers()
            except ProjectError as exc:
                self._say(str(exc))
        self.filter_bar.set_speakers(names)
        self.editor.set_speakers(names)

    def _on_speaker_edited(self, name: str) -> None:
        cur = self.current
        if cur is None:
            return
        if not self._write("Cannot set the speaker",
                           lambda: self._project.update_utterance(cur.id, speaker=name or None))[0]:
            self._reload_current(keep_view=True)
            return
        self._refresh_speakers()
        self._after_edit(f"Utterance {cur.id}: speaker {name or '(none)'}", cur.id, keep_view=True)

    def _on_split_edited(self, split) -> None:
        cur = self.current
        if cur is None:
            return
        if not self._write("Cannot set the split", lambda: self._project.update_utterance(cur.id, split=split))[0]:
            self._reload_current(keep_view=True)
            return
        self._after_edit(f"Utterance {cur.id}: split {split or '(none)'}", cur.id, keep_view=True)

    def _on_sort_indicator(self, column: int, order: Qt.SortOrder) -> None:
        if not self.model.is_sortable(column):
            header = self.table.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(*self._sort_indicator)
            header.blockSignals(False)
            self._say(f"The table cannot be sorted by {self.model.headerData(column, Qt.Orientation.Horizontal)}; "
                      "filter by it instead.")
            return
        if not self.commit_pending():
            header = self.table.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(*self._sort_indicator)
            header.blockSignals(False)
            return
        self._sort_indicator = (column, order)
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

    # -- helpers -----------------------------------------------------------------------
    def _need_current(self) -> UtteranceRow | None:
        if self._project is None:
            self._say("Open a project first.")
            return None
        if self.current is None:
            self._say("Select an utterance first.")
        return self.current

    def _recording(self, recording_id: int) -> Recording | None:
        rec = self._recordings.get(recording_id)
        if rec is None and self._project is not None:
            try:
                rec = self._project.recording(recording_id)
            except ProjectError as exc:
                self._say(str(exc))
                return None
            self._recordings[recording_id] = rec
        return rec

    def _write(self, title: str, fn: Callable[[], object]) -> tuple[bool, object]:
        """Run a write of the project. Returns ``(True, fn())``, or ``(False, None)`` after an
        error, which the user was shown in a warning box titled ``title``."""
        if self._project is None:
            self._say("Open a project first.")
            return False, None
        try:
            return True, fn()
        except (ProjectError, AudioError, ValueError, TypeError) as exc:
            self._warn(title, str(exc))
        except Exception as exc:  # never a traceback in the user's face
            log.exception("%s", title)
            self._warn(title, f"Unexpected error: {exc}")
        return False, None

    def _warn(self, title: str, text: str) -> None:
        self._say(text)
        QMessageBox.warning(self, title, text)

    def _say(self, text: str) -> None:
        if not text:
            return
        self.last_message = text
        self.status_label.setText(text)
        self.message.emit(text)

    def _on_playback_error(self, text: str) -> None:
        if self.isVisible():
            self._say(text)

    def _update_field_keys(self) -> None:
        self.editor.transcript.project_keys = [k for c in (Command.UNDO, Command.REDO)
                                               for k in self.command_actions[c].shortcuts()]

    # -- events ------------------------------------------------------------------------
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
