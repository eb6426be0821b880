"""Shared checks of engine.data.formats._common, and helpers for the per-format tests.

The helpers build small corpora from real clips (resources/samples: Speech
Commands at 16 kHz, FSDD at 8 kHz) copied into a temporary folder, and check
the fuzzing properties: a reader never raises, every non-blank line it does
not turn into an item is reported exactly once, and every item is sane.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import strategies as st

from engine.data.formats._common import (
    END_TOLERANCE,
    ReadContext,
    clean_text,
    fmt_time,
    iter_lines,
    parse_time,
    read_text,
    round_time,
)
from engine.data.utterance import Utterance
from tests.helpers import SAMPLES

CLIPS = {  # name in the test corpus -> real clip
    "yes": "sc_yes_03401e93.wav",
    "no": "sc_no_03401e93.wav",
    "up": "sc_up_03401e93.wav",
    "go": "sc_go_0f250098.wav",
    "seven": "fsdd_7_nicolas_0.wav",  # 8 kHz
}
LONG_WORDS = ("yes", "no", "up", "go")
"""``long.wav`` is these four 1 s clips back to back: 4 s of real speech at 16 kHz."""


def make_corpus(folder: Path) -> dict[str, Path]:
    """Copy the real clips into ``folder`` and build ``long.wav`` (4 s) and ``long.flac``; returns name → path."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, clip in CLIPS.items():
        out[name] = folder / f"{name}.wav"
        shutil.copyfile(SAMPLES / clip, out[name])
    parts = [sf.read(str(SAMPLES / CLIPS[w]), dtype="int16")[0] for w in LONG_WORDS]
    audio = np.concatenate(parts)
    out["long"] = folder / "long.wav"
    sf.write(str(out["long"]), audio, 16000, subtype="PCM_16")
    out["long_flac"] = folder / "long.flac"
    sf.write(str(out["long_flac"]), audio, 16000, subtype="PCM_16")
    return {k: v.resolve() for k, v in out.items()}


def nonblank_lines(data: bytes) -> list[int]:
    """Line numbers a reader must account for: split at ``\\n``, UTF-8 BOM and trailing ``\\r`` dropped,
    blank = only ASCII whitespace; a line that is not UTF-8 counts as non-blank."""
    out = []
    for n, raw in enumerate(data.split(b"\n"), 1):
        if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            out.append(n)
            continue
        if text.strip(" \t\r\n\f\v"):
            out.append(n)
    return out


def assert_no_crash(items, rejects) -> None:
    """A reader's answer has the right types and no reject from the last-resort guard."""
    assert isinstance(items, list) and isinstance(rejects, list)
    assert all(isinstance(i, Utterance) for i in items)
    for r in rejects:
        assert r.reason and "unexpected error" not in r.reason, r
        assert r.line is None or r.line >= 1


def assert_sane(items, root: Path) -> None:
    """Every item points at an existing audio file inside ``root`` with a valid span and storable text."""
    root = root.resolve()
    for it in items:
        assert it.audio_path.is_absolute() and it.audio_path.is_relative_to(root), it
        assert it.audio_path.is_file()
        it.text.encode("utf-8")
        str(it.audio_path).encode("utf-8")
        assert "\x00" not in it.text and "\n" not in it.text and it.text == it.text.strip()
        if it.start is None:
            assert it.end is None
        else:
            dur = sf.info(str(it.audio_path)).duration
            assert 0 <= it.start < it.end <= dur + END_TOLERANCE + 1e-9, it


def assert_accounted(items, rejects, data: bytes, source: str, skip: tuple[int, ...] = ()) -> None:
    """Every non-blank line of ``data`` (minus ``skip``) gave exactly one item or one reject."""
    assert_no_crash(items, rejects)
    mine = [r for r in rejects if r.source == source]
    if any(r.line is None for r in mine):
        return  # the whole file was refused (e.g. a UTF-16 byte-order mark): one reject covers it
    lines = [n for n in nonblank_lines(data) if n not in skip]
    reject_lines = [r.line for r in mine]
    assert len(reject_lines) == len(set(reject_lines)), f"a line reported twice: {mine}"
    assert set(reject_lines) <= set(lines), (reject_lines, lines)
    assert len(items) + len(reject_lines) == len(lines), (items, mine, lines)


