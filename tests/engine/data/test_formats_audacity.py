"""Audacity label files: regions, point labels, spectral lines, bad input, round trips on real audio, fuzzing."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.formats import audacity
from engine.data.utterance import Utterance
from tests.engine.data.test_formats_common import (
    NUMBERS,
    WORDS,
    assert_accounted,
    assert_no_crash,
    assert_sane,
    encode,
    make_corpus,
)


def test_reads_regions_and_skips_spectral_lines(tmp_path):
    c = make_corpus(tmp_path)
    (tmp_path / "long.txt").write_text(
        "0.000000\t1.000000\tyes\n"
        "\\\t200.000000\t2000.000000\n"
        "1.000000\t2.000000\tno\tstill the label\n"
        "2.500000\t3.250000\t\n"
        "3.250000\t4.000000\n")
    items, rejects = audacity.read(tmp_path / "long.txt")
    assert rejects == []
    assert items == [Utterance(c["long"], "yes", 0.0, 1.0), Utterance(c["long"], "no\tstill the label", 1.0, 2.0),
                     Utterance(c["long"], "", 2.5, 3.25), Utterance(c["long"], "", 3.25, 4.0)]
    (tmp_path / "yes.txt").write_text("0.000000\t1.000000\tyes\n")
    assert audacity.read(tmp_path / "yes.txt")[0] == [Utterance(c["yes"], "yes")]  # the whole file


def test_bad_lines_are_reported(tmp_path):
    c = make_corpus(tmp_path)
    data = encode([
        "0.5\t1.5\tok",
        "1.0\t2.0\toverlap",
        "2.0\t2.0\tpoint",
        "2.5\tlegacy point label",
        "3.0\t1.0\tbackwards",
        "-1\t0.2\tnegative",
        "3.5\t4.5\ttoo long",
        "x\t1\tnot a number",
        "2\tnan\tnan",
        "just text",
        "\\\tlow\thigh",
        "2.0\t3.0\tbad \ud800",
        "3.0\t3.5\tnul\x00",
    ])
    (tmp_path / "long.txt").write_bytes(data)
    items, rejects = audacity.read(tmp_path / "long.txt")
    assert items == [Utterance(c["long"], "ok", 0.5, 1.5)]
    r = {x.line: x.reason for x in rejects}
    assert "overlaps line 1" in r[2]
    assert "a point label at 2.0 s" in r[3]
    assert "Audacity 1.2" in r[4]
    assert "not after the start" in r[5]
    assert "negative start" in r[6]
    assert "after the end of the audio" in r[7]
    assert "start: 'x' is not a number" in r[8]
    assert "end: 'nan' is not a finite number" in r[9]
    assert "expected 'start<TAB>end<TAB>label'" in r[10]
    assert "spectral-selection" in r[11]
    assert r[12].startswith("not UTF-8")
    assert "NUL" in r[13]
    assert_accounted(items, rejects, data, "long.txt")


def test_folder_missing_audio_and_explicit_audio(tmp_path):
    c = make_corpus(tmp_path)
    (tmp_path / "yes.txt").write_text("0.1\t0.9\tyes\n")
    (tmp_path / "Labels.txt").write_text("0.1\t0.3\tseven\n")
    items, rejects = audacity.read(tmp_path)
    assert items == [Utterance(c["yes"], "yes", 0.1, 0.9)]
    assert [(x.source, x.line) for x in rejects] == [("Labels.txt", None)]
    assert "no audio file beside it (Labels.wav" in rejects[0].reason
    assert audacity.read(tmp_path / "Labels.txt", audio="seven.wav") == (
        [Utterance(c["seven"], "seven", 0.1, 0.3)], [])
    items, rejects = audacity.read(tmp_path / "Labels.txt", audio="../../x.wav")
    assert items == [] and "outside the import folder" in rejects[0].reason


def test_round_trip_beside_the_audio_is_lossless(tmp_path):
    make_corpus(tmp_path)
    (tmp_path / "long.txt").write_text("0.123456\t1.000000\tyes\n1.000000\t2.500001\tno up\n3.000000\t4.000000\tgo\n")
    (tmp_path / "yes.txt").write_text("0.000000\t1.000000\tyes\n")
    first, rejects = audacity.read(tmp_path)
    assert rejects == [] and len(first) == 4
    assert sorted(p.name for p in audacity.write(first, tmp_path)) == ["long.txt", "yes.txt"]
    assert (tmp_path / "long.txt").read_text().splitlines()[0] == "0.123456\t1.000000\tyes"
    assert audacity.read(tmp_path) == (first, [])


def test_round_trip_to_a_new_folder_copies_the_audio(tmp_path):
    c = make_corpus(tmp_path / "src")
    first = [Utterance(c["long"], "b", 2.0, 3.0), Utterance(c["long"], "a", 0.5, 1.5), Utterance(c["yes"], "yes")]
    out = tmp_path / "out"
    audacity.write(first, out, copy_audio=True)
    second, rejects = audacity.read(out)
    assert rejects == []
    assert second == [replace(first[1], audio_path=(out / "long.wav").resolve()),
                      replace(first[0], audio_path=(out / "long.wav").resolve()),
                      replace(first[2], audio_path=(out / "yes.wav").resolve())]
    audacity.write(second, out)
    assert audacity.read(out) == (second, [])


def test_write_refusals(tmp_path):
    c = make_corpus(tmp_path)
    with pytest.raises(ValueError, match="cannot hold"):
        audacity.write([Utterance(c["yes"], "a\nb", 0, 0.5)], tmp_path / "o")
    with pytest.raises(ValueError, match="bad span"):
        audacity.write([Utterance(c["yes"], "a", 0.5, 0.2)], tmp_path / "o")


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("aud_fuzz")
    make_corpus(folder)
    return folder


TIMES = st.one_of(NUMBERS, st.floats(0, 4.5).map(lambda x: f"{x:.6f}"))
LINES = st.one_of(
    st.tuples(TIMES, TIMES, WORDS).map("\t".join),
    st.tuples(TIMES, TIMES).map("\t".join),
    st.tuples(TIMES, WORDS).map("\t".join),
    st.tuples(st.just("\\"), TIMES, TIMES).map("\t".join),
    WORDS,
)


def spectral_lines(data: bytes) -> tuple[int, ...]:
    """Lines a reader skips silently: well-formed ``\\<TAB>low<TAB>high`` spectral selections."""
    out = []
    for n, raw in enumerate(data.split(b"\n"), 1):
        parts = raw.rstrip(b"\r").split(b"\t", 2)
        if len(parts) == 3 and parts[0] == b"\\":
            try:
                ok = all(abs(float(p)) < float("inf") for p in parts[1:])
            except (ValueError, UnicodeDecodeError):
                ok = False
            out += [n] if ok else []
    return tuple(out)


@settings(max_examples=200, deadline=None)
@given(st.lists(LINES, max_size=10), st.sampled_from(["long", "yes", "seven"]))
def test_fuzz_random_lines(fuzz_dir, lines, stem):
    data = encode(lines)
    (fuzz_dir / f"{stem}.txt").write_bytes(data)
    items, rejects = audacity.read(fuzz_dir / f"{stem}.txt")
    assert_accounted(items, rejects, data, f"{stem}.txt", skip=spectral_lines(data))
    assert_sane(items, fuzz_dir)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(fuzz_dir, data):
    (fuzz_dir / "up.txt").write_bytes(data)
    items, rejects = audacity.read(fuzz_dir / "up.txt")
    assert_no_crash(items, rejects)
    assert_accounted(items, rejects, data, "up.txt", skip=spectral_lines(data))
