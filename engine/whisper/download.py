"""Pulling a Whisper model from the Hugging Face model hub over plain HTTPS (urllib).

Each file of the repository is fetched from ``<base_url>/<repo>/resolve/<revision>/<file>``
into ``<models_dir>/.<name>.download/<file>.part``:

- **checksum**: a ``HEAD`` request (redirects not followed) reads the hub's
  ``X-Linked-Etag`` (the SHA-256 of a large file) and ``X-Linked-Size``; the
  finished file must hash to it (or to a constant given by the caller);
- **resume**: a ``.part`` left by an interrupted or cancelled pull is continued
  with an HTTP ``Range`` request (a server that answers 200 instead of 206 is
  read from the start again);
- **progress**: ``progress(bytes_done, bytes_total)`` over all files; **cancel**:
  a :class:`threading.Event` checked between 1 MiB blocks (the ``.part`` files stay for a resume);
- **offline**: one line, :class:`DownloadError`, naming the host and the reason.

When every file is there, the folder is checked (:func:`engine.whisper.folder.check_folder`),
given a model card and renamed to ``<models_dir>/<name>``. The base URL is a
parameter, so tests pull a real model folder from a server on 127.0.0.1.
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from engine.atomic import fsync_dir
from engine.paths import models_dir
from engine.whisper.folder import (
    CONFIG_FILE,
    MODEL_FILE,
    OPTIONAL_FILES,
    TOKENIZER_FILE,
    VOCABULARY_FILES,
    WhisperFolderError,
    check_folder,
    sha256_file,
    write_card,
    write_vocabulary,
)

__all__ = ["HUB_MODELS", "HUB_URL", "DownloadCancelled", "DownloadError", "hub_url", "pull"]

HUB_URL = "https://huggingface.co"
"""The model hub's base URL (the default of :func:`pull`'s ``base_url``; see :func:`hub_url`)."""


def hub_url() -> str:
    """The hub to pull from: ``$HF_ENDPOINT`` (the Hugging Face tools' variable for a mirror) or :data:`HUB_URL`."""
    return os.environ.get("HF_ENDPOINT") or HUB_URL

HUB_MODELS: dict[str, str] = {
    f"whisper-{size}": f"Systran/faster-whisper-{size}"
    for size in ("tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en", "large-v3")
}
"""Model names that :func:`pull` knows → hub repositories (CTranslate2 conversions by Systran, MIT)."""
REQUIRED_FILES = (CONFIG_FILE, TOKENIZER_FILE, MODEL_FILE)
BLOCK = 1 << 20
TIMEOUT_S = 30.0
GOOD_AT = {
    "tiny": "the fastest Whisper (39 M parameters); English sentences on a slow machine.",
    "base": "any English speech (74 M parameters); a good teacher for pre-labeling.",
    "small": "harder English speech: accents, noise, names (244 M parameters); about 3x slower than base.",
    "medium": "the most accurate that a laptop CPU runs (769 M parameters); slow.",
    "large-v3": "the most accurate Whisper (1.55 B parameters); very slow without a GPU.",
}
_SHA256 = re.compile(r'^"?([0-9a-f]{64})"?$')


class DownloadError(RuntimeError):
    """A pull that failed; the message is one line for the user (offline, not found, checksum, interrupted)."""


class DownloadCancelled(DownloadError):
    """The pull was cancelled; its ``.part`` files are kept so the next pull resumes."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 30x is raised as an HTTPError, whose headers we read


def pull(name: str, root: str | os.PathLike | None = None, *, repo: str | None = None, revision: str = "main",
         base_url: str = HUB_URL, sha256: dict[str, str] | None = None,
         progress: Callable[[int, int], None] | None = None, cancel: threading.Event | None = None) -> Path:
    """Download model ``name`` into ``root`` (default :func:`engine.paths.models_dir`) and return its folder.

    Args:
        name: a :data:`HUB_MODELS` name, or any name with ``repo`` given.
        repo: the hub repository (``owner/name``); default ``HUB_MODELS[name]``.
        revision: branch, tag or commit.
        base_url: the hub (tests: a server on 127.0.0.1).
        sha256: expected hex SHA-256 per file name, checked in addition to the hub's own.
        progress: called with ``(bytes_done, bytes_total)`` after each block.
        cancel: set it to stop; raises :class:`DownloadCancelled` at the next block.

    Returns:
        ``<root>/<name>``; at once if that folder is already complete.

    Raises:
        DownloadError: unknown name, hub unreachable (offline), a required file missing,
            a checksum mismatch (the file is deleted), a transfer cut short (kept for resuming).
        DownloadCancelled: ``cancel`` was set.
    """
    if repo is None and name not in HUB_MODELS:
        raise DownloadError(f"{name}: not a known model to pull (known: {', '.join(HUB_MODELS)}).")
    repo = repo or HUB_MODELS[name]
    root = Path(root or models_dir())
    dest = root / name
    try:
        check_folder(dest)
        return dest
    except WhisperFolderError:
        pass
    stage = root / f".{name}.download"
    stage.mkdir(parents=True, exist_ok=True)
    base = f"{base_url.rstrip('/')}/{repo}/resolve/{urllib.parse.quote(revision, safe='')}/"

    heads = {}
    for f in REQUIRED_FILES + OPTIONAL_FILES:
        head = _head(base + f)
        if head is None and f in REQUIRED_FILES:
            raise DownloadError(f"{name}: {repo} has no {f} at revision {revision} ({base + f}).")
        if head is not None:
            heads[f] = head
    total = sum(size or 0 for size, _ in heads.values())
    done = [0]

    def advance(n: int) -> None:
        done[0] += n
        if progress:
            progress(done[0], total)

    for f, (size, hub_sha) in heads.items():
        target = stage / f
        if target.is_file() and (size is None or target.stat().st_size == size):
            advance(target.stat().st_size)
            continue
        part = stage / f"{f}.part"
        _fetch(base + f, part, size, advance, cancel)
        for expected in {hub_sha, (sha256 or {}).get(f)} - {None}:
            digest = sha256_file(part)
            if digest != expected:
                part.unlink()
                raise DownloadError(f"{name}: {f} has SHA-256 {digest}, expected {expected}; deleted it, "
                                    "pull again (if it repeats, the server or a proxy alters the file).")
        os.replace(part, target)

    try:
        if not any((stage / v).is_file() for v in VOCABULARY_FILES):
            write_vocabulary(stage)
        info = check_folder(stage)
        size_key = info.size_name.removesuffix(".en")
        write_card(stage, name, f"model hub {repo} (revision {revision})", sha256_file(stage / MODEL_FILE),
                   GOOD_AT.get(size_key, GOOD_AT["base"]))
    except WhisperFolderError as exc:
        raise DownloadError(f"{name}: the downloaded files are not a usable model: {exc}") from None
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(stage, dest)
    fsync_dir(root)
    return dest


def _head(url: str) -> tuple[int | None, str | None] | None:
    """``(size, sha256)`` of a file from a HEAD request (each None when the server does not say),
    or None if the file does not exist (404)."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        resp = opener.open(urllib.request.Request(url, method="HEAD"), timeout=TIMEOUT_S)
        headers = resp.headers
        resp.close()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        if exc.code not in (301, 302, 303, 307, 308):
            raise DownloadError(f"{url}: the server answered {exc.code} {exc.reason}.") from None
        headers = exc.headers
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise DownloadError(_offline_message(url, exc)) from None
    size = headers.get("X-Linked-Size") or (headers.get("Content-Length") if "Location" not in headers else None)
    match = _SHA256.match(headers.get("X-Linked-Etag") or "")
    return (int(size) if size else None), (match.group(1) if match else None)


def _fetch(url: str, part: Path, size: int | None, advance: Callable[[int], None],
           cancel: threading.Event | None) -> None:
    """Fetch ``url`` into ``part``, continuing what is already there with a Range request."""
    have = part.stat().st_size if part.is_file() else 0
    if size is not None and have > size:
        part.unlink()
        have = 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        resp = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: the server answered {exc.code} {exc.reason}.") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise DownloadError(_offline_message(url, exc)) from None
    with resp:
        if have and resp.status != 206:
            have = 0  # the server ignored the Range: start again
        advance(have)
        try:
            with open(part, "ab" if have else "wb") as fh:
                while block := resp.read(BLOCK):
                    fh.write(block)
                    have += len(block)
                    advance(len(block))
                    if cancel is not None and cancel.is_set():
                        raise DownloadCancelled(f"Download cancelled; {part.name} kept to resume.")
        except (http.client.HTTPException, OSError) as exc:  # cut short, reset, timed out
            raise DownloadError(f"{part.name.removesuffix('.part')}: the transfer stopped after {have:,} bytes "
                                f"({exc.__class__.__name__}); pull again to resume.") from None
    if size is not None and have != size:
        raise DownloadError(f"{part.name.removesuffix('.part')}: the transfer stopped after {have:,} of "
                            f"{size:,} bytes; pull again to resume.")


def _offline_message(url: str, exc: BaseException) -> str:
    host = urllib.parse.urlsplit(url).netloc
    reason = getattr(exc, "reason", exc)
    return f"Cannot reach {host} ({reason}): no network? Models already installed keep working offline."
