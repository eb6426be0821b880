import numpy as np
import pytest
import torch

from engine.audio.features import FRAME_SHIFT_S, N_MELS, LogMel, log_mel_db
from engine.audio.io import load_audio
from tests.helpers import SAMPLES


def test_log_mel_shape_and_frame_rate():
    audio = load_audio(SAMPLES / "sc_yes_03401e93.wav")
    db = log_mel_db(audio)
    assert db.shape == (len(audio) // 160 + 1, N_MELS)
    assert FRAME_SHIFT_S == 0.01


def test_per_utterance_normalization_ignores_padding():
    audio = torch.from_numpy(load_audio(SAMPLES / "sc_no_03401e93.wav"))
    frontend = LogMel()
    alone, n = frontend(audio.unsqueeze(0))
    padded = torch.cat([audio, torch.zeros(8000)]).unsqueeze(0)
    batch, lengths = frontend(padded, torch.tensor([audio.numel()]))
    assert int(lengths[0]) == int(n[0])
    k = int(n[0]) - 2  # the last frames see the padding through the window
    # only the edge frames differ (reflection vs zero padding), so the statistics barely move
    assert torch.allclose(alone[0, :k], batch[0, :k], atol=1e-2)
    assert torch.all(batch[0, int(n[0]):] == 0)
    valid = alone[0]
    assert float(valid.mean(0).abs().max()) < 1e-3  # zero mean per mel bin
    std = valid.std(0, unbiased=False)
    assert float(std.max()) == pytest.approx(1.0, abs=0.01) and bool((std <= 1.0 + 1e-3).all())


def test_speech_is_louder_than_silence_in_db():
    audio = load_audio(SAMPLES / "sc_yes_03401e93.wav")
    db = log_mel_db(np.concatenate([np.zeros(8000, np.float32), audio]))
    assert db[:40].mean() < db[60:].max() - 30


def test_vtlp_moves_formants_and_keeps_identity():
    from engine.audio.features import vtlp

    power = torch.rand(3, 257, 5)
    assert torch.allclose(vtlp(power, torch.ones(3)), power, atol=1e-6)
    peak = torch.zeros(2, 257, 1)
    peak[:, 64, 0] = 1.0  # 2000 Hz
    warped = vtlp(peak, torch.tensor([1.1, 0.9]))[:, :, 0]
    assert warped[0].argmax().item() in (70, 71) and warped[1].argmax().item() in (57, 58)  # 2200 Hz, 1800 Hz
    top = torch.zeros(1, 257, 1)
    top[0, -1, 0] = 1.0
    assert vtlp(top, torch.tensor([1.1]))[0, -1, 0] == pytest.approx(1.0)  # Nyquist stays put


def test_logmel_with_warp_one_equals_plain():
    wav = torch.randn(2, 8000) * 0.1
    plain, _ = LogMel()(wav)
    warped, _ = LogMel()(wav, warp=torch.ones(2))
    assert torch.allclose(plain, warped, atol=1e-5)
