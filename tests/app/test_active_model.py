"""The active model: one owner of the studio's model, one model_changed signal every collaborator follows."""
from __future__ import annotations

import pytest

from app.active_model import ActiveModel
from app.main_window import MainWindow
from engine.registry.index import ModelEntry
from tests.engine.registry.model_helpers import copy_checkpoint
from tests.helpers import SAMPLES

WORKER_TIMEOUT_MS = 180_000  # spawn + import torch + load the model + decode, on a busy 2-core machine


def test_without_a_model_nothing_runs_and_a_bad_folder_changes_nothing(qtbot, no_model, tmp_path):
    model = ActiveModel(no_model)
    assert model.recognizer is None and model.entry is None and str(no_model) in model.problem
    with qtbot.assertNotEmitted(model.model_changed):
        assert not model.use(tmp_path)  # an empty folder is no model
    assert model.path == no_model and model.recognizer is None


@pytest.mark.slow
def test_model_changed_reaches_every_collaborator_of_a_real_window(qtbot, model_path, tmp_path):
    second = copy_checkpoint(tmp_path / "second")
    window = MainWindow(model_path)
    qtbot.addWidget(window)  # closed at teardown: stops the workers
    first = window.recognizer
    assert first is not None and window.training.form.base_edit.text() == str(model_path)

    assert window.open_file(SAMPLES / "sc_yes_03401e93.wav")
    window.commands.transcribe.trigger()
    assert window.active_model.busy and not window.switch_model(second)  # never while transcribing
    assert "Wait for the transcription" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not first.busy, timeout=WORKER_TIMEOUT_MS)

    with qtbot.waitSignal(window.active_model.model_changed, timeout=10_000) as changed:
        assert window.switch_model(second)
    entry = changed.args[0]
    assert isinstance(entry, ModelEntry) and entry.path == second.absolute()
    new = window.recognizer
    assert new is window.active_model.recognizer and new is not first and new.model_path == second
    assert window.model_path == second and window.model_error is None
    # every collaborator follows the one signal
    assert window.projects.recognizer is new and window.projects.prelabel_run.recognizer is new
    assert window.insight.recognizer is new and window.insight.attention.recognizer is new and window.insight.embedding.recognizer is new
    assert window.insight.embedding.embedder.model_path == second  # its own embedding worker, for the new model
    assert window.training.form.base_edit.text() == str(second)
    assert window.training.form.base_note.text().startswith(f"{entry.name} — the model you transcribe with")
    assert window.model_label.text() == f"Model: {entry.name}" and str(second) in window.model_label.toolTip()
    assert window.commands.transcribe.isEnabled()

    with qtbot.waitSignal(new.finished, timeout=WORKER_TIMEOUT_MS) as done:  # the new worker serves the window
        window.commands.transcribe.trigger()
    assert done.args[0].text == "yes" and window.panel.transcript == "yes"


@pytest.mark.slow
def test_the_model_in_use_is_named_with_its_lineage_in_the_status_bar_and_the_transcript(qtbot, model_path, tmp_path):
    from engine.registry.index import BUILTIN_ID, ModelRegistry

    mine = ModelRegistry().register(copy_checkpoint(tmp_path / "run-7" / "model"), "my voice", parent=BUILTIN_ID)
    window = MainWindow(mine.path)
    qtbot.addWidget(window)
    assert window.model_label.text() == "Model: my voice"  # not the folder's name ("model")
    assert "trained from sayso-base" in window.model_label.toolTip()
    assert window.open_file(SAMPLES / "sc_yes_03401e93.wav")
    with qtbot.waitSignal(window.recognizer.finished, timeout=WORKER_TIMEOUT_MS) as done:
        window.commands.transcribe.trigger()
    assert done.args[0].model == "my voice"  # the transcript pane names the model that did the work
    assert "my voice" in window.panel.text_area.toPlainText()
    assert window.model_label.text() == "Model: my voice"
