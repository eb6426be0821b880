"""The Recognizer protocol: the Sayso family implements it, and load_recognizer picks it from the layout."""
from __future__ import annotations

import numpy as np
import pytest

from engine.audio.endpoint import EndpointConfig
from engine.audio.errors import AudioError
from engine.audio.io import SAMPLE_RATE, load_audio
from engine.checkpoint_layout import CheckpointError
from engine.decode.evaluate import evaluate
from engine.decode.families import load_recognizer
from engine.decode.protocol import Final, Recognition, Recognizer, StreamSession, TranscriptScore
from engine.decode.recognizer import SaysoRecognizer
from engine.decode.vocabulary import Vocabulary
from engine.recipes.datasets import COMMANDS
from engine.registry.index import ModelRegistry
from tests.engine.registry.model_helpers import copy_checkpoint, test_clips
from tests.helpers import SAMPLES, bundled_model


@pytest.fixture(scope="module")
def rec() -> SaysoRecognizer:
    return load_recognizer(bundled_model())


def test_the_bundled_model_loads_as_a_sayso_recognizer_that_satisfies_the_protocol(rec):
    assert type(rec) is SaysoRecognizer and isinstance(rec, Recognizer)
    assert rec.name == "sayso-base"
    assert not isinstance(object(), Recognizer)
    session = rec.stream(EndpointConfig(), Vocabulary(COMMANDS))
    assert isinstance(session, StreamSession)


def test_protocol_calls_give_protocol_results(rec):
    yes = load_audio(SAMPLES / "sc_yes_03401e93.wav")
    r = rec.transcribe(yes, Vocabulary(COMMANDS), attention=False)
    assert isinstance(r, Recognition) and r.text == "yes" and r.attention is None and r.model == rec.name
    assert rec.transcribe_file(SAMPLES / "sc_yes_03401e93.wav").text == "yes"
    right, wrong = rec.score(yes, "yes"), rec.score(yes, "seven")
    assert isinstance(right, TranscriptScore)
    assert right.likelihood > wrong.likelihood and right.similarity > wrong.similarity
    assert -1.0 <= wrong.similarity <= right.similarity <= 1.0 and right.likelihood <= 0.0
    assert np.isclose(right.similarity, float(np.dot(right.audio_embedding, right.text_embedding)))
    with pytest.raises(AudioError):
        rec.score(np.zeros(SAMPLE_RATE // 100, np.float32), "yes")


def test_a_stream_session_gives_the_offline_final(rec):
    audio = load_audio(SAMPLES / "sc_stop_18f8afd5.wav")
    pause = np.zeros(SAMPLE_RATE, np.float32)
    session = rec.stream(vocabulary=Vocabulary(COMMANDS))
    events = []
    for chunk in np.array_split(np.concatenate([pause, audio, pause]), 40):
        events += session.feed(chunk)
    events += session.flush()
    finals = [e for e in events if isinstance(e, Final)]
    assert [f.text for f in finals] == ["stop"]


def test_evaluation_takes_any_recognizer(rec):
    report = evaluate(rec, test_clips())
    assert report.wer < 0.5 and len(report.utterances) == len(test_clips())


def test_load_recognizer_takes_a_registry_entry_and_refuses_unknown_layouts(tmp_path):
    reg = ModelRegistry(tmp_path / "reg")
    entry = reg.register(copy_checkpoint(tmp_path / "run" / "best"), "My voice")
    loaded = load_recognizer(entry)
    assert isinstance(loaded, Recognizer) and loaded.name == "My voice"
    assert reg.recognizer().name == reg.default().name  # the active recognizer: the default at first
    reg.set_active(entry.id)
    assert isinstance(reg.recognizer(), SaysoRecognizer) and reg.recognizer().name == "My voice"
    with pytest.raises(CheckpointError, match="not a model folder: no such folder"):
        load_recognizer(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"not a Sayso checkpoint \(config.json, model.safetensors missing\), "
                                              r"and as a Whisper model: not a CTranslate2 Whisper folder \(model.bin"):
        load_recognizer(tmp_path / "empty")


def test_load_recognizer_reads_a_whisper_folder_as_the_whisper_family(tiny_folder, tmp_path):
    import shutil

    from engine.checkpoint_layout import SAYSO_FAMILY, family
    from engine.whisper.folder import WHISPER_FAMILY, WhisperFolderError
    from engine.whisper.recognizer import WhisperRecognizer

    assert family(tiny_folder) == WHISPER_FAMILY and family(bundled_model()) == SAYSO_FAMILY
    whisper = load_recognizer(tiny_folder, threads=1)
    assert type(whisper) is WhisperRecognizer and isinstance(whisper, Recognizer) and whisper.name == "whisper-tiny.en"
    r = whisper.transcribe_file(SAMPLES / "sc_yes_03401e93.wav", Vocabulary(COMMANDS))
    assert isinstance(r, Recognition) and r.text == "yes" and r.model == "whisper-tiny.en"
    assert isinstance(whisper.stream(), StreamSession)
    cut = tmp_path / "cut"
    shutil.copytree(tiny_folder, cut)
    with open(cut / "model.bin", "r+b") as fh:
        fh.truncate(1_000_000)
    assert family(cut) is None
    with pytest.raises(CheckpointError, match="as a Whisper model: .*model.bin: truncated") as err:
        load_recognizer(cut)
    assert not isinstance(err.value, WhisperFolderError) and issubclass(WhisperFolderError, CheckpointError)
