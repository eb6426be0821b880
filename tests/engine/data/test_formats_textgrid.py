"""Praat TextGrids via praatio: tiers, pauses, encodings, bad intervals, round trips on real audio, fuzzing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.formats import textgrid
from engine.data.formats._common import clean_text
from engine.data.utterance import Utterance
from tests.engine.data.test_formats_common import assert_no_crash, assert_sane, make_corpus


def q(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def long_textgrid(tiers, xmax: float = 4.0) -> str:
    """Praat's long text form; ``tiers`` = [(class, name, [(xmin, xmax, text) or (time, mark)])]."""
    out = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0 ", f"xmax = {xmax} ",
           "tiers? <exists> ", f"size = {len(tiers)} ", "item []: "]
    for i, (cls, name, entries) in enumerate(tiers, 1):
        out += [f"    item [{i}]:", f"        class = {q(cls)} ", f"        name = {q(name)} ",
                "        xmin = 0 ", f"        xmax = {xmax} "]
        if cls == "IntervalTier":
            out.append(f"        intervals: size = {len(entries)} ")
            for k, (a, b, text) in enumerate(entries, 1):
                out += [f"        intervals [{k}]:", f"            xmin = {a} ", f"            xmax = {b} ",
                        f"            text = {q(text)} "]
        else:
            out.append(f"        points: size = {len(entries)} ")
            for k, (t, mark) in enumerate(entries, 1):
                out += [f"        points [{k}]:", f"            number = {t} ", f"            mark = {q(mark)} "]
    return "\n".join(out) + "\n"


def short_textgrid(name, entries, xmax=4.0) -> str:
    out = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "0", str(xmax), "<exists>", "1",
           '"IntervalTier"', q(name), "0", str(xmax), str(len(entries))]
    for a, b, text in entries:
        out += [str(a), str(b), q(text)]
    return "\n".join(out) + "\n"


UTTERANCES = [(0, 0.2, ""), (0.2, 1.0, "yes"), (1.0, 1.1, "  "), (1.1, 2.0, 'no "quoted"'), (2.0, 4.0, "up\ngo")]


def test_reads_the_first_interval_tier_skipping_pauses(tmp_path):
    c = make_corpus(tmp_path)
    (tmp_path / "long.TextGrid").write_text(long_textgrid([
        ("TextTier", "events", [(0.5, "click")]),
        ("IntervalTier", "utterances", UTTERANCES),
        ("IntervalTier", "words", [(0, 1, "yes")])]))
    items, rejects = textgrid.read(tmp_path / "long.TextGrid")
    assert rejects == []
    assert items == [Utterance(c["long"], "yes", 0.2, 1.0), Utterance(c["long"], 'no "quoted"', 1.1, 2.0),
                     Utterance(c["long"], "up go", 2.0, 4.0)]
    words, _ = textgrid.read(tmp_path / "long.TextGrid", tier="words")
    assert words == [Utterance(c["long"], "yes", 0.0, 1.0)]
    items, rejects = textgrid.read(tmp_path / "long.TextGrid", tier="nope")
    assert items == [] and "no interval tier named 'nope'" in rejects[0].reason


def test_short_form_utf16_and_whole_file(tmp_path):
    c = make_corpus(tmp_path)
    (tmp_path / "yes.TextGrid").write_text(short_textgrid("u", [(0, 1, "yés")], xmax=1), encoding="utf-16")
    assert textgrid.read(tmp_path / "yes.TextGrid") == ([Utterance(c["yes"], "yés")], [])


