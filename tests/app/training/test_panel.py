"""The training panel on a real project: personalize the bundled model, watch it, evaluate it, play the worst.

Real clips (resources/samples) in a real project, real worker processes
(TrainingJobQueue), the real bundled model; a tiny model config where a run
from scratch is needed. The slow tests spawn workers (a few seconds each).
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.playback.controller import PlaybackController
from app.settings import StudioSettings
from app.training.data_choice import hold_out, manifest_data, project_data, project_utterances
from app.training.job_queue import TrainingJobQueue
from app.training.panel import TrainingPanel
from app.training.report import diff_html, match_utterances, word_diff
from app.training.run_display import format_eta
from engine.audio.io import SAMPLE_RATE, load_segment
from engine.data.manifest import write_manifest
from engine.data.store import Project
from engine.data.utterance import Utterance
from engine.model.config import ModelConfig
from tests.helpers import SAMPLES

TIMEOUT_MS = 120_000
DEV = ("go", "stop", "yes")  # Speech Commands words in the dev split


def sc_clips() -> list[Path]:
    return sorted(SAMPLES.glob("sc_*.wav"))


def make_project(folder: Path, with_dev: bool = True) -> Project:
    """8 Speech Commands words (5 train, 3 dev; or all train) plus FSDD digits that must be left out or used."""
    project = Project.create(folder)
    for i, clip in enumerate(sc_clips()):
        corpus, word, speaker = clip.stem.split("_")
        rec = project.add_recording(clip)
        split = "dev" if with_dev and word in DEV else "train"
        project.add_utterance(rec.id, 0.0, rec.duration, word, "verified" if i % 2 else "draft",
                              speaker=speaker, split=split)
    three = project.add_recording(SAMPLES / "fsdd_3_nicolas_1.wav")
    project.add_utterance(three.id, 0.0, three.duration, "three", "verified", speaker="nicolas", split="train")
    zero = project.add_recording(SAMPLES / "fsdd_0_nicolas_2.wav")
    project.add_utterance(zero.id, 0.0, zero.duration, "zero", "unlabeled", split="train")  # not labeled yet
    seven = project.add_recording(SAMPLES / "fsdd_7_nicolas_0.wav")
    project.add_utterance(seven.id, 0.0, seven.duration, "", "draft", split="train")  # no transcript
    project.add_utterance(seven.id, 0.0, seven.duration, "seven", "verified", split="test")  # another split
    return project


def tiny_model() -> ModelConfig:
    return ModelConfig(d_model=32, encoder_layers=1, encoder_heads=2, encoder_ffn=64, decoder_layers=1,
                       decoder_heads=2, decoder_ffn=64, text_encoder_layers=1, embed_dim=16, subsampling_channels=8)


class RecordingPlayback(PlaybackController):
    """A PlaybackController that records what it is asked to play instead of opening a device."""

    def __init__(self) -> None:
        super().__init__()
        self.played: list[tuple[np.ndarray, float, float | None]] = []

    def play(self, audio, start=0.0, end=None) -> bool:
        self.played.append((audio, start, end))
        return True


@pytest.fixture
def project(tmp_path):
    p = make_project(tmp_path / "project")
    yield p
    p.close()


@pytest.fixture
def jobs():
    q = TrainingJobQueue(cancel_timeout=20.0)
    yield q
    q.shutdown()


def make_panel(qtbot, jobs, playback, tmp_path, project=None, model_path=None) -> TrainingPanel:
    panel = TrainingPanel(jobs, playback, StudioSettings())
    qtbot.addWidget(panel)
    panel.form.models_root = tmp_path / "models"
    if model_path is not None:
        panel.set_base_model(model_path)
    panel.set_project(project)
    panel.resize(1280, 800)
    panel.show()
    return panel


def click_row(qtbot, panel: TrainingPanel, row: int) -> None:
    table = panel.display.report.table
    rect = table.visualRect(table.model().index(row, 2))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def wer_column(panel: TrainingPanel) -> list[float]:
    t = panel.display.report.table
    return [t.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(t.rowCount())]


# --------------------------------------------------------------------------
# data choice (no worker)
# --------------------------------------------------------------------------
def test_project_rows_become_utterances_of_the_splits(project):
    train = project_utterances(project, "train")
    dev = project_utterances(project, "dev")
    assert sorted(u.text for u in dev) == sorted(DEV)
    assert sorted(u.text for u in train) == ["down", "left", "no", "right", "three", "up"]  # no unlabeled, no empty
    for u in train + dev:
        assert u.audio_path.is_absolute() and u.audio_path.is_file()
        assert u.audio_path.parent == project.audio_dir.resolve() or \
            u.audio_path.parent == Path(project.audio_dir).absolute()
        assert u.start == 0.0 and u.duration == pytest.approx(sf.info(u.audio_path).duration, abs=1e-3)
    assert {u.speaker for u in train} == {"03401e93", "0f250098", "nicolas"}

    rec = project.add_recording(SAMPLES / "sc_yes_03401e93.wav")  # the same bytes: the same recording
    part = project.add_utterance(rec.id, 0.2, 0.75, "yes part", "draft", split="train")
    [cut] = [u for u in project_utterances(project, "train") if u.text == "yes part"]
    assert (cut.start, cut.duration) == (pytest.approx(0.2), pytest.approx(0.55))
    project.delete_utterance(part)

    data = project_data(project, 2, 2)
    assert not data.held_out and len(data.train) == 6 and len(data.dev) == 3
    assert "6 training and 3 validation" in data.description


def test_without_a_dev_split_ten_percent_is_held_out_deterministically(tmp_path):
    with make_project(tmp_path / "p", with_dev=False) as project:
        first = project_data(project, 2, 2)
        again = project_data(project, 2, 2)
    assert first.held_out and "no dev split" in first.description and "held out" in first.description
    assert len(first.train) + len(first.dev) == 9 and len(first.dev) == 2  # ceil(0.9) = 1, but at least 2
    assert [u.audio_path for u in first.dev] == [u.audio_path for u in again.dev]
    assert not {u.audio_path for u in first.dev} & {u.audio_path for u in first.train}

    many = [Utterance(f"/data/{i}.wav", f"word {i}", 0.0, 1.0) for i in range(50)]
    rest, held = hold_out(many)
    assert len(held) == 5 and len(rest) == 45
    rest2, held2 = hold_out(list(reversed(many)))
    assert {u.audio_path for u in held} == {u.audio_path for u in held2}  # not by position


def test_bad_manifests_show_a_clear_message_and_start_nothing(qtbot, jobs, tmp_path):
    panel = make_panel(qtbot, jobs, RecordingPlayback(), tmp_path)
    assert panel.data_choice.source == "manifest"  # no project open
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"audio_filepath": "a.wav", "text": "a", "duration": 1}\nthis is not json\n')
    cases = {
        bad: ["bad.jsonl, line 2", "training manifest cannot be used"],
        tmp_path / "missing.jsonl": ["missing.jsonl", "does not exist"],
    }
    noaudio = tmp_path / "noaudio.jsonl"
    write_manifest(noaudio, [Utterance(tmp_path / "gone.wav", "gone", 0.0, 1.0)])
    cases[noaudio] = ["audio files", "missing", "gone.wav"]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    cases[empty] = ["holds no utterances"]
    for path, expected in cases.items():
        panel.data_choice.set_manifests(path)
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        text = panel.display.message_label.text()
        assert panel.display.message_label.isVisible() and all(e in text for e in expected), text
        assert "Traceback" not in text
        assert not panel.busy and not jobs.busy and panel.start_button.isEnabled()
        assert QApplication.activeModalWidget() is None
    assert not (tmp_path / "models").exists()  # nothing was written

    good = [Utterance(p, p.stem.split("_")[1]) for p in sc_clips()]
    write_manifest(tmp_path / "train.jsonl", good)
    data = manifest_data(tmp_path / "train.jsonl", None, 2, 2)
    assert data.held_out and len(data.dev) == 2 and "held out" in data.description


def test_word_diff_marks_substitutions_insertions_and_deletions():
    tokens = word_diff("turn the light on", "turn a light on now")
    assert [(t.kind, t.ref, t.hyp) for t in tokens] == [
        ("equal", "turn", "turn"), ("sub", "the", "a"), ("equal", "light", "light"), ("equal", "on", "on"),
        ("ins", "", "now")]
    assert [t.kind for t in word_diff("yes no", "no")] == ["del", "equal"]
    assert [t.kind for t in word_diff("", "up")] == ["ins"]
    html = diff_html(tokens)
    assert "substitution" in html and "insertion" in html and "deletion" in html and "now" in html
    assert format_eta(None) == "" and format_eta(42) == "about 42 s left" and format_eta(185) == "about 3 min left"
    assert format_eta(3 * 3600 + 5 * 60) == "about 3 h 05 min left"
    utts = [Utterance("/a.wav", "Yes!", 0.0, 1.0, "s"), Utterance("/a.wav", "no", 1.0, 2.0, "s")]
    rows = [{"audio_filepath": "/a.wav", "reference": "no", "speaker": "s"},
            {"audio_filepath": "/a.wav", "reference": "yes", "speaker": "s"}]
    assert match_utterances(rows, utts) == [utts[1], utts[0]]


# --------------------------------------------------------------------------
# real jobs
# --------------------------------------------------------------------------
@pytest.mark.slow
def test_quick_personalization_runs_evaluates_and_plays_the_worst(qtbot, jobs, project, model_path, tmp_path):
    playback = RecordingPlayback()
    panel = make_panel(qtbot, jobs, playback, tmp_path, project, model_path)
    assert panel.data_choice.source == "project"
    panel.form.set_preset("personalize")
    panel.form.length_spin.setValue(8)
    panel.form.name_edit.setText("my voice")
    ready: list[str] = []
    panel.model_ready.connect(ready.append)
    assert not panel.resume_button.isEnabled() and not panel.cancel_button.isEnabled()

    with qtbot.waitSignal(panel.evaluation_ready, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        assert panel.busy and panel.cancel_button.isEnabled() and not panel.start_button.isEnabled()
    report = blocker.args[0]

    [checkpoint] = ready
    ckpt = Path(checkpoint)
    assert (ckpt / "config.json").is_file() and (ckpt / "model.safetensors").is_file()
    run = ckpt.parent
    assert run.parent == tmp_path / "models" and re.fullmatch(r"\d{8}-\d{6}-my-voice", run.name)
    assert len((run / "train.jsonl").read_text().splitlines()) == 6
    assert len((run / "dev.jsonl").read_text().splitlines()) == 3
    assert json.loads((run / "evaluation" / "eval.json").read_text())["utterances"] == 3

    steps = panel.display.curves.step_points()
    assert len(steps) >= 2 and steps[-1][0] == 8 and all(math.isfinite(v) for _, v in steps)
    assert [s for s, _ in steps] == sorted(s for s, _ in steps)
    assert len(panel.display.curves.eval_marks.data) == 2  # WER and CER of the evaluation
    log = panel.display.log_view.toPlainText()
    assert "personalizing" in log and "WER" in log and panel.display.log_view.blockCount() > 5
    assert panel.display.progress_bar.value() == panel.display.progress_bar.maximum()

    assert report["utterances"] == 3 and len(report["worst"]) == 3
    table = panel.display.report.table
    assert table.rowCount() == 3 and panel.display.tabs.currentWidget() is panel.display.report
    wers = wer_column(panel)
    assert wers == sorted(wers, reverse=True)  # worst first
    assert sorted(table.item(r, 2).text() for r in range(3)) == sorted(DEV)
    assert not panel.busy and panel.start_button.isEnabled() and not panel.resume_button.isEnabled()
    assert "WER" in panel.display.message_label.text()

    click_row(qtbot, panel, 0)
    assert len(playback.played) == 1
    utt = panel.display.report.utterance_at(0)
    assert utt.text == table.item(0, 2).text()
    audio, start, end = playback.played[0]
    expected = load_segment(utt.audio_path, utt.start, utt.end)
    assert audio.dtype == np.float32 and len(audio) == pytest.approx(utt.duration * SAMPLE_RATE, abs=2)
    np.testing.assert_array_equal(audio, expected)
    html = panel.display.report.diff_view.toHtml()
    assert utt.text in html and "substitution" in html


@pytest.mark.slow
@pytest.mark.audio_device
def test_evaluating_the_base_model_and_playing_a_row_through_the_device(qtbot, virtual_mic, jobs, project,
                                                                       model_path, tmp_path):
    playback = PlaybackController()
    panel = make_panel(qtbot, jobs, playback, tmp_path, project, model_path)
    errors: list[str] = []
    playing: list[bool] = []
    playback.error.connect(errors.append)
    playback.playing_changed.connect(playing.append)
    ready: list[str] = []
    panel.model_ready.connect(ready.append)

    with qtbot.waitSignal(panel.evaluation_ready, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.evaluate_button, Qt.MouseButton.LeftButton)
    assert not ready  # an evaluation makes no model
    assert panel.display.report.table.rowCount() == 3
    assert wer_column(panel) == sorted(wer_column(panel), reverse=True)

    with qtbot.waitSignal(playback.playing_changed, timeout=5_000) as blocker:
        click_row(qtbot, panel, 1)
    assert blocker.args == [True] and playback.is_playing
    with qtbot.waitSignal(playback.playing_changed, timeout=10_000) as blocker:
        pass
    assert blocker.args == [False] and playing == [True, False] and not errors
    assert playback.position == pytest.approx(panel.display.report.utterance_at(1).duration, abs=0.05)


@pytest.mark.slow
def test_a_cancelled_personalization_offers_start_not_resume(qtbot, jobs, project, model_path, tmp_path):
    panel = make_panel(qtbot, jobs, RecordingPlayback(), tmp_path, project, model_path)
    panel.form.set_preset("personalize")
    panel.form.length_spin.setValue(400)  # far more than the test waits for
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(jobs.failed, timeout=TIMEOUT_MS) as blocker:
        qtbot.waitUntil(lambda: panel.display.progress_bar.value() >= 1, timeout=TIMEOUT_MS)
        panel.cancel()
    assert blocker.args[0].kind == "cancelled"
    text = panel.display.message_label.text()
    assert not panel.resume_button.isEnabled() and panel.start_button.isEnabled()
    assert "Resume" not in text and "start over" in text, text  # no promise that restarts at step 1


@pytest.mark.slow
def test_cancel_enables_resume_which_continues_from_the_checkpoint(qtbot, jobs, project, tmp_path):
    panel = make_panel(qtbot, jobs, RecordingPlayback(), tmp_path, project)
    panel.form.set_preset("train")
    panel.form.from_scratch_radio.setChecked(True)
    assert not panel.form.base_edit.isEnabled()
    panel.form.length_spin.setValue(300)  # far more than the test waits for
    panel.config_overrides = {"model": tiny_model(), "max_batch_seconds": 2.0, "warmup_steps": 2, "threads": 1}
    ready: list[str] = []
    panel.model_ready.connect(ready.append)

    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.busy
    assert "queued" in panel.display.message_label.text() and panel.display.message_label.styleSheet() == ""  # not red
    qtbot.waitUntil(lambda: len(panel.display.curves.epoch_points()) >= 1, timeout=TIMEOUT_MS)
    assert panel.display.eta_label.text().startswith("about")
    assert "Epoch" in panel.display.progress_bar.text()
    with qtbot.waitSignal(jobs.failed, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
        assert not panel.cancel_button.isEnabled()
    assert blocker.args[0].kind == "cancelled"
    assert not panel.busy and panel.resume_button.isEnabled() and panel.start_button.isEnabled()
    assert "Cancelled" in panel.display.message_label.text() and "Resume" in panel.display.message_label.text()
    before = panel.display.curves.epoch_points()
    assert before and all(math.isfinite(loss) for _, loss, _, _ in before)
    assert not ready

    with qtbot.waitSignal(jobs.started, timeout=TIMEOUT_MS) as started:
        qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    assert started.args[0].resume and panel.busy and not panel.resume_button.isEnabled()
    last = before[-1][0]
    qtbot.waitUntil(lambda: panel.display.curves.epoch_points()[-1][0] > last, timeout=TIMEOUT_MS)
    assert "resumed from" in panel.display.log_view.toPlainText()
    assert panel.display.message_label.text() == "Resumed from the last checkpoint."  # not "Resuming…" throughout
    with qtbot.waitSignal(jobs.failed, timeout=TIMEOUT_MS):
        panel.cancel()
    assert panel.resume_button.isEnabled() and not ready
    epochs = [e for e, *_ in panel.display.curves.epoch_points()]
    assert epochs == list(range(1, len(epochs) + 1))  # continued, not restarted


@pytest.mark.slow
def test_a_job_failing_in_the_worker_shows_a_message_and_the_log_tail(qtbot, jobs, model_path, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file")
    clips = sc_clips()
    write_manifest(tmp_path / "train.jsonl", [Utterance(broken, "broken", 0.0, 1.0)] +
                   [Utterance(p, p.stem.split("_")[1]) for p in clips[:2]])
    write_manifest(tmp_path / "dev.jsonl", [Utterance(p, p.stem.split("_")[1]) for p in clips[2:4]])
    panel = make_panel(qtbot, jobs, RecordingPlayback(), tmp_path, None, model_path)
    panel.data_choice.set_manifests(tmp_path / "train.jsonl", tmp_path / "dev.jsonl")
    panel.form.set_preset("personalize")
    panel.form.length_spin.setValue(3)

    with qtbot.waitSignal(jobs.failed, timeout=TIMEOUT_MS) as blocker:
        assert panel.start()
    event = blocker.args[0]
    assert event.kind == "data"
    text = panel.display.message_label.text()
    assert text.startswith("The data cannot be used") and "broken.wav" in text and "Traceback" not in text
    assert "--- last lines of the job log" in panel.display.log_view.toPlainText()
    # a personalization keeps no checkpoint, and the same data would fail again: Start, not Resume
    assert not panel.resume_button.isEnabled() and panel.start_button.isEnabled() and not panel.busy
    assert QApplication.activeModalWidget() is None


@pytest.mark.slow
def test_distilling_from_whisper_trains_on_the_projects_unlabeled_utterances(qtbot, jobs, project, tmp_path):
    """Train tab, "Distil from" Whisper tiny.en: the teacher transcribes the project's one unlabeled
    utterance in the worker (its progress shown), the model trains on it too, the project is unchanged."""
    panel = make_panel(qtbot, jobs, RecordingPlayback(), tmp_path, project)
    panel.form.set_preset("personalize")
    assert not panel.form.teacher_combo.isVisible() and panel.form.teacher == ""  # a few takes: no teacher
    panel.form.set_preset("train")
    panel.form.from_scratch_radio.setChecked(True)
    assert panel.form.teacher_combo.isVisible() and panel.form.teacher_combo.itemText(0) == "No teacher"
    panel.form.set_teacher("whisper-tiny.en")
    panel.form.length_spin.setValue(1)
    panel.config_overrides = {"model": tiny_model(), "max_batch_seconds": 2.0, "warmup_steps": 2, "threads": 1}
    stages: list[str] = []
    jobs.progress.connect(lambda e: stages.append(e.stage))
    with qtbot.waitSignal(jobs.finished, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    run = Path(blocker.args[0].checkpoint).parent
    rows = [json.loads(line) for line in (run / "pseudo_labels.jsonl").read_text().splitlines()]
    assert [Path(r["audio_filepath"]).name for r in rows] == ["fsdd_0_nicolas_2.wav"]
    assert rows[0]["teacher"] == "whisper-tiny.en" and rows[0]["text"]
    assert "teacher" in stages and stages.index("teacher") < stages.index("train")
    log = panel.display.log_view.toPlainText()
    assert "first transcribes 1 unlabeled utterance(s)" in log
    assert "the teacher whisper-tiny.en transcribes 1 unlabeled utterance(s)" in log
    assert blocker.args[0].report["distillation"]["pseudo_labels"] == 1
    zero = [u for u in project.export_items() if u.audio_path.name == "fsdd_0_nicolas_2.wav"]
    assert [u.text for u in zero] == ["zero"]  # the teacher's words stay out of the project's labels


def test_a_teacher_needs_the_projects_unlabeled_utterances(qtbot, jobs, tmp_path):
    panel = make_panel(qtbot, jobs, RecordingPlayback(), tmp_path)  # no project: manifests
    write_manifest(tmp_path / "m.jsonl", [Utterance(p, p.stem.split("_")[1], None, None) for p in sc_clips()])
    panel.data_choice.set_manifests(tmp_path / "m.jsonl")
    panel.form.set_preset("finetune")
    panel.form.set_teacher("whisper-tiny.en")
    assert not panel.start()
    assert panel.display.message_label.text().startswith("A teacher transcribes the open project's unlabeled")
    assert not panel.busy and not (tmp_path / "models").exists()


@pytest.mark.slow
def test_quick_personalization_of_whisper_registers_a_ctranslate2_model(qtbot, jobs, project, tmp_path):
    """The Train tab with a Whisper base (the model in use): Personalize runs the LoRA job, which exports a
    CTranslate2 folder and registers it with its lineage; the evaluation then decodes with it."""
    from engine.registry.index import ModelRegistry

    whisper = ModelRegistry().prepare("whisper-tiny.en").path  # assembled in this test's own data folder
    panel = make_panel(qtbot, jobs, RecordingPlayback(), tmp_path, project, whisper)
    panel.form.set_preset("finetune")
    assert not panel.start() and "is a Whisper model" in panel.display.message_label.text()
    assert panel.form.length_spin.value() == 3  # the fine-tune preset's epochs
    panel.form.set_preset("personalize")
    # the form shows what will run: Whisper's recipe, not the Sayso preset's 60 steps at 3e-4
    from engine.whisper.personalize_config import WhisperPersonalizeConfig

    recipe = WhisperPersonalizeConfig()
    assert (panel.form.length_spin.value(), panel.form.lr_spin.value()) == (recipe.steps, recipe.lr)
    panel.form.length_spin.setValue(3)  # the user's steps are what runs
    assert panel.form.whisper_personalize_config({}).steps == 3
    panel.config_overrides = {"batch_rehearse": 0}
    ready: list[str] = []
    panel.model_ready.connect(ready.append)
    with qtbot.waitSignal(panel.evaluation_ready, timeout=TIMEOUT_MS * 3) as blocker:
        assert panel.start()
    [folder] = ready
    assert Path(folder).name == "model" and (Path(folder) / "model.bin").is_file()
    [entry] = [e for e in ModelRegistry().list() if e.path == Path(folder)]
    assert entry.family == "whisper" and entry.parent_id == "whisper-tiny.en" and entry.train_utterances == 6
    assert "3 steps" in entry.notes
    assert blocker.args[0]["utterances"] == 3
    steps = panel.display.curves.step_points()
    assert steps and steps[-1][0] == 3
    assert "Whisper: LoRA adapters on its top 2 encoder layers, 3 steps" in panel.display.log_view.toPlainText()
