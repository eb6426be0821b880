"""The labeling view on a real project, driven by the keyboard: every edit lands in the SQLite
file at once, undo/redo are the project's, and errors are messages."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.labeling.filter_bar import SEARCH_DELAY_MS
from app.labeling.table_model import Column
from engine.audio.io import SAMPLE_RATE, load_audio
from engine.data.store import Project
from tests.app.labeling.labeling_support import key, make_view, session_wav, stored


def history_size(project: Project) -> int:
    return project._db().execute("SELECT count(*) FROM history WHERE undone = 0").fetchone()[0]


def test_opens_on_the_first_utterance_with_its_audio(qtbot, labeling_project, tmp_path):
    view = make_view(qtbot, labeling_project)
    assert view.model.rowCount() == 5 and view.current.id == 1
    assert view.table.currentIndex().row() == 0
    plots = view.editor.plots
    assert plots.segment == pytest.approx((0.0, 1.0))
    a, b = plots.visible_range()
    assert a == pytest.approx(0.0) and 1.0 < b < 2.0  # the segment with some context
    x, y = plots.waveform.curve.xData, plots.waveform.curve.yData  # as given, not as decimated for the screen
    audio = load_audio(session_wav(tmp_path))
    first = int(round(x[0] * SAMPLE_RATE))
    np.testing.assert_allclose(y[:100], audio[first:first + 100])
    assert plots.spectrogram.features is not None and plots.spectrogram.features.shape[1] == 80
    assert "Utterance 1" in view.editor.header.text() and "session.wav" in view.editor.header.text()
    assert "5 utterances" in view.filter_bar.count_label.text()


def test_typing_a_transcript_and_enter_saves_it_and_moves_on(qtbot, labeling_project, warnings_shown):
    view = make_view(qtbot, labeling_project)
    field = view.editor.transcript
    field.setFocus()
    qtbot.keyClicks(field, "yes")
    assert stored(labeling_project, 1)[:2] == ("", "unlabeled")  # not yet accepted
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert stored(labeling_project, 1)[:2] == ("yes", "draft")
    assert view.current.id == 2 and field.text() == "" and field.hasFocus()
    assert view.model.data(view.model.index(0, int(Column.TRANSCRIPT))) == "yes"
    qtbot.keyClicks(field, "no")
    key(qtbot, field, "Ctrl+Return")  # verify and next
    assert stored(labeling_project, 2)[:2] == ("no", "verified") and view.current.id == 3
    # a verified one stays verified when its text is corrected with Enter
    view.select_utterance(2)
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_Backspace)
    qtbot.keyClicks(field, "o!")
    qtbot.keyClick(field, Qt.Key.Key_Enter)
    assert stored(labeling_project, 2)[:2] == ("no!", "verified")
    assert not warnings_shown
    # in the file, for anyone who opens it: reopen and check
    path = labeling_project.folder
    labeling_project.close()
    with Project.open(path) as again:
        assert again.utterance(1).text == "yes" and again.utterance(1).status == "draft"
        assert again.utterance(2).text == "no!" and again.utterance(2).status == "verified"


def test_moving_away_saves_unsaved_typing(qtbot, labeling_project):
    view = make_view(qtbot, labeling_project)
    field = view.editor.transcript
    field.setFocus()
    qtbot.keyClicks(field, "yes")
    qtbot.keyClick(field, Qt.Key.Key_Down)  # Down in the field: next utterance
    assert view.current.id == 2 and stored(labeling_project, 1)[:2] == ("yes", "draft")
    qtbot.keyClicks(field, "nope")
    key(qtbot, field, "Alt+Up")  # previous
    assert view.current.id == 1 and stored(labeling_project, 2)[0] == "nope"
    assert field.text() == "yes"
    qtbot.keyClicks(field, " indeed")
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_Down)  # the table's own navigation
    assert view.current.id == 2 and stored(labeling_project, 1)[0] == "yes indeed"
    view.editor.focus_transcript()
    qtbot.keyClicks(field, "?!")  # "?" is a character here, not the help key
    assert not view.overlay.isVisible()
    view.hide()  # typed, not accepted: hiding the view (closing the window) saves it
    assert stored(labeling_project, 2)[0] == "nope?!"


def test_typing_in_the_table_goes_to_the_transcript(qtbot, labeling_project):
    view = make_view(qtbot, labeling_project)
    view.table.setFocus()
    qtbot.keyClicks(view.table, "up")
    assert view.editor.transcript.text() == "up" and view.editor.transcript.hasFocus()


def test_undo_and_redo_keys_act_on_the_project(qtbot, labeling_project):
    view = make_view(qtbot, labeling_project)
    field = view.editor.transcript
    field.setFocus()
    qtbot.keyClicks(field, "yes")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    qtbot.keyClicks(field, "no")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert view.current.id == 3
    key(qtbot, field, "Ctrl+Z")
    assert stored(labeling_project, 2)[:2] == ("", "unlabeled") and stored(labeling_project, 1)[0] == "yes"
    assert "Undone" in view.last_message
    key(qtbot, field, "Ctrl+Z")
    assert stored(labeling_project, 1)[:2] == ("", "unlabeled")
    key(qtbot, field, "Ctrl+Shift+Z")
    assert stored(labeling_project, 1)[:2] == ("yes", "draft")
    key(qtbot, view.table, "Ctrl+Y")
    assert stored(labeling_project, 2)[:2] == ("no", "draft")
    assert view.model.data(view.model.index(1, int(Column.TRANSCRIPT))) == "no"  # the table follows
    key(qtbot, field, "Ctrl+Y")
    assert view.last_message == "Nothing to redo."
    # with unsaved typing, Ctrl+Z undoes the typing, not the project
    view.select_utterance(2)
    field.setFocus()
    field.end(False)
    qtbot.keyClicks(field, "pe")
    key(qtbot, field, "Ctrl+Z")
    assert field.text() == "no" and stored(labeling_project, 2)[0] == "no"
    key(qtbot, field, "Ctrl+Z")  # now the project: the second accept
    assert stored(labeling_project, 2)[0] == ""
    assert view.current.id == 2 and field.text() == ""  # the editor shows the restored row


def test_split_at_the_cursor_and_merge_back(qtbot, labeling_project, plays):
    view = make_view(qtbot, labeling_project)
    field = view.editor.transcript
    field.setFocus()
    qtbot.keyClicks(field, "yes")
    key(qtbot, field, "Ctrl+K")  # no cursor yet: a hint, no change
    assert "cursor" in view.last_message and view.model.rowCount() == 5
    view.editor.plots.set_cursor(0.4)
    key(qtbot, field, "Ctrl+K")
    assert view.model.rowCount() == 6
    assert stored(labeling_project, 1) == ("yes", "draft", 0.0, 0.4)  # the typing was saved first
    second = max(r.id for r in labeling_project.fetch(limit=10))
    assert stored(labeling_project, second) == ("", "unlabeled", 0.4, 1.0)
    assert view.current.id == 1 and view.editor.plots.segment == pytest.approx((0.0, 0.4))
    # while the segment plays, the split goes at the playhead
    key(qtbot, field, "Ctrl+Space")
    assert plays and plays[-1][1:] == pytest.approx((0.0, 0.4))
    view.playback.position_changed.emit(0.25)
    assert view.editor.plots.cursor_s == pytest.approx(0.25) and view.editor.plots.waveform.playhead.isVisible()
    key(qtbot, field, "Ctrl+M")  # merge with the next part again
    assert view.model.rowCount() == 5 and stored(labeling_project, 1)[2:] == (0.0, 1.0)
    assert labeling_project.count() == 5
    key(qtbot, field, "Ctrl+Z")  # the merge is one step
    assert labeling_project.count() == 6 and view.model.rowCount() == 6


def test_nudge_keys_move_the_boundaries(qtbot, labeling_project):
    view = make_view(qtbot, labeling_project)
    view.select_utterance(2)  # 1.0–2.0 s
    field = view.editor.transcript
    field.setFocus()
    key(qtbot, field, "Alt+Shift+Left")
    assert stored(labeling_project, 2)[2:] == pytest.approx((0.99, 2.0))
    key(qtbot, field, "Alt+Shift+PgDown")
    assert stored(labeling_project, 2)[2:] == pytest.approx((1.04, 2.0))
    key(qtbot, field, "Ctrl+Alt+Right")
    assert stored(labeling_project, 2)[2:] == pytest.approx((1.04, 2.01))
    key(qtbot, field, "Ctrl+Alt+PgUp")
    assert stored(labeling_project, 2)[2:] == pytest.approx((1.04, 1.96))
    assert view.editor.plots.segment == pytest.approx((1.04, 1.96))
    assert history_size(labeling_project) == 4  # one undo step per press
    view.select_utterance(1)  # starts at 0: cannot start earlier
    view.editor.transcript.setFocus()
    key(qtbot, view.editor.transcript, "Alt+Shift+Left")
    assert "cannot move" in view.last_message and stored(labeling_project, 1)[2] == 0.0
    view.select_utterance(4)  # ends at the end of the recording
    view.editor.transcript.setFocus()
    key(qtbot, view.editor.transcript, "Ctrl+Alt+PgDown")
    assert stored(labeling_project, 4)[3] == pytest.approx(4.0)


def test_dragging_the_region_writes_start_and_end_once(qtbot, labeling_project):
    view = make_view(qtbot, labeling_project)
    view.select_utterance(3)  # 2.0–3.0 s
    region = view.editor.plots.region
    before = history_size(labeling_project)
    region.setRegion((2.2, 2.8))  # as a drag would leave it
    region.sigRegionChangeFinished.emit(region)  # the release
    assert stored(labeling_project, 3)[2:] == pytest.approx((2.2, 2.8))
    assert history_size(labeling_project) == before + 1  # one undo step for the drag
    assert view.model.data(view.model.index(2, int(Column.TIMES))) == "2.20–2.80"
    view.commands.undo()
    assert stored(labeling_project, 3)[2:] == pytest.approx((2.0, 3.0))
    assert view.editor.plots.segment == pytest.approx((2.0, 3.0))


def test_delete_and_undo_bring_it_back(qtbot, labeling_project):
    view = make_view(qtbot, labeling_project)
    view.select_utterance(2)
    view.table.setFocus()
    key(qtbot, view.table, "Ctrl+Shift+Del")
    assert labeling_project.count() == 4 and view.current.id == 3  # the next one is selected
    assert "Deleted utterance 2" in view.last_message
    key(qtbot, view.table, "Ctrl+Z")
    assert labeling_project.count() == 5 and stored(labeling_project, 2) is not None


def test_filter_bar_search_is_debounced_and_combos_filter(qtbot, labeling_project):
    labeling_project.update_utterance(2, transcript="no", status="draft", confidence=0.2)
    labeling_project.update_utterance(3, transcript="up", confidence=0.9)
    view = make_view(qtbot, labeling_project)
    bar = view.filter_bar
    with qtbot.waitSignal(bar.filter_changed, timeout=SEARCH_DELAY_MS * 10):
        qtbot.keyClicks(bar.search, "sev")
        assert view.model.rowCount() == 5  # not yet: typing is debounced
    assert view.model.rowCount() == 1 and view.current.id == 5
    assert "1 of 5" in bar.count_label.text()
    bar.search.clear()
    bar.flush()
    bar.status_box.setCurrentText("draft")
    assert {view.model.utterance(r).id for r in range(view.model.rowCount())} == {2, 5}
    bar.status_box.setCurrentIndex(0)
    bar.speaker_box.setCurrentText("bob")
    assert [view.model.utterance(r).id for r in range(view.model.rowCount())] == [3, 4]
    bar.speaker_box.setCurrentIndex(0)
    bar.weakest.setChecked(True)
    assert [view.model.utterance(r).id for r in range(3)] == [2, 3, 1]


def test_a_queue_of_unlabeled_ones_advances_as_they_get_labeled(qtbot, labeling_project):
    view = make_view(qtbot, labeling_project)
    view.filter_bar.status_box.setCurrentText("unlabeled")
    assert view.model.rowCount() == 4 and view.current.id == 1
    field = view.editor.transcript
    field.setFocus()
    for word in ("yes", "no", "up"):
        qtbot.keyClicks(field, word)
        qtbot.keyClick(field, Qt.Key.Key_Return)
    assert view.model.rowCount() == 1 and view.current.id == 4  # each labeled one left the queue


def test_sorting_by_a_header_keeps_the_selected_utterance(qtbot, labeling_project):
    labeling_project.update_utterance(4, transcript="aardvark")
    view = make_view(qtbot, labeling_project)
    view.select_utterance(4)
    view.sort_by(int(Column.TRANSCRIPT))
    assert view.model.order_by == "transcript" and view.current.id == 4
    assert view.table.currentIndex().row() == view.model.row_of(4)
    view.sort_by(int(Column.SPEAKER))  # not sortable: the order stays, the user is told
    assert view.model.order_by == "transcript" and "cannot be sorted" in view.last_message


def test_a_refused_write_is_a_warning_and_the_typing_is_kept(qtbot, labeling_project, warnings_shown):
    view = make_view(qtbot, labeling_project)
    field = view.editor.transcript
    field.setFocus()
    qtbot.keyClicks(field, "yes")
    labeling_project.close()  # e.g. the disk went away
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert warnings_shown and "closed" in warnings_shown[-1]
    assert field.text() == "yes" and view.current.id == 1  # nothing lost, nothing moved


def test_a_programming_mistake_in_a_write_is_raised_not_shown_as_a_warning(qtbot, labeling_project, warnings_shown):
    view = make_view(qtbot, labeling_project)
    with pytest.raises(TypeError, match="unknown field"):  # the store's word for a bug, not the user's
        view.commands.write("Cannot save", lambda: labeling_project.update_utterance(1, transcipt="yes"))
    assert not warnings_shown and stored(labeling_project, 1)[0] == ""


def test_missing_audio_is_a_message_and_the_transcript_still_works(qtbot, labeling_project, plays):
    rec = labeling_project.recording(2)
    rec.file.unlink()
    view = make_view(qtbot, labeling_project)
    view.select_utterance(5)
    assert view.editor.problem.isVisible() and "fsdd_7" in view.editor.problem.text()
    field = view.editor.transcript
    field.setFocus()
    key(qtbot, field, "Ctrl+Space")
    assert not plays and view.last_message
    field.end(False)
    qtbot.keyClicks(field, " seven")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert stored(labeling_project, 5)[0] == "seven seven"


def test_help_overlay_lists_the_labeling_keys(qtbot, labeling_project):
    view = make_view(qtbot, labeling_project)
    view.table.setFocus()
    key(qtbot, view.table, "Ctrl+/")
    overlay = view.overlay
    assert overlay.isVisible() and overlay.geometry() == view.rect()
    texts = dict((d, k) for k, d in overlay.rows)
    assert "Ctrl+K" in texts["Split the segment at the playback cursor or the mouse"]
    assert len(overlay.rows) >= 20
    assert f"“{view.shortcuts_button.text()}”" in overlay.footer  # it names the button as labelled
    qtbot.keyClick(overlay, Qt.Key.Key_A)
    assert not overlay.isVisible() and view.table.hasFocus()


def test_switching_projects_and_none(qtbot, labeling_project, tmp_path):
    view = make_view(qtbot, labeling_project)
    view.set_project(None)
    assert view.model.rowCount() == 0 and view.current is None
    assert not view.commands.actions[next(iter(view.commands.actions))].isEnabled()
    view.next()  # nothing happens, nothing breaks
    view.set_project(labeling_project)
    assert view.current.id == 1


def test_the_mouse_sets_the_split_point(qtbot, labeling_project):
    from PySide6.QtCore import QPointF

    view = make_view(qtbot, labeling_project)
    view.select_utterance(3)  # 2.0–3.0 s
    plot = view.editor.plots.waveform
    vb = plot.getViewBox()
    # a click in the waveform puts the cursor there
    where = plot.mapFromScene(vb.mapViewToScene(QPointF(2.3, 0.0)))
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert view.editor.plots.cursor_s == pytest.approx(2.3, abs=0.01)
    # pointing at the plot afterwards wins over the cursor
    plot.scene().sigMouseMoved.emit(vb.mapViewToScene(QPointF(2.6, 0.0)))
    assert view.editor.split_point() == pytest.approx(2.6, abs=1e-6)
    view.table.setFocus()
    key(qtbot, view.table, "Ctrl+K")
    assert stored(labeling_project, 3)[2:] == pytest.approx((2.0, 2.6))
    assert labeling_project.count() == 6


def test_layout_and_sort_order_are_remembered(qtbot, labeling_project):
    from app.settings import StudioSettings

    view = make_view(qtbot, labeling_project)
    view.sort_by(int(Column.TRANSCRIPT), Qt.SortOrder.DescendingOrder)
    view.table.setColumnWidth(int(Column.ID), 91)
    view.save_state()
    view.settings.sync()
    again = make_view(qtbot, labeling_project, StudioSettings())
    assert again.model.order_by == "transcript" and again.model.descending
    assert again.table.columnWidth(int(Column.ID)) == 91
    assert again.current is not None


def test_shift_click_selects_several_rows_and_a_bulk_split_is_one_undo_step(qtbot, labeling_project):
    view = make_view(qtbot, labeling_project)
    view.show()
    table = view.table
    rect = table.visualRect(view.model.index(2, int(Column.TRANSCRIPT)))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, rect.center())
    assert view.commands.selected_ids() == [1, 2, 3]  # Shift-click extended the selection (was: one row)
    assert view.commands.bulk_set(split="train", status="verified") == 3
    rows = {r.id: r for r in labeling_project.fetch()}
    assert [(rows[i].split, rows[i].status) for i in (1, 2, 3)] == [("train", "verified")] * 3
    assert rows[4].split is None
    assert labeling_project.undo() == "set split and status of 3 utterances"  # one step for all three
    assert all(r.split is None for r in labeling_project.fetch() if r.id in (1, 2, 3))
    view.refresh()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     table.visualRect(view.model.index(4, 0)).center())
    assert view.commands.bulk_delete() >= 2 and labeling_project.undo().startswith("delete ")
