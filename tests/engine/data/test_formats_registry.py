"""The registry: FORMATS, detect(), read() and write() over every format, and cross-format conversion."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data import formats
from engine.data.records import Reject
from engine.data.utterance import Utterance
from tests.engine.data.test_formats_common import assert_no_crash, make_corpus


def test_registry_lists_every_format_with_read_and_write():
    assert set(formats.FORMATS) == {"ljspeech", "nemo", "kaldi", "commonvoice", "textgrid", "audacity",
                                    "srt", "vtt", "txt"}
    for name, module in formats.FORMATS.items():
        assert callable(module.write), name
        if name not in formats.EXPORT_ONLY:
            assert callable(module.read), name
            assert module.read.__doc__ and "Raises" in module.read.__doc__
        assert module.__doc__ and "http" in module.__doc__ or name in formats.EXPORT_ONLY


@pytest.fixture()
def exported(tmp_path):
    """The same items written in every importable format, each under tmp_path/<fmt>."""
    c = make_corpus(tmp_path / "audio")
    items = [Utterance(c["long"], "yes", 0.0, 1.0), Utterance(c["long"], "no up", 1.0, 2.5),
             Utterance(c["yes"], "yes")]
    targets = {"ljspeech": "lj", "nemo": "nemo/train.jsonl", "kaldi": "kaldi", "commonvoice": "cv",
               "textgrid": "tg", "audacity": "aud"}
    for fmt, target in targets.items():
        formats.write(items, tmp_path / target, fmt)
    return tmp_path, items, targets


def test_detect_files_and_folders(exported):
    root, _, targets = exported
    for fmt, target in targets.items():
        assert formats.detect(root / target) == fmt, fmt
    assert formats.detect(root / "lj" / "metadata.csv") == "ljspeech"
    assert formats.detect(root / "kaldi" / "wav.scp") == "kaldi"
    assert formats.detect(root / "cv" / "validated.tsv") == "commonvoice"
    assert formats.detect(root / "tg" / "long.TextGrid") == "textgrid"
    assert formats.detect(root / "aud" / "long.txt") == "audacity"
    assert formats.detect(root / "audio") is None
    assert formats.detect(root / "audio" / "yes.wav") is None
    assert formats.detect(root / "nothing-here") is None
    (root / "notes.txt").write_text("just some notes\n")
    (root / "x.json").write_text("[1, 2]\n")
    assert formats.detect(root / "notes.txt") is None and formats.detect(root / "x.json") is None
    assert formats.detect("\x00bad") is None


def test_read_every_format_through_the_registry(exported):
    root, items, targets = exported
    for fmt, target in targets.items():
        got, rejects = formats.read(root / target, root=root)
        assert rejects == [], (fmt, rejects)
        assert formats.read(root / target, fmt, root=root) == (got, rejects)
        texts = sorted(it.text for it in got)
        assert texts == ["no up", "yes", "yes"], fmt
        if fmt in ("ljspeech", "commonvoice"):  # segments were cut into clips of their own
            assert all(it.start is None for it in got)
        else:
            spans = sorted((it.audio_path.name, it.start, it.end) for it in got)
            assert spans == [("long.wav", 0.0, 1.0), ("long.wav", 1.0, 2.5), ("yes.wav", None, None)], fmt


def test_conversion_chain_keeps_what_every_format_holds(exported):
    """NeMo → Kaldi → Audacity → TextGrid → NeMo: segments and texts survive every step."""
    root, items, _ = exported
    step, _ = formats.read(root / "nemo" / "train.jsonl", root=root)
    for fmt, target in (("kaldi", "k2"), ("audacity", "a2"), ("textgrid", "t2"), ("nemo", "n2/m.json")):
        formats.write(step, root / target, fmt)
        step, rejects = formats.read(root / target, root=root)
        assert rejects == [], fmt
    key = lambda i: (i.audio_path.name, i.start or 0)  # noqa: E731
    assert [replace(i, audio_path=i.audio_path.name) for i in sorted(step, key=key)] == [
        replace(i, audio_path=i.audio_path.name) for i in sorted(items, key=key)]


def test_transcripts_through_the_registry(exported):
    root, items, _ = exported
    written = formats.write(items, root / "subs", "vtt")
    assert [p.name for p in written] == ["long.vtt", "yes.vtt"]
    with pytest.raises(ValueError, match="Cannot import format 'srt'"):
        formats.read(written[0], "srt")


def test_unknown_formats(tmp_path):
    items, rejects = formats.read(tmp_path)
    assert items == [] and rejects == [Reject(tmp_path.name, None, rejects[0].reason)]
    assert "not a corpus format" in rejects[0].reason
    with pytest.raises(ValueError, match="Cannot import format 'mp3'"):
        formats.read(tmp_path, "mp3")
    with pytest.raises(ValueError, match="Unknown format"):
        formats.write([], tmp_path / "x", "mp3")


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("reg_fuzz")
    make_corpus(root / "audio")
    return root


NAMES = st.sampled_from(["metadata.csv", "m.json", "m.jsonl", "wav.scp", "text", "segments", "train.tsv",
                         "long.TextGrid", "long.txt", "x.csv", "x.tsv"])


@settings(max_examples=150, deadline=None)
@given(NAMES, st.binary(max_size=300), st.sampled_from([None, *formats.IMPORT_FORMATS]))
def test_fuzz_detect_and_read_never_raise(fuzz_root, name, data, fmt):
    folder = fuzz_root / "audio"
    (folder / name).write_bytes(data)
    try:
        formats.detect(folder / name)
        formats.detect(folder)
        items, rejects = formats.read(folder / name, fmt, root=fuzz_root)
        assert_no_crash(items, rejects)
    finally:
        (folder / name).unlink()


def test_registry_reads_json_detected_by_content(tmp_path):
    c = make_corpus(tmp_path)
    (tmp_path / "list.json").write_text(json.dumps({"audio_filepath": "yes.wav", "text": "yes"}) + "\n")
    assert formats.detect(tmp_path / "list.json") == "nemo"
    assert formats.read(tmp_path / "list.json") == ([Utterance(c["yes"], "yes")], [])
