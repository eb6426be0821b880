import numpy as np
import pytest
import soundfile as sf

from engine.audio.errors import AudioError
from engine.audio.io import SAMPLE_RATE, load_audio, resample, write_audio
from tests.helpers import SAMPLES


def test_reads_real_8khz_clip_as_16khz_mono():
    path = SAMPLES / "fsdd_7_nicolas_0.wav"
    info = sf.info(str(path))
    assert info.samplerate == 8000
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - info.frames * 2) <= 1
    assert 0.05 < np.abs(audio).max() <= 1.0


def test_stereo_flac_and_ogg_mix_down(tmp_path):
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)], axis=1).astype(np.float32) * 0.5
    for ext in ("flac", "ogg"):
        p = tmp_path / f"x.{ext}"
        sf.write(str(p), stereo, 44100 if ext == "flac" else SAMPLE_RATE)
        audio = load_audio(p)
        assert audio.ndim == 1
        assert np.abs(audio).max() == pytest.approx(0.25, abs=0.03)


@pytest.mark.parametrize("content,message", [
    (b"", "not a readable audio file"),
    (b"RIFF\x00\x00\x00\x00WAVEgarbage" * 10, "not a readable audio file"),
    (bytes(range(256)) * 40, "not a readable audio file"),
])
def test_corrupt_files_raise_audio_error(tmp_path, content, message):
    p = tmp_path / "bad.wav"
    p.write_bytes(content)
    with pytest.raises(AudioError, match=message):
        load_audio(p)


def test_missing_empty_and_too_short(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "nope.wav")
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, dtype=np.float32), SAMPLE_RATE)
    with pytest.raises(AudioError, match="no audio"):
        load_audio(empty)
    short = tmp_path / "short.wav"
    sf.write(str(short), np.zeros(800, dtype=np.float32), SAMPLE_RATE)  # 0.05 s
    with pytest.raises(AudioError, match="too short"):
        load_audio(short)


def test_too_long_is_refused_without_reading(tmp_path):
    p = tmp_path / "long.wav"
    sf.write(str(p), np.zeros(SAMPLE_RATE * 3, dtype=np.float32), SAMPLE_RATE)
    with pytest.raises(AudioError, match="longer than"):
        load_audio(p, max_seconds=2.0)


def test_nan_samples_are_refused(tmp_path):
    p = tmp_path / "nan.wav"
    sf.write(str(p), np.full(SAMPLE_RATE, np.nan, dtype=np.float32), SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match="invalid"):
        load_audio(p)


def test_write_is_atomic_and_round_trips(tmp_path):
    audio = (np.random.default_rng(0).uniform(-0.5, 0.5, SAMPLE_RATE)).astype(np.float32)
    p = write_audio(tmp_path / "take.wav", audio)
    back = load_audio(p)
    assert np.max(np.abs(back - audio)) < 1e-4
    assert [f.name for f in tmp_path.iterdir()] == ["take.wav"]


def test_resample_length():
    x = np.zeros(44100, dtype=np.float32)
    assert len(resample(x, 44100, 16000)) == 16000
