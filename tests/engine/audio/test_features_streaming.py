"""StreamingLogMel: live log-mel frames that add up to log_mel_db of the whole take."""
import numpy as np
import pytest

from engine.audio.features import N_MELS, StreamingLogMel, log_mel_db
from engine.audio.io import load_audio
from tests.helpers import SAMPLES

TOLERANCE_DB = 0.01


@pytest.fixture(scope="module")
def take() -> np.ndarray:
    """Two real Speech Commands clips, cut to a length that is not a whole number of hops."""
    audio = np.concatenate([load_audio(SAMPLES / "sc_yes_03401e93.wav"), load_audio(SAMPLES / "sc_no_03401e93.wav")])
    return audio[:-77]


def stream(audio: np.ndarray, chunk: int, s: StreamingLogMel | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    s = s or StreamingLogMel()
    outputs = [s.push(audio[i: i + chunk]) for i in range(0, len(audio), chunk)]
    return outputs, s.flush()


@pytest.mark.parametrize("chunk", [1, 160, 333, 4800])
def test_streamed_frames_equal_whole_take_log_mel(take, chunk):
    outputs, last = stream(take, chunk)
    frames = np.concatenate(outputs + [last])
    expected = log_mel_db(take)
    assert frames.shape == expected.shape == (len(take) // 160 + 1, N_MELS)
    assert frames.dtype == np.float32
    # every frame, the first ones (reflected start) and the flushed last ones (reflected end) included
    np.testing.assert_allclose(frames, expected, atol=TOLERANCE_DB, rtol=0)
    assert 1 <= len(last) <= 2  # only the frames whose window passes the end of the take wait for flush()


def test_frame_is_emitted_once_its_window_has_arrived(take):
    """Frame t (samples t·160 - 200 … t·160 + 199) comes out with sample t·160 + 199; frame 0 with x[200]."""
    s = StreamingLogMel()
    emitted_at = []  # samples pushed when each frame came out
    for n in range(1, 2001):
        emitted_at += [n] * len(s.push(take[n - 1: n]))
    assert emitted_at == [201] + [t * 160 + 200 for t in range(1, 12)]
    assert s.frames_emitted == 12


def test_flush_resets_for_the_next_take(take):
    s = StreamingLogMel()
    stream(take[:5000], 240, s)
    assert s.samples_seen == 0 and s.frames_emitted == 0
    outputs, last = stream(take, 240, s)
    np.testing.assert_allclose(np.concatenate(outputs + [last]), log_mel_db(take), atol=TOLERANCE_DB, rtol=0)


def test_empty_and_tiny_takes():
    s = StreamingLogMel()
    assert s.flush().shape == (0, N_MELS)
    assert s.push(np.zeros(0, np.float32)).shape == (0, N_MELS)
    tiny = np.linspace(-0.1, 0.1, 120, dtype=np.float32)  # log_mel_db itself cannot pad this little audio
    s.push(tiny)
    frames = s.flush()
    assert frames.shape == (1, N_MELS) and np.isfinite(frames).all()
