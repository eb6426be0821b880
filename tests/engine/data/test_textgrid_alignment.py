"""Forced-alignment tiers as a Praat TextGrid, read back by praatio and by our own importer."""
from __future__ import annotations

import pytest
from praatio import textgrid

from engine.audio.io import write_audio
from engine.data.formats import textgrid as tg_format
from engine.decode.recognizer import SaysoRecognizer
from engine.insight.attention import inspect
from tests.helpers import bundled_model
from tests.insight_clips import digit_utterance


@pytest.fixture(scope="module")
def inspection():
    audio, text, truth = digit_utterance((6, 2), 12, (0.4, 0.3, 0.3))
    return audio, inspect(SaysoRecognizer.from_checkpoint(bundled_model()), audio, text), truth


def test_word_and_character_tiers_round_trip(tmp_path, inspection):
    audio, r, truth = inspection
    path = tg_format.write_alignment(tmp_path / "clip.TextGrid", r.duration, r.words, r.tokens)
    tg = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    words = tg.getTier("words").entries
    assert [e.label for e in words] == ["six", "two"]
    for e, w in zip(words, r.words):
        assert abs(e.start - w.start) < 1e-5 and abs(e.end - w.end) < 1e-5
    chars = tg.getTier("characters").entries
    assert "".join(e.label for e in chars) == "sixtwo"
    assert all(words[0].start - 1e-6 <= c.start and c.end <= words[0].end + 1e-6 for c in chars[:3])
    # our importer reads the word tier as utterances beside the audio
    write_audio(tmp_path / "clip.wav", audio)
    items, rejects = tg_format.read(path, tier="words")
    assert not rejects and [i.text for i in items] == ["six", "two"]


def test_offset_puts_recording_times_on_the_clip_and_overlaps_are_refused(tmp_path, inspection):
    _, r, _ = inspection
    shifted = [type(w)(w.word, w.start + 10.0, w.end + 10.0, w.confidence) for w in r.words]
    text = tg_format.alignment_text(r.duration, shifted, offset=10.0)
    assert text == tg_format.alignment_text(r.duration, r.words)
    bad = [type(w)(w.word, 0.2, 0.6, 1.0) for w in r.words]
    with pytest.raises(ValueError, match="overlaps"):
        tg_format.alignment_text(r.duration, bad)