# ------------------------------------------------------------ hypothesis strategies

SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc80", "\udfff"])
NASTY = st.sampled_from(["|", "\t", '"', "'", "\\", " ", "\r", "\x00", "\x1c", "\u2028", "\x85", "\ufeff",
                         "é", "字", "🙂", "-1", "0", "1e400", "nan", "..", "/", "../", "\u200b", "{", "}", ":"])
WORDS = st.lists(st.one_of(st.characters(), SURROGATES, NASTY), max_size=8).map("".join)
"""Random text: any code point (lone surrogates too), separators, quotes, numbers, path pieces."""
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-1, max_value=5).map(lambda x: f"{x:.3f}"),
    st.sampled_from(["0", "0.5", "1", "1.0", "2.5", "3.999", "4", "4.5", "-0.0", "-1", "1e-7", "", "x"]),
)


def encode(lines: list[str], newline: str = "\n") -> bytes:
    """Lines joined and encoded as UTF-8, lone surrogates passed through (so they become invalid UTF-8)."""
    return newline.join(lines).encode("utf-8", "surrogatepass")


# ------------------------------------------------------------ tests of _common


def test_times_round_to_microseconds_and_print_plainly():
    assert round_time(0.1 + 0.2) == 0.3
    assert round_time(-0.0) == 0.0 and str(round_time(-0.0)) == "0.0"
    assert fmt_time(1e-6) == "0.000001" and fmt_time(3.0) == "3" and fmt_time(2.5) == "2.5"
    assert parse_time("1.2345678") == 1.234568
    for bad in ("nan", "inf", "-inf", "1e400", "x", ""):
        assert isinstance(parse_time(bad), str), bad


def test_clean_text_turns_line_breaks_into_spaces():
    assert clean_text("  a\r\nb\rc\nd ") == "a b c d"


def test_iter_lines_reports_non_utf8_lines_and_skips_blank(tmp_path):
    p = tmp_path / "x.txt"
    p.write_bytes(b"\xef\xbb\xbfone\r\n\n  \t\ntwo \xff\xfe\nthree\x1c\n")
    ctx = ReadContext.create(tmp_path, tmp_path)
    assert list(iter_lines(p, ctx, "x.txt")) == [(1, "one"), (5, "three\x1c")]
    assert [(r.line, r.reason) for r in ctx.rejects] == [(4, "not UTF-8 text (byte 0xff at column 5)")]


def test_utf16_and_missing_files_are_one_reject(tmp_path):
    p = tmp_path / "u.txt"
    p.write_text("a|b\n", encoding="utf-16")
    ctx = ReadContext.create(tmp_path, tmp_path)
    assert list(iter_lines(p, ctx, "u.txt")) == []
    assert list(iter_lines(tmp_path / "missing.txt", ctx, "missing.txt")) == []
    assert [(r.source, r.line) for r in ctx.rejects] == [("u.txt", None), ("missing.txt", None)]
    assert "UTF-16" in ctx.rejects[0].reason and "no such file" in ctx.rejects[1].reason
    assert read_text(p, ctx, "u.txt", utf16=True) == "a|b\n"


def test_paths_escaping_the_root_are_refused_without_opening(tmp_path):
    corpus = make_corpus(tmp_path / "root")
    root = tmp_path / "root"
    outside = make_corpus(tmp_path / "elsewhere")["yes"]
    (root / "link.wav").symlink_to(outside)
    (root / "inner_link.wav").symlink_to(corpus["no"])
    ctx = ReadContext.create(root, root)
    assert ctx.locate("yes.wav", root) == corpus["yes"]
    assert ctx.locate("sub/../yes.wav", root) == corpus["yes"]
    assert ctx.locate(str(corpus["yes"]), root) == corpus["yes"]  # absolute but inside
    assert ctx.locate("inner_link.wav", root) == corpus["no"]  # a symlink that stays inside
    assert "outside the import folder" in ctx.locate("../elsewhere/yes.wav", root)
    assert "outside the import folder" in ctx.locate(str(outside), root)
    assert "outside the import folder" in ctx.locate("/etc/passwd", root)
    assert "is a symlink to" in ctx.locate("link.wav", root)
    assert "NUL" in ctx.locate("a\x00.wav", root)
    assert "not valid UTF-8" in ctx.locate("a\ud800.wav", root)
    assert "not valid UTF-8" in ctx.locate("a\udc80.wav", root)  # an undecodable byte in a file name
    assert ctx._audio == {}  # nothing was opened


