"""Reading and writing audio files.

Files are read with soundfile (libsndfile: WAV, FLAC, OGG/Vorbis, …), mixed
down to mono and resampled to :data:`SAMPLE_RATE` with
``torchaudio.functional.resample`` (windowed-sinc, Kaiser window).

All samples are ``float32`` in [-1, 1]; all times are in seconds.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.atomic import atomic_write
from engine.audio.errors import AudioError
from engine.audio.pcm import to_pcm16

SAMPLE_RATE = 16_000
"""The model's sample rate in Hz."""
MIN_SECONDS = 0.1
"""Shorter audio is refused: it holds too few frames to recognize anything."""
MAX_SECONDS = 4 * 3600.0
"""Longer files are refused (about 900 MB of float32 at 16 kHz)."""


def resample(audio: np.ndarray, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono audio.

    Args:
        audio: ``(samples,)`` float32 at ``orig_sr`` Hz.
        orig_sr: input rate in Hz.
        target_sr: output rate in Hz.

    Returns:
        ``(round(samples * target_sr / orig_sr),)`` float32.
    """
    if orig_sr == target_sr:
        return np.ascontiguousarray(audio, dtype=np.float32)
    import torch
    import torchaudio.functional as AF

    out = AF.resample(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), orig_sr, target_sr)
    return out.numpy()


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average channels: ``(samples, channels)`` or ``(samples,)`` → ``(samples,)`` float32."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    return audio


def audio_info(path: str | os.PathLike) -> sf._SoundFileInfo:
    """Header of an audio file (rate in Hz, channels, frames, duration in seconds).

    Raises:
        AudioError: the file is missing or not a readable audio file.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file.")
    try:
        return sf.info(str(path))
    except Exception as exc:  # libsndfile's RuntimeError / LibsndfileError
        raise AudioError(
            f"{path.name}: not a readable audio file ({_reason(exc)}). "
            "Sayso reads WAV, FLAC and OGG; convert other formats first."
        ) from None


def load_audio(
    path: str | os.PathLike,
    sample_rate: int = SAMPLE_RATE,
    min_seconds: float = MIN_SECONDS,
    max_seconds: float = MAX_SECONDS,
) -> np.ndarray:
    """Read an audio file as mono float32 at ``sample_rate``.

    Args:
        path: a WAV, FLAC or OGG file (anything libsndfile reads).
        sample_rate: output rate in Hz (default 16 kHz).
        min_seconds: shortest accepted duration in seconds.
        max_seconds: longest accepted duration in seconds.

    Returns:
        ``(samples,)`` float32 in [-1, 1] at ``sample_rate``.

    Raises:
        AudioError: missing, unreadable or corrupt file; no samples; shorter
            than ``min_seconds``; longer than ``max_seconds``.
    """
    path = Path(path)
    info = audio_info(path)
    if info.frames == 0 or info.samplerate <= 0:
        raise AudioError(f"{path.name}: the file holds no audio.")
    if info.frames / info.samplerate > max_seconds:
        raise AudioError(
            f"{path.name}: {info.frames / info.samplerate / 60:.0f} min is longer than the "
            f"{max_seconds / 60:.0f} min Sayso opens at once; split it first."
        )
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(f"{path.name}: the audio data is corrupt ({_reason(exc)}).") from None
    audio = to_mono(data)
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{path.name}: the audio holds invalid (NaN or infinite) samples.")
    return check_audio(resample(audio, sr, sample_rate), sample_rate, min_seconds, name=path.name)


def load_segment(path: str | os.PathLike, start: float | None, end: float | None, sample_rate: int = SAMPLE_RATE,
                 min_seconds: float = MIN_SECONDS) -> np.ndarray:
    """Read ``start``–``end`` seconds of an audio file as mono float32 at ``sample_rate``.

    Only that stretch is read from disk (an utterance of a long recording).
    ``start`` None is the file's start and ``end`` None its end (as in
    :class:`engine.data.utterance.Utterance`), so ``(None, None)`` reads the
    whole file.

    Raises:
        AudioError: missing, unreadable or corrupt file; the stretch lies
            outside the file or is shorter than ``min_seconds``.
    """
    path = Path(path)
    info = audio_info(path)
    start = 0.0 if start is None else start
    end = info.frames / info.samplerate if end is None and info.samplerate > 0 else end or 0.0
    a, b = int(round(start * info.samplerate)), int(round(end * info.samplerate))
    if not 0 <= a < b <= info.frames + int(0.05 * info.samplerate):
        raise AudioError(f"{path.name}: {start:.2f}–{end:.2f} s is outside the file "
                         f"({info.frames / info.samplerate:.2f} s).")
    try:
        data, sr = sf.read(str(path), start=a, stop=min(b, info.frames), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(f"{path.name}: the audio data is corrupt ({_reason(exc)}).") from None
    audio = to_mono(data)
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{path.name}: the audio holds invalid (NaN or infinite) samples.")
    return check_audio(resample(audio, sr, sample_rate), sample_rate, min_seconds, name=path.name)


def check_audio(
    audio: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    min_seconds: float = MIN_SECONDS,
    name: str = "the recording",
) -> np.ndarray:
    """Validate in-memory audio; returns it as ``(samples,)`` float32.

    Raises:
        AudioError: not 1-D after mixing down, empty, or shorter than ``min_seconds``.
    """
    audio = to_mono(audio)
    if audio.ndim != 1:
        raise AudioError(f"{name}: expected mono or (samples, channels) audio, got shape {audio.shape}.")
    if audio.size == 0:
        raise AudioError(f"{name}: the audio is empty.")
    if audio.size < min_seconds * sample_rate:
        raise AudioError(
            f"{name}: {audio.size / sample_rate:.2f} s is too short; speak for at least {min_seconds:.1f} s."
        )
    return audio


def write_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write mono audio as 16-bit PCM WAV atomically (temp file, fsync, rename).

    Args:
        path: destination ``.wav`` (``.flac`` also works).
        audio: ``(samples,)`` float32 in [-1, 1], stored with
            :func:`engine.audio.pcm.to_pcm16` (so audio read from a 16-bit
            file is written back bit-exact; out-of-range samples are clipped).
        sample_rate: rate in Hz.

    Returns:
        The path written.

    Raises:
        OSError: the disk is full or the folder is not writable; the
            destination is then left untouched.
    """
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        sf.write(fh, to_pcm16(audio), sample_rate, subtype="PCM_16",
                 format=path.suffix.lstrip(".").upper() or "WAV")
    return path


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text.split(": ", 1)[-1][:160]
