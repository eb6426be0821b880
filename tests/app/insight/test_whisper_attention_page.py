"""Insight → Attention & alignment with a Whisper model: real whisper-tiny.en in the real recognition worker, on a
project utterance of the held-out FSDD speaker."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from app.insight.view import InsightView
from app.recognizer_bridge import RecognizerBridge
from app.widgets.head_chooser import ALIGNMENT, MARKED_COLOR
from engine.audio.io import write_audio
from engine.data.store import Project
from engine.whisper.sources import assemble, installed_packaged
from tests.helpers import SHARED_DATA
from tests.insight_clips import digit_utterance

TIMEOUT_MS = 180_000
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif("whisper-tiny.en" not in installed_packaged(), reason="offline whisper-tiny.en not installed"),
    pytest.mark.skipif(not (SHARED_DATA / "fsdd").is_dir(), reason="../shared/data/fsdd is not present"),
]


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return assemble("whisper-tiny.en", tmp_path_factory.mktemp("whisper-models"))


@pytest.fixture
def project_utterance(tmp_path):
    """A project whose recording holds 0.5 s of other audio, then "three one four" said by nicolas."""
    audio, text, truth = digit_utterance((3, 1, 4), 10, (0.3, 0.3, 0.3, 0.3), noise_dbfs=-55.0)
    write_audio(tmp_path / "take.wav", np.concatenate([np.zeros(8000, np.float32), audio]))
    project = Project.create(tmp_path / "proj")
    rec = project.add_recording(tmp_path / "take.wav")
    uid = project.add_utterance(rec.id, 0.5, rec.duration, "Three, one, four.", status="verified")
    yield project, project.utterance(uid), audio, truth
    project.close()


def test_the_attention_page_shows_whispers_heads_and_word_times(qtbot, tiny_folder, project_utterance):
    project, utt, audio, truth = project_utterance
    bridge = RecognizerBridge(tiny_folder, threads=2, name="whisper-tiny.en")
    try:
        view = InsightView()
        qtbot.addWidget(view)
        view.resize(1300, 800)
        view.set_project(project)
        view.set_recognizer(bridge, "whisper")
        # both pages are on for Whisper (the map shows its encoder states)
        assert view.pages.isTabEnabled(0) and view.pages.isTabEnabled(1) and view.disabled_reason is None
        assert view.pages.currentIndex() == 0
        view.show()
        view.show_utterance(utt)
        page = view.attention
        qtbot.waitUntil(lambda: page.inspection is not None, timeout=TIMEOUT_MS)
        r = page.inspection
    finally:
        bridge.shutdown()

    frames = int(np.ceil(len(audio) / 16000 / 0.02))
    assert r.model == "whisper-tiny.en" and r.cross_attention.shape == (4, 6, 7, frames)  # cropped to the take
    assert page.self_view.shown_map.shape == (frames, frames)
    # Whisper's alignment heads: marked amber and bold in the picker, their average shown first
    combo = page.cross.combo
    assert page.cross.current_view == ALIGNMENT
    assert combo.marked == [(1, 0), (2, 0), (2, 5), (3, 0), (3, 1), (3, 2), (3, 3), (3, 4)]
    index = combo.findText("layer 2 head 1")
    assert combo.itemData(index, Qt.ItemDataRole.FontRole).bold()
    assert combo.itemData(index, Qt.ItemDataRole.ForegroundRole).color() == MARKED_COLOR
    assert not combo.itemData(combo.findText("layer 1 head 1"), Qt.ItemDataRole.FontRole)
    heads = np.mean([r.cross_attention[la, h] for la, h in combo.marked], axis=0)
    np.testing.assert_allclose(page.cross.shown_map, heads, rtol=1e-6)
    assert page.cross.row_labels == [" Three", ",", " one", ",", " four", ".", "<eos>"]  # the project's text as Whisper's pieces
    assert "alignment heads" in page.status.text() and "L2·H1" in page.status.text()

    # the words where nicolas said them, drawn on the waveform and stored in the project
    assert [w.word for w in r.words] == ["three", "one", "four"]
    for w, (_, start, end) in zip(r.words, truth):
        assert abs(w.start - start) < 0.06 and abs(w.end - end) < 0.06, (w, start, end)
    stored = project.word_timings(utt.id)
    assert stored.current and [round(w.start - 0.5, 6) for w in stored.words] == [round(w.start, 6) for w in r.words]

    # by word: hovering a word's row shades that word as aligned
    page.by_word.setChecked(True)
    assert page.cross.row_labels == ["Three,", "one,", "four.", "<eos>"]
    vb = page.cross.plot.getPlotItem().vb
    page.cross._on_mouse_moved(vb.mapViewToScene(QPointF(0.5, 1.5)))
    assert page.cross.hovered == 1 and page.attend_region.getRegion() == pytest.approx((r.words[1].start, r.words[1].end))
