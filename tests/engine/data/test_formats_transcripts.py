"""Transcript export (SRT/VTT/TXT) goes through engine.text.captions and parses back with srt / webvtt-py."""
from __future__ import annotations

from datetime import timedelta

import pytest
import srt
import webvtt

from engine.data.formats import transcripts
from engine.data.utterance import Utterance
from tests.engine.data.test_formats_common import make_corpus


def test_one_file_per_audio_in_time_order(tmp_path):
    c = make_corpus(tmp_path / "src")
    items = [Utterance(c["long"], "up go", 2.0, 4.0), Utterance(c["long"], "yes", 0.0, 1.0),
             Utterance(c["long"], "no", 1.0, 2.0), Utterance(c["seven"], "seven")]
    written = transcripts.write(items, tmp_path / "out", "srt")
    assert [p.name for p in written] == ["long.srt", "seven.srt"]
    subs = list(srt.parse(written[0].read_text()))
    assert [(s.start, s.end, s.content) for s in subs] == [
        (timedelta(0), timedelta(seconds=1), "yes"), (timedelta(seconds=1), timedelta(seconds=2), "no"),
        (timedelta(seconds=2), timedelta(seconds=4), "up go")]
    whole = list(srt.parse(written[1].read_text()))  # a whole file: 0 to its duration
    assert whole[0].end == timedelta(seconds=0.372375) or whole[0].end == timedelta(milliseconds=372)
    vtt = transcripts.write(items[:3], tmp_path / "long.vtt")
    assert [(cap.start, cap.end, cap.text) for cap in webvtt.read(str(vtt[0]))] == [
        ("00:00:00.000", "00:00:01.000", "yes"), ("00:00:01.000", "00:00:02.000", "no"),
        ("00:00:02.000", "00:00:04.000", "up go")]
    txt = transcripts.write(items[:3], tmp_path / "t", "txt")
    assert txt[0].read_text() == "[00:00.0] yes\n[00:01.0] no\n[00:02.0] up go\n"


def test_refusals(tmp_path):
    c = make_corpus(tmp_path)
    with pytest.raises(ValueError, match="Unknown transcript format"):
        transcripts.write([Utterance(c["yes"], "x")], tmp_path / "a.doc")
    with pytest.raises(ValueError, match="2 audio files"):
        transcripts.write([Utterance(c["yes"], "x"), Utterance(c["no"], "y")], tmp_path / "a.srt")
    with pytest.raises(ValueError, match="bad span"):
        transcripts.write([Utterance(c["yes"], "x", 0.5, 0.1)], tmp_path / "a.srt")
    assert not (tmp_path / "a.srt").exists()
