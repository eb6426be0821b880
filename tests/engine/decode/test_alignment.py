"""CTC forced alignment on real speech of the held-out FSDD speaker: word boundaries near the true ones."""
import numpy as np
import pytest
import torch

from engine.decode.alignment import align, align_tokens, words_from_tokens
from engine.decode.boundaries import speech_runs
from engine.decode.recognizer import SaysoRecognizer
from engine.model.audio_encoder import ENCODER_FRAME_S
from tests.helpers import bundled_model
from tests.insight_clips import digit_utterance

TOLERANCE_S = 0.06
"""Largest word-boundary error allowed (1.5 encoder frames)."""

CASES = [  # digits, FSDD take, pauses (s) before each word and after the last, noise level
    ((3, 1, 4, 1, 5), 10, (0.3, 0.4, 0.25, 0.5, 0.35, 0.3), None),
    ((9, 2, 6, 5), 21, (0.6, 0.2, 0.3, 0.15, 0.4), -45.0),
    ((8, 0, 7), 33, (0.45, 0.3, 0.5, 0.2), -40.0),
]


@pytest.fixture(scope="module")
def rec():
    torch.manual_seed(0)
    return SaysoRecognizer.from_checkpoint(bundled_model())


def _ctc(rec, audio):
    with torch.inference_mode():
        feats, lengths = rec.frontend(torch.from_numpy(audio))
        enc = rec.model.encode(feats, lengths)
    return enc.ctc_log_probs[0, : int(enc.lengths[0])]


def _errors(words, truth):
    assert [w.word for w in words] == [t[0] for t in truth]
    return np.array([[abs(w.start - s), abs(w.end - e)] for w, (_, s, e) in zip(words, truth)])


def test_word_boundaries_are_within_tolerance_of_the_true_ones(rec):
    errors = []
    for digits, take, gaps, noise in CASES:
        audio, text, truth = digit_utterance(digits, take, gaps, noise)
        tokens = align(_ctc(rec, audio), rec.tokenizer.encode(text), rec.tokenizer, audio, ENCODER_FRAME_S)
        errors.append(_errors(words_from_tokens(tokens), truth))
        chars = [t for t in tokens if t.token != " "]
        assert all(a.end <= b.start + 1e-9 for a, b in zip(chars, chars[1:]))  # in order, no overlap
        assert "".join(t.token for t in tokens) == text
    errors = np.concatenate(errors)
    print(f"word boundary error: mean {errors.mean() * 1000:.0f} ms, max {errors.max() * 1000:.0f} ms")
    assert errors.max() < TOLERANCE_S
    assert errors.mean() < TOLERANCE_S / 2


def test_raw_ctc_spikes_put_the_first_word_at_the_start(rec):
    """The defect the refinement fixes: the model fires the first characters at frame 0, in the silence."""
    audio, text, truth = digit_utterance((3, 1, 4), 10, (0.5, 0.4, 0.4, 0.3))
    raw = words_from_tokens(align_tokens(_ctc(rec, audio), rec.tokenizer.encode(text), rec.tokenizer, ENCODER_FRAME_S))
    assert raw[0].start < 0.1 < truth[0][1] - 0.3
    fixed = words_from_tokens(align(_ctc(rec, audio), rec.tokenizer.encode(text), rec.tokenizer, audio, ENCODER_FRAME_S))
    assert abs(fixed[0].start - truth[0][1]) < TOLERANCE_S


def test_offset_shifts_every_time_and_results_are_deterministic(rec):
    audio, text, _ = digit_utterance((2, 7), 5, (0.3, 0.3, 0.3))
    lp, ids = _ctc(rec, audio), rec.tokenizer.encode(text)
    a = align(lp, ids, rec.tokenizer, audio, ENCODER_FRAME_S)
    b = align(_ctc(rec, audio), ids, rec.tokenizer, audio, ENCODER_FRAME_S, offset=12.5)
    assert [(t.token, round(t.start + 12.5, 6), round(t.end + 12.5, 6)) for t in a] == \
           [(t.token, round(t.start, 6), round(t.end, 6)) for t in b]


def test_silence_has_no_speech_runs_and_a_too_long_transcript_gives_nothing(rec):
    assert speech_runs(np.zeros(16000, np.float32)) == []
    audio, _, _ = digit_utterance((1,), 3, (0.05, 0.05))
    too_long = rec.tokenizer.encode("one " * 40)
    assert align(_ctc(rec, audio), too_long, rec.tokenizer, audio, ENCODER_FRAME_S) == []
