"""Whisper through the recognizer protocol, on real speech (AN4, Speech Commands, FSDD, the bundled samples)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.audio.io import SAMPLE_RATE, load_audio, write_audio
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
    events = [e for e in events if isinstance(e, Final)]  # (partials: tests/engine/whisper/test_whisper_stream.py)
    assert len(events) == 2
    assert [e.text for e in events] == ["yes", "no"]
    assert 1.0 <= events[0].words[0].start < events[1].words[0].start


# ------------------------------------------------------------------ long files, export

@pytest.fixture(scope="module")
def read_speech(tmp_path_factory) -> Path:
    """About 75 s of real read speech (six LibriSpeech clean utterances, 1 s pauses) as a WAV file."""
    import soundfile as sf

    files = sorted((shared_data() / "librispeech_unlabeled" / "librispeech_train-clean-100").glob("*.flac"))[:6]
    pause = np.zeros(SAMPLE_RATE, np.float32)
    parts = [x for f in files for x in (sf.read(str(f), dtype="float32")[0], pause)]
    return write_audio(tmp_path_factory.mktemp("long") / "read.wav", np.concatenate(parts))


def test_a_long_file_decoded_in_blocks_gives_the_words_and_times_of_whole_decoding(tiny, read_speech) -> None:
    import difflib

    path = read_speech
    blocks = WhisperRecognizer(tiny.model, name=tiny.name, block_s=30.0)  # 75 s: three blocks
    whole, split = tiny.transcribe(load_audio(path)), blocks.transcribe_file(path)
    assert split.duration == pytest.approx(whole.duration) and split.duration > 2 * blocks.block_s
    a, b = whole.text.split(), split.text.split()
    match = difflib.SequenceMatcher(None, a, b, autojunk=False)
    assert len(a) > 150 and match.ratio() > 0.95, (whole.text, split.text)  # measured 0.97 (Whisper's windows differ)
    shift = [abs(whole.words[i].start - split.words[j].start)
             for m in match.get_matching_blocks() for i, j in zip(range(m.a, m.a + m.size), range(m.b, m.b + m.size))]
    assert np.median(shift) < 0.1 and np.percentile(shift, 90) < 0.3  # times shifted by each block's offset
    assert [w.word for w in split.words] == b
    assert all(x.start <= y.start for x, y in zip(split.words, split.words[1:]))
    assert all(x.start <= y.start for x, y in zip(split.segments, split.segments[1:]))
    assert 0 <= split.words[0].start and split.words[-1].end <= split.duration + 0.05
    assert split.segments[-1].start > 60 and 0 < split.confidence <= 1


def test_a_block_is_cut_in_a_pause(tiny, read_speech) -> None:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    audio = load_audio(read_speech)
    # the pauses as Silero sees them in the whole file (both sides of each pause known, 100 ms resolution)
    speech = get_speech_timestamps(audio, VadOptions(min_silence_duration_ms=100, speech_pad_ms=30))
    for block_s in (20.0, 30.0, 45.0, 60.0):
        cut = WhisperRecognizer(tiny.model, block_s=block_s)._pause_near_end(audio[: int(block_s * SAMPLE_RATE)])
        assert block_s / 2 <= cut / SAMPLE_RATE < block_s
        assert all(not s["start"] - 1600 < cut < s["end"] + 1600 for s in speech), (block_s, cut / SAMPLE_RATE)


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_whisper_segments_export_as_subtitles(tiny, tmp_path, fmt) -> None:
    import srt
    import webvtt

    from engine.text.captions import Caption, write_captions

    r = tiny.transcribe_file(shared_data() / AN4_HELDOUT)
    assert r.segments and all(s.raw for s in r.segments)
    out = write_captions(tmp_path / f"x.{fmt}", [Caption(s.start, s.end, s.raw) for s in r.segments])
    if fmt == "srt":
        back = [(c.start.total_seconds(), c.end.total_seconds(), c.content) for c in srt.parse(out.read_text())]
    else:
        back = [(c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000, c.text)
                for c in webvtt.read(str(out))]
    assert [t for _, _, t in back] == [s.raw for s in r.segments]
    for (start, end, _), s in zip(back, r.segments):
        assert start == pytest.approx(s.start, abs=0.001) and end == pytest.approx(s.end, abs=0.001)
        assert 0 <= start < end <= r.duration + 0.05


def test_whisper_recognition_exports_as_json_from_the_cli(tiny_folder, capsys) -> None:
    import json

    from engine.cli import main

    assert main(["transcribe", "--json", "--threads", "1", "--model", str(tiny_folder),
                 str(shared_data() / AN4_HELDOUT)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["model"] == "whisper-tiny.en" and out["text"]
    assert [s["text"] for s in out["segments"]] and " ".join(s["text"] for s in out["segments"]) == out["text"]
    assert [w["word"] for w in out["words"]] == out["text"].split()
    assert all(0 <= s["start"] < s["end"] <= out["duration"] + 0.05 for s in out["segments"])
