"""Projects in the studio: create, import a dataset in the background, split a long recording, pre-label."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from app.main_window import MainWindow
from engine.audio.io import SAMPLE_RATE, load_audio, write_audio
from engine.data.query import UtteranceFilter
from engine.data.store import Project
from tests.helpers import SAMPLES, shared_data

WORKER_TIMEOUT_MS = 180_000
CLIPS = {"sc_yes_03401e93.wav": "yes", "sc_left_03401e93.wav": "left", "sc_down_0f250098.wav": "down"}


@pytest.fixture
def quiet_boxes(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda parent, title, text, *a: shown.append(text)))
    monkeypatch.setattr(QMessageBox, "open", lambda self: shown.append(self.text() + "\n" + self.detailedText()))
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.No))
    return shown


def manifest(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    lines = []
    for name, text in CLIPS.items():
        write_audio(data / name, load_audio(SAMPLES / name))
        lines.append(json.dumps({"audio_filepath": name, "text": text, "duration": 1.0, "speaker": "sc"}))
    lines.append(json.dumps({"audio_filepath": "../outside.wav", "text": "no", "duration": 1.0}))
    lines.append("{not json")
    (data / "train.jsonl").write_text("\n".join(lines) + "\n")
    return data / "train.jsonl"


def test_create_import_and_reopen(qtbot, tmp_path, no_model, quiet_boxes):
    window = MainWindow(no_model)
    qtbot.addWidget(window)
    assert window.projects.open_folder(tmp_path / "proj", create=True)
    assert window.tabs.tabText(1) == "Dataset — proj" and window.labeling.project is window.projects.project
    with qtbot.waitSignal(window.projects.rows_changed, timeout=60_000):
        window.projects.import_dataset(manifest(tmp_path))
    assert window.labeling.model.rowCount() == 3
    assert sorted(r.text for r in window.projects.project.fetch()) == ["down", "left", "yes"]
    report = quiet_boxes[-1]
    assert "Imported 3 utterances" in report and "2 lines or files were rejected" in report
    assert "train.jsonl:4" in report and "train.jsonl:5" in report  # each rejected line with its reason
    window.close()

    again = MainWindow(no_model)  # the last project opens again
    qtbot.addWidget(again)
    assert again.projects.project is not None and again.projects.project.count() == 3


def long_recording(tmp_path):
    gap = np.zeros(SAMPLE_RATE, np.float32)
    return write_audio(tmp_path / "long.wav", np.concatenate(
        [gap] + [np.concatenate([load_audio(SAMPLES / n), gap]) for n in CLIPS]))


@pytest.fixture
def without_whisper(monkeypatch):
    """A machine without the offline Whisper packages (the real registry, told none is installed)."""
    import engine.registry.index as index

    monkeypatch.setattr(index, "installed_packaged", list)


AN4_MCEL = {"an201-mcel-b.flac": "stop", "an202-mcel-b.flac": "repeat", "an204-mcel-b.flac": "start"}


@pytest.mark.slow
def test_long_recording_split_and_transcribed_by_the_whisper_teacher(qtbot, tmp_path, model_path, quiet_boxes):
    gap = np.zeros(SAMPLE_RATE, np.float32)  # three real AN4 utterances of speaker mcel, 1 s apart
    clips = [load_audio(shared_data() / "an4" / "wav" / "mcel" / name) for name in AN4_MCEL]
    long = write_audio(tmp_path / "long.wav", np.concatenate([gap] + [np.concatenate([c, gap]) for c in clips]))
    starts = np.cumsum([1.0] + [len(c) / SAMPLE_RATE + 1.0 for c in clips[:-1]])
    window = MainWindow(model_path)  # the studio uses the small model; the teacher is still Whisper
    qtbot.addWidget(window)
    assert window.projects.teacher().id == "whisper-base"
    assert window.projects.open_folder(tmp_path / "proj", create=True)
    window.projects._name_teacher()
    assert window.projects.prelabel_action.text() == "Pre-label unlabeled utterances with whisper-base"
    with qtbot.waitSignal(window.projects.rows_changed, timeout=WORKER_TIMEOUT_MS):
        window.projects.split_recording(long, speaker="me")
    project: Project = window.projects.project
    rows = sorted(project.fetch(), key=lambda r: r.start)
    assert [r.text for r in rows] == list(AN4_MCEL.values())  # one utterance per segment, transcribed
    assert all(r.status == "draft" and 0 < r.confidence <= 1 and r.speaker == "me" for r in rows)
    ends = starts + [len(c) / SAMPLE_RATE for c in clips]
    for r, a, b in zip(rows, starts, ends, strict=True):  # each in its clip (Whisper's times: within 0.5 s)
        assert a - 0.5 <= r.start < (r.start + r.end) / 2 < b < r.end + 0.5
    assert window.projects.teacher_bridge is not None  # Whisper ran in its own worker
    assert window.recognizer.model_path == model_path  # the studio's model did not change
    assert project.undo() == "split audio/long.wav into 3 utterances transcribed by whisper-base"
    assert project.count() == 0  # one undo step for the whole split

    rec = project.add_recording(SAMPLES / "sc_left_03401e93.wav")  # pre-labeling goes to the teacher too
    project.add_segments(rec.id, [(0.0, rec.duration)])
    with qtbot.waitSignal(window.projects.prelabel_run.finished, timeout=WORKER_TIMEOUT_MS) as done:
        window.projects.prelabel()
    assert done.args[0] == 1 and window.projects.prelabel_run.recognizer is window.projects.teacher_bridge
    assert [r.text for r in project.fetch()] == ["left"] and project.undo() == "pre-label 1 utterance with whisper-base"
    window.close()
    assert window.projects.teacher_bridge is None  # its worker ended with the window


@pytest.mark.slow
def test_long_recording_split_and_prelabeled_by_the_model(qtbot, tmp_path, model_path, quiet_boxes,
                                                          without_whisper):
    long = long_recording(tmp_path)
    window = MainWindow(model_path, preload_model=True)
    qtbot.addWidget(window)
    assert window.projects.open_folder(tmp_path / "proj", create=True)
    with qtbot.waitSignal(window.projects.rows_changed, timeout=60_000):
        window.projects.split_recording(long, speaker="me")
    project: Project = window.projects.project
    assert project.count(UtteranceFilter(status="unlabeled")) == 3

    progress: list[tuple[int, int]] = []
    window.projects.prelabel_run.progress.connect(lambda d, t: progress.append((d, t)))
    with qtbot.waitSignal(window.projects.prelabel_run.finished, timeout=WORKER_TIMEOUT_MS) as done:
        window.projects.prelabel()
    changed, cancelled, summary = done.args
    assert changed == 3 and not cancelled and progress[-1] == (3, 3)
    rows = sorted(project.fetch(), key=lambda r: r.start)
    assert [r.text for r in rows] == list(CLIPS.values())  # the model heard the right words
    assert all(r.status == "draft" and 0 < r.confidence <= 1 for r in rows)
    assert window.labeling.model.rowCount() == 3
    assert project.undo().startswith("pre-label 3 utterances")  # one undo step for the whole run
    assert all(r.text == "" for r in project.fetch())


@pytest.mark.slow
def test_prelabel_cancel_keeps_finished_work(qtbot, tmp_path, model_path, quiet_boxes, without_whisper):
    window = MainWindow(model_path, preload_model=True)
    qtbot.addWidget(window)
    assert window.projects.open_folder(tmp_path / "proj", create=True)
    project = window.projects.project
    rec = project.add_recording(SAMPLES / "sc_yes_03401e93.wav")
    ids = project.add_segments(rec.id, [(0.0, 1.0)] * 1 + [(0.0, 0.5), (0.5, 1.0)] * 10)
    run = window.projects.prelabel_run
    qtbot.waitUntil(lambda: window.recognizer.worker.is_alive(), timeout=30_000)
    run.progress.connect(lambda d, t: d >= 2 and run.running and window.projects.cancel_task())
    with qtbot.waitSignal(run.finished, timeout=WORKER_TIMEOUT_MS) as done:
        window.projects.prelabel(ids)
    changed, cancelled, summary = done.args
    assert cancelled and 2 <= changed < len(ids) and "cancelled" in summary
    assert project.count(UtteranceFilter(status="unlabeled")) == len(ids) - changed


@pytest.mark.slow
@pytest.mark.parametrize("family", ["sayso", "whisper"])
def test_find_possible_mislabels_lists_the_swapped_one_first(qtbot, tmp_path, model_path, quiet_boxes, family):
    from engine.registry.index import ModelRegistry

    # a Whisper model has no audio–text similarity: its likelihood alone ranks (this crashed before)
    path = model_path if family == "sayso" else ModelRegistry().prepare("whisper-tiny.en").path
    window = MainWindow(path, preload_model=True)
    qtbot.addWidget(window)
    assert window.projects.open_folder(tmp_path / "proj", create=True)
    project = window.projects.project
    labels = {"sc_yes_03401e93.wav": "yes", "sc_left_03401e93.wav": "left", "sc_down_0f250098.wav": "yes",
              "sc_stop_18f8afd5.wav": "stop", "sc_go_0f250098.wav": "go", "sc_right_03401e93.wav": "right"}
    ids = {}
    for name, text in labels.items():
        rec = project.add_recording(SAMPLES / name)
        ids[name] = project.add_utterance(rec.id, 0.0, rec.duration, transcript=text, status="verified")
    with qtbot.waitSignal(window.projects.mislabels_scored, timeout=WORKER_TIMEOUT_MS):
        window.projects.find_mislabels()
    scores = {name: project.utterance(uid).mislabel_score for name, uid in ids.items()}
    assert max(scores, key=scores.get) == "sc_down_0f250098.wav"  # "down" labeled "yes"
    assert window.tabs.currentWidget() is window.labeling
    assert window.labeling.model.utterance(0).id == ids["sc_down_0f250098.wav"]  # listed first
    assert project.utterance(ids["sc_down_0f250098.wav"]).text == "yes"  # nothing is changed for you


def test_a_point_picked_on_the_embedding_map_is_selected_in_the_dataset_table(qtbot, tmp_path, no_model,
                                                                                 quiet_boxes):
    window = MainWindow(no_model)
    qtbot.addWidget(window)
    assert window.projects.open_folder(tmp_path / "proj", create=True)
    with qtbot.waitSignal(window.projects.rows_changed, timeout=60_000):
        window.projects.import_dataset(manifest(tmp_path))
    window.tabs.setCurrentWidget(window.insight)
    rows = sorted(window.projects.project.fetch(), key=lambda r: r.text)
    for row in (rows[2], rows[0]):
        window.insight.embedding.utterance_picked.emit(row.id)  # what a click on its point sends
        assert window.labeling.current.id == row.id and window.labeling.current.text == row.text
        assert window.tabs.currentWidget() is window.insight  # the map stays in front
    window.insight.utterance_selected.emit(rows[1].id)  # a double-click brings the Dataset tab forward
    assert window.tabs.currentWidget() is window.labeling and window.labeling.current.id == rows[1].id
    window.close()


def test_a_damaged_project_is_refused_then_checked_and_rescued_from_the_file_menu(qtbot, tmp_path, no_model,
                                                                                  quiet_boxes, monkeypatch):
    from tests.engine.data.test_store_damage import N_UTTERANCES, damage, make_project

    rows = make_project(tmp_path / "proj")
    damage(tmp_path / "proj" / "project.sqlite")  # 4 KB of random bytes in the middle, as the probe did
    window = MainWindow(no_model)
    qtbot.addWidget(window)
    assert not window.projects.open_folder(tmp_path / "proj")  # refused, one line naming the way out
    assert "Check project" in quiet_boxes[-1] and "\n" not in quiet_boxes[-1]
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    problems = window.projects.check_project(tmp_path / "proj", rescue_to=tmp_path / "rescued")
    assert problems  # integrity_check found the damage
    rescued = window.projects.project
    assert rescued is not None and rescued.folder == tmp_path / "rescued" and rescued.check() == []
    assert rescued.count() == len(rows) == N_UTTERANCES + 1  # every row was readable: nothing lost
    assert window.tabs.tabText(1) == "Dataset — rescued"


def test_a_read_only_project_says_so_in_the_title(qtbot, tmp_path, no_model, quiet_boxes, monkeypatch):
    Project.create(tmp_path / "proj").close()
    original = Project.open
    monkeypatch.setattr(Project, "open", classmethod(lambda cls, folder, **kw: original.__func__(
        cls, folder, **{**kw, "read_only": True})))  # as on read-only media (root ignores chmod here)
    window = MainWindow(no_model)
    qtbot.addWidget(window)
    assert window.projects.open_folder(tmp_path / "proj")
    assert window.projects.project.read_only
    assert window.tabs.tabText(1) == "Dataset — proj (read-only)" and "(read-only)" in window.windowTitle()


def test_new_project_starts_in_documents_and_creates_the_folder_it_is_given(qtbot, tmp_path, no_model, quiet_boxes,
                                                                            monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from engine.resources import SAMPLES

    monkeypatch.setenv("XDG_DOCUMENTS_DIR", str(tmp_path / "Documents"))
    window = MainWindow(no_model)
    qtbot.addWidget(window)
    window.settings.last_folder = str(SAMPLES)  # the last audio opened came from the bundled samples
    asked: list[str] = []

    def name_it(parent, title, start, *a, **k):  # the person types a name for a folder that does not exist
        asked.append(start)
        return str(tmp_path / "Documents" / "Sayso" / "my voice" / "digits"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(name_it))
    assert window.projects.new_project()
    assert asked == [str(tmp_path / "Documents" / "Sayso" / "My project")]  # Documents/Sayso, not the samples
    assert window.projects.project.folder == tmp_path / "Documents" / "Sayso" / "my voice" / "digits"
    assert (window.projects.project.folder / "project.sqlite").is_file()
    assert window.projects.project_home() == tmp_path / "Documents" / "Sayso" / "my voice"  # next time: beside it


def test_a_transcribed_file_is_added_to_the_project_with_its_transcript_as_draft(qtbot, tmp_path, model_path,
                                                                                  quiet_boxes):
    window = MainWindow(model_path)
    qtbot.addWidget(window)
    assert window.open_file(SAMPLES / "sc_left_03401e93.wav")
    assert not window.commands.add_to_project.isEnabled()  # no project yet
    assert "New project" in window.commands.add_to_project.toolTip()
    assert window.projects.open_folder(tmp_path / "proj", create=True)
    assert window.commands.add_to_project.isEnabled()
    with qtbot.waitSignal(window.recognizer.finished, timeout=WORKER_TIMEOUT_MS):
        window.commands.transcribe.trigger()
    window.commands.add_to_project.trigger()  # File → Add to project (Ctrl+Shift+A)
    (row,) = window.projects.project.fetch()
    assert (row.text, row.status) == ("left", "draft") and 0 < row.confidence <= 1
    from engine.data.splits import default_split

    rec = window.projects.project.recording(row.recording_id)
    assert row.split == default_split(rec.sha256)  # the default split policy (train/dev/test by a hash)
    assert window.labeling.model.rowCount() == 1
    assert window.projects.project.undo() == "add sc_left_03401e93.wav"


def test_counts_and_the_train_tab_follow_edits_without_a_restart(qtbot, tmp_path, no_model, quiet_boxes):
    window = MainWindow(no_model)
    qtbot.addWidget(window)
    window.show()
    assert window.projects.open_folder(tmp_path / "proj", create=True)
    with qtbot.waitSignal(window.projects.rows_changed, timeout=60_000):
        window.projects.import_dataset(manifest(tmp_path))
    assert window.labeling.filter_bar.count_label.text() == "3 utterances"  # was "0 utterances" beside 3 rows
    train_tab = next(i for i in range(window.tabs.count()) if window.tabs.tabText(i) == "Train")
    window.tabs.setCurrentIndex(train_tab)
    summary = window.training.data_choice.summary
    assert "no usable training utterances" in summary.text()
    window.tabs.setCurrentWidget(window.labeling)
    project = window.projects.project
    for row in project.fetch():  # what the Dataset tab's split box does, row by row
        project.update_utterance(row.id, split="train", status="verified")
    window.tabs.setCurrentIndex(train_tab)
    assert "no dev split" in summary.text() and "3 training utterances" in summary.text(), summary.text()
