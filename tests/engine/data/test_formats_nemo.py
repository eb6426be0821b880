"""NeMo JSONL manifests: offset/duration ↔ start/end, bad input, round trips on real clips, fuzzing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.formats import nemo
from engine.data.manifest import read_manifest
from engine.data.utterance import Utterance
from tests.engine.data.test_formats_common import (
    NUMBERS,
    WORDS,
    assert_accounted,
    assert_sane,
    encode,
    make_corpus,
)


def rows_to_bytes(rows) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode("utf-8", "surrogatepass")


def make_manifest(folder: Path) -> tuple[Path, dict]:
    corpus = make_corpus(folder / "audio")
    rows = [
        {"audio_filepath": "audio/yes.wav", "text": "Yes", "duration": 1.0, "speaker": "03401e93", "split": "train"},
        {"audio_filepath": str(corpus["no"]), "text": "no", "duration": 1.0},  # absolute, inside the root
        {"audio_filepath": "audio/long.wav", "text": "no", "offset": 1.0, "duration": 1.0, "speaker": 7,
         "tags": ["noisy", "checked"]},
        {"audio_filepath": "audio/long.wav", "text": "up go", "offset": 2.0, "duration": 2.0},
        {"audio_filepath": "audio/long.wav", "text": "yes", "duration": 1.0},  # no offset: starts at 0
        {"audio_filepath": "audio/seven.wav", "text": "seven\nagain", "sample_rate": 8000},  # no duration: whole
    ]
    path = folder / "manifest.json"
    path.write_bytes(rows_to_bytes(rows))
    return path, corpus


def test_reads_offsets_durations_speakers_splits_tags(tmp_path):
    path, c = make_manifest(tmp_path)
    items, rejects = nemo.read(path)
    assert rejects == []
    assert items == [
        Utterance(c["yes"], "Yes", None, None, "03401e93", "train"),
        Utterance(c["no"], "no"),
        Utterance(c["long"], "no", 1.0, 2.0, "7", tags=("noisy", "checked")),
        Utterance(c["long"], "up go", 2.0, 4.0),
        Utterance(c["long"], "yes", 0.0, 1.0),
        Utterance(c["seven"], "seven again"),
    ]


def test_bad_lines_are_reported(tmp_path):
    path, c = make_manifest(tmp_path)
    rows = [
        {"audio_filepath": "audio/long.wav", "text": "a", "offset": 1.0, "duration": 2.0},
        {"audio_filepath": "audio/long.wav", "text": "b", "offset": 2.5, "duration": 1.0},  # overlaps line 1
        {"audio_filepath": "audio/long.wav", "text": "c", "offset": 1.0, "duration": 2.0},  # duplicate
        {"audio_filepath": "audio/long.wav", "text": "d", "offset": 3.5, "duration": 1.0},  # past the end
        {"audio_filepath": "audio/yes.wav", "text": "e", "offset": -1, "duration": 1.0},
        {"audio_filepath": "audio/yes.wav", "text": "f", "duration": "1"},
        {"audio_filepath": "audio/yes.wav"},
        {"text": "no path"},
        {"audio_filepath": "../outside.wav", "text": "g"},
        {"audio_filepath": "/etc/passwd", "text": "h"},
        {"audio_filepath": "audio/missing.wav", "text": "i"},
        {"audio_filepath": "audio/seven.wav", "text": "j", "sample_rate": 16000},
        '{"audio_filepath": "audio/no.wav", "text": "\\ud800"}',
        "not json",
        "[1, 2]",
        {"audio_filepath": "audio/no.wav", "text": "k", "offset": 0.5, "duration": 0},
        {"audio_filepath": "audio/no.wav", "text": "l", "tags": "x"},
        {"audio_filepath": "audio/up.wav", "text": "m", "duration": 1e400},
        "[" * 100_000,
        {"audio_filepath": "audio/up.wav", "text": "n", "split": "validation"},
        {"audio_filepath": "audio/up.wav", "text": "o", "tags": ["ok", " "]},
    ]
    data = rows_to_bytes(rows)
    path.write_bytes(data)
    items, rejects = nemo.read(path)
    assert [it.text for it in items] == ["a"]
    reasons = {r.line: r.reason for r in rejects}
    assert "overlaps line 1" in reasons[2]
    assert "duplicate of line 1" in reasons[3]
    assert "after the end of the audio" in reasons[4]
    assert "negative" in reasons[5]
    assert "'duration' must be a number" in reasons[6]
    assert "missing 'text'" in reasons[7] and "missing 'audio_filepath'" in reasons[8]
    assert "outside the import folder" in reasons[9] and "outside the import folder" in reasons[10]
    assert "no such audio file" in reasons[11]
    assert "the manifest says 16000 Hz" in reasons[12]
    assert "surrogate" in reasons[13]
    assert "not JSON" in reasons[14] and "expected a JSON object" in reasons[15]
    assert "not after the start" in reasons[16]
    assert "'tags'" in reasons[17]
    assert "finite" in reasons[18] or "not JSON" in reasons[18]
    assert "not JSON" in reasons[19]
    assert "unknown split 'validation': use train, dev, test" == reasons[20]
    assert "non-empty strings" in reasons[21]
    assert_accounted(items, rejects, data, "manifest.json")


def test_round_trip_is_lossless(tmp_path):
    path, _ = make_manifest(tmp_path)
    first, _ = nemo.read(path)
    out = tmp_path / "sub" / "again.jsonl"
    assert nemo.write(first, out) == [out]
    second, rejects = nemo.read(out, root=tmp_path)
    assert rejects == [] and second == first
    nemo.write(second, path)  # in place: paths relative to the manifest's folder
    assert json.loads(path.read_text().splitlines()[0])["audio_filepath"] == "audio/yes.wav"
    assert nemo.read(path) == (first, [])


def test_written_manifest_is_read_by_the_training_reader(tmp_path):
    path, c = make_manifest(tmp_path)
    items, _ = nemo.read(path)
    nemo.write(items, path)
    utts = read_manifest(path)
    assert [(u.audio_path.resolve(), u.text, u.start or 0.0, u.duration) for u in utts] == [
        (c["yes"], "Yes", 0.0, 1.0), (c["no"], "no", 0.0, 1.0), (c["long"], "no", 1.0, 1.0),
        (c["long"], "up go", 2.0, 2.0), (c["long"], "yes", 0.0, 1.0), (c["seven"], "seven again", 0.0, 0.372375)]
    assert utts[0].speaker == "03401e93"


def test_write_refuses_invalid_text(tmp_path):
    c = make_corpus(tmp_path)
    with pytest.raises(ValueError, match="surrogate"):
        nemo.write([Utterance(c["yes"], "bad \ud800")], tmp_path / "m.json")
    with pytest.raises(ValueError, match="bad span"):
        nemo.write([Utterance(c["yes"], "x", 0.5, 0.5)], tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("nemo_fuzz")
    make_corpus(folder / "audio")
    return folder


PATHS = st.one_of(WORDS, st.sampled_from(["audio/yes.wav", "audio/long.wav", "audio/seven.wav", "../x.wav",
                                          "/etc/passwd", "audio", ""]))
VALUES = st.one_of(WORDS, NUMBERS.map(lambda s: float(s) if s.replace(".", "").isdigit() else s), st.none(),
                   st.integers(-5, 5), st.booleans(), st.lists(WORDS, max_size=2))
ROWS = st.fixed_dictionaries(
    {"audio_filepath": PATHS, "text": st.one_of(WORDS, VALUES)},
    optional={"offset": VALUES, "duration": VALUES, "speaker": VALUES, "split": VALUES, "tags": VALUES,
              "sample_rate": st.sampled_from([8000, 16000, "x"])})
LINES = st.one_of(ROWS.map(lambda r: json.dumps(r, ensure_ascii=False)),
                  ROWS.map(json.dumps),  # \\ud800 escapes: lone surrogates after decoding
                  WORDS, st.sampled_from(["{", "[]", "null", '{"audio_filepath": null}', "1"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(LINES, max_size=10))
def test_fuzz_random_lines(fuzz_dir, lines):
    data = encode(lines)
    (fuzz_dir / "m.json").write_bytes(data)
    items, rejects = nemo.read(fuzz_dir / "m.json")
    assert_accounted(items, rejects, data, "m.json")
    assert_sane(items, fuzz_dir)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(fuzz_dir, data):
    (fuzz_dir / "m.json").write_bytes(data)
    items, rejects = nemo.read(fuzz_dir / "m.json")
    assert_accounted(items, rejects, data, "m.json")
