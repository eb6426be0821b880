"""Reading and writing audio files.

Files are read with soundfile (libsndfile: WAV, FLAC, OGG/Vorbis, …) in blocks
of :data:`BLOCK_SECONDS` (:class:`BlockReader`); each block is mixed down to
mono and resampled to :data:`SAMPLE_RATE` as it streams
(:class:`StreamResampler`, given the neighbouring samples the filter needs, so
blocks join without seams). Memory therefore holds the 16 kHz mono result plus
one block, whatever the file's channels and rate.

Resampling (:func:`resample`) is ``torchaudio.functional.resample``'s filter
(windowed sinc, Hann window, 6 zero crossings, cut-off at 0.99 of the lower
Nyquist rate) run by ``scipy.signal.resample_poly``: the same output to ~1e-6,
without importing torch (540 MB resident with the CUDA build) to read a file.

All samples are ``float32`` in [-1, 1]; all times are in seconds.
"""
from __future__ import annotations

import functools
import logging
import math
import os
import re
import stat
from collections.abc import Iterator
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
BLOCK_SECONDS = 4.0
"""Seconds of a file read at a time (8 channels at 96 kHz: 12 MB of float32)."""
LOWPASS_FILTER_WIDTH = 6
"""Zero crossings of the resampling sinc on each side (torchaudio's default)."""
ROLLOFF = 0.99
"""The resampling filter's cut-off as a fraction of the lower rate's Nyquist frequency (torchaudio's default)."""
AUDIO_LOG = "sayso.audio"
"""The logger of warnings about audio read anyway (a truncated file): the CLI prints them, the studio may show them."""

log = logging.getLogger(AUDIO_LOG)