def test_audio_checks(tmp_path):
    corpus = make_corpus(tmp_path)
    (tmp_path / "text.wav").write_text("not audio")
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "folder.wav").mkdir()
    ctx = ReadContext.create(tmp_path, tmp_path, sample_rate=16000)
    facts = ctx.audio(corpus["yes"])
    assert (facts.samplerate, facts.channels, facts.frames, facts.duration) == (16000, 1, 16000, 1.0)
    assert "sample rate 8000 Hz, expected 16000 Hz" in ctx.audio(corpus["seven"])
    assert "not a readable audio file" in ctx.audio(tmp_path / "text.wav")
    assert "not a readable audio file" in ctx.audio(tmp_path / "empty.wav")
    assert "not a regular file" in ctx.audio(tmp_path / "folder.wav")
    assert "no such audio file" in ctx.audio(tmp_path / "nope.wav")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_fifos_are_never_opened(tmp_path):
    """Opening a FIFO blocks until someone writes to it: readers must refuse it unopened."""
    os.mkfifo(tmp_path / "fifo.wav")
    os.mkfifo(tmp_path / "fifo.txt")
    ctx = ReadContext.create(tmp_path, tmp_path)
    assert "not a regular file" in ctx.audio(tmp_path / "fifo.wav")
    assert list(iter_lines(tmp_path / "fifo.txt", ctx, "fifo.txt")) == []
    assert read_text(tmp_path / "fifo.txt", ctx, "fifo.txt") is None
    assert [(r.source, r.line, r.reason) for r in ctx.rejects] == [("fifo.txt", None, "not a regular file")] * 2


@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_audio_is_a_reject(tmp_path):
    corpus = make_corpus(tmp_path)
    corpus["yes"].chmod(0)
    ctx = ReadContext.create(tmp_path, tmp_path)
    assert isinstance(ctx.audio(corpus["yes"]), str)


def test_spans_and_overlaps(tmp_path):
    corpus = make_corpus(tmp_path)
    ctx = ReadContext.create(tmp_path, tmp_path)
    facts = ctx.audio(corpus["long"])  # 4 s
    assert ctx.span(facts, 0.0, 4.0) == (None, None)  # the whole file
    assert ctx.span(facts, 0.0, 3.9995) == (None, None)  # within a millisecond
    assert ctx.span(facts, 0.0, 3.995) == (0.0, 3.995)
    assert ctx.span(facts, 1.0, 4.04) == (1.0, 4.04)  # label files round: up to 50 ms past the end
    assert ctx.span(facts, 0.5, None) == (0.5, 4.0)  # open end: the end of the file
    assert ctx.span(facts, 1.0, 2.0) == (1.0, 2.0)
    for start, end, words in [(-0.1, 1, "negative start"), (1, 1, "not after"), (2, 1, "not after"),
                              (1, 4.06, "after the end"), (4.2, 4.5, "after the end")]:
        assert words in ctx.span(facts, start, end)
    where = corpus["long"]
    assert ctx.claim(where, facts, 1.0, 2.0, "line 1") is None
    assert ctx.claim(where, facts, 2.0, 3.0, "line 2") is None  # touching is fine
    assert "duplicate of line 1" in ctx.claim(where, facts, 1.0, 2.0, "line 3")
    assert "overlaps line 2" in ctx.claim(where, facts, 2.5, 3.5, "line 4")
    assert "overlaps line 1" in ctx.claim(where, facts, None, None, "line 5")  # the whole file


def test_engine_never_imports_qt():
    code = ("import sys, engine.data.formats as f; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[3])


def replace_audio(items, mapping):
    """Items with their audio paths mapped by file name through ``mapping`` (name → new path)."""
    return [replace(it, audio_path=mapping[it.audio_path.name]) for it in items]
