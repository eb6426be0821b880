import numpy as np
import pytest
import soundfile as sf

from engine.audio.errors import AudioError
from engine.audio.io import (
    SAMPLE_RATE,
    BlockReader,
    StreamResampler,
    load_audio,
    load_segment,
    resample,
    to_mono,
    write_audio,
)
from tests.helpers import SAMPLES, shared_data


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


@pytest.mark.parametrize("rate", [8_000, 11_025, 22_050, 44_100, 48_000, 96_000])
def test_resample_is_torchaudios_filter_without_torch(rate):
    import torch
    import torchaudio.functional as AF

    speech = sf.read(str(SAMPLES / "sc_yes_03401e93.wav"), dtype="float32")[0]
    for a, b in ((SAMPLE_RATE, rate), (rate, SAMPLE_RATE)):
        x = AF.resample(torch.from_numpy(speech), SAMPLE_RATE, a).numpy()
        ours, theirs = resample(x, a, b), AF.resample(torch.from_numpy(x), a, b).numpy()
        assert len(ours) == len(theirs) and np.max(np.abs(ours - theirs)) < 1e-4


# ------------------------------------------------------------------ block reading (bounded memory)

def _speech() -> np.ndarray:
    """About 50 s of real read speech (four LibriSpeech clean utterances), 16 kHz float32."""
    files = sorted((shared_data() / "librispeech_unlabeled" / "librispeech_train-clean-100").glob("*.flac"))[:4]
    return np.concatenate([sf.read(str(f), dtype="float32")[0] for f in files])


def _whole_read(path, start=None, stop=None) -> np.ndarray:
    """The reading before blocks: the whole stretch as (samples, channels), mixed down and resampled
    by torchaudio (whose filter :func:`resample` runs without torch)."""
    import torch
    import torchaudio.functional as AF

    data, sr = sf.read(str(path), start=start or 0, stop=stop, dtype="float32", always_2d=True)
    return AF.resample(torch.from_numpy(to_mono(data)), sr, SAMPLE_RATE).numpy()


def _write_channels(path, speech: np.ndarray, rate: int, channels: int) -> None:
    """Real speech at ``rate`` Hz on ``channels`` channels (each a different gain), written in 10 s blocks."""
    with sf.SoundFile(str(path), "w", rate, channels, subtype="PCM_16") as fh:
        for i in range(0, len(speech), 10 * SAMPLE_RATE):
            block = resample(speech[i: i + 10 * SAMPLE_RATE], SAMPLE_RATE, rate)
            fh.write(np.stack([block * (0.9 - 0.1 * c) for c in range(channels)], axis=1))


@pytest.mark.parametrize("rate, channels", [(44_100, 2), (8_000, 2), (22_050, 3), (96_000, 8)])
def test_blocks_equal_the_whole_file_read_at_once(tmp_path, rate, channels):
    path = tmp_path / "speech.wav"
    _write_channels(path, _speech()[: 20 * SAMPLE_RATE], rate, channels)
    old, new = _whole_read(path), load_audio(path)
    assert new.dtype == np.float32 and len(new) == len(old) == BlockReader(path).samples
    assert np.max(np.abs(new - old)) < 1e-4  # measured ≤ 2e-5: the same filter, no seams between blocks
    assert np.abs(new).max() > 0.1
    a, b = int(3.3 * rate), int(11.7 * rate)  # a stretch: its edges are zero-padded as when read alone
    assert np.max(np.abs(load_segment(path, a / rate, b / rate) - _whole_read(path, a, b))) < 1e-4


def test_16khz_mono_blocks_are_the_file_exactly(tmp_path):
    path = write_audio(tmp_path / "speech.wav", _speech())
    pieces = list(BlockReader(path, block_seconds=1.5))
    assert len(pieces) > 10 and all(len(p) <= 1.5 * SAMPLE_RATE for p in pieces)
    assert np.array_equal(np.concatenate(pieces), sf.read(str(path), dtype="float32")[0])
    assert np.array_equal(load_audio(path), sf.read(str(path), dtype="float32")[0])


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_stream_resampler_equals_whole_resampling_for_any_feed_sizes(rate):
    audio = resample(_speech()[: 8 * SAMPLE_RATE], SAMPLE_RATE, rate)
    rs, rng, out, i = StreamResampler(rate), np.random.default_rng(rate), [], 0
    while i < len(audio):
        k = int(rng.choice([1, 7, 441, 3000, 20_000]))
        out.append(rs.feed(audio[i: i + k]))
        i += k
    out = np.concatenate(out + [rs.flush()])
    whole = resample(audio, rate)
    assert len(out) == len(whole)
    assert np.max(np.abs(out - whole)) < 1e-6


def test_memory_holds_one_block_not_channels_times_rate_times_duration(tmp_path):
    import tracemalloc

    speech = _speech()
    path = tmp_path / "eight.wav"  # 50 s × 8 channels × 96 kHz: 154 MB as float32 (2-D), read whole before
    _write_channels(path, speech, 96_000, 8)
    tracemalloc.start()
    try:
        audio = load_audio(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    result = audio.nbytes  # 3.2 MB of 16 kHz mono
    block = 4 * 96_000 * 8 * 4  # BLOCK_SECONDS of the file as float32: 12.3 MB
    assert peak < result + 2.5 * block, f"{peak / 1e6:.0f} MB"


def test_iterating_a_long_file_holds_no_more_than_a_block(tmp_path):
    import tracemalloc

    speech = _speech()
    path = tmp_path / "long.wav"  # 20 min of real speech, 16 kHz mono (77 MB as float32)
    with sf.SoundFile(str(path), "w", SAMPLE_RATE, 1, subtype="PCM_16") as fh:
        for _ in range(20 * 60 * SAMPLE_RATE // len(speech) + 1):
            fh.write(speech)
    reader = BlockReader(path)
    assert reader.duration > 20 * 60
    tracemalloc.start()
    try:
        total = sum(len(piece) for piece in reader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == reader.samples
    assert peak < 10 * 4 * SAMPLE_RATE * 4, f"{peak / 1e6:.1f} MB"  # a few 4 s blocks (measured 0.9 MB), not 77 MB
