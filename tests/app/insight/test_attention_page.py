"""Insight → Attention & alignment on a real project utterance of the held-out FSDD speaker, real model, real worker."""
from __future__ import annotations

import numpy as np
import pytest
from praatio import textgrid
from PySide6.QtCore import QPointF

from app.insight.attention_page import AttentionPage
from app.recognizer_bridge import RecognizerBridge
from engine.audio.io import write_audio
from engine.data.store import Project
from tests.insight_clips import digit_utterance

TIMEOUT_MS = 120_000


@pytest.fixture
def project_utterance(tmp_path):
    """A project whose recording holds 0.5 s of other audio, then "three one four" said by nicolas."""
    audio, text, truth = digit_utterance((3, 1, 4), 10, (0.3, 0.3, 0.3, 0.3), noise_dbfs=-55.0)
    lead = np.zeros(8000, np.float32)
    write_audio(tmp_path / "take.wav", np.concatenate([lead, audio]))
    project = Project.create(tmp_path / "proj")
    rec = project.add_recording(tmp_path / "take.wav")
    uid = project.add_utterance(rec.id, 0.5, rec.duration, "Three, one, four.", status="verified")
    yield project, project.utterance(uid), audio, truth
    project.close()


@pytest.fixture
def recognizer(model_path):
    recognizer = RecognizerBridge(model_path, threads=1)
    yield recognizer
    recognizer.shutdown()


def _inspected(qtbot, page):
    qtbot.waitUntil(lambda: page.inspection is not None, timeout=TIMEOUT_MS)
    return page.inspection


def test_a_user_sees_where_the_model_listened_for_each_word(qtbot, tmp_path, project_utterance, recognizer):
    project, utt, audio, truth = project_utterance
    page = AttentionPage()
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.set_project(project)
    page.set_recognizer(recognizer)
    page.show_utterance(utt)
    assert not len(page.audio)  # hidden: nothing loaded, the model not asked
    page.show()
    r = _inspected(qtbot, page)

    # the words, where they were said (times in the clip), drawn and stored in the project
    assert [w.word for w in r.words] == ["three", "one", "four"]
    for w, (_, start, end) in zip(r.words, truth):
        assert abs(w.start - start) < 0.06 and abs(w.end - end) < 0.06
    stored = project.word_timings(utt.id)
    assert stored.current and [round(w.start - 0.5, 6) for w in stored.words] == [round(w.start, 6) for w in r.words]
    assert "saved to the project" in page.status.text()
    assert page.waveform.duration == pytest.approx(len(audio) / 16000, abs=1e-3)
    assert page.cross.row_labels == list("three one four") + ["<eos>"]
    assert page.self_view.shown_map.shape == (r.self_attention.shape[-1],) * 2

    # hovering a token row highlights the frames it attends to; clicking plays them
    row = 7  # "n" of "one"
    vb = page.cross.plot.getPlotItem().vb
    scene = vb.mapViewToScene(QPointF(1.0, row + 0.5))
    page.cross._on_mouse_moved(scene)
    assert page.cross.hovered == row and page.attend_region.isVisible()
    start, end = page.attend_region.getRegion()
    assert (start, end) == pytest.approx(page.row_span(row))
    peak = (int(np.argmax(page.cross.shown_map[row])) + 0.5) * r.frame_shift
    assert start <= peak <= end
    with qtbot.waitSignal(page.play_requested, timeout=1000) as played:
        page.play_row(row)
    assert played.args[0] is page.audio and played.args[1:] == pytest.approx([start, end])
    page.cross._on_mouse_moved(QPointF(-50, -50))
    assert page.cross.hovered == -1 and not page.attend_region.isVisible()

    # rows by word: a click plays the word as aligned
    page.by_word.setChecked(True)
    assert page.cross.row_labels == ["three", "one", "four", "<eos>"]
    with qtbot.waitSignal(page.play_requested, timeout=1000) as played:
        page.play_row(1)
    assert played.args[1:] == pytest.approx([r.words[1].start, r.words[1].end])

    # exports
    png = page.export_png(tmp_path / "att.png")
    assert png.stat().st_size > 10_000
    grid = page.export_textgrid(tmp_path / "utt.TextGrid")
    tiers = textgrid.openTextgrid(str(grid), includeEmptyIntervals=False)
    assert [e.label for e in tiers.getTier("words").entries] == ["three", "one", "four"]
    assert (tmp_path / "utt.wav").is_file()


def test_choices_persist_and_problems_are_explained(qtbot, project_utterance):
    project, utt, _, _ = project_utterance
    page = AttentionPage()
    qtbot.addWidget(page)
    page.show()
    page.set_project(project)
    page.show_utterance(utt)  # no model loaded
    assert "No model is loaded" in page.status.text() and page.inspection is None
    assert not page.inspect_button.isEnabled() and not page.png_button.isEnabled()
    page.by_word.setChecked(True)
    page.scale_rows.setChecked(False)
    page.cross.view_changed.emit("layer 2 head 3")
    page.self_view.view_changed.emit("layer 8 head 1")
    again = AttentionPage()
    qtbot.addWidget(again)
    assert again.by_word.isChecked() and not again.scale_rows.isChecked()
    assert again.cross.wanted_view == "layer 2 head 3" and again.self_view.wanted_view == "layer 8 head 1"
    assert page.export_png(project.folder / "x.png") is None and "Nothing to export" in page.status.text()
    page.set_project(None)
    assert not len(page.audio) and "Select an utterance" in page.title.text()


def test_a_long_sentence_is_shown_by_word_with_labels_that_do_not_overlap(qtbot, tmp_path, recognizer):
    """Issue 15 snag 11: ten digits (about 50 characters) made the token labels of the cross-attention
    pile up. Until the user chooses, a long transcript gets one row per word; whatever the rows,
    labels are at least LABEL_PX apart on screen. (Failed before: character rows, a label every
    row of a 200 px map.)"""
    from app.widgets.attention_view import LABEL_PX

    digits = (3, 1, 4, 1, 5, 9, 2, 6, 5, 3)
    audio, text, _ = digit_utterance(digits, 11, (0.25,) * 11)
    write_audio(tmp_path / "long.wav", audio)
    project = Project.create(tmp_path / "proj")
    rec = project.add_recording(tmp_path / "long.wav")
    uid = project.add_utterance(rec.id, 0.0, rec.duration, text, status="verified")
    page = AttentionPage()
    qtbot.addWidget(page)
    page.resize(1000, 520)
    page.set_project(project)
    page.set_recognizer(recognizer)
    page.show()
    page.show_utterance(project.utterance(uid))
    r = _inspected(qtbot, page)
    assert len(r.attention_tokens) > 24
    assert page.by_word.isChecked() and page.cross.row_labels[-1] == "<eos>"
    assert len(page.cross.row_labels) == len(r.words) + 1

    def spacing() -> float:
        (labelled,) = page.cross.plot.getAxis("left")._tickLevels
        rows = [y for y, _ in labelled]
        height = page.cross.plot.getPlotItem().vb.height()
        return min(b - a for a, b in zip(rows, rows[1:])) * height / len(page.cross.row_labels)

    assert spacing() >= LABEL_PX
    page.by_word.setChecked(False)  # the user's choice: characters, thinned to fit
    assert len(page.cross.row_labels) == len(r.attention_tokens)
    assert spacing() >= LABEL_PX
    again = AttentionPage()
    qtbot.addWidget(again)
    assert not again.by_word.isChecked()  # remembered
    project.close()
