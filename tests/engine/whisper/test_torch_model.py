"""Whisper in torch for Insight (engine/whisper/torch_model.py): cross-attention on real speech."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from faster_whisper.feature_extractor import FeatureExtractor

from engine.audio.io import SAMPLE_RATE, load_audio
from engine.resources import sample_path
from engine.whisper.torch_model import FRAME_S, TorchWhisper, load_torch_whisper

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tiny_folder: Path) -> TorchWhisper:
    before = torch.get_num_threads()
    yield load_torch_whisper(tiny_folder, threads=2)
    torch.set_num_threads(before)


def _yes_pause_left() -> np.ndarray:
    """1 s silence, "yes" (a 1 s clip), 1 s silence, "left" (a 1 s clip), 1 s silence."""
    gap = np.zeros(SAMPLE_RATE, np.float32)
    yes, left = load_audio(sample_path("sc_yes_03401e93.wav")), load_audio(sample_path("sc_left_03401e93.wav"))
    assert len(yes) == len(left) == SAMPLE_RATE
    return np.concatenate([gap, yes, gap, left, gap])


def test_alignment_heads_peak_inside_the_spoken_words(tiny: TorchWhisper) -> None:
    """Each word's alignment heads peak inside its own clip; the comma's (standardized) in the pause."""
    tokens = tiny.encode_text(" Yes, left.")
    ca = tiny.cross_attention(_yes_pause_left(), tokens)
    assert ca.pieces == [" Yes", ",", " left", "."] and ca.tokens == tokens
    assert ca.weights.shape == (4, 6, 4, 250)  # tiny.en: 4 layers × 6 heads, 4 tokens, 5 s of 20 ms frames
    assert (ca.weights >= 0).all() and (ca.weights.sum(-1) <= 1 + 1e-5).all()
    assert ca.alignment_heads == [(1, 0), (2, 0), (2, 5), (3, 0), (3, 1), (3, 2), (3, 3), (3, 4)]
    peaks = ca.peaks()
    assert 1.0 <= peaks[0] <= 2.0 and 3.0 <= peaks[2] <= 4.0, peaks  # " Yes", " left"
    standardized = ca.alignment().argmax(axis=-1) * FRAME_S  # as Whisper's word timing reads it
    assert 1.0 <= standardized[0] <= 2.0 and 2.0 <= standardized[1] <= 3.0 and 3.0 <= standardized[2] <= 4.0


def test_base_alignment_heads_peak_inside_the_spoken_words(base_folder: Path) -> None:
    base = load_torch_whisper(base_folder, threads=2)
    ca = base.cross_attention(_yes_pause_left(), base.encode_text(" Yes, left."))
    assert ca.weights.shape == (6, 8, 4, 250) and len(ca.alignment_heads) == 8
    peaks = ca.peaks()
    assert 1.0 <= peaks[0] <= 2.0 and 3.0 <= peaks[2] <= 4.0, peaks


def test_feature_extractor_matches_ctranslate2s(tiny: TorchWhisper) -> None:
    audio = load_audio(sample_path("fsdd_7_nicolas_0.wav"))
    ours = tiny.mel(audio)[0].numpy()
    theirs = FeatureExtractor(feature_size=80)(audio)[:, :3000]
    assert ours.shape == (80, 3000)
    assert np.abs(ours[:, : theirs.shape[1]] - theirs).max() < 1e-3


def test_english_only_prompt_and_refusals(tiny: TorchWhisper) -> None:
    assert tiny.prompt == [50257, 50362]  # <|startoftranscript|><|notimestamps|>
    with pytest.raises(ValueError):
        tiny.cross_attention(np.zeros(31 * SAMPLE_RATE, np.float32), [1])
    with pytest.raises(ValueError):
        tiny.cross_attention(np.zeros(SAMPLE_RATE, np.float32), [])


@pytest.mark.parametrize("name", ["whisper-tiny.en", "whisper-base"])
def test_transformers_generate_transcribes_with_the_converted_settings(name: str, whisper_root: Path) -> None:
    """The generation settings built from the CTranslate2 folder (prompt, language detection for the
    multilingual model, suppression) let ``transformers``' own ``generate`` transcribe as CTranslate2 does."""
    tw = load_torch_whisper(whisper_root / name, threads=2)
    mel = tw.mel(load_audio(sample_path("sc_left_03401e93.wav")))
    out = tw.model.generate(mel, num_beams=1, return_dict_in_generate=True).sequences[0].tolist()
    assert out[: len(tw.prompt)] == tw.prompt  # base: <|en|> detected, then <|transcribe|><|notimestamps|>
    assert tw.tokenizer.decode(out[len(tw.prompt):], skip_special_tokens=True).strip(" .").lower() == "left"
