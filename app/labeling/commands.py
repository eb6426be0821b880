"""The labeling view's commands: their keys, the help overlay, and the edits that write the project.

:class:`LabelingCommands` owns one QAction per command of group
:data:`app.shortcuts.LABELING` (keys from :data:`app.shortcuts.SHORTCUTS` with
the user's overrides, see :mod:`app.actions`) and the edits of the
selected utterance: split, merge, delete, move its boundaries, set its speaker
or split, undo and redo. Each edit is one write of the project
(:meth:`LabelingCommands.write`); the store's :class:`~engine.data.errors.ProjectError`
(an edit breaking a rule, a damaged or locked file) becomes a warning box and
nothing changes. Anything else is a bug and is raised.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from app.actions import apply_shortcuts, make_action
from app.labeling.segment_plots import MIN_SEGMENT_S
from app.shortcut_editor import ShortcutEditorDialog
from app.shortcuts import LABELING, SHORTCUTS, Command, keys_for, native_text
from engine.data.errors import ProjectError

if TYPE_CHECKING:
    from app.labeling.view import LabelingView

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


class LabelingCommands:
    """The commands of ``view`` (a :class:`~app.labeling.view.LabelingView`), bound to their keys.

    Attributes:
        actions: the labeling commands' actions (their keys follow the settings).
    """

    def __init__(self, view: LabelingView) -> None:
        self.view = view
        self.actions: dict[Command, QAction] = {}
        slots: dict[Command, tuple[str, Callable[[], object]]] = {
            Command.LABEL_PLAY: ("Play segment", view.play_segment),
            Command.LABEL_ACCEPT_NEXT: ("Accept and next", view.accept_and_next),
            Command.LABEL_VERIFY_NEXT: ("Verify and next", view.verify_and_next),
            Command.LABEL_PREVIOUS: ("Previous utterance", view.previous),
            Command.LABEL_NEXT: ("Next utterance", view.next),
            Command.LABEL_EDIT_TEXT: ("Edit transcript", view.edit_transcript),
            Command.LABEL_FIND: ("Search", view.filter_bar.focus_search),
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
            owner = view if command in VIEW_WIDE else view.work
            self.actions[command] = make_action(owner, command, text, slot, view.settings)
        self._update_field_keys()

    def set_enabled(self, enabled: bool) -> None:
        """Enable every command (a project is open) or none."""
        for action in self.actions.values():
            action.setEnabled(enabled)

    # -- keys and help ---------------------------------------------------------
    def apply_shortcuts(self) -> None:
        """Re-read the keys of every labeling action from the settings."""
        apply_shortcuts(self.actions, self.view.settings)
        self._update_field_keys()

    def _update_field_keys(self) -> None:
        """The transcript field passes the project's undo/redo keys on instead of undoing its own typing."""
        self.view.editor.transcript.project_keys = [k for c in (Command.UNDO, Command.REDO)
                                                    for k in self.actions[c].shortcuts()]

    def toggle_help(self) -> None:
        """Show or hide the overlay listing the labeling shortcuts."""
        rows = []
        for s in SHORTCUTS:
            if s.group == LABELING:
                keys = keys_for(s.command, self.view.settings)
                rows.append((native_text(keys) if keys else "(none)", s.description))
        self.view.overlay.set_rows("Labeling shortcuts", rows + EXTRA_HELP,
                                   "Every change is saved at once. Click or press any key to close; "
                                   "“Keys…” (top right) changes them.")
        self.view.overlay.toggle()

    def customize_shortcuts(self) -> bool:
        """Open the shortcut editor; on OK the new keys apply at once. True if they changed."""
        dialog = ShortcutEditorDialog(self.view.settings, self.view)
        accepted = bool(dialog.exec())
        if accepted:
            self.apply_shortcuts()
            self.view.say("Shortcuts saved.")
        return accepted

    # -- edits of the selected utterance ---------------------------------------
    def split_at_cursor(self, at: float | None = None) -> None:
        """Split the selected utterance at ``at`` seconds (None: the playback position while it
        plays, else the split cursor or the mouse pointer over the plots)."""
        view = self.view
        cur = view.need_current()
        if cur is None:
            return
        at = view.editor.split_point() if at is None else float(at)
        if at is None or not cur.start + MIN_SEGMENT_S / 2 < at < cur.end - MIN_SEGMENT_S / 2:
            where = "" if at is None else f" ({at:.2f} s is outside {cur.start:.2f}–{cur.end:.2f} s)"
            view.say("To split, put the cursor inside the segment: click the waveform, point at it, "
                     f"or split while it plays{where}.")
            return
        view.editor.stop()
        if not view.commit_pending():
            return
        if not self.write("Cannot split", lambda: view.project.split_utterance(cur.id, at))[0]:
            return
        view.after_edit(f"Split utterance {cur.id} at {at:.2f} s", cur.id, keep_view=True)

    def merge_with_next(self) -> None:
        """Merge the selected utterance with the next one of its recording."""
        view = self.view
        cur = view.need_current()
        if cur is None or not view.commit_pending():
            return
        if not self.write("Cannot merge", lambda: view.project.merge_with_next(cur.id))[0]:
            return
        view.after_edit(f"Merged utterance {cur.id} with the next one", cur.id, keep_view=True)

    def delete_utterance(self) -> None:
        """Delete the selected utterance (undo brings it back); the next one is selected."""
        view = self.view
        cur = view.need_current()
        if cur is None:
            return
        view.editor.stop()
        if not self.write("Cannot delete", lambda: view.project.delete_utterance(cur.id))[0]:
            return
        undo = native_text(keys_for(Command.UNDO, view.settings)[:1])
        view.after_edit(f"Deleted utterance {cur.id}" + (f" ({undo} brings it back)" if undo else ""),
                        cur.id, fallback_row=view.current_row)

    def nudge(self, boundary: str, delta: float) -> None:
        """Move the ``"start"`` or ``"end"`` of the selected segment by ``delta`` seconds."""
        view = self.view
        cur = view.need_current()
        if cur is None:
            return
        rec = view.recording(cur.recording_id)
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
            view.say(f"The {boundary} cannot move further that way.")
            return
        self.set_bounds(start, end)

    def set_bounds(self, start: float, end: float) -> None:
        """Give the selected utterance new boundaries (seconds; one undoable edit)."""
        view = self.view
        cur = view.need_current()
        if cur is None:
            return
        if end - start < MIN_SEGMENT_S:
            view.say(f"A segment must last at least {MIN_SEGMENT_S * 1000:.0f} ms.")
            view.reload_current(keep_view=True)
            return
        fields = {}
        if abs(start - cur.start) > 1e-9:
            fields["start"] = start
        if abs(end - cur.end) > 1e-9:
            fields["end"] = end
        if not fields:
            return
        if not self.write("Cannot move the boundaries",
                          lambda: view.project.update_utterance(cur.id, **fields))[0]:
            view.reload_current(keep_view=True)
            return
        view.after_edit(f"Utterance {cur.id}: {start:.3f}–{end:.3f} s", cur.id, keep_view=True)

    def set_speaker(self, name: str) -> None:
        """The selected utterance's speaker becomes ``name`` ("" for none)."""
        view = self.view
        cur = view.current
        if cur is None:
            return
        if not self.write("Cannot set the speaker",
                          lambda: view.project.update_utterance(cur.id, speaker=name or None))[0]:
            view.reload_current(keep_view=True)
            return
        view.refresh_speakers()
        view.after_edit(f"Utterance {cur.id}: speaker {name or '(none)'}", cur.id, keep_view=True)

    # -- bulk actions on the selected rows ------------------------------------------
    def selected_ids(self) -> list[int]:
        """Ids of the selected rows (Shift/Ctrl-click), in table order; the current one if none."""
        view = self.view
        rows = sorted(i.row() for i in view.table.selectionModel().selectedRows())
        ids = [u.id for u in (view.model.utterance(r) for r in rows) if u is not None]
        if not ids and view.current is not None:
            ids = [view.current.id]
        return ids

    def bulk_set(self, **fields) -> int:
        """Set ``split``, ``status``, ``speaker`` or ``tags`` of every selected utterance (one undo step);
        returns how many changed."""
        view = self.view
        ids = self.selected_ids()
        if not ids or not view.commit_pending():  # unsaved typing first, its own undo step
            return 0
        ok, changed = self.write("Cannot change the selected utterances",
                                 lambda: view.project.update_utterances(ids, **fields))
        if not ok:
            return 0
        what = ", ".join(f"{k} {v if v not in (None, '') else '(none)'}" for k, v in fields.items())
        view.after_edit(f"{changed} of {len(ids)} selected utterances: {what} (one undo step)",
                        view.current.id if view.current is not None else None, keep_view=True)
        return changed

    def bulk_delete(self) -> int:
        """Delete every selected utterance (one undo step); returns how many."""
        view = self.view
        ids = self.selected_ids()
        if not ids or not view.commit_pending():  # unsaved typing first, its own undo step
            return 0
        view.editor.stop()
        ok, n = self.write("Cannot delete the selected utterances", lambda: view.project.delete_utterances(ids))
        if ok:
            view.after_edit(f"Deleted {n} utterances (undo brings them back)", None, fallback_row=view.current_row)
        return n if ok else 0

    def show_bulk_menu(self, pos) -> None:
        """The table's context menu: bulk actions on the selected rows."""
        from PySide6.QtWidgets import QInputDialog, QMenu

        n = len(self.selected_ids())
        if not n or self.view.project is None:
            return
        menu = QMenu(self.view)
        menu.setTitle(f"{n} selected")
        split = menu.addMenu(f"Split of {n} selected")
        for value in ("train", "dev", "test", None):
            split.addAction(value or "(none)").triggered.connect(lambda _=False, v=value: self.bulk_set(split=v))
        status = menu.addMenu(f"Status of {n} selected")
        for value in ("unlabeled", "draft", "verified"):
            status.addAction(value).triggered.connect(lambda _=False, v=value: self.bulk_set(status=v))

        def ask_speaker() -> None:
            name, ok = QInputDialog.getText(self.view, "Speaker", f"Speaker of the {n} selected utterances:")
            if ok:
                self.bulk_set(speaker=name.strip() or None)

        menu.addAction(f"Speaker of {n} selected…").triggered.connect(ask_speaker)
        menu.addSeparator()
        menu.addAction(f"Delete {n} selected").triggered.connect(self.bulk_delete)
        menu.exec(self.view.table.viewport().mapToGlobal(pos))

    def set_split(self, split) -> None:
        """The selected utterance goes to ``split`` (``"train"``, ``"dev"``, ``"test"`` or None)."""
        view = self.view
        cur = view.current
        if cur is None:
            return
        if not self.write("Cannot set the split", lambda: view.project.update_utterance(cur.id, split=split))[0]:
            view.reload_current(keep_view=True)
            return
        view.after_edit(f"Utterance {cur.id}: split {split or '(none)'}", cur.id, keep_view=True)

    def undo(self) -> None:
        """Undo the last edit of the project (unsaved typing is discarded first, as its own step)."""
        view = self.view
        if view.project is None:
            return
        if view.editor.transcript.dirty:
            view.editor.transcript.revert()
            view.say("Discarded the unsaved text.")
            return
        self._undo_redo("undo")

    def redo(self) -> None:
        """Redo the edit undone last."""
        if self.view.project is not None:
            self._undo_redo("redo")

    def _undo_redo(self, which: str) -> None:
        view = self.view
        view.editor.stop()
        fn = view.project.undo if which == "undo" else view.project.redo
        ok, done = self.write(f"Cannot {which}", fn)
        if not ok:
            return
        if done is None:
            view.say(f"Nothing to {which}.")
            return
        keep = view.current.id if view.current is not None else None
        verb = "Undone" if which == "undo" else "Redone"
        view.after_edit(f"{verb}: {done}", keep)

    # -- writing -----------------------------------------------------------------
    def write(self, title: str, fn: Callable[[], object]) -> tuple[bool, object]:
        """Run a write of the project. Returns ``(True, fn())``, or ``(False, None)`` after a
        :class:`~engine.data.errors.ProjectError`, which the user was shown in a warning box
        titled ``title`` (or when no project is open). Other exceptions are bugs: raised."""
        view = self.view
        if view.project is None:
            view.say("Open a project first.")
            return False, None
        try:
            return True, fn()
        except ProjectError as exc:
            view.say(str(exc))
            QMessageBox.warning(view, title, str(exc))
        return False, None
