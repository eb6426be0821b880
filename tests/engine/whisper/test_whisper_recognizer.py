"""Whisper through the recognizer protocol, on real speech (AN4, Speech Commands, FSDD, the bundled samples)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.audio.io import load_audio
from engine.decode.protocol import Final, Recognizer
from engine.decode.vocabulary import Vocabulary
from engine.recipes.datasets import COMMANDS, DIGITS
from engine.resources import sample_path
from engine.whisper.recognizer import WhisperRecognizer
from tests.helpers import shared_data

pytestmark = pytest.mark.slow

AN4_HELDOUT = "an4/wav/mcel/cen5-mcel-b.flac"  # speaker mcel is held out of every figure (benchmarks/whisper_wer.py)


@pytest.fixture(scope="module")
def tiny(tiny_folder: Path) -> WhisperRecognizer:
    return WhisperRecognizer.from_checkpoint(tiny_folder, threads=1)


@pytest.fixture(scope="module")
def base(base_folder: Path) -> WhisperRecognizer:
    return WhisperRecognizer.from_checkpoint(base_folder, threads=1)


def test_base_transcribes_a_held_out_an4_sentence(base: WhisperRecognizer) -> None:
    assert isinstance(base, Recognizer) and base.name == "whisper-base"
    r = base.transcribe_file(shared_data() / AN4_HELDOUT)
    assert r.text == "s u n n y v a l e"  # spelled: Whisper writes "S-U-N-N-Y-V-A-L-E."
    assert [w.word for w in r.words] == r.text.split()
    assert all(0 <= w.start <= w.end <= r.duration + 0.05 for w in r.words)
    assert all(a.start <= b.start for a, b in zip(r.words, r.words[1:]))
    assert all(0 < w.confidence <= 1 for w in r.words) and 0.3 < r.confidence <= 1
    assert r.model == "whisper-base" and 0 < r.rtf and r.attention is None
    assert r.to_json()["text"] == r.text


def test_long_recording_keeps_times_across_pauses(tiny: WhisperRecognizer) -> None:
    clips = [load_audio(sample_path(f"sc_{w}.wav")) for w in ("yes_03401e93", "left_03401e93", "stop_18f8afd5")]
    pause = np.zeros(16000 * 2, np.float32)
    audio = np.concatenate([clips[0], pause, clips[1], pause, clips[2]])
    r = tiny.transcribe(audio)
    assert r.text.split() == ["yes", "left", "stop"], r.text
    starts = [w.start for w in r.words]
    assert starts[0] < 1.0 and 3.0 < starts[1] < 4.0 and 6.0 < starts[2] < 7.0, starts


@pytest.mark.parametrize("clip, vocabulary, word", [
    ("fsdd_3_nicolas_1.wav", DIGITS, "three"), ("fsdd_7_nicolas_0.wav", DIGITS, "seven"),
    ("sc_up_03401e93.wav", COMMANDS, "up"), ("sc_left_03401e93.wav", COMMANDS, "left"),
    ("sc_go_0f250098.wav", COMMANDS, "go"), ("sc_down_0f250098.wav", COMMANDS, "down"),
])
def test_a_phrase_list_is_a_choice_among_the_phrases(tiny: WhisperRecognizer, clip: str, vocabulary, word) -> None:
    r = tiny.transcribe_file(sample_path(clip), Vocabulary(vocabulary))
    assert r.text == word
    assert [w.word for w in r.words] == [word] and 0 <= r.words[0].start < r.words[0].end <= r.duration
    assert 0 < r.confidence <= 1


def test_silence_with_a_phrase_list_is_nothing(tiny: WhisperRecognizer) -> None:
    noise = load_audio(next(iter(sorted((shared_data() / "speech_commands" / "_background_").glob("*.wav")))))
    r = tiny.transcribe(noise * 0.01, Vocabulary(COMMANDS))
    assert (r.text, r.words, r.confidence) == ("", [], 0.0)


def test_score_prefers_the_true_transcript(tiny: WhisperRecognizer) -> None:
    audio = load_audio(sample_path("sc_right_03401e93.wav"))
    right, wrong = tiny.score(audio, "right"), tiny.score(audio, "stop")
    assert right.likelihood > wrong.likelihood + 1.0 and right.likelihood <= 0 and right.similarity is None


def test_stream_gives_one_final_per_utterance(tiny: WhisperRecognizer) -> None:
    stream = tiny.stream()
    pause = np.zeros(16000, np.float32)
    audio = np.concatenate([pause, load_audio(sample_path("sc_yes_03401e93.wav")), pause,
                            load_audio(sample_path("sc_no_03401e93.wav")), pause])
    events = [e for i in range(0, len(audio), 1600) for e in stream.feed(audio[i: i + 1600])] + stream.flush()
    assert [type(e) for e in events] == [Final, Final]
    assert [e.text for e in events] == ["yes", "no"]
    assert 1.0 <= events[0].words[0].start < events[1].words[0].start
