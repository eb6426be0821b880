"""Insight for Whisper (engine/insight/whisper_attention.py): real whisper-tiny.en on real held-out FSDD digits."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from engine.checkpoint_layout import CheckpointError
from engine.insight import whisper_attention
from engine.insight.attention import Inspection, word_rows
from engine.insight.whisper_attention import WhisperInsightError, WhisperLens, whisper_text, word_timings
from engine.whisper.recognizer import WhisperRecognizer
from engine.workers.recognition import InspectRequest, _answer
from tests.helpers import SHARED_DATA
from tests.insight_clips import digit_utterance

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (SHARED_DATA / "fsdd").is_dir(), reason="../shared/data/fsdd is not present")]


@pytest.fixture(scope="module")
def recognizer(tiny_folder: Path) -> WhisperRecognizer:
    return WhisperRecognizer.from_checkpoint(tiny_folder, threads=2)


@pytest.fixture(scope="module")
def lens(recognizer) -> WhisperLens:
    return whisper_attention.lens_for(recognizer)


def test_whisper_text_is_written_as_whisper_writes_an_utterance() -> None:
    assert whisper_text("three one four") == " Three one four."
    assert whisper_text("Three, one, four.") == " Three, one, four."
    assert whisper_text("  ") == ""


def test_inspecting_a_take_gives_cross_and_self_attention_and_word_times(recognizer) -> None:
    """Through the worker's dispatch, as the Insight page asks: the maps cropped to the audio, the alignment
    heads named, and each word on the speech where nicolas said it (within 60 ms)."""
    audio, text, truth = digit_utterance((3, 1, 4), 10, (0.3, 0.3, 0.3, 0.3))
    r = _answer(recognizer, InspectRequest(1, audio, text), {}).inspection
    assert isinstance(r, Inspection) and r.model == "whisper-tiny.en" and not r.recognized
    frames = math.ceil(len(audio) / 16000 / 0.02)
    assert r.frame_shift == 0.02 and r.transcript == "three one four"
    assert r.attention_tokens == [" Three", " one", " four", ".", "<eos>"]
    assert r.cross_attention.shape == (4, 6, 5, frames)  # tiny.en: 4 decoder layers × 6 heads, tokens + eos
    assert r.self_attention.shape == (4, 6, frames, frames)  # encoder: 4 layers × 6 heads
    assert (r.cross_attention >= 0).all() and (r.cross_attention.sum(-1) <= 1 + 1e-4).all()
    assert r.alignment_heads == ((1, 0), (2, 0), (2, 5), (3, 0), (3, 1), (3, 2), (3, 3), (3, 4))
    assert [w.word for w in r.words] == ["three", "one", "four"]
    for w, (_, start, end) in zip(r.words, truth):
        assert abs(w.start - start) < 0.06 and abs(w.end - end) < 0.06, (w, start, end)
    assert [t.token for t in r.tokens] == [" Three", " one", " four", "."]
    # the page's rows by word: Whisper's pieces grouped at their leading spaces, punctuation kept with its word
    rows, labels, _ = word_rows(r.cross_attention[0, 0], r.attention_tokens)
    assert labels == ["Three", "one", "four.", "<eos>"] and rows.shape == (4, frames)


def test_alignment_head_attention_moves_forward_with_the_tokens(lens) -> None:
    """Five digits with pauses: where each word's token attends most (median over the alignment heads)
    moves forward in time word by word: on or just after its own word (Whisper's heads may look into
    the pause that follows), before the next word starts."""
    audio, text, truth = digit_utterance((7, 2, 9, 5, 0), 3, (0.4, 0.5, 0.5, 0.5, 0.5, 0.4))
    ids = lens.model.encode_text(whisper_text(text))
    ca = lens.model.cross_attention(audio, ids)
    assert [p.strip(" .").lower() for p in ca.pieces[:5]] == ["seven", "two", "nine", "five", "zero"]
    peaks = ca.peaks()[:5]
    assert np.all(np.diff(peaks) > 0.2), peaks
    nexts = [t[1] for t in truth[1:]] + [len(audio) / 16000]
    for peak, (_, start, end), following in zip(peaks, truth, nexts):
        assert start - 0.1 <= peak < following, (peak, start, end)


def test_two_words_fall_within_60_ms_on_speech_and_whispers_own_times_run_through_the_pause(lens) -> None:
    audio, text, truth = digit_utterance((6, 8), 20, (0.5, 0.8, 0.5))
    duration = len(audio) / 16000
    ids = lens.model.encode_text(whisper_text(text))
    look = lens.model.look(audio, ids + [lens.tokenizer.eot])
    _, on_speech = word_timings(look.cross.alignment(), ids, look.probs, lens.tokenizer, duration, 0.02, audio)
    _, own = word_timings(look.cross.alignment(), ids, look.probs, lens.tokenizer, duration, 0.02)
    assert [w.word for w in on_speech] == [w.word for w in own] == ["six", "eight"]
    for w, (_, start, end) in zip(on_speech, truth):
        assert abs(w.start - start) < 0.06 and abs(w.end - end) < 0.06, (w, start, end)
    # Whisper's own (the warping path): the words tile the sequence, the second starting in the pause
    assert own[0].start == 0.0 and own[0].end == own[1].start
    assert truth[0][2] - 0.1 <= own[1].start <= truth[1][1] + 0.1
    assert all(0 < w.confidence <= 1 for w in on_speech)


def test_without_a_transcript_whispers_own_transcription_is_shown(recognizer) -> None:
    # tiny.en hears nicolas's "five three" (take 3) as "bye peace", at temperature 0. Not take 7: its
    # "bye see" is below Whisper's log-probability threshold, so faster-whisper falls back to sampling at
    # temperature 0.2 and two transcriptions of it can differ ("bye please" in one CI run)
    audio, _, truth = digit_utterance((5, 3), 3, (0.3, 0.5, 0.3))
    heard = recognizer.transcribe(audio).text
    assert heard == "bye peace"
    r = whisper_attention.inspect(recognizer, audio, None)
    assert r.recognized and r.attention_tokens[-1] == "<eos>" and heard
    assert r.transcript == heard and [w.word for w in r.words] == heard.split()
    assert all(a.end <= b.start + 1e-9 for a, b in zip(r.words, r.words[1:]))


def test_too_long_audio_is_refused_in_one_line(recognizer) -> None:
    from engine.audio.errors import AudioError

    with pytest.raises(AudioError, match="up to 30 s"):
        whisper_attention.inspect(recognizer, np.zeros(31 * 16000, np.float32), "one")


def test_without_transformers_the_worker_answers_one_line(recognizer, monkeypatch) -> None:
    """torch or transformers missing: a CheckpointError of one line naming the extra (the worker sends it as a
    "checkpoint" failure, which the page shows), never a traceback."""
    monkeypatch.setattr(whisper_attention, "_LENSES", {})
    monkeypatch.setattr(whisper_attention, "torch_missing", lambda: (
        "Whisper's attention maps need transformers, which is not installed; "
        "pip install 'sayso[whisper-torch]' adds it."))
    audio, text, _ = digit_utterance((1,), 0, (0.2, 0.2))
    with pytest.raises(WhisperInsightError) as caught:
        _answer(recognizer, InspectRequest(2, audio, text), {})
    assert isinstance(caught.value, CheckpointError)
    assert "\n" not in str(caught.value) and "sayso[whisper-torch]" in str(caught.value)
