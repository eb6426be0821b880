"""Take quality checks (engine.audio.quality) on real speech: good, quiet, clipped, cut-off, silent, short takes."""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from engine.audio import quality
from engine.audio.io import SAMPLE_RATE, load_audio, resample, write_audio
from engine.audio.quality import (
    CLIPPED_MIN_SAMPLES,
    EDGE_SECONDS,
    MIN_SPEECH_SECONDS,
    QUIET_PEAK_DBFS,
    TRIM_PAD_SECONDS,
    Issue,
    check_take,
    trim_silence,
)
from tests.helpers import ROOT, SAMPLES, shared_data

YES = SAMPLES / "sc_yes_03401e93.wav"      # speech ~0.42–0.87 s of 1 s, peak -14 dBFS
DOWN = SAMPLES / "sc_down_0f250098.wav"    # speech ~0.18–0.66 s
RIGHT = SAMPLES / "sc_right_03401e93.wav"  # speech ~0.18–0.78 s
STOP = SAMPLES / "sc_stop_18f8afd5.wav"    # peak -7.5 dBFS
SHARED_WORDS = ("yes", "no", "down", "right", "left", "on", "off")


def take(clip: np.ndarray, lead: float = 0.5, tail: float = 0.5) -> np.ndarray:
    """A take as recorded: silence, the clip, silence."""
    return np.concatenate([np.zeros(int(lead * SAMPLE_RATE), np.float32), clip,
                           np.zeros(int(tail * SAMPLE_RATE), np.float32)])


def at_peak(clip: np.ndarray, dbfs: float) -> np.ndarray:
    """The clip scaled so its peak is at ``dbfs`` (above 0: clipped at full scale)."""
    return np.clip(clip * (10 ** (dbfs / 20) / np.abs(clip).max()), -1.0, 1.0).astype(np.float32)


def shared_clip(word: str) -> np.ndarray:
    clips = sorted((shared_data() / "speech_commands" / word).glob("*.wav"))
    if not clips:
        pytest.skip(f"no speech_commands/{word} clips in the shared data")
    return load_audio(clips[0])