def test_bad_files_and_intervals(tmp_path):
    c = make_corpus(tmp_path / "a")
    folder = tmp_path / "a"
    (folder / "long.TextGrid").write_text(long_textgrid([("IntervalTier", "u", [
        (0.5, 1.5, "one"), (1.0, 2.0, "overlap"), (2.0, 2.0, "empty"), (3.0, 4.5, "too long"), (2.5, 3.0, "ok")])]))
    (folder / "orphan.TextGrid").write_text(long_textgrid([("IntervalTier", "u", [(0, 1, "x")])]))
    (folder / "no.TextGrid").write_bytes(b"garbage \xff\xfe\x00")
    (folder / "up.TextGrid").write_text("File type = \"ooTextFile\"\nnot a textgrid\n")
    (folder / "seven.TextGrid").write_text(long_textgrid([("TextTier", "p", [(0.1, "x")])]))
    outside = make_corpus(tmp_path / "outside")
    (folder / "escape.wav").symlink_to(outside["yes"])
    (folder / "escape.TextGrid").write_text(long_textgrid([("IntervalTier", "u", [(0, 1, "x")])]))
    items, rejects = textgrid.read(folder)
    assert items == [Utterance(c["long"], "one", 0.5, 1.5), Utterance(c["long"], "ok", 2.5, 3.0)]
    r = {}
    for x in rejects:
        assert x.line is None or x.source == "no.TextGrid"
        r.setdefault(x.source, []).append(x.reason)
    assert "is a symlink to" in r["escape.TextGrid"][0]
    long = r["long.TextGrid"]
    assert len(long) == 3
    assert "interval 2 ('overlap'), 1–2 s: overlaps" in long[0]
    assert "interval 3 ('empty')" in long[1] and "not after the start" in long[1]
    assert "interval 4 ('too long')" in long[2] and "after the end of the audio" in long[2]
    assert r["no.TextGrid"][0].startswith("not UTF-8")
    assert "no audio file beside it" in r["orphan.TextGrid"][0]
    assert "not a TextGrid praatio can read" in r["up.TextGrid"][0]
    assert r["seven.TextGrid"] == ["no interval tier"]


def test_explicit_audio_and_sample_rate(tmp_path):
    c = make_corpus(tmp_path)
    (tmp_path / "labels.TextGrid").write_text(long_textgrid([("IntervalTier", "u", [(0, 0.3, "seven")])], 0.372375))
    assert textgrid.read(tmp_path / "labels.TextGrid", audio="seven.wav")[0] == [
        Utterance(c["seven"], "seven", 0.0, 0.3)]
    items, rejects = textgrid.read(tmp_path / "labels.TextGrid", audio=c["seven"], sample_rate=16000)
    assert items == [] and "sample rate 8000 Hz" in rejects[0].reason


def test_round_trip_beside_the_audio_is_lossless(tmp_path):
    make_corpus(tmp_path)
    (tmp_path / "long.TextGrid").write_text(long_textgrid([("IntervalTier", "utterances", UTTERANCES)]))
    (tmp_path / "yes.TextGrid").write_text(long_textgrid([("IntervalTier", "utterances", [(0, 1, "yes")])], 1))
    first, rejects = textgrid.read(tmp_path)
    assert rejects == [] and first[-1].start is None  # an interval over the whole file
    written = textgrid.write(first, tmp_path)
    assert sorted(p.name for p in written) == ["long.TextGrid", "yes.TextGrid"]  # audio already beside
    assert textgrid.read(tmp_path) == (first, [])


def test_round_trip_to_a_new_folder_copies_the_audio(tmp_path):
    c = make_corpus(tmp_path / "src")
    first = [Utterance(c["long"], "no", 1.0, 2.0), Utterance(c["long"], "yes", 0.000001, 0.5),
             Utterance(c["long"], "up go", 2.123456, 4.0), Utterance(c["yes"], "yes"),
             Utterance(c["seven"], "seven", 0.1, 0.2)]
    out = tmp_path / "out"
    textgrid.write(first, out)
    second, rejects = textgrid.read(out)
    assert rejects == []
    expected = [Utterance(out / "long.wav", "yes", 0.0, 0.5),  # < 0.1 ms: written as 0
                Utterance(out / "long.wav", "no", 1.0, 2.0), Utterance(out / "long.wav", "up go", 2.123456, 4.0),
                Utterance(out / "seven.wav", "seven", 0.1, 0.2), Utterance(out / "yes.wav", "yes")]
    assert second == [Utterance(it.audio_path.resolve(), *list(vars(it).values())[1:]) for it in expected]
    assert (out / "long.wav").read_bytes() == c["long"].read_bytes()
    textgrid.write(second, out)
    assert textgrid.read(out) == (second, [])