def resample(audio: np.ndarray, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono audio.

    Args:
        audio: ``(samples,)`` float32 at ``orig_sr`` Hz.
        orig_sr: input rate in Hz.
        target_sr: output rate in Hz.

    Returns:
        ``(ceil(samples * target_sr / orig_sr),)`` float32 (the input's ends zero-padded).
    """
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if orig_sr == target_sr:
        return audio
    from scipy.signal import resample_poly

    up, down, h, _ = _sinc_filter(orig_sr, target_sr)
    return resample_poly(audio, up, down, window=h).astype(np.float32, copy=False)


@functools.lru_cache(maxsize=16)
def _sinc_filter(orig_sr: int, target_sr: int) -> tuple[int, int, np.ndarray, int]:
    """``(up, down, h, width)``: the rates reduced by their gcd; torchaudio's resampling filter as
    one FIR filter ``h`` at ``up × orig_sr``, odd and centred, divided by ``up`` (resample_poly
    multiplies by it); ``width``, the input samples it reaches on each side.

    torchaudio's kernel weighs input sample ``i`` of a period for output phase ``j`` by
    ``f(i/down − j/up)``; here ``h[m] = f(m / (up·down))``, ``m = i·up − j·down``, with
    ``f(t) = sinc(b·t) · cos²(π·b·t / 2w) · b / down`` for ``|b·t| ≤ w`` (else 0),
    ``b = ROLLOFF · min(up, down)`` and ``w = LOWPASS_FILTER_WIDTH``.
    """
    g = math.gcd(orig_sr, target_sr)
    up, down = target_sr // g, orig_sr // g
    base = min(up, down) * ROLLOFF
    half = math.ceil(LOWPASS_FILTER_WIDTH * up * down / base)
    t = np.clip(np.arange(-half, half + 1) / (up * down) * base, -LOWPASS_FILTER_WIDTH, LOWPASS_FILTER_WIDTH)
    window = np.cos(t * np.pi / LOWPASS_FILTER_WIDTH / 2) ** 2
    h = np.sinc(t) * window * base / down / up
    width = math.ceil(LOWPASS_FILTER_WIDTH * down / base)
    return up, down, h.astype(np.float32), width


class StreamResampler:
    """Resample mono audio that arrives in blocks, as :func:`resample` would resample it whole.

    :meth:`feed` returns the output samples whose filter window the input so far covers
    and holds back the last few input samples (under 2 ms at 8, 48 or 96 kHz, under 60 ms at
    22.05 or 44.1 kHz); :meth:`flush` returns the rest. Concatenated, the outputs equal
    :func:`resample` of the concatenated input: the same filter, run on overlapping stretches
    cropped to the outputs that see all their neighbours (equal up to float rounding, ~1e-7).

    Args:
        orig_sr: input rate in Hz.
        target_sr: output rate in Hz.

    >>> rs = StreamResampler(44_100)
    >>> out = np.concatenate([rs.feed(np.zeros(1000, np.float32)) for _ in range(44)] + [rs.flush()])
    >>> len(out) == len(resample(np.zeros(44_000, np.float32), 44_100))
    True
    """

    def __init__(self, orig_sr: int, target_sr: int = SAMPLE_RATE) -> None:
        self.orig_sr, self.target_sr = orig_sr, target_sr
        g = math.gcd(orig_sr, target_sr)
        self._orig, self._new = orig_sr // g, target_sr // g
        width = _sinc_filter(orig_sr, target_sr)[3] if self._orig != self._new else 0
        self._pad = (math.ceil(width / self._orig) + 1) * self._orig if width else 0  # context each side
        self._buf = np.zeros(self._pad, np.float32)  # input from (next output frame) * orig - pad on
        self._fed = self._done = 0  # input samples fed; output samples returned

    def feed(self, audio: np.ndarray) -> np.ndarray:
        """``(samples,)`` float32 at ``orig_sr`` → the ``(k,)`` float32 output samples now complete."""
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        self._fed += len(audio)
        if self._orig == self._new:
            self._done += len(audio)
            return audio
        self._buf = np.concatenate([self._buf, audio])
        return self._run((len(self._buf) - 2 * self._pad) // self._orig)

    def flush(self) -> np.ndarray:
        """The remaining output samples (the input's end is zero-padded, as :func:`resample` pads it)."""
        if self._orig == self._new:
            return np.zeros(0, np.float32)
        total = math.ceil(self._fed * self._new / self._orig)
        frames = math.ceil((total - self._done) / self._new)
        need = frames * self._orig + 2 * self._pad
        self._buf = np.concatenate([self._buf, np.zeros(max(0, need - len(self._buf)), np.float32)])
        rest = total - self._done
        out = self._run(frames)[:rest]
        self._done = total
        return out

    def _run(self, frames: int) -> np.ndarray:
        """Output of the next ``frames`` input frames (``orig`` samples each) and drop their input."""
        if frames <= 0:
            return np.zeros(0, np.float32)
        n = frames * self._orig
        out = resample(self._buf[: n + 2 * self._pad], self.orig_sr, self.target_sr)
        k = self._pad // self._orig * self._new
        out = out[k: k + frames * self._new]
        self._buf = self._buf[n:]
        self._done += len(out)
        return out


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average channels: ``(samples, channels)`` or ``(samples,)`` → ``(samples,)`` float32."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    return audio


def audio_info(path: str | os.PathLike) -> sf._SoundFileInfo:
    """Header of an audio file (rate in Hz, channels, frames, duration in seconds).

    Only a regular file (or a symlink to one) is opened: a FIFO, a device, a
    socket or a folder is refused at once (libsndfile would wait on a FIFO forever).

    Raises:
        AudioError: the file is missing, not a regular file, or not a readable audio file.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise AudioError(f"{path}: no such file.") from None
    except OSError as exc:
        raise AudioError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a named pipe" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "a device")
        raise AudioError(f"{path}: not a regular audio file ({kind}).")
    try:
        return sf.info(str(path))
    except Exception as exc:  # libsndfile's RuntimeError / LibsndfileError
        raise AudioError(
            f"{path.name}: not a readable audio file ({_reason(exc)}). "
            "Sayso reads WAV, FLAC and OGG; convert other formats first."
        ) from None


class BlockReader:
    """An audio file read in blocks, each mixed down to mono and resampled as it streams.

    Iterating yields ``(k,)`` float32 pieces at ``sample_rate`` (about ``block_seconds`` each);
    concatenated, they equal the whole stretch read at once, averaged over channels and
    :func:`resample`-d (exactly for a mono file at ``sample_rate``). Memory holds one block of
    ``block_seconds × rate × channels`` samples, never the file. Iterating again reads again.

    Args:
        path: a WAV, FLAC or OGG file (anything libsndfile reads).
        sample_rate: output rate in Hz.
        block_seconds: seconds of the file read at a time.
        max_seconds: longest accepted stretch in seconds.
        start_frame, stop_frame: the stretch read, in frames of the file (default: all of it).

    Attributes:
        info: the file's header (:func:`audio_info`).
        samples: output samples the stretch gives at ``sample_rate``.
        duration: the stretch's length in seconds.
        missing_seconds: seconds the header promises beyond the audio data the file holds
            (a truncated file, 0.0 otherwise); known from a WAV header on construction, and
            after iterating when the data ends early. Each iteration that meets a truncated
            file logs one warning on the :data:`AUDIO_LOG` logger and reads what is there.

    Raises:
        AudioError: on construction, a missing or unreadable file, no samples, or a stretch
            longer than ``max_seconds``; while iterating, corrupt data or NaN/infinite samples.
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int = SAMPLE_RATE,
                 block_seconds: float = BLOCK_SECONDS, max_seconds: float = MAX_SECONDS,
                 start_frame: int = 0, stop_frame: int | None = None) -> None:
        self.path, self.sample_rate = Path(path), sample_rate
        self.info = audio_info(self.path)
        if self.info.frames == 0 or self.info.samplerate <= 0:
            raise AudioError(f"{self.path.name}: the file holds no audio.")
        rate = self.info.samplerate
        self.start_frame = start_frame
        self.stop_frame = self.info.frames if stop_frame is None else min(stop_frame, self.info.frames)
        self.duration = (self.stop_frame - self.start_frame) / rate
        if self.duration > max_seconds:
            raise AudioError(
                f"{self.path.name}: {self.duration / 60:.0f} min is longer than the "
                f"{max_seconds / 60:.0f} min Sayso opens at once; split it first."
            )
        self.samples = math.ceil((self.stop_frame - self.start_frame) * sample_rate / rate)
        self._block = max(1, int(block_seconds * rate))
        self._header_missing = _missing_frames(self.info) / rate if stop_frame is None else 0.0
        self.missing_seconds = self._header_missing

    def __iter__(self) -> Iterator[np.ndarray]:
        resampler = StreamResampler(self.info.samplerate, self.sample_rate)
        try:
            fh = sf.SoundFile(str(self.path))
        except Exception as exc:
            raise self._corrupt(exc) from None
        with fh:
            left, ended = self.stop_frame - self.start_frame, 0
            try:
                if self.start_frame:
                    fh.seek(self.start_frame)
            except Exception as exc:
                raise self._corrupt(exc) from None
            while left > 0:
                try:
                    data = fh.read(min(self._block, left), dtype="float32", always_2d=True)
                except Exception as exc:
                    raise self._corrupt(exc) from None
                if len(data) == 0:
                    ended = left  # the header promised more than the data holds
                    break
                left -= len(data)
                mono = to_mono(data)
                del data
                if not np.all(np.isfinite(mono)):
                    raise AudioError(f"{self.path.name}: the audio holds invalid (NaN or infinite) samples.")
                out = resampler.feed(mono)
                if len(out):
                    yield out
        self.missing_seconds = self._header_missing + ended / self.info.samplerate
        if self.missing_seconds > 0:
            promised = self.info.duration + self._header_missing
            log.warning("%s: the file is truncated: %.2f s of the %.2f s its header promises are missing; "
                        "using the %.2f s there are.", self.path.name, self.missing_seconds, promised,
                        promised - self.missing_seconds)
        out = resampler.flush()
        if len(out):
            yield out

    def read(self) -> np.ndarray:
        """The whole stretch as one ``(samples,)`` float32 array (filled block by block)."""
        audio, n = np.empty(self.samples, np.float32), 0
        for piece in self:
            if n + len(piece) > len(audio):  # never expected: the header undercounted the frames
                audio = np.concatenate([audio[:n], np.empty(n + len(piece) - len(audio), np.float32)])
            audio[n: n + len(piece)] = piece
            n += len(piece)
        return audio[:n] if n < len(audio) else audio

    def _corrupt(self, exc: Exception) -> AudioError:
        return AudioError(f"{self.path.name}: the audio data is corrupt ({_reason(exc)}).")


def load_audio(
    path: str | os.PathLike,
    sample_rate: int = SAMPLE_RATE,
    min_seconds: float = MIN_SECONDS,
    max_seconds: float = MAX_SECONDS,
) -> np.ndarray:
    """Read an audio file as mono float32 at ``sample_rate``, block by block (:class:`BlockReader`).

    Peak memory is the result plus one block, whatever the file's channels and rate.

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
    audio = BlockReader(path, sample_rate, max_seconds=max_seconds).read()
    return check_audio(audio, sample_rate, min_seconds, name=path.name)


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
    audio = BlockReader(path, sample_rate, max_seconds=math.inf, start_frame=a, stop_frame=b).read()
    return check_audio(audio, sample_rate, min_seconds, name=path.name)


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


_SHORT_DATA = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_BLOCK_ALIGN = re.compile(r"^\s*Block Align\s*:\s*(\d+)", re.MULTILINE)


def _missing_frames(info: sf._SoundFileInfo) -> int:
    """Frames a WAV header promises beyond the data the file holds (libsndfile counts only those there
    and notes ``data : N (should be M)`` in its log); 0 for a whole file or another format."""
    short, align = _SHORT_DATA.search(info.extra_info or ""), _BLOCK_ALIGN.search(info.extra_info or "")
    if not short or not align or int(align.group(1)) <= 0:
        return 0
    return max(0, int(short.group(1)) - int(short.group(2))) // int(align.group(1))


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text.split(": ", 1)[-1][:160]