def test_the_quality_module_imports_no_qt():
    code = ("import sys, engine.audio.quality; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'app')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("path", [YES, DOWN, RIGHT], ids=lambda p: p.stem)
def test_a_good_take_has_no_warnings_and_is_trimmed_to_its_speech(path):
    clip = load_audio(path)
    audio = take(clip)
    report = check_take(audio)
    assert report.ok and report.warnings == () and report.messages == []
    assert report.duration == pytest.approx(len(audio) / SAMPLE_RATE)
    assert report.clipped_samples == 0 and not report.cut_at_start and not report.cut_at_end
    first, last = report.speech_span
    assert 0.5 <= first < last <= 1.5  # the speech is inside the clip, not in the silence around it
    assert QUIET_PEAK_DBFS < report.peak_dbfs < 0 and report.rms_dbfs < report.peak_dbfs
    # the trim keeps the speech plus the padding, and nothing of the silence beyond it
    start, end = report.trim
    assert start == pytest.approx(first - TRIM_PAD_SECONDS) and end == pytest.approx(last + TRIM_PAD_SECONDS)
    assert trim_silence(audio) == report.trim


def test_trim_silence_padding_is_clamped_and_no_speech_keeps_everything():
    audio = take(load_audio(YES), lead=0.1, tail=0.1)
    report = check_take(audio)
    first, last = report.speech_span
    assert trim_silence(audio, pad_s=0.0) == pytest.approx((first, last))
    assert trim_silence(audio, pad_s=5.0) == (0.0, pytest.approx(len(audio) / SAMPLE_RATE))
    silence = np.zeros(SAMPLE_RATE, np.float32)
    assert trim_silence(silence) == (0.0, 1.0)
    with pytest.raises(ValueError, match="pad_s"):
        trim_silence(audio, pad_s=-0.1)


def test_a_quiet_take_is_too_quiet():
    clip = load_audio(YES)
    report = check_take(take(clip * 0.1))  # -20 dB: peaks at -34 dBFS
    assert report.issues == {Issue.TOO_QUIET}
    assert report.peak_dbfs == pytest.approx(check_take(take(clip)).peak_dbfs - 20, abs=0.5)
    assert "Too quiet" in report.messages[0] and "-34 dBFS" in report.messages[0]
    assert "microphone" in report.messages[0]  # it says what to do


def test_a_very_quiet_take_is_too_quiet_and_has_no_speech_the_vad_can_hear():
    report = check_take(take(load_audio(YES) * 0.01))  # peaks at -54 dBFS: below what WebRTC VAD detects
    assert report.issues == {Issue.TOO_QUIET, Issue.NO_SPEECH}
    assert [w.issue for w in report.warnings] == [Issue.TOO_QUIET, Issue.NO_SPEECH]


def test_a_clipped_take_counts_its_samples_at_full_scale(tmp_path):
    audio = take(at_peak(load_audio(STOP), +12.0))  # 12 dB too loud, flattened at full scale
    n = int(np.count_nonzero(np.abs(audio) >= 0.999))
    assert n > 100
    report = check_take(audio)
    assert report.clipped_samples == n
    assert Issue.CLIPPED in report.issues and Issue.CUT_OFF not in report.issues
    assert report.peak_dbfs == 0.0
    assert f"Clipped: {n} samples" in " ".join(report.messages)
    # the same through a 16-bit WAV (full scale is stored as 32767 / 32768)
    wav = write_audio(tmp_path / "clipped.wav", audio)
    assert check_take(load_audio(wav)).clipped_samples == n


def test_a_peak_normalized_take_is_not_clipped():
    audio = take(at_peak(load_audio(YES), 0.0))  # one sample at exactly full scale
    report = check_take(audio)
    assert 0 < report.clipped_samples < CLIPPED_MIN_SAMPLES
    assert Issue.CLIPPED not in report.issues and report.ok


def test_a_take_cut_off_at_the_end():
    clip = load_audio(YES)
    audio = take(clip, tail=0.0)[: int((0.5 + 0.65) * SAMPLE_RATE)]  # stopped in the middle of "yes"
    report = check_take(audio)
    assert report.issues == {Issue.CUT_OFF}
    assert report.cut_at_end and not report.cut_at_start
    assert report.speech[-1][1] > report.duration - EDGE_SECONDS
    assert "at the end" in report.messages[0]
    assert report.trim[1] == pytest.approx(report.duration)


def test_a_take_cut_off_at_the_start():
    clip = load_audio(RIGHT)
    audio = take(clip[int(0.3 * SAMPLE_RATE):], lead=0.0)  # started in the middle of "right"
    report = check_take(audio)
    assert report.issues == {Issue.CUT_OFF}
    assert report.cut_at_start and not report.cut_at_end
    assert "at the start" in report.messages[0]
    assert report.trim[0] == 0.0


def test_silence_and_noise_have_no_speech():
    silent = check_take(np.zeros(2 * SAMPLE_RATE, np.float32))
    assert silent.issues == {Issue.NO_SPEECH} and "silent" in silent.messages[0]
    assert silent.peak_dbfs == -math.inf and silent.trim == (0.0, 2.0) and silent.speech == ()
    noise = np.random.default_rng(0).normal(0, 0.001, 2 * SAMPLE_RATE).astype(np.float32)
    report = check_take(noise)
    assert Issue.NO_SPEECH in report.issues and Issue.CUT_OFF not in report.issues


def test_short_takes():
    clip = load_audio(YES)
    tiny = check_take(clip[int(0.42 * SAMPLE_RATE):int(0.72 * SAMPLE_RATE)])  # 0.3 s
    assert Issue.TOO_SHORT in tiny.issues and "0.30 s" in " ".join(tiny.messages)
    empty = check_take(np.zeros(0, np.float32))
    assert empty.issues == {Issue.NO_SPEECH, Issue.TOO_SHORT} and empty.duration == 0.0
    # 60 ms of a real vowel in a 2 s take: the VAD hears a blip, too short to be the prompt
    blip = np.zeros(2 * SAMPLE_RATE, np.float32)
    n = int(0.06 * SAMPLE_RATE)
    blip[SAMPLE_RATE: SAMPLE_RATE + n] = clip[int(0.45 * SAMPLE_RATE): int(0.45 * SAMPLE_RATE) + n] * 4
    report = check_take(blip)
    first, last = report.speech_span
    assert last - first < MIN_SPEECH_SECONDS
    assert report.issues == {Issue.TOO_SHORT} and "of speech" in report.messages[0]


def test_other_sample_rates_and_stereo_give_the_same_report():
    audio = take(load_audio(YES))
    base = check_take(audio)
    hi = resample(audio, SAMPLE_RATE, 48_000)
    report = check_take(hi, sample_rate=48_000)
    assert report.sample_rate == 48_000 and report.duration == pytest.approx(base.duration)
    assert report.ok and report.speech_span == pytest.approx(base.speech_span, abs=0.035)
    stereo = check_take(np.stack([audio, audio], axis=1))
    assert stereo.speech == base.speech and stereo.trim == base.trim
    with pytest.raises(ValueError, match="sample_rate"):
        check_take(audio, sample_rate=0)


@pytest.mark.parametrize("word", SHARED_WORDS)
def test_versions_of_real_clips(word):
    """Each shared Speech Commands clip, padded like a take: fine as is; too quiet scaled
    down to -40 dBFS; clipped 12 dB too loud; cut off when cropped in the middle of the speech."""
    clip = shared_clip(word)
    good = check_take(take(clip))
    assert not good.issues & {Issue.CLIPPED, Issue.CUT_OFF, Issue.NO_SPEECH}, good.messages
    quiet = check_take(take(at_peak(clip, -40.0)))
    assert Issue.TOO_QUIET in quiet.issues and Issue.CLIPPED not in quiet.issues
    loud = take(at_peak(clip, +12.0))
    clipped = check_take(loud)
    assert Issue.CLIPPED in clipped.issues
    assert clipped.clipped_samples == np.count_nonzero(np.abs(loud) >= 0.999) >= CLIPPED_MIN_SAMPLES
    first, last = good.speech_span
    cut = check_take(take(clip, tail=0.0)[: int((first + last) / 2 * SAMPLE_RATE)])
    assert Issue.CUT_OFF in cut.issues and cut.cut_at_end, cut.messages
    silence = check_take(take(np.zeros_like(clip)))
    assert silence.issues == {Issue.NO_SPEECH}


def test_thresholds_are_named_constants():
    for name in ("QUIET_PEAK_DBFS", "QUIET_RMS_DBFS", "CLIP_LEVEL", "CLIPPED_MIN_SAMPLES", "EDGE_SECONDS",
                 "MIN_TAKE_SECONDS", "MIN_SPEECH_SECONDS", "TRIM_PAD_SECONDS"):
        assert isinstance(getattr(quality, name), (int, float)) and name in quality.__all__
