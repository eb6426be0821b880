"""LJSpeech metadata.csv: reading, bad input, lossless round trips on real clips, fuzzing."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.data.formats import ljspeech
from engine.data.utterance import Utterance
from tests.engine.data.test_formats_common import (
    CLIPS,
    WORDS,
    assert_accounted,
    assert_sane,
    encode,
    make_corpus,
)
from tests.helpers import SAMPLES


def make_lj(folder: Path) -> Path:
    wavs = folder / "wavs"
    wavs.mkdir(parents=True)
    for name in ("yes", "no", "up", "seven"):
        shutil.copyfile(SAMPLES / CLIPS[name], wavs / f"LJ001-{name}.wav")
    (folder / "metadata.csv").write_text(
        'LJ001-yes|Yes, "he" said.|yes, "he" said.\n'
        "LJ001-no|No 2|no two\n"
        "LJ001-up|Up||\n"  # four fields: rejected
        "LJ001-seven|Seven|\n", encoding="utf-8")
    return folder


def test_reads_ids_texts_and_audio(tmp_path):
    lj = make_lj(tmp_path / "lj")
    items, rejects = ljspeech.read(lj)
    wavs = (lj / "wavs").resolve()
    assert items == [
        Utterance(wavs / "LJ001-yes.wav", 'yes, "he" said.'),
        Utterance(wavs / "LJ001-no.wav", "no two"),
        Utterance(wavs / "LJ001-seven.wav", "Seven"),  # empty normalized text: the transcription
    ]
    assert [(r.line, r.reason) for r in rejects] == [
        (3, "expected 'id|transcription|normalized transcription', got 4 '|'-separated fields")]
    assert ljspeech.read(lj / "metadata.csv") == (items, rejects)


def test_bad_lines_are_reported_with_reasons(tmp_path):
    lj = make_lj(tmp_path / "lj")
    outside = make_corpus(tmp_path / "outside")
    (lj / "wavs" / "escape.wav").symlink_to(outside["yes"])
    (lj / "wavs" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    data = encode([
        "LJ001-yes|ok|ok",
        "LJ001-missing|gone|gone",
        "LJ001-yes|again|again",
        "no pipes here",
        "a|b|c|d",
        "../../outside/yes|x|x",
        "escape|x|x",
        "broken|x|x",
        "|empty id|",
        "LJ001-no|bad \ud800 utf8|x",
        "LJ001-up|nul\x00|nul\x00",
        "",
    ])
    (lj / "metadata.csv").write_bytes(data)
    items, rejects = ljspeech.read(lj)
    assert [it.text for it in items] == ["ok"]
    reasons = {r.line: r.reason for r in rejects}
    assert "no such audio file" in reasons[2]
    assert "duplicate id LJ001-yes (first on line 1)" == reasons[3]
    assert "got 1" in reasons[4] and "got 4" in reasons[5]
    assert "outside the import folder" in reasons[6]
    assert "is a symlink to" in reasons[7]
    assert "not a readable audio file" in reasons[8]
    assert reasons[9] == "empty id"
    assert reasons[10].startswith("not UTF-8 text")
    assert "NUL" in reasons[11]
    assert_accounted(items, rejects, data, "metadata.csv")


def test_sample_rate_mismatch(tmp_path):
    lj = make_lj(tmp_path / "lj")
    items, rejects = ljspeech.read(lj, sample_rate=16000)
    assert len(items) == 2
    assert [r.line for r in rejects] == [3, 4] and "sample rate 8000 Hz, expected 16000 Hz" in rejects[1].reason


def test_round_trip_in_place_is_lossless(tmp_path):
    lj = make_lj(tmp_path / "lj")
    first, _ = ljspeech.read(lj)
    ljspeech.write(first, lj)
    again, rejects = ljspeech.read(lj)
    assert again == first and rejects == []
    assert sorted(p.name for p in (lj / "wavs").iterdir()) == ["LJ001-no.wav", "LJ001-seven.wav",
                                                               "LJ001-up.wav", "LJ001-yes.wav"]


def test_round_trip_to_a_new_folder_copies_converts_and_cuts(tmp_path):
    corpus = make_corpus(tmp_path / "src")
    lj = make_lj(tmp_path / "lj")
    first, _ = ljspeech.read(lj)
    out = tmp_path / "out"
    written = ljspeech.write(first, out)
    assert written[0] == out / "metadata.csv"
    second, rejects = ljspeech.read(out)
    assert rejects == []
    assert [(it.audio_path.name, it.text) for it in second] == [(it.audio_path.name, it.text) for it in first]
    for a, b in zip(first, second):
        assert a.audio_path.read_bytes() == b.audio_path.read_bytes()  # whole WAVs are copied byte for byte
    assert ljspeech.read(out)[0] == second
    # Segments and FLAC become WAV clips of the right length, at the source rate.
    items = [Utterance(corpus["long"], "no", 1.0, 2.0), Utterance(corpus["long_flac"], "all")]
    ljspeech.write(items, tmp_path / "cut")
    cut, rejects = ljspeech.read(tmp_path / "cut")
    assert rejects == [] and [it.text for it in cut] == ["no", "all"]
    assert [sf.info(str(it.audio_path)).frames for it in cut] == [16000, 64000]
    assert all(it.audio_path.suffix == ".wav" and sf.info(str(it.audio_path)).format == "WAV" for it in cut)


def test_write_refuses_what_ljspeech_cannot_hold(tmp_path):
    corpus = make_corpus(tmp_path)
    for text in ("a|b", "two\nlines"):
        with pytest.raises(ValueError, match="cannot hold"):
            ljspeech.write([Utterance(corpus["yes"], text)], tmp_path / "out")
    with pytest.raises(ValueError, match="bad span"):
        ljspeech.write([Utterance(corpus["long"], "x", 2.0, 1.0)], tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return make_lj(tmp_path_factory.mktemp("lj_fuzz") / "lj")


FIELD = st.one_of(WORDS, st.sampled_from(["LJ001-yes", "LJ001-no", "LJ001-up", "LJ001-seven", "../wavs/LJ001-no",
                                          "/etc/passwd", "", " "]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(FIELD, min_size=1, max_size=5).map("|".join), max_size=12),
       st.sampled_from(["\n", "\r\n"]))
def test_fuzz_random_lines(fuzz_dir, lines, newline):
    data = encode(lines, newline)
    (fuzz_dir / "metadata.csv").write_bytes(data)
    items, rejects = ljspeech.read(fuzz_dir)
    assert_accounted(items, rejects, data, "metadata.csv")
    assert_sane(items, fuzz_dir)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(fuzz_dir, data):
    (fuzz_dir / "metadata.csv").write_bytes(data)
    items, rejects = ljspeech.read(fuzz_dir)
    assert_accounted(items, rejects, data, "metadata.csv")
