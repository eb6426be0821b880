"""Streaming recognition with the bundled model on real clips."""
from __future__ import annotations

import numpy as np
import pytest

from engine.audio.io import SAMPLE_RATE, load_audio
from engine.decode.protocol import Final, Partial
from engine.decode.recognizer import SaysoRecognizer
from engine.decode.streaming import StreamingRecognizer
from engine.decode.vocabulary import Vocabulary
from tests.helpers import SAMPLES

pytestmark = pytest.mark.slow
CLIPS = {"sc_yes_03401e93.wav": "yes", "sc_left_03401e93.wav": "left", "sc_down_0f250098.wav": "down"}


@pytest.fixture(scope="module")
def recognizer(model_path):
    return SaysoRecognizer.from_checkpoint(model_path)


def stream(clips, gap_s=0.8):
    gap = np.zeros(int(gap_s * SAMPLE_RATE), np.float32)
    return np.concatenate([gap] + [np.concatenate([load_audio(SAMPLES / c), gap]) for c in clips])


def feed(sr: StreamingRecognizer, audio: np.ndarray, chunk: int = 320):
    timeline = []  # (stream seconds when the event came out, event)
    for i in range(0, len(audio), chunk):
        timeline += [((i + chunk) / SAMPLE_RATE, e) for e in sr.feed(audio[i:i + chunk])]
    timeline += [(len(audio) / SAMPLE_RATE, e) for e in sr.flush()]
    return timeline


def test_finals_equal_offline_decoding_of_the_same_segment(recognizer):
    audio = stream(CLIPS)
    sr = StreamingRecognizer(recognizer)
    finals = [e for _, e in feed(sr, audio) if isinstance(e, Final)]
    assert [f.text for f in finals] == list(CLIPS.values())
    for f in finals:
        segment = audio[round(f.start * SAMPLE_RATE):round(f.end * SAMPLE_RATE)]
        assert f.text == recognizer.transcribe(segment, attention=False).text
        assert all(f.start <= w.start <= w.end <= f.end + 0.05 for w in f.words)  # stream times
    assert [f.index for f in finals] == [0, 1, 2]


def test_partials_arrive_while_speaking(recognizer):
    audio = stream(["sc_left_03401e93.wav"])
    timeline = feed(StreamingRecognizer(recognizer, partial_interval_s=0.25), audio)
    partials = [(t, e) for t, e in timeline if isinstance(e, Partial)]
    final_t, final = next((t, e) for t, e in timeline if isinstance(e, Final))
    assert partials and all(t < final_t for t, _ in partials)  # words show before the endpoint
    assert all(e.index == final.index and e.start == final.start for _, e in partials)
    times = [t for t, _ in partials]
    assert all(b - a >= 0.25 - 1e-9 for a, b in zip(times, times[1:]))  # no faster than asked
    assert partials[-1][1].text  # something readable before the final


def test_vocabulary_constrains_finals(recognizer):
    vocab = Vocabulary(["yes", "no"])
    finals = [e for _, e in feed(StreamingRecognizer(recognizer, vocabulary=vocab), stream(CLIPS))
              if isinstance(e, Final)]
    assert finals and all(f.text in ("yes", "no", "") for f in finals)
    assert finals[0].text == "yes"


def test_silence_gives_nothing(recognizer):
    assert feed(StreamingRecognizer(recognizer), np.zeros(3 * SAMPLE_RATE, np.float32)) == []


def test_early_endpoint_ends_sooner_and_still_equals_offline(recognizer):
    audio = stream(["sc_yes_03401e93.wav"])
    late = [e for _, e in feed(StreamingRecognizer(recognizer), audio) if isinstance(e, Final)]
    early_stream = StreamingRecognizer(recognizer, early_end_s=0.1, eos_threshold=0.5)
    timeline = feed(early_stream, audio)
    (t_early, early), = [(t, e) for t, e in timeline if isinstance(e, Final)]
    assert early.early and not late[0].early and early.text == late[0].text == "yes"
    assert early.end < late[0].end and t_early < late[0].end + 0.3  # ended at the short pause
    assert early.speech_end <= early.end
    segment = audio[round(early.start * SAMPLE_RATE):round(early.end * SAMPLE_RATE)]
    assert recognizer.transcribe(segment, attention=False).text == early.text
