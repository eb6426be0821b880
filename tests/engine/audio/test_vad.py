import numpy as np

from engine.audio.io import SAMPLE_RATE, load_audio
from engine.audio.vad import speech_regions
from tests.helpers import SAMPLES


def _three_words():
    rng = np.random.default_rng(0)
    parts, onsets, t = [], [], 0.0
    for name in ("sc_left_03401e93", "sc_stop_18f8afd5", "sc_go_0f250098"):
        clip = load_audio(SAMPLES / f"{name}.wav")
        onsets.append(t)
        parts += [clip, rng.normal(0, 0.002, int(0.4 * SAMPLE_RATE)).astype(np.float32)]
        t += (len(clip) + int(0.4 * SAMPLE_RATE)) / SAMPLE_RATE
    return np.concatenate(parts), onsets


def test_finds_each_spoken_word_in_real_clips():
    audio, onsets = _three_words()
    regions = speech_regions(audio)
    assert len(regions) == 3
    for (start, end), onset in zip(regions, onsets):
        assert onset <= start < end <= onset + 1.0


def test_silence_and_noise_have_no_speech():
    assert speech_regions(np.zeros(SAMPLE_RATE * 2, np.float32)) == []
    noise = np.random.default_rng(0).normal(0, 0.001, SAMPLE_RATE * 2).astype(np.float32)
    assert speech_regions(noise) == []
