"""Recordings: the audio files of a project and how they get into its ``audio/`` folder.

A file is copied in crash-safely: its bytes stream into a hidden temporary
file in ``audio/`` (hashed on the way, then fsync-ed) which is then
hard-linked under a free name (``name.wav``, ``name-2.wav``, …; a link never
replaces an existing file) and the temporary name removed. A crash leaves at
most a hidden ``.sayso-copy-*.tmp`` file or an unreferenced copy (see
:meth:`engine.data.store.Project.unreferenced_audio`), never a torn file
under a recording's name.

Rates are in Hz, durations in seconds. This module imports no Qt.
"""
from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.atomic import fsync_dir
from engine.audio.errors import AudioError
from engine.audio.io import audio_info
from engine.data.errors import ProjectError

__all__ = ["AudioFacts", "Recording", "copy_in", "probe", "sha256_file"]

TMP_PREFIX = ".sayso-copy-"
_BLOCK = 1 << 20


@dataclass(frozen=True)
class Recording:
    """One audio file of a project.

    Attributes:
        id: the recording's id.
        path: as stored: relative to the project folder with ``/`` separators
            (e.g. ``"audio/take-1.wav"``), or absolute for a file that was
            referenced where it lies, outside the project.
        file: the absolute path of the file.
        sample_rate: the file's rate in Hz.
        channels: channels in the file.
        duration: length in seconds.
        sha256: hex SHA-256 of the file's bytes.
        added: when it was added, in seconds since the epoch.
    """

    id: int
    path: str
    file: Path
    sample_rate: int
    channels: int
    duration: float
    sha256: str
    added: float


@dataclass(frozen=True)
class AudioFacts:
    """What the header of an audio file says: rate in Hz, channels, duration in seconds."""

    sample_rate: int
    channels: int
    duration: float


def probe(path: Path) -> AudioFacts:
    """Read an audio file's header (soundfile: WAV, FLAC, OGG, …).

    Raises:
        ProjectError: the file is missing, unreadable or holds no audio (the
            :class:`~engine.audio.errors.AudioError` message).
    """
    try:
        info = audio_info(path)
    except AudioError as exc:
        raise ProjectError(str(exc)) from None
    if info.frames <= 0 or info.samplerate <= 0 or info.channels <= 0:
        raise ProjectError(f"{Path(path).name}: the file holds no audio.")
    return AudioFacts(int(info.samplerate), int(info.channels), info.frames / info.samplerate)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes.

    Raises:
        OSError: the file cannot be read.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def copy_in(src: Path, folder: Path, existing: Callable[[str], bool] | None = None) -> tuple[Path, str]:
    """Copy ``src`` into ``folder`` under a free name, atomically.

    Args:
        src: the file to copy.
        folder: the destination folder (created if missing).
        existing: given the hex SHA-256 of the copy, returns True to drop the
            copy (an identical recording is already in the project); then
            ``(None, sha256)`` is returned.

    Returns:
        ``(destination, sha256)``; the destination is None when ``existing``
        said to drop the copy.

    Raises:
        OSError: ``src`` cannot be read, or the disk is full or not
            writable; nothing is left behind in ``folder`` then.
    """
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=TMP_PREFIX, suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, open(src, "rb") as fh:
            while block := fh.read(_BLOCK):
                h.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        if existing is not None and existing(digest):
            tmp.unlink()
            return None, digest
        dest = _link_free_name(tmp, folder, src.name)
        tmp.unlink(missing_ok=True)
        fsync_dir(folder)
        return dest, digest
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _link_free_name(tmp: Path, folder: Path, name: str) -> Path:
    """Give ``tmp`` the name ``name`` in ``folder`` (or ``stem-N.ext``) without replacing any file."""
    stem, suffix = Path(name).stem or "audio", Path(name).suffix
    for n in range(1, 1_000_000):
        dest = folder / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        try:
            os.link(tmp, dest)
            return dest
        except FileExistsError:
            continue
        except OSError as exc:  # no hard links here (some FUSE / FAT file systems)
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            if dest.exists():
                continue
            # Not atomic against a concurrent writer of the same name, but such a writer
            # would be another Sayso copying into the same project at the same instant.
            os.replace(tmp, dest)
            return dest
    raise FileExistsError(errno.EEXIST, "no free file name", str(folder / name))
