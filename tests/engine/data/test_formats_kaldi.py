"""Kaldi data dirs: wav.scp/segments/text/utt2spk/spk2utt, commands refused, round trips, fuzzing."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.formats import kaldi
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


def write_dir(folder: Path, **files: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        p = folder / name.replace("_scp", ".scp")
        p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return folder


def key(it: Utterance):
    return (str(it.audio_path), it.start or 0.0, it.text)


def test_whole_file_dir(tmp_path):
    c = make_corpus(tmp_path / "audio")
    data = write_dir(tmp_path / "data" / "train",
                     wav_scp=f"spkA-yes {c['yes']}\nspkA-no {c['no']}\nspkB-up {c['up']}\n",
                     text="spkA-yes YES\nspkA-no  NO  \nspkB-up\tUP\n",
                     utt2spk="spkA-yes spkA\nspkA-no spkA\nspkB-up spkB-up\n")
    items, rejects = kaldi.read(data, root=tmp_path)
    assert rejects == []
    assert items == [Utterance(c["yes"], "YES", speaker="spkA"), Utterance(c["no"], "NO", speaker="spkA"),
                     Utterance(c["up"], "UP")]  # speaker == utterance id: unknown speaker
    assert kaldi.read(data / "text", root=tmp_path) == (items, [])  # any file of the dir works


def test_segments_relative_paths_and_spk2utt(tmp_path):
    c = make_corpus(tmp_path / "audio")
    data = write_dir(tmp_path / "data",
                     wav_scp="rec1 audio/long.wav\nrec2 audio/yes.wav\n",
                     segments="u1 rec1 0.0 1.0\nu2 rec1 1.0 2.5\nu3 rec1 2.5 -1\nu4 rec2 0 -1 0\n",
                     text="u1 yes\nu2 no up\nu3 up go\nu4 yes\n",
                     spk2utt="alice u1 u2\nbob u3\n")
    items, rejects = kaldi.read(data, root=tmp_path)  # relative wav.scp paths: against the root
    assert rejects == []
    assert items == [Utterance(c["long"], "yes", 0.0, 1.0, "alice"), Utterance(c["long"], "no up", 1.0, 2.5, "alice"),
                     Utterance(c["long"], "up go", 2.5, 4.0, "bob"), Utterance(c["yes"], "yes")]


def test_commands_pipes_and_bad_lines_are_rejected(tmp_path):
    c = make_corpus(tmp_path / "audio")
    wav_scp = encode([
        f"rec1 {c['long']}",
        "rec2 sox audio/yes.wav -t wav - |",
        "rec3 -",
        "rec4 foo.ark:1234",
        "rec5 ../outside.wav",
        f"rec1 {c['no']}",
        "lonely",
        "rec6 audio/missing.wav",
        f"rec7 {c['up']}",
        f"rec8 {c['seven']}",
    ])
    segments = encode([
        "u1 rec1 0.5 1.5",
        "u2 rec1 1.0 2.0",  # overlaps u1
        "u3 rec1 2.0 1.0",  # end before start
        "u4 rec1 -0.5 0.2",
        "u5 rec1 3.0 4.5",  # past the end (4 s)
        "u6 rec2 0 1",  # the pipe's recording
        "u7 rec9 0 1",  # unknown recording
        "u1 rec1 2 3",  # duplicate utterance id
        "u8 rec1 x 3",
        "u9 rec1 2 3 4 5",
        "u10 rec7 0 0.5",  # has no transcript
        "u11 rec1 2 3 1",  # channel 1 of a mono file
        "u12 rec8 0 0.2",
        "u13 rec1 2.0 3.0",
    ])
    text = encode(["u1 one", "u1 again", "u6 piped", "u99 unknown", "u12 \xff", "u13 thirteen"]).replace(
        b"\xc3\xbf", b"\xff")
    utt2spk = encode(["u1 s1", "u1 s2", "u99 s1", "u12", "u13 s2"])
    data = write_dir(tmp_path / "data", wav_scp=wav_scp, segments=segments, text=text, utt2spk=utt2spk)
    items, rejects = kaldi.read(data, root=tmp_path, sample_rate=16000)
    assert items == [Utterance(c["long"], "one", 0.5, 1.5, "s1"), Utterance(c["long"], "thirteen", 2.0, 3.0, "s2")]
    r = {(x.source, x.line): x.reason for x in rejects}
    assert "is a command (pipe)" in r["wav.scp", 2]
    assert "standard input" in r["wav.scp", 3]
    assert "archive offset" in r["wav.scp", 4]
    assert "outside the import folder" in r["wav.scp", 5]
    assert "duplicate recording id rec1" in r["wav.scp", 6]
    assert "expected '<recording-id> <file>'" in r["wav.scp", 7]
    assert "no such audio file" in r["wav.scp", 8]
    assert "sample rate 8000 Hz, expected 16000 Hz" in r["wav.scp", 10]
    assert "overlaps segments line 1" in r["segments", 2]
    assert "not after the start" in r["segments", 3]
    assert "negative start" in r["segments", 4]
    assert "after the end of the audio" in r["segments", 5]
    assert "recording rec2 was not imported (wav.scp line 2" in r["segments", 6]
    assert "recording rec9 is not in wav.scp" in r["segments", 7]
    assert "duplicate utterance id u1" in r["segments", 8]
    assert "not a number" in r["segments", 9]
    assert "got 6 fields" in r["segments", 10]
    assert "u10 has no transcript" in r["segments", 11]
    assert "channel 1, but long.wav has 1" in r["segments", 12]
    assert "recording rec8 was not imported" in r["segments", 13]
    assert "duplicate utterance id u1" in r["text", 2]
    assert "u99 is not in segments" in r["text", 4]
    assert r["text", 5].startswith("not UTF-8")
    assert "duplicate utterance id u1" in r["utt2spk", 2]
    assert "u99 is not in segments" in r["utt2spk", 3]
    assert "got 1 fields" in r["utt2spk", 4]
    assert ("text", 3) not in r  # u6 is reported once, at its segments line
    assert len(rejects) == len(r)


def test_missing_wav_scp_and_utf16(tmp_path):
    items, rejects = kaldi.read(write_dir(tmp_path / "empty", text="u1 x\n"))
    assert items == [] and "no wav.scp" in rejects[0].reason
    items, rejects = kaldi.read(write_dir(tmp_path / "u16", wav_scp="r a.wav\n".encode("utf-16")))
    assert items == [] and "UTF-16" in rejects[0].reason


def test_round_trip_whole_files(tmp_path):
    c = make_corpus(tmp_path / "audio")
    first = [Utterance(c["yes"], "yes", speaker="a"), Utterance(c["no"], "no", speaker="b"),
             Utterance(c["up"], ""), Utterance(c["seven"], "seven", speaker="a")]
    written = kaldi.write(first, tmp_path / "data")
    assert sorted(p.name for p in written) == ["spk2utt", "text", "utt2spk", "wav.scp"]
    assert (tmp_path / "data" / "spk2utt").read_text() == "a a-seven a-yes\nb b-no\nup up\n"
    second, rejects = kaldi.read(tmp_path / "data", root=tmp_path)
    assert rejects == [] and sorted(second, key=key) == sorted(first, key=key)
    kaldi.write(second, tmp_path / "data")
    assert sorted(kaldi.read(tmp_path / "data", root=tmp_path)[0], key=key) == sorted(first, key=key)


def test_round_trip_segments_is_lossless(tmp_path):
    c = make_corpus(tmp_path / "audio")
    data = write_dir(tmp_path / "src",
                     wav_scp=f"rec1 {c['long']}\nrec2 {c['yes']}\n",
                     segments="u1 rec1 0.123456 1.0\nu2 rec1 1.0 2.5\nu3 rec1 2.5 -1\nu4 rec2 0 -1\n",
                     text="u1 yes\nu2 no up\nu3 up go\nu4 yes again\n",
                     utt2spk="u1 alice\nu2 alice\nu3 bob\nu4 u4\n")
    first, rejects = kaldi.read(data, root=tmp_path)
    assert rejects == [] and len(first) == 4
    kaldi.write(first, tmp_path / "out")
    lines = (tmp_path / "out" / "segments").read_text().splitlines()
    assert lines == ["alice-long-0001 long 0.123456 1", "alice-long-0002 long 1 2.5", "bob-long-0003 long 2.5 4",
                     "yes-0001 yes 0 1"]
    assert (tmp_path / "out" / "utt2spk").read_text().splitlines()[-1] == "yes-0001 yes-0001"
    second, rejects = kaldi.read(tmp_path / "out", root=tmp_path)
    assert rejects == [] and sorted(second, key=key) == sorted(first, key=key)
    # Writing an unsegmented set into the same dir removes the stale segments file.
    kaldi.write([it for it in first if it.start is None], tmp_path / "out")
    assert not (tmp_path / "out" / "segments").exists()


def test_write_refuses_line_breaks(tmp_path):
    c = make_corpus(tmp_path)
    with pytest.raises(ValueError, match="cannot hold"):
        kaldi.write([Utterance(c["yes"], "a\nb")], tmp_path / "out")


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kaldi_fuzz")
    make_corpus(folder / "audio")
    return folder


IDS = st.one_of(st.sampled_from(["u1", "u2", "rec1", "rec2", "rec3"]), WORDS)
SEP = st.sampled_from([" ", "\t", "  "])


def joined(parts):
    return st.tuples(*parts, SEP).map(lambda t: t[-1].join(t[:-1]))


TIMES = st.floats(-0.5, 4.5).map("{:.2f}".format)
PLAUSIBLE = joined([st.text("uvw", min_size=1, max_size=3), st.sampled_from(["rec1", "rec2", "rec3"]), TIMES,
                    st.one_of(TIMES, st.just("-1"))])
SEG_LINES = st.one_of(PLAUSIBLE, PLAUSIBLE, joined([IDS, IDS, NUMBERS, NUMBERS]),
                      joined([IDS, IDS, NUMBERS, NUMBERS, NUMBERS]), joined([IDS, IDS]), WORDS)
WAV_LINES = st.one_of(joined([IDS, st.sampled_from(["audio/long.wav", "audio/yes.wav", "audio/seven.wav",
                                                     "../x.wav", "cat a |", "-", "x.ark:12", "audio"])]),
                      joined([IDS, WORDS]), WORDS)


@settings(max_examples=150, deadline=None)
@given(st.lists(SEG_LINES, max_size=10))
def test_fuzz_segments(fuzz_dir, lines):
    data = encode(lines)
    write_dir(fuzz_dir / "d", wav_scp="rec1 audio/long.wav\nrec2 audio/yes.wav\nrec3 audio/seven.wav\n",
              segments=data)
    items, rejects = kaldi.read(fuzz_dir / "d", root=fuzz_dir)
    assert_accounted(items, rejects, data, "segments")
    assert_sane(items, fuzz_dir)


@settings(max_examples=100, deadline=None)
@given(st.lists(WAV_LINES, max_size=8), st.lists(joined([IDS, WORDS]), max_size=8),
       st.lists(st.one_of(joined([IDS, IDS]), WORDS), max_size=8))
def test_fuzz_wav_scp_text_utt2spk(fuzz_dir, wav_lines, text_lines, spk_lines):
    wav, text, spk = encode(wav_lines), encode(text_lines), encode(spk_lines)
    folder = write_dir(fuzz_dir / "w", wav_scp=wav, text=text, utt2spk=spk)
    (folder / "segments").unlink(missing_ok=True)
    items, rejects = kaldi.read(folder, root=fuzz_dir)
    assert_no_crash(items, rejects)
    assert_sane(items, fuzz_dir)
    # Without segments every wav.scp line is one utterance: an item, or one reject at its line.
    assert_accounted(items, [r for r in rejects if r.source == "wav.scp"], wav, "wav.scp")


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=200), st.binary(max_size=200))
def test_fuzz_random_bytes(fuzz_dir, wav, segments, text):
    folder = write_dir(fuzz_dir / "b", wav_scp=wav, segments=segments, text=text)
    items, rejects = kaldi.read(folder, root=fuzz_dir)
    assert_no_crash(items, rejects)
    assert_sane(items, fuzz_dir)
