"""TXT/SRT/VTT export round-trips through the srt and webvtt-py parsers."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
import srt
import webvtt

from engine.text.captions import Caption, to_srt, to_txt, to_vtt, write_captions

CAPS = [Caption(0.5, 1.25, "yes"), Caption(61.2, 63.0, "go left"), Caption(3600.001, 3601.5, "stop")]


def test_srt_round_trip():
    subs = list(srt.parse(to_srt(CAPS)))
    assert [s.content for s in subs] == [c.text for c in CAPS]
    assert [s.start for s in subs] == [timedelta(seconds=c.start) for c in CAPS]
    assert [s.index for s in subs] == [1, 2, 3]


def test_vtt_round_trip():
    caps = list(webvtt.from_buffer(io.StringIO(to_vtt(CAPS))))
    assert [(c.start, c.end, c.text) for c in caps] == [
        ("00:00:00.500", "00:00:01.250", "yes"), ("00:01:01.200", "00:01:03.000", "go left"),
        ("01:00:00.001", "01:00:01.500", "stop")]


def test_txt_has_timestamps():
    assert to_txt(CAPS).splitlines()[1] == "[01:01.2] go left"
    assert to_txt(CAPS, timestamps=False) == "yes\ngo left\nstop\n"


@pytest.mark.parametrize("suffix", ["srt", "vtt", "txt"])
def test_write_by_suffix(tmp_path, suffix):
    path = write_captions(tmp_path / f"t.{suffix}", CAPS)
    assert "go left" in path.read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_unknown_format_and_unwritable_path(tmp_path):
    with pytest.raises(ValueError, match="Unknown transcript format"):
        write_captions(tmp_path / "t.doc", CAPS)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        write_captions(tmp_path / "file" / "t.srt", CAPS)  # a file where a folder should be
