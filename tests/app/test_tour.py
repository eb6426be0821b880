"""The first-run tour (app/tour.py) in a real window with the bundled model and a real worker:
it opens a bundled sample, transcribes it, shows the attention map and creates the sample project."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.main_window import MainWindow
from app.settings import StudioSettings
from app.tour import TOUR_SAMPLE

WORKER_TIMEOUT_MS = 180_000


@pytest.fixture
def documents(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DOCUMENTS_DIR", str(tmp_path / "Documents"))
    return tmp_path / "Documents"


def test_a_new_user_is_walked_through_a_sample_and_gets_the_sample_project(qtbot, model_path, documents):
    assert StudioSettings().first_start  # the test's fresh settings: what a new user has
    window = MainWindow(model_path, first_run=True)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    tour = window.tour
    qtbot.waitUntil(lambda: tour.isVisible() and tour.step == "welcome", timeout=5000)
    assert "sayso-base" in tour.text.text() and tour.progress.text() == "Tour 1/4"
    assert tour.next_button.focusPolicy() == Qt.FocusPolicy.NoFocus  # Space/Enter stay the studio's

    qtbot.mouseClick(tour.next_button, Qt.MouseButton.LeftButton)
    assert tour.step == "opened" and window.audio_name == TOUR_SAMPLE and window.waveform.duration > 0.5

    qtbot.mouseClick(tour.next_button, Qt.MouseButton.LeftButton)
    assert tour.step == "transcribing" and not tour.next_button.isVisible()
    qtbot.waitUntil(lambda: tour.step == "transcribed", timeout=WORKER_TIMEOUT_MS)
    rec = window.recognition
    assert rec is not None and rec.text and f"“{rec.text}”" in tour.text.text().replace("<b>", "").replace("</b>", "")
    assert "cross-attention" in tour.text.text()
    assert not window.attention.placeholder.isVisible() and window.attention.shown_map is not None

    qtbot.mouseClick(tour.next_button, Qt.MouseButton.LeftButton)
    assert tour.step == "project" and tour.other_button.text() == "Create a sample project"
    qtbot.mouseClick(tour.other_button, Qt.MouseButton.LeftButton)
    assert tour.step == "done"
    project = window.projects.project
    assert project is not None and project.folder == documents / "Sayso" / "Sayso sample project"
    assert project.count() == 11
    assert window.tabs.currentWidget() is window.labeling
    qtbot.waitUntil(lambda: window.labeling.model.rowCount() == 11, timeout=5000)
    with qtbot.waitSignal(tour.finished) as ended:
        qtbot.mouseClick(tour.next_button, Qt.MouseButton.LeftButton)
    assert ended.args == [True] and not tour.isVisible()


def test_the_tour_is_skippable_and_comes_back_from_the_help_menu(qtbot, no_model, documents):
    window = MainWindow(no_model)  # not a first start: no tour
    qtbot.addWidget(window)
    window.show()
    qtbot.wait(50)
    assert not window.tour.isVisible()
    window.commands.tour.trigger()
    assert window.tour.isVisible() and window.tour.step == "welcome"
    with qtbot.waitSignal(window.tour.finished) as ended:
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert ended.args == [False] and not window.tour.isVisible()
    window.commands.tour.trigger()
    qtbot.mouseClick(window.tour.next_button, Qt.MouseButton.LeftButton)  # open the sample
    qtbot.mouseClick(window.tour.next_button, Qt.MouseButton.LeftButton)  # transcribe it: there is no model
    assert window.tour.step == "transcribed" and "No model could be loaded" in window.tour.text.text()
    qtbot.mouseClick(window.tour.skip_button, Qt.MouseButton.LeftButton)
    assert not window.tour.isVisible()
    # Help → Open sample project, twice: built once, then opened as the user left it
    assert window.commands.sample_project.isEnabled()
    window.commands.sample_project.trigger()
    assert window.projects.project is not None and window.projects.project.count() == 11
    window.projects.project.delete_utterance(window.projects.project.fetch(limit=1)[0].id)
    window.commands.sample_project.trigger()
    assert window.projects.project.count() == 10