def test_write_refusals(tmp_path):
    c = make_corpus(tmp_path)
    with pytest.raises(ValueError, match="empty text"):
        textgrid.write([Utterance(c["yes"], " ")], tmp_path / "o")
    with pytest.raises(ValueError, match="overlap"):
        textgrid.write([Utterance(c["long"], "a", 0, 2), Utterance(c["long"], "b", 1, 3)], tmp_path / "o")


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tg_fuzz")
    make_corpus(folder)
    return folder


LABEL_CHARS = st.one_of(st.characters(exclude_characters="\n\r"),
                        st.sampled_from(['"', '""', "\t", "|", " ", "'", "\\", "é", "\ud800"]))
LABELS = st.lists(LABEL_CHARS, max_size=8).map("".join)
TIME = st.one_of(st.floats(0, 4.5).map(lambda x: f"{x:.3f}"), st.sampled_from(["0", "4", "1e-05", "x", ""]))


@st.composite
def tiling(draw):
    """Mostly well-formed tiers: sorted boundaries (some past the 4 s audio), random labels."""
    bounds = sorted(draw(st.lists(st.integers(0, 4600), min_size=2, max_size=9, unique=True)))
    return [(f"{a / 1000:.3f}", f"{b / 1000:.3f}", draw(LABELS)) for a, b in zip(bounds, bounds[1:])]


INTERVALS = st.one_of(tiling(), tiling(), st.lists(st.tuples(TIME, TIME, LABELS), max_size=8))


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


@settings(max_examples=150, deadline=None)
@given(INTERVALS, st.booleans())
def test_fuzz_intervals(fuzz_dir, intervals, short):
    text = short_textgrid("u", intervals) if short else long_textgrid([("IntervalTier", "u", intervals)])
    (fuzz_dir / "long.TextGrid").write_bytes(text.encode("utf-8", "surrogatepass"))
    items, rejects = textgrid.read(fuzz_dir / "long.TextGrid")
    assert_no_crash(items, rejects)
    assert_sane(items, fuzz_dir)
    parsed_ok = _utf8(text) and not any("praatio" in r.reason for r in rejects)
    if parsed_ok and not short:
        # Every labelled interval is an item or one reject; pauses are neither.
        labelled = [iv for iv in intervals if clean_text(iv[2].strip())]
        assert len(items) + len(rejects) == len(labelled), (items, rejects, intervals)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(fuzz_dir, data):
    (fuzz_dir / "yes.TextGrid").write_bytes(data)
    items, rejects = textgrid.read(fuzz_dir / "yes.TextGrid")
    assert_no_crash(items, rejects)
    assert_sane(items, fuzz_dir)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300).map(lambda s: 'File type = "ooTextFile"\nObject class = "TextGrid"\n' + s))
def test_fuzz_random_text_after_a_header(fuzz_dir, text):
    (fuzz_dir / "no.TextGrid").write_text(text)
    items, rejects = textgrid.read(fuzz_dir / "no.TextGrid")
    assert_no_crash(items, rejects)
    assert_sane(items, fuzz_dir)


KEYS = st.sampled_from(["xmin", "xmax", "tiers", "class", "name", "entries", "start", "end", "type",
                        "IntervalTier", "u"])
JSON = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5)
                    | st.just("IntervalTier"),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
                    max_leaves=25)


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_fuzz_json_textgrids(fuzz_dir, doc):
    """praatio also reads (two flavours of) JSON TextGrids, which can hold anything."""
    (fuzz_dir / "up.TextGrid").write_text(json.dumps(doc))
    items, rejects = textgrid.read(fuzz_dir / "up.TextGrid")
    assert_no_crash(items, rejects)
    assert_sane(items, fuzz_dir)
