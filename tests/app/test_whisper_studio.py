"""The studio with a Whisper model: chosen in the Models window (an offline package's model, assembled
off the GUI thread on first use), it transcribes a held-out AN4 speaker; Insight's attention page stays on
(tests/app/insight/test_whisper_attention_page.py), the Sayso-only views say why they are off."""
from __future__ import annotations

import pytest
import srt

from app.active_model import resolve_model_path
from app.main_window import MainWindow
from app.widgets.attention_view import NO_MAPS, PLACEHOLDER
from engine.decode.protocol import Final
from engine.text.normalize import normalize_text
from engine.whisper.sources import installed_packaged
from tests.helpers import SHARED_DATA

AN4 = SHARED_DATA / "an4"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif("whisper-tiny.en" not in installed_packaged(), reason="offline whisper-tiny.en not installed"),
    pytest.mark.skipif(not AN4.is_dir(), reason="../shared/data/an4 is not present"),
]

HELD_OUT = AN4 / "wav/mcel/an203-mcel-b.flac"  # speaker mcel is held out of Sayso's training: "enter eight one nine six"
SENTENCE = AN4 / "wav/fejs/cen7-fejs-b.flac"  # held-out speaker fejs (benchmarks/whisper_wer.py)
SENTENCE_TEXT = "two six eight three eight zero two"
SPELLED = AN4 / "wav/mcel/cen5-mcel-b.flac"  # "s u n n y v a l e", held-out speaker mcel


def switch_to_tiny(qtbot, window: MainWindow) -> None:
    dialog = window.model_switch.show_models()
    qtbot.addWidget(dialog)
    dialog.select("whisper-tiny.en")
    assert dialog.use_button.isEnabled()
    with qtbot.waitSignal(window.active_model.model_changed, timeout=120_000):
        dialog.use_button.click()  # assembles the package's model in a thread, then switches
    assert window.active_model.family == "whisper"


def test_transcribe_a_held_out_speaker_with_whisper_tiny(qtbot, model_path):
    window = MainWindow(model_path)
    qtbot.addWidget(window)
    switch_to_tiny(qtbot, window)
    assert window.model_label.text() == "Model: whisper-tiny.en"
    assert window.training.form.base_path == window.model_path  # the Train tab personalizes the model in use
    # from the start, not only after a transcription, the attention pane says where Whisper's maps are
    assert window.attention.placeholder.textItem.toPlainText() == NO_MAPS
    assert window.open_file(HELD_OUT)
    assert window.attention.placeholder.textItem.toPlainText() == NO_MAPS
    with qtbot.waitSignal(window.recognizer.finished, timeout=180_000):
        window.commands.transcribe.trigger()
    # Whisper writes the digits as a number ("Enter 8196."), which the normalizer spells out
    assert window.panel.transcript == "enter eight thousand one hundred and ninety six"
    assert window.attention.attention is None and window.attention.placeholder.textItem.toPlainText() == NO_MAPS


def test_insight_stays_on_with_whisper_and_follows_the_model_switch(qtbot, model_path):
    window = MainWindow(model_path)
    qtbot.addWidget(window)
    insight = window.insight
    assert insight.disabled_reason is None and insight.pages.isTabEnabled(0) and insight.pages.isTabEnabled(1)
    sayso_embedder = insight.embedding.embedder
    switch_to_tiny(qtbot, window)
    # Whisper's attention (its weights in torch) and its encoder states on the map
    assert insight.disabled_reason is None and insight.reason.isHidden()
    assert insight.pages.isTabEnabled(0) and insight.pages.isTabEnabled(1)
    assert insight.attention.recognizer is window.recognizer
    assert insight.embedding.embedder is not sayso_embedder
    assert insight.embedding.embedder.model_path == window.recognizer.model_path
    assert window.switch_model(model_path)  # back to Sayso: the map embeds with it again
    assert insight.embedding.embedder.model_path == window.recognizer.model_path
    assert insight.disabled_reason is None and insight.pages.isTabEnabled(1) and insight.reason.isHidden()
    assert window.attention.placeholder.textItem.toPlainText() == PLACEHOLDER  # its transcriptions bring maps


