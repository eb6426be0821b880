"""Crash-safe takes: a recording streamed to disk while it records.

A :class:`TakeWriter` appends every chunk of 16 kHz audio to
``<takes_dir>/<take_id>.partial.wav`` as it arrives, so a crash, a power cut
or ``kill -9`` loses at most the audio not yet handed to :meth:`TakeWriter.write`
plus, for a power cut, the last ``flush_seconds`` (0.25 s by default):

* each chunk goes to the kernel at once (``os.write``, no user-space buffer):
  a killed process loses nothing it wrote;
* every ``flush_seconds`` of audio the file is ``fsync``-ed: an operating
  system crash or power cut loses at most that much.

File format. The partial file is a canonical 44-byte WAV header followed by
headerless PCM_16 little-endian mono samples. While recording, the header's
sizes are 0 (the audio's length is the file's length); finishing writes the
real sizes into the header and renames the file to ``<take_id>.wav``
(``os.replace``: a finished take either exists complete or not at all). No
copy is made, so finishing is instant for long takes and works on a full disk.
A small JSON sidecar ``<take_id>.partial.json`` (``sample_rate`` in Hz,
``started`` ISO 8601 time, ``device`` name) is written atomically at the start
and removed once the take is finished.

After a crash, :func:`find_unfinished` lists the partial takes left behind and
:func:`recover` turns each into a finished WAV (an odd trailing byte, half a
sample, is dropped). A take still being recorded (by this or another Sayso
process) holds an exclusive ``flock`` on its partial file and is never listed.

Samples are ``float32`` mono in [-1, 1]; rates are in Hz, durations in seconds.
Disk trouble raises :class:`TakeError` with a message for users; audio already
on disk is never deleted by an error. This module imports no Qt.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import secrets
import struct
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write, fsync_dir
from engine.audio.io import SAMPLE_RATE
from engine.audio.pcm import to_pcm16

try:  # POSIX: a live take is locked; Windows has no flock (an open file cannot be renamed anyway)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = [
    "FLUSH_SECONDS",
    "TakeError",
    "TakeWriter",
    "UnfinishedTake",
    "find_unfinished",
    "recover",
]

log = logging.getLogger("sayso.take")

FLUSH_SECONDS = 0.25
"""Default seconds of audio between two ``fsync`` calls."""
HEADER_BYTES = 44
"""Size of the canonical PCM WAV header that starts every take file."""
PARTIAL_SUFFIX = ".partial.wav"
SIDECAR_SUFFIX = ".partial.json"
MAX_DATA_BYTES = (0xFFFFFFFF - 36) & ~1
"""Largest audio payload a WAV header can describe (~37 h at 16 kHz)."""
FORMAT = "sayso-take-1"

_O_BINARY = getattr(os, "O_BINARY", 0)


class TakeError(RuntimeError):
    """A take cannot be written, finished or recovered.

    Raised for: a takes folder that cannot be created or written, a full disk
    (``ENOSPC``) or any other ``OSError`` while writing, a take used after it
    was finished or closed, and a take too long for a WAV file. The message
    is meant for users, says what happened to the audio (kept on disk) and
    never contains a traceback.
    """


# ------------------------------------------------------------------ helpers


def wav_header(sample_rate: int, data_bytes: int) -> bytes:
    """The 44-byte header of a mono PCM_16 WAV holding ``data_bytes`` bytes of samples."""
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + data_bytes, b"WAVE",
        b"fmt ", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16,
        b"data", data_bytes,
    )


def _header_rate(header: bytes) -> int | None:
    """Sample rate in Hz from one of our headers, or None if it is not one."""
    if len(header) < HEADER_BYTES or header[:4] != b"RIFF" or header[8:16] != b"WAVE" + b"fmt ":
        return None
    fmt, channels, rate, _, align, bits = struct.unpack("<HHIIHH", header[20:36])
    if (fmt, channels, align, bits) != (1, 1, 2, 16) or not _valid_rate(rate):
        return None
    return rate


def _valid_rate(rate) -> bool:
    return isinstance(rate, int) and not isinstance(rate, bool) and 1_000 <= rate <= 384_000


def _lock(fd: int, exclusive: bool = True) -> bool:
    """Take a non-blocking flock on ``fd``; False if another open file holds it."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _is_live(path: Path) -> bool:
    """True if a :class:`TakeWriter` (in any process) is still writing ``path``."""
    try:
        fd = os.open(path, os.O_RDONLY | _O_BINARY)
    except OSError:
        return False
    try:
        return not _lock(fd, exclusive=False)
    finally:
        os.close(fd)  # closing releases our probe lock


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _disk_message(exc: OSError, what: str, folder: Path) -> str:
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return f"The disk is full: {what} in {folder}. Free some space and try again."
    return f"{what.capitalize()} in {folder} ({_reason(exc)})."


