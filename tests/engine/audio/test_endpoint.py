"""Streaming VAD endpointing on real speech with known positions."""
from __future__ import annotations

import numpy as np
import pytest

from engine.audio.endpoint import FRAME_S, EndpointConfig, Endpointer, SpeechEnded, SpeechStarted
from engine.audio.io import SAMPLE_RATE, load_audio
from engine.audio.vad import speech_regions
from tests.helpers import SAMPLES

CLIPS = ["sc_yes_03401e93.wav", "sc_left_03401e93.wav", "sc_stop_18f8afd5.wav"]


def stream_of_clips(gap_s: float = 1.0) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Real clips separated by silence, and where each clip's speech lies (seconds)."""
    gap = np.zeros(int(gap_s * SAMPLE_RATE), np.float32)
    parts, spans, t = [gap], [], gap_s
    for name in CLIPS:
        clip = load_audio(SAMPLES / name)
        (a, _), (*_, (_, b)) = speech_regions(clip)[0], speech_regions(clip)
        spans.append((t + a, t + b))
        parts += [clip, gap]
        t += len(clip) / SAMPLE_RATE + gap_s
    return np.concatenate(parts), spans


def run(ep: Endpointer, audio: np.ndarray, chunk: int) -> list:
    events = []
    for i in range(0, len(audio), chunk):
        events += ep.feed(audio[i:i + chunk])
    return events + ep.flush()


@pytest.mark.parametrize("chunk", [160, 320, 4801])
def test_one_utterance_per_clip_with_padding(chunk):
    audio, spans = stream_of_clips()
    events = run(Endpointer(), audio, chunk)
    utts = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(utts) == len(CLIPS)
    assert sum(isinstance(e, SpeechStarted) for e in events) == len(CLIPS)
    for u, (a, b) in zip(utts, spans):
        assert u.start <= a + 0.1 and u.end >= b - 0.1  # covers the speech
        assert u.start >= a - 0.35 and u.end <= b + 0.4  # padding only: ≈ pad_s each side
        assert len(u.audio) == round((u.end - u.start) * SAMPLE_RATE)
        i = round(u.start * SAMPLE_RATE)
        np.testing.assert_array_equal(u.audio, audio[i:i + len(u.audio)])  # the stream's own samples


def test_silence_and_a_click_are_not_utterances():
    silence = np.zeros(3 * SAMPLE_RATE, np.float32)
    click = silence.copy()
    click[SAMPLE_RATE:SAMPLE_RATE + 80] = 0.9  # 5 ms
    assert run(Endpointer(), silence, 320) == []
    assert [e for e in run(Endpointer(), click, 320) if isinstance(e, SpeechEnded)] == []


def test_long_speech_is_cut_at_max_utterance():
    clip = load_audio(SAMPLES / "sc_yes_03401e93.wav")
    (a, b), = [(int(x * SAMPLE_RATE), int(y * SAMPLE_RATE)) for x, y in speech_regions(clip)[:1]]
    babble = np.tile(clip[a:b], 12)  # ~5 s of speech with no pause
    utts = [e for e in run(Endpointer(EndpointConfig(max_utterance_s=2.0)), babble, 320) if isinstance(e, SpeechEnded)]
    assert len(utts) >= 2 and utts[0].forced
    assert all(u.end - u.start <= 2.0 + FRAME_S for u in utts)


def test_stream_time_and_reset():
    ep = Endpointer()
    ep.feed(np.zeros(1000, np.float32))
    assert ep.time == pytest.approx(3 * FRAME_S)  # whole 20 ms frames only
    ep.reset()
    assert ep.time == 0.0 and not ep.in_speech


@pytest.mark.parametrize("bad", [dict(aggressiveness=4), dict(start_frames=9), dict(pad_s=0.5, end_silence_s=0.3),
                                 dict(max_utterance_s=0.5)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        EndpointConfig(**bad)
