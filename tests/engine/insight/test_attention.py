"""Attention capture and inspection with the bundled model on real held-out speech."""
import numpy as np
import pytest

from engine.audio.errors import AudioError
from engine.decode.recognizer import SaysoRecognizer
from engine.insight.attention import MAX_INSPECT_S, capture_self_attention, inspect
from engine.workers.recognition import InspectResult, RecognitionFailure, RecognitionWorker
from tests.helpers import bundled_model
from tests.insight_clips import digit_utterance


@pytest.fixture(scope="module")
def rec():
    return SaysoRecognizer.from_checkpoint(bundled_model())


@pytest.fixture(scope="module")
def utterance():
    return digit_utterance((3, 1, 4), 10, (0.3, 0.3, 0.3, 0.3))


def test_inspection_has_both_attentions_and_word_times(rec, utterance):
    audio, text, truth = utterance
    r = inspect(rec, audio, text.upper() + "!")
    cfg = rec.model.cfg
    frames = r.self_attention.shape[-1]
    assert r.transcript == text and not r.recognized
    assert r.cross_attention.shape == (cfg.decoder_layers, cfg.decoder_heads, len(text) + 1, frames)
    assert r.self_attention.shape == (cfg.encoder_layers, cfg.encoder_heads, frames, frames)
    assert abs(frames * r.frame_shift - r.duration) < 0.1
    assert np.allclose(r.cross_attention.sum(-1), 1.0, atol=1e-3)
    assert np.allclose(r.self_attention.astype(np.float32).sum(-1), 1.0, atol=1e-2)
    assert r.attention_tokens == list(text) + ["<eos>"]
    assert [w.word for w in r.words] == [w for w, _, _ in truth]
    for w, (_, start, end) in zip(r.words, truth):
        assert abs(w.start - start) < 0.06 and abs(w.end - end) < 0.06


def test_encoder_speech_frames_attend_to_speech_more_than_chance(rec):
    """A real property of the bundled model: its self-attention is drawn to the speech, not the pauses.

    (Its decoder cross-attention is much more diffuse: on these clips the mass it
    puts on speech frames is near their share of the frames, which the view shows.)
    """
    audio, text, truth = digit_utterance((3,), 10, (0.5, 0.5))
    r = inspect(rec, audio, text)
    n = r.self_attention.shape[-1]
    centres = (np.arange(n) + 0.5) * r.frame_shift
    speech = (centres >= truth[0][1]) & (centres <= truth[0][2])
    att = r.self_attention.astype(np.float32).mean(axis=(0, 1))
    assert att[speech][:, speech].sum(1).mean() > speech.mean() + 0.1


def test_capture_hooks_are_gone_afterwards_and_results_are_deterministic(rec, utterance):
    audio, text, _ = utterance
    a, b = inspect(rec, audio, text), inspect(rec, audio, text)
    assert np.array_equal(a.cross_attention, b.cross_attention)
    assert np.array_equal(a.self_attention, b.self_attention)
    assert [(t.start, t.end) for t in a.tokens] == [(t.start, t.end) for t in b.tokens]
    for layer in rec.model.encoder.conformer.conformer_layers:
        assert not layer.self_attn._forward_hooks and not layer.self_attn._forward_pre_hooks
    with capture_self_attention(rec.model) as maps:
        pass
    assert maps == []


def test_without_transcript_the_models_own_text_is_aligned(rec, utterance):
    r = inspect(rec, utterance[0], "")
    assert r.recognized and r.transcript == rec.transcribe(utterance[0]).text


def test_clear_errors_for_audio_too_long_and_transcripts_too_long(rec, utterance):
    with pytest.raises(AudioError, match="up to 30 s"):
        inspect(rec, np.zeros(int((MAX_INSPECT_S + 1) * 16000), np.float32) + 0.01, "one")
    with pytest.raises(AudioError, match="too long"):
        inspect(rec, utterance[0][:4000], "one two three four five six seven eight nine")


def test_the_worker_answers_inspect_requests(utterance):
    audio, text, _ = utterance
    with RecognitionWorker(bundled_model(), threads=1) as worker:
        answer = worker.wait(worker.submit_inspection(audio, text), timeout=120)
        assert isinstance(answer, InspectResult)
        assert answer.inspection.transcript == text
        bad = worker.wait(worker.submit_inspection(np.zeros(100, np.float32), text), timeout=60)
        assert isinstance(bad, RecognitionFailure) and bad.kind == "audio"
