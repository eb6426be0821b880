"""Issue 14, items 3 (Sayso part) and 11: long files are decoded window by window from blocks read
off disk, and windows without speech skip the encoder.

Before the fix, ``transcribe_file`` loaded the whole file and every window of a recording without
speech went through the encoder (3 h of silence: 9 min 38 s; 10 min: about 30 s).
"""
import time
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from engine.audio.io import SAMPLE_RATE, load_audio
from engine.decode.recognizer import SaysoRecognizer
from engine.decode.vocabulary import Vocabulary
from engine.recipes.datasets import COMMANDS
from tests.helpers import SAMPLES, bundled_model


@pytest.fixture(scope="module")
def rec():
    return SaysoRecognizer.from_checkpoint(bundled_model())


def _near_silence(seconds: float, seed: int = 0) -> np.ndarray:
    """Stretches of digital zeros and of very low noise (about −80 dBFS), alternating every 30 s."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * SAMPLE_RATE), np.float32)
    for start in range(0, len(out), 60 * SAMPLE_RATE):
        stop = min(len(out), start + 30 * SAMPLE_RATE)
        out[start:stop] = rng.normal(0, 1e-4, stop - start)
    return out


def test_ten_minutes_of_near_silence_are_skipped_fast_in_bounded_memory(rec, tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(str(path), _near_silence(600), SAMPLE_RATE, subtype="PCM_16")
    tracemalloc.start()
    t0 = time.perf_counter()
    r = rec.transcribe_file(path, attention=False)
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert r.text == "" and r.words == [] and r.duration == pytest.approx(600, abs=0.01)
    assert len(r.segments) >= 30 and all(s.text == "" for s in r.segments)
    assert seconds < 15, seconds  # before: every 20 s window encoded, about 30 s
    assert peak < 20e6, peak  # numpy's peak: the whole file as float32 alone is 38 MB


def test_a_long_file_keeps_its_words_and_matches_in_memory_decoding(rec, tmp_path):
    rec_small = SaysoRecognizer(rec.model, rec.tokenizer, window_s=3.0)  # speech longer than a window too
    words = ["yes", "left", "stop", "go", "no"]
    silence = _near_silence(40)
    parts = []
    for k, w in enumerate(words):
        parts += [load_audio(next(SAMPLES.glob(f"sc_{w}_*.wav"))), silence[k * 8 * SAMPLE_RATE: (k + 1) * 8 * SAMPLE_RATE]]
    parts.append(np.concatenate([load_audio(p) for p in sorted(SAMPLES.glob("fsdd_*.wav"))] * 3))
    audio = np.concatenate(parts)
    path = tmp_path / "speech.wav"
    sf.write(str(path), audio, SAMPLE_RATE, subtype="FLOAT")
    vocab = Vocabulary(COMMANDS + ["zero", "three", "seven"])
    from_file = rec_small.transcribe_file(path, vocab, attention=False)
    in_memory = rec_small.transcribe(audio, vocab, attention=False)
    assert from_file.text == in_memory.text
    assert [(s.start, s.end, s.text) for s in from_file.segments] == [(s.start, s.end, s.text) for s in in_memory.segments]
    assert from_file.confidence == pytest.approx(in_memory.confidence, abs=1e-6)
    assert np.allclose(from_file.audio_embedding, in_memory.audio_embedding, atol=1e-5)
    said = from_file.text.split()
    assert [w for w in said if w in words] == words
    assert max(s.end - s.start for s in from_file.segments) <= 3.0 + 1e-6