@pytest.mark.audio_device
def test_live_with_whisper_shows_partials_then_the_final(qtbot, virtual_mic, model_path):
    from engine.decode.protocol import Partial

    window = MainWindow(model_path)
    qtbot.addWidget(window)
    window.show()
    switch_to_tiny(qtbot, window)
    window.recorder.device = virtual_mic.device
    window.live_view.set_live_enabled(True)
    seen: list = []
    window.recognizer.live_events.connect(lambda events: seen.extend(events))
    window.commands.record.trigger()
    assert window.recorder.is_recording and window.recognizer.live
    playback = virtual_mic.play(SPELLED, lead_seconds=0.4, tail_seconds=1.0)  # 3.4 s: partials while spoken
    qtbot.waitUntil(lambda: playback.wait(0), timeout=20_000)
    qtbot.waitUntil(lambda: any(isinstance(e, Final) for e in seen), timeout=180_000)
    window.commands.record.trigger()
    qtbot.waitUntil(lambda: not window.recognizer.live, timeout=30_000)
    finals = [e for e in seen if isinstance(e, Final)]
    assert [f.text for f in finals] == ["s u n n y v a l e"]
    first_final = seen.index(finals[0])
    assert any(isinstance(e, Partial) for e in seen[:first_final])  # words shown before the pause ended them
    view = window.live_view
    assert view.list.count() == 1 and view.partial_rows == 0 and view.list.item(0).text().endswith("s u n n y v a l e")


@pytest.mark.audio_device
@pytest.mark.skipif("whisper-base" not in installed_packaged(), reason="offline whisper-base not installed")
def test_a_new_users_studio_transcribes_a_held_out_sentence_with_whisper_base_live_and_from_a_file(
        qtbot, virtual_mic, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no network (there is none here; this says it is not needed)
    window = MainWindow(resolve_model_path(environ={}), preload_model=True)  # what `make run` opens
    qtbot.addWidget(window)
    window.show()
    assert window.active_model.entry.id == "whisper-base" and window.model_label.text() == "Model: whisper-base"

    window.recorder.device = virtual_mic.device  # spoken into the (virtual) microphone
    window.live_view.set_live_enabled(True)
    finals: list = []
    window.recognizer.live_events.connect(lambda events: finals.extend(e for e in events if isinstance(e, Final)))
    window.commands.record.trigger()
    assert window.recorder.is_recording and window.recognizer.live
    playback = virtual_mic.play(SENTENCE, lead_seconds=0.5, tail_seconds=1.0)
    qtbot.waitUntil(lambda: playback.wait(0), timeout=30_000)
    qtbot.waitUntil(lambda: bool(finals), timeout=180_000)  # the pause after it ended the utterance
    window.commands.record.trigger()
    qtbot.waitUntil(lambda: not window.recognizer.live, timeout=60_000)
    assert " ".join(f.text for f in finals) == SENTENCE_TEXT  # live

    assert window.open_file(SENTENCE)
    with qtbot.waitSignal(window.recognizer.finished, timeout=180_000):
        window.commands.transcribe.trigger()
    assert window.panel.transcript == SENTENCE_TEXT  # and from the file
    assert window.commands.export_transcript.isEnabled()
    out = window.files.export_transcript(str(tmp_path / "sentence.srt"))  # File → Export transcript… (Ctrl+E)
    (sub,) = srt.parse(out.read_text())
    assert normalize_text(sub.content) == SENTENCE_TEXT and sub.start < sub.end



def test_the_small_model_says_what_it_is_for_and_offers_whisper_for_sentences(qtbot, model_path):
    from engine.registry.index import ModelRegistry
    from tests.helpers import SAMPLES

    window = MainWindow(model_path)  # the small model chosen (e.g. from an earlier session)
    qtbot.addWidget(window)
    window.show()
    assert window.open_file(SENTENCE)
    with qtbot.waitSignal(window.recognizer.finished, timeout=180_000):
        window.commands.transcribe.trigger()
    hint = window.panel.model_hint
    assert hint.isVisible() and "sayso-base is made for digits, the 35 Speech Commands words" in hint.text() and "Use whisper-base" in hint.text()
    with qtbot.waitSignal(window.active_model.model_changed, timeout=60_000):
        hint.linkActivated.emit("use:whisper-base")  # the link under the transcript
    assert window.active_model.entry.id == "whisper-base" and ModelRegistry().active().id == "whisper-base"
    assert not hint.isVisible()
    with qtbot.waitSignal(window.recognizer.finished, timeout=180_000):
        window.commands.transcribe.trigger()
    assert window.panel.transcript == SENTENCE_TEXT and not hint.isVisible()  # Whisper: no hint

    assert window.switch_model(model_path)
    window.panel.vocabulary = None
    assert window.open_file(SAMPLES / "sc_yes_03401e93.wav")
    assert not hint.isVisible()  # a new clip clears it
