"""Common Voice TSVs: columns by name, splits from file names, bad input, round trips, fuzzing."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.formats import commonvoice
from engine.data.utterance import Utterance
from tests.engine.data.test_formats_common import (
    CLIPS,
    WORDS,
    assert_accounted,
    assert_sane,
    encode,
    make_corpus,
    nonblank_lines,
)
from tests.helpers import SAMPLES

HEADER = "\t".join(["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes",
                     "age", "gender", "accents", "variant", "locale", "segment"])  # the v14+ layout


def row(client, path, sentence):
    return f"{client}\t{path}\tabc123\t{sentence}\t\t2\t0\t\t\t\t\ten\t"


def make_cv(folder: Path) -> Path:
    clips = folder / "clips"
    clips.mkdir(parents=True)
    for name in ("yes", "no", "up", "go"):
        shutil.copyfile(SAMPLES / CLIPS[name], clips / f"common_voice_en_{name}.wav")
    (folder / "train.tsv").write_text("\n".join([HEADER, row("c1", "common_voice_en_yes.wav", 'Yes, "really".'),
                                                 row("c2", "common_voice_en_no.wav", "No.")]) + "\n")
    (folder / "test.tsv").write_text("\n".join([HEADER, row("c3", "common_voice_en_up.wav", "Up")]) + "\n")
    (folder / "validated.tsv").write_text("\n".join([  # holds the split rows too, as in real releases
        HEADER, row("c1", "common_voice_en_yes.wav", 'Yes, "really".'), row("c3", "common_voice_en_up.wav", "Up"),
        row("", "common_voice_en_go.wav", "go")]) + "\n")
    return folder


def test_reads_a_file_and_a_language_folder(tmp_path):
    cv = make_cv(tmp_path / "en")
    clips = (cv / "clips").resolve()
    items, rejects = commonvoice.read(cv / "train.tsv")
    assert rejects == []
    assert items == [Utterance(clips / "common_voice_en_yes.wav", 'Yes, "really".', speaker="c1", split="train"),
                     Utterance(clips / "common_voice_en_no.wav", "No.", speaker="c2", split="train")]
    items, rejects = commonvoice.read(cv)
    assert rejects == []
    assert [(it.audio_path.name, it.split, it.speaker) for it in items] == [
        ("common_voice_en_yes.wav", "train", "c1"), ("common_voice_en_no.wav", "train", "c2"),
        ("common_voice_en_up.wav", "test", "c3"), ("common_voice_en_go.wav", None, None)]
    assert commonvoice.read(cv / "validated.tsv")[0][2] == Utterance(clips / "common_voice_en_go.wav", "go")


def test_bad_lines_are_reported(tmp_path):
    cv = make_cv(tmp_path / "en")
    (tmp_path / "outside.wav").write_bytes((SAMPLES / CLIPS["yes"]).read_bytes())
    data = encode([
        HEADER,
        row("c1", "common_voice_en_yes.wav", "ok"),
        row("c1", "common_voice_en_yes.wav", "again"),
        "too\tfew\tfields",
        row("c1", "missing.mp3", "gone"),
        row("c1", "../../outside.wav", "escape"),
        row("c1", "", "no path"),
        row("c1", "common_voice_en_no.wav", "bad \ud800"),
        row("c1", "common_voice_en_go.wav", "ok too") + "\textra",
    ])
    (cv / "dev.tsv").write_bytes(data)
    items, rejects = commonvoice.read(cv / "dev.tsv")
    assert [(it.text, it.split) for it in items] == [("ok", "dev")]
    r = {x.line: x.reason for x in rejects}
    assert "duplicate clip common_voice_en_yes.wav (first in dev.tsv line 2)" in r[3]
    assert "expected 13 tab-separated fields, got 3" == r[4]
    assert "no such audio file" in r[5]
    assert "outside the import folder" in r[6]
    assert r[7] == "empty path"
    assert r[8].startswith("not UTF-8")
    assert "got 14" in r[9]
    assert_accounted(items, rejects, data, "dev.tsv", skip=(1,))


def test_a_file_without_the_header_is_one_reject(tmp_path):
    cv = make_cv(tmp_path / "en")
    (cv / "train.tsv").write_text(row("c1", "common_voice_en_yes.wav", "no header") + "\n")
    items, rejects = commonvoice.read(cv / "train.tsv")
    assert items == [] and len(rejects) == 1 and rejects[0].line == 1 and "header" in rejects[0].reason


def test_round_trip_in_place_and_to_a_new_folder(tmp_path):
    cv = make_cv(tmp_path / "en")
    first, _ = commonvoice.read(cv)
    commonvoice.write(first, cv)
    assert commonvoice.read(cv) == (first, [])
    out = tmp_path / "out"
    written = commonvoice.write(first, out)
    assert sorted(p.name for p in written if p.suffix == ".tsv") == ["test.tsv", "train.tsv", "validated.tsv"]
    second, rejects = commonvoice.read(out)
    assert rejects == []
    assert [(it.audio_path.name, it.text, it.speaker, it.split) for it in second] == [
        (it.audio_path.name, it.text, it.speaker, it.split) for it in first]
    assert all(a.audio_path.read_bytes() == b.audio_path.read_bytes() for a, b in zip(first, second))
    assert commonvoice.read(out) == (second, [])


def test_write_segments_single_file_and_refusals(tmp_path):
    c = make_corpus(tmp_path / "src")
    items = [Utterance(c["long"], "no", 1.0, 2.0, "s"), Utterance(c["yes"], "yes"),
             Utterance(tmp_path / "src" / "yes.wav", "yes twice")]
    commonvoice.write(items, tmp_path / "out" / "mine.tsv")
    got, rejects = commonvoice.read(tmp_path / "out" / "mine.tsv")
    assert rejects == [] and [(it.audio_path.name, it.text) for it in got] == [
        ("long_0001000.wav", "no"), ("yes.wav", "yes"), ("yes-2.wav", "yes twice")]
    with pytest.raises(ValueError, match="cannot hold"):
        commonvoice.write([Utterance(c["yes"], "a\tb")], tmp_path / "x")
    with pytest.raises(ValueError, match="Common Voice has only"):
        commonvoice.write([Utterance(c["yes"], "a", split="valid")], tmp_path / "x")


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return make_cv(tmp_path_factory.mktemp("cv_fuzz") / "en")


FIELD = st.one_of(WORDS, st.sampled_from(["common_voice_en_yes.wav", "common_voice_en_no.wav", "../x.wav",
                                          "/etc/passwd", "", "c1"]))
LINE = st.lists(FIELD, min_size=1, max_size=5).map("\t".join)
HEADERS = st.one_of(st.just("client_id\tpath\tsentence"), st.just("path\tsentence\tclient_id"), LINE)


def header_line(data: bytes) -> int | None:
    """The line a reader takes as the header: the first non-blank line that is UTF-8."""
    raw = data.split(b"\n")
    for n in nonblank_lines(data):
        try:
            raw[n - 1].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return n
    return None


@settings(max_examples=150, deadline=None)
@given(HEADERS, st.lists(st.one_of(LINE, st.tuples(FIELD, FIELD, FIELD).map("\t".join)), max_size=10))
def test_fuzz_random_lines(fuzz_dir, header, lines):
    data = encode([header, *lines])
    (fuzz_dir / "train.tsv").write_bytes(data)
    items, rejects = commonvoice.read(fuzz_dir / "train.tsv")
    first = header_line(data)
    if any(r.line == first and "header" in r.reason for r in rejects):
        assert items == [] and all(r.line <= first for r in rejects)  # the rest of the file is not read
    else:
        assert_accounted(items, rejects, data, "train.tsv", skip=(first,))
    assert_sane(items, fuzz_dir)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(fuzz_dir, data):
    (fuzz_dir / "dev.tsv").write_bytes(data)
    items, rejects = commonvoice.read(fuzz_dir / "dev.tsv")
    assert items == []  # no header with path and sentence
    assert all("unexpected" not in r.reason for r in rejects)