def _new_take_id() -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"take-{stamp}-{secrets.token_hex(3)}"


# ------------------------------------------------------------------ writer


class TakeWriter:
    """Streams one take to ``<takes_dir>/<take_id>.partial.wav`` while it records.

    Args:
        takes_dir: folder of the takes (created if missing).
        take_id: file name stem; None for ``take-YYYYmmdd-HHMMSS-xxxxxx``.
        sample_rate: rate of the audio in Hz (16 kHz: what
            :meth:`engine.audio.capture.Recorder.read_new` delivers).
        device_name: microphone name, kept in the sidecar.
        flush_seconds: seconds of audio between two ``fsync`` calls (> 0;
            keep it ≤ 0.5 s so that a power cut loses at most that much).

    Raises:
        ValueError: ``flush_seconds`` or ``sample_rate`` is not valid.
        TakeError: the folder cannot be created or written (disk full,
            read-only, no permission), or ``take_id`` already exists.

    Use :meth:`write` for each chunk, then :meth:`finish` (a finished WAV),
    :meth:`close` (stop, keep the partial file for :func:`recover`) or
    :meth:`discard`. As a context manager it finishes on success and closes
    (keeps the partial) on an exception. Not thread-safe: one thread writes.
    """

    def __init__(self, takes_dir: str | os.PathLike, take_id: str | None = None,
                 sample_rate: int = SAMPLE_RATE, device_name: str = "",
                 flush_seconds: float = FLUSH_SECONDS):
        if not flush_seconds > 0:
            raise ValueError(f"flush_seconds must be positive, got {flush_seconds}")
        if not _valid_rate(int(sample_rate)):
            raise ValueError(f"sample_rate must be 1000..384000 Hz, got {sample_rate}")
        self.dir = Path(takes_dir)
        self.sample_rate = int(sample_rate)
        self.device_name = str(device_name)
        self.flush_seconds = float(flush_seconds)
        self._flush_samples = max(1, int(round(self.flush_seconds * self.sample_rate)))
        self._fd: int | None = None
        self._bytes = 0          # audio bytes on disk after the header
        self._unflushed = 0      # samples written since the last fsync
        self._state = "open"     # open | failed | finished | closed | discarded
        self._error: str | None = None
        self.started = datetime.now().astimezone().isoformat(timespec="milliseconds")
        """Start time of the take, ISO 8601 with the local UTC offset."""

        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TakeError(_disk_message(exc, "the takes folder could not be created", self.dir)
                            + " Recording needs it to keep takes safe.") from None
        self.take_id = take_id or _new_take_id()
        if take_id is None:  # a fresh name: neither a partial nor a finished take by that name
            while self.wav_path.exists() or self.path.exists():
                self.take_id = _new_take_id()
        elif self.wav_path.exists():
            raise TakeError(f"A take named '{take_id}' already exists in {self.dir}.")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o644)
        except FileExistsError:
            raise TakeError(f"A take named '{self.take_id}' already exists in {self.dir}.") from None
        except OSError as exc:
            raise TakeError(_disk_message(exc, "a new take could not be created", self.dir)) from None
        try:
            _lock(fd)
            self._write_all(fd, wav_header(self.sample_rate, 0))
            os.fsync(fd)
            with atomic_write(self.sidecar_path) as fh:
                json.dump({"format": FORMAT, "take_id": self.take_id,
                           "sample_rate": self.sample_rate, "channels": 1, "subtype": "PCM_16",
                           "header_bytes": HEADER_BYTES, "started": self.started,
                           "device": self.device_name}, fh, indent=1)
            fsync_dir(self.dir)
        except OSError as exc:
            os.close(fd)
            self.path.unlink(missing_ok=True)
            raise TakeError(_disk_message(exc, "a new take could not be created", self.dir)) from None
        self._fd = fd

    # ------------------------------------------------------------ state

    @property
    def path(self) -> Path:
        """The partial file being written: ``<takes_dir>/<take_id>.partial.wav``."""
        return self.dir / f"{self.take_id}{PARTIAL_SUFFIX}"

    @property
    def sidecar_path(self) -> Path:
        """The JSON sidecar: ``<takes_dir>/<take_id>.partial.json``."""
        return self.dir / f"{self.take_id}{SIDECAR_SUFFIX}"

    @property
    def wav_path(self) -> Path:
        """Where :meth:`finish` puts the take: ``<takes_dir>/<take_id>.wav``."""
        return self.dir / f"{self.take_id}.wav"

    @property
    def samples(self) -> int:
        """Whole samples on disk so far."""
        return self._bytes // 2

    @property
    def duration(self) -> float:
        """Seconds of audio on disk so far."""
        return self.samples / self.sample_rate

    @property
    def failed(self) -> bool:
        """True once a write failed (see :attr:`error`); later writes raise :class:`TakeError`."""
        return self._state == "failed"

    @property
    def finished(self) -> bool:
        """True once :meth:`finish` made the WAV."""
        return self._state == "finished"

    @property
    def error(self) -> str | None:
        """The user message of the write failure, or None."""
        return self._error

    # ------------------------------------------------------------ writing

    @staticmethod
    def _write_all(fd: int, data: bytes) -> int:
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += os.write(fd, view[done:])
        return done

    def write(self, chunk: np.ndarray) -> None:
        """Append audio to the take (it is in the kernel when this returns).

        Args:
            chunk: ``(samples,)`` float32 in [-1, 1] at :attr:`sample_rate`;
                an empty chunk does nothing.

        Raises:
            ValueError: ``chunk`` is not 1-D.
            TakeError: the disk is full or failed (the take then stops
                accepting audio; everything written before stays on disk and
                :meth:`finish` still makes a WAV of it), the take is too long
                for a WAV file, or it was finished or closed.
        """
        if self._state != "open":
            raise TakeError(self._error or f"The take '{self.take_id}' is {self._state}; start a new one.")
        x = np.asarray(chunk)
        if x.ndim != 1:
            raise ValueError(f"expected a (samples,) chunk, got shape {x.shape}")
        if x.size == 0:
            return
        data = to_pcm16(x).tobytes()
        if self._bytes + len(data) > MAX_DATA_BYTES:
            self._state = "failed"
            self._error = (f"The take reached the longest a WAV file can hold "
                           f"({MAX_DATA_BYTES / 2 / self.sample_rate / 3600:.0f} h): recording stopped. "
                           f"The {self.duration:.1f} s recorded were kept.")
            raise TakeError(self._error)
        view = memoryview(data)
        try:
            while view:  # a short write (disk filling up) keeps what fit
                n = os.write(self._fd, view)
                self._bytes += n
                view = view[n:]
            self._unflushed += len(x)
            if self._unflushed >= self._flush_samples:
                self._sync()
        except OSError as exc:
            self._fail(exc)

    def flush(self) -> None:
        """``fsync`` the audio written so far (it survives a power cut).

        Raises:
            TakeError: the disk failed (see :meth:`write`).
        """
        if self._state != "open":
            return
        try:
            self._sync()
        except OSError as exc:
            self._fail(exc)

    def _sync(self) -> None:
        getattr(os, "fdatasync", os.fsync)(self._fd)
        self._unflushed = 0

    def _fail(self, exc: OSError) -> None:
        self._state = "failed"
        try:
            os.fsync(self._fd)
        except OSError:
            pass
        self._error = (_disk_message(exc, "the recording could not be saved", self.dir)
                       + f" Recording stopped; the {self.duration:.1f} s recorded so far were kept.")
        log.warning("take %s: write failed: %s", self.take_id, exc)
        raise TakeError(self._error) from None

    # ------------------------------------------------------------ ending

    def finish(self) -> Path:
        """Close the take as ``<take_id>.wav`` (mono PCM_16 at :attr:`sample_rate`).

        Writes the real sizes into the header, ``fsync``-s, renames the
        partial file over ``<take_id>.wav`` (atomic) and removes the sidecar.
        Also works after a failed write (the WAV holds what reached the disk)
        and needs no free space. Calling it again returns the same path.

        Returns:
            The finished WAV's path.

        Raises:
            TakeError: the take was closed or discarded, or the disk failed
                while finishing; the partial file is then kept (and unlocked)
                for :func:`recover`.
        """
        if self._state == "finished":
            return self.wav_path
        if self._fd is None:
            raise TakeError(f"The take '{self.take_id}' was {self._state}; "
                            "use recover() on its partial file instead.")
        fd, self._fd = self._fd, None
        try:
            data = _seal(fd, self._bytes, self.sample_rate)
        except OSError as exc:
            os.close(fd)
            self._state = "closed"
            raise TakeError(_disk_message(exc, "the take could not be finished", self.dir)
                            + f" Its audio stays in {self.path.name} and will be recovered "
                            "the next time Sayso starts.") from None
        os.close(fd)
        self._bytes = data
        try:
            _commit(self.path, self.wav_path, self.sidecar_path)
        except OSError as exc:
            self._state = "closed"
            raise TakeError(_disk_message(exc, "the take could not be finished", self.dir)
                            + f" Its audio stays in {self.path.name} and will be recovered "
                            "the next time Sayso starts.") from None
        self._state = "finished"
        return self.wav_path

    def close(self) -> None:
        """Stop writing without finishing: the partial file stays (unlocked) for
        :func:`recover`. Never raises; a no-op once finished, closed or discarded."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        os.close(fd)
        if self._state in ("open", "failed"):
            self._state = "closed"

    def discard(self) -> None:
        """Stop and delete the partial file and sidecar (e.g. nothing worth keeping
        was recorded). Never raises for files already gone."""
        self.close()
        if self._state == "finished":
            return
        for p in (self.path, self.sidecar_path):
            try:
                p.unlink(missing_ok=True)
            except OSError:
                pass
        self._state = "discarded"

    def __enter__(self) -> TakeWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.close()

    def __del__(self):
        try:
            if self._fd is not None:
                os.close(self._fd)  # the partial file stays for recover()
                self._fd = None
        except Exception:
            pass


def _seal(fd: int, data_bytes: int, sample_rate: int) -> int:
    """Drop an odd trailing byte, write the real header sizes, fsync; returns the audio bytes kept."""
    data_bytes = min(data_bytes, MAX_DATA_BYTES) & ~1
    if os.fstat(fd).st_size != HEADER_BYTES + data_bytes:
        os.ftruncate(fd, HEADER_BYTES + data_bytes)  # only ever shrinks: needs no space
    os.lseek(fd, 0, os.SEEK_SET)
    TakeWriter._write_all(fd, wav_header(sample_rate, data_bytes))
    os.fsync(fd)
    return data_bytes


def _commit(partial: Path, wav: Path, sidecar: Path) -> None:
    """Rename the sealed partial over ``wav`` (atomic), then drop the sidecar."""
    os.replace(partial, wav)
    fsync_dir(wav.parent)
    sidecar.unlink(missing_ok=True)
    fsync_dir(wav.parent)


# ------------------------------------------------------------------ recovery


@dataclass
class UnfinishedTake:
    """A partial take left behind by a crash, as :func:`find_unfinished` found it.

    Attributes:
        take_id: the file name stem.
        path: the partial file ``<take_id>.partial.wav`` (may be missing when
            only the sidecar was left).
        sidecar: the JSON sidecar, or None if there is none.
        sample_rate: rate in Hz (from the sidecar, else the header, else 16 kHz).
        started: ISO 8601 start time from the sidecar, or None.
        device_name: microphone name from the sidecar ("" if unknown).
        samples: whole samples the partial file holds (an odd trailing byte
            does not count).
        problem: what is unusual about it ("no sidecar", "holds no audio", …),
            or None.
    """

    take_id: str
    path: Path
    sidecar: Path | None
    sample_rate: int
    started: str | None
    device_name: str
    samples: int
    problem: str | None = None

    @property
    def duration(self) -> float:
        """Seconds of audio :func:`recover` will keep."""
        return self.samples / self.sample_rate

    @property
    def wav_path(self) -> Path:
        return self.path.parent / f"{self.take_id}.wav"


def _read_sidecar(path: Path) -> tuple[dict | None, str | None]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "no sidecar"
    except (OSError, ValueError) as exc:
        return None, f"unreadable sidecar ({exc})"
    if not isinstance(meta, dict):
        return None, "unreadable sidecar (not a JSON object)"
    return meta, None


def _describe(take_id: str, partial: Path, sidecar: Path) -> UnfinishedTake:
    meta, problem = _read_sidecar(sidecar)
    meta = meta or {}
    rate = meta.get("sample_rate")
    header = b""
    size = 0
    try:
        size = partial.stat().st_size
        with open(partial, "rb") as fh:
            header = fh.read(HEADER_BYTES)
    except OSError:
        problem = problem or "no audio file"
    if not _valid_rate(rate):
        rate = _header_rate(header) or SAMPLE_RATE
        if meta and problem is None:
            problem = "no valid sample rate in the sidecar"
    samples = max(0, size - HEADER_BYTES) // 2
    if samples == 0:
        problem = "holds no audio" if problem is None else f"{problem}; holds no audio"
    started = meta.get("started")
    device = meta.get("device")
    return UnfinishedTake(
        take_id=take_id, path=partial, sidecar=sidecar if sidecar.exists() else None,
        sample_rate=int(rate), started=started if isinstance(started, str) else None,
        device_name=device if isinstance(device, str) else "", samples=samples, problem=problem)


def find_unfinished(takes_dir: str | os.PathLike) -> list[UnfinishedTake]:
    """Partial takes in ``takes_dir`` that nobody is recording any more.

    Read-only: nothing is changed on disk. Takes still being recorded (their
    writer holds the file's lock) are left out. A sidecar whose audio file is
    gone is listed with ``samples == 0``.

    Returns:
        The unfinished takes, oldest name first; ``[]`` if the folder does not exist.

    Raises:
        TakeError: the folder exists but cannot be listed.
    """
    folder = Path(takes_dir)
    if not folder.is_dir():
        return []
    try:
        names = sorted(p.name for p in folder.iterdir())
    except OSError as exc:
        raise TakeError(f"The takes folder {folder} cannot be read ({_reason(exc)}).") from None
    found = []
    ids = {n[:-len(PARTIAL_SUFFIX)] for n in names if n.endswith(PARTIAL_SUFFIX) and not n.startswith(".")}
    ids |= {n[:-len(SIDECAR_SUFFIX)] for n in names if n.endswith(SIDECAR_SUFFIX) and not n.startswith(".")}
    for take_id in sorted(ids):
        partial = folder / f"{take_id}{PARTIAL_SUFFIX}"
        if _is_live(partial):
            continue
        found.append(_describe(take_id, partial, folder / f"{take_id}{SIDECAR_SUFFIX}"))
    return found


def recover(unfinished: UnfinishedTake) -> Path | None:
    """Turn a partial take into a finished WAV, as :meth:`TakeWriter.finish` would.

    An odd trailing byte is dropped; the header gets the real sizes (at
    ``unfinished.sample_rate``) whatever the crash left in it; the file is
    renamed to ``<take_id>.wav`` (``<take_id>-recovered[-N].wav`` if that name
    is taken) and the sidecar removed. The recovered duration is
    ``unfinished.duration`` seconds.

    Returns:
        The WAV's path; None when there was no audio to recover (the empty
        partial file and its sidecar are then removed).

    Raises:
        TakeError: the take is being recorded right now, or the disk failed;
            its files are then left as they were.
    """
    partial, folder = unfinished.path, unfinished.path.parent
    sidecar = folder / f"{unfinished.take_id}{SIDECAR_SUFFIX}"
    try:
        fd = os.open(partial, os.O_RDWR | _O_BINARY)
    except FileNotFoundError:
        fd = None
    except OSError as exc:
        raise TakeError(_disk_message(exc, f"the unfinished take '{unfinished.take_id}' could "
                                           "not be opened", folder)) from None
    wav = None
    try:
        if fd is not None:
            if not _lock(fd):
                raise TakeError(f"The take '{unfinished.take_id}' is still being recorded.")
            size = os.fstat(fd).st_size
            if size - HEADER_BYTES >= 2:
                _seal(fd, size - HEADER_BYTES, unfinished.sample_rate)
                wav = unfinished.wav_path
                n = 0
                while wav.exists():
                    n += 1
                    suffix = "-recovered" if n == 1 else f"-recovered-{n}"
                    wav = folder / f"{unfinished.take_id}{suffix}.wav"
    except OSError as exc:
        raise TakeError(_disk_message(exc, f"the unfinished take '{unfinished.take_id}' could "
                                           "not be recovered", folder)
                        + f" Its audio stays in {partial.name}.") from None
    finally:
        if fd is not None:
            os.close(fd)
    for tmp in folder.glob(f".{unfinished.take_id}{SIDECAR_SUFFIX}.*.tmp"):  # a sidecar write a kill cut short
        tmp.unlink(missing_ok=True)
    try:
        if wav is None:
            log.info("take %s: no audio to recover; removing it", unfinished.take_id)
            partial.unlink(missing_ok=True)
            sidecar.unlink(missing_ok=True)
            return None
        _commit(partial, wav, sidecar)
    except OSError as exc:
        raise TakeError(_disk_message(exc, f"the unfinished take '{unfinished.take_id}' could "
                                           "not be recovered", folder)
                        + f" Its audio stays in {partial.name}.") from None
    log.info("take %s: recovered %.2f s into %s", unfinished.take_id, unfinished.duration, wav)
    return wav
