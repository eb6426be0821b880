"""A CTranslate2 Whisper folder: what it must hold, checking one, completing one, describing one.

A folder faster-whisper loads (as converted by ``ct2-transformers-converter``)::

    model.bin                  the weights (CTranslate2 binary, spec ``WhisperSpec``)
    config.json                alignment heads, language ids, suppressed tokens
    tokenizer.json             the Hugging Face tokenizer
    vocabulary.txt|.json       one token per id (CTranslate2 refuses to load without it)
    preprocessor_config.json   optional (large-v3: 128 mel bins)
    MODEL_CARD.md              written by Sayso: where the weights came from, what they are good at

Reading ``model.bin``'s header (:func:`read_model_header`) seeks over the
tensors without reading them, so a truncated file is caught in milliseconds;
:func:`read_model_variables` reads them all (for :mod:`engine.whisper.torch_weights`).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write
from engine.checkpoint_layout import MODEL_CARD_FILE, CheckpointError

__all__ = [
    "CONFIG_FILE", "MODEL_FILE", "OPTIONAL_FILES", "TOKENIZER_FILE", "VOCABULARY_FILES", "WHISPER_FAMILY", "WhisperFolder",
    "WhisperFolderError", "check_folder", "is_whisper_folder", "read_model_header", "read_model_variables", "sha256_file", "summarize",
    "write_card",
    "write_vocabulary",
]

WHISPER_FAMILY = "whisper"
"""The family name of these models (beside :data:`engine.checkpoint_layout.SAYSO_FAMILY`)."""
MODEL_FILE = "model.bin"
CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
VOCABULARY_FILES = ("vocabulary.txt", "vocabulary.json")
"""CTranslate2 reads the first of these that exists."""
OPTIONAL_FILES = (*VOCABULARY_FILES, "preprocessor_config.json")
"""Copied or fetched when present; a missing vocabulary is written by :func:`write_vocabulary`."""
WHISPER_SPEC = "WhisperSpec"
TIMESTEP_S = 0.02
"""Whisper's timestamp tokens ``<|0.00|>`` … ``<|30.00|>`` are this many seconds apart."""


class WhisperFolderError(CheckpointError):
    """A folder that is not a complete, loadable CTranslate2 Whisper model (the message says what is wrong).

    A :class:`engine.checkpoint_layout.CheckpointError`: callers of any family catch that one."""


@dataclass(frozen=True)
class WhisperFolder:
    """A checked folder.

    Attributes:
        path: the folder.
        vocabulary_size: rows of the decoder's token embedding (51,864 English-only, 51,865 multilingual,
            51,866 large-v3).
        multilingual: True unless the model is English-only (``*.en``).
        layers: decoder layers (tiny 4, base 6, small 12, medium 24, large 32).
        width: model dimension (tiny 384, base 512, small 768, medium 1024, large 1280).
        bytes: size of ``model.bin``.
        has_vocabulary: a ``vocabulary.*`` file is present (else :func:`write_vocabulary` can make one).
    """

    path: Path
    vocabulary_size: int
    multilingual: bool
    layers: int
    width: int
    bytes: int
    has_vocabulary: bool

    @property
    def size_name(self) -> str:
        """``tiny``/``base``/``small``/``medium``/``large`` from the shape (``.en`` appended when English-only)."""
        names = {384: "tiny", 512: "base", 768: "small", 1024: "medium", 1280: "large"}
        return names.get(self.width, f"d{self.width}") + ("" if self.multilingual else ".en")


_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
"""CTranslate2's type ids in ``model.bin`` (``ctranslate2.specs.model_spec._dtype_to_type_id``)."""


def _parse_model(path: Path, load: bool) -> dict:
    """Walk ``model.bin``: header always; each tensor's bytes only if ``load`` (else seek over them)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            def read(fmt: str):
                data = fh.read(struct.calcsize(fmt))
                if len(data) < struct.calcsize(fmt):
                    raise EOFError
                return struct.unpack(fmt, data)

            def read_str() -> str:
                (n,) = read("<H")
                return fh.read(n)[:-1].decode("utf-8")

            (version,) = read("<I")
            if version < 5:
                raise WhisperFolderError(f"{path}: CTranslate2 model format {version} is too old; convert it again.")
            spec = read_str()
            read("<I")  # spec revision
            (count,) = read("<I")
            shapes, variables, aliases = {}, {}, {}
            for _ in range(count):
                name = read_str()
                (rank,) = read("<B")
                shape = read(f"<{rank}I")
                dtype, nbytes = read("<BI")
                if fh.tell() + nbytes > size:
                    raise WhisperFolderError(
                        f"{path}: truncated ({size:,} bytes; tensor {name} ends at byte {fh.tell() + nbytes:,}).")
                if load:
                    variables[name] = _to_array(fh.read(nbytes), _DTYPES[dtype], shape)
                else:
                    fh.seek(nbytes, os.SEEK_CUR)
                shapes[name] = tuple(shape)
            if load and version >= 6:  # aliases: a name that shares another's tensor (tied weights)
                (count,) = read("<I")
                for _ in range(count):
                    alias = read_str()
                    aliases[alias] = read_str()
    except (OSError, EOFError, UnicodeDecodeError, struct.error, IndexError) as exc:
        raise WhisperFolderError(f"{path}: not a readable CTranslate2 model ({exc or 'too short'}).") from None
    return {"spec": spec, "version": version, "shapes": shapes, "variables": variables, "aliases": aliases}


def _to_array(data: bytes, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    if dtype == "bfloat16":  # numpy has none: the upper half of a float32
        return (np.frombuffer(data, np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(shape)
    return np.frombuffer(data, dtype).reshape(shape).copy()


def read_model_header(path: str | os.PathLike) -> dict:
    """The spec name and tensor shapes of a CTranslate2 ``model.bin`` (binary format ≥ 5).

    Returns:
        ``{"spec": str, "version": int, "shapes": {name: tuple[int, ...]}}``.

    Raises:
        WhisperFolderError: unreadable, an older format, or truncated (a tensor runs past the end).
    """
    header = _parse_model(Path(path), load=False)
    return {k: header[k] for k in ("spec", "version", "shapes")}


def read_model_variables(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every variable of a CTranslate2 ``model.bin`` as stored, and its aliases.

    Returns:
        ``(variables, aliases)``: ``{name: array}`` in the stored type (float32, float16, int8 with a
        ``<name>_scale`` beside it, int16, int32; bfloat16 widened to float32; scalars have shape
        ``()``), and ``{alias: name}`` (e.g. ``decoder/projection/weight`` → ``decoder/embeddings/weight``).

    Raises:
        WhisperFolderError: as :func:`read_model_header`.
    """
    model = _parse_model(Path(path), load=True)
    return model["variables"], model["aliases"]


def check_folder(path: str | os.PathLike, need_vocabulary: bool = True) -> WhisperFolder:
    """Check that ``path`` is a complete CTranslate2 Whisper model folder.

    Args:
        need_vocabulary: also require a ``vocabulary.*`` file (False when the caller
            will write one with :func:`write_vocabulary`).

    Raises:
        WhisperFolderError: one line naming the first problem (missing file, not Whisper,
            truncated weights, unreadable config).
    """
    path = Path(path)
    if not path.is_dir():
        raise WhisperFolderError(f"{path}: no such folder.")
    missing = [f for f in (MODEL_FILE, CONFIG_FILE, TOKENIZER_FILE) if not (path / f).is_file()]
    has_vocabulary = any((path / f).is_file() for f in VOCABULARY_FILES)
    if need_vocabulary and not has_vocabulary:
        missing.append(" or ".join(VOCABULARY_FILES))
    if missing:
        raise WhisperFolderError(f"{path}: not a CTranslate2 Whisper folder ({', '.join(missing)} missing).")
    header = read_model_header(path / MODEL_FILE)
    if header["spec"] != WHISPER_SPEC:
        raise WhisperFolderError(f"{path}: {MODEL_FILE} holds a {header['spec']}, not a Whisper model.")
    try:
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WhisperFolderError(f"{path}: unreadable {CONFIG_FILE} ({exc}).") from None
    shapes = header["shapes"]
    vocab, width = shapes["decoder/embeddings/weight"]
    layers = len({k.split("/")[1] for k in shapes if re.match(r"decoder/layer_\d+/", k)})
    if not isinstance(config, dict) or "alignment_heads" not in config:
        raise WhisperFolderError(f"{path}: {CONFIG_FILE} is not a Whisper config (no alignment_heads).")
    # CTranslate2's own rule: English-only models have 51,864 tokens
    return WhisperFolder(path, vocab, vocab >= 51865, layers, width, (path / MODEL_FILE).stat().st_size,
                         has_vocabulary)


def summarize(path: str | os.PathLike) -> dict:
    """What the model registry shows of a Whisper folder, from ``model.bin``'s header (no weights read).

    Returns:
        ``{"size": "base", "languages": "en" | "multilingual", "parameters": int,
        "layers": int, "width": int, "vocab_size": int, "bytes": int}`` (``bytes``: size of ``model.bin``).

    Raises:
        WhisperFolderError: as :func:`check_folder`.
    """
    info = check_folder(path)
    shapes = read_model_header(Path(path) / MODEL_FILE)["shapes"]
    return {"size": info.size_name, "languages": "multilingual" if info.multilingual else "en",
            "parameters": sum(math.prod(s) for s in shapes.values()), "layers": info.layers, "width": info.width,
            "vocab_size": info.vocabulary_size, "bytes": info.bytes}


def is_whisper_folder(path: str | os.PathLike) -> bool:
    """True if :func:`check_folder` accepts ``path`` (for :func:`engine.checkpoint_layout.family`)."""
    try:
        check_folder(path)
    except WhisperFolderError:
        return False
    return True


def write_vocabulary(path: str | os.PathLike) -> Path:
    """Write ``vocabulary.json`` from ``tokenizer.json``: its tokens by id, then Whisper's timestamp tokens.

    ``tokenizer.json`` lists the text and special tokens (50,364 for a
    multilingual model); the model's remaining ids are the timestamp tokens
    ``<|0.00|>``, ``<|0.02|>`` … (1,501 up to ``<|30.00|>``), which the
    tokenizer file omits. The count must come out at the model's vocabulary size.

    Raises:
        WhisperFolderError: tokenizer ids with gaps, or a count that does not fit the model.
    """
    path = Path(path)
    info = check_folder(path, need_vocabulary=False)
    try:
        data = json.loads((path / TOKENIZER_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WhisperFolderError(f"{path}: unreadable {TOKENIZER_FILE} ({exc}).") from None
    by_id = {i: t for t, i in data["model"]["vocab"].items()}
    by_id.update({t["id"]: t["content"] for t in data.get("added_tokens", [])})
    if sorted(by_id) != list(range(len(by_id))):
        raise WhisperFolderError(f"{path}: {TOKENIZER_FILE} has gaps in its token ids.")
    tokens = [by_id[i] for i in range(len(by_id))]
    tokens += [f"<|{i * TIMESTEP_S:.2f}|>" for i in range(info.vocabulary_size - len(tokens))]
    if len(tokens) != info.vocabulary_size or not tokens[-1].startswith("<|"):
        raise WhisperFolderError(f"{path}: {TOKENIZER_FILE} does not fit the model's {info.vocabulary_size} tokens.")
    with atomic_write(path / VOCABULARY_FILES[1]) as fh:
        json.dump(tokens, fh, ensure_ascii=False)
    return path / VOCABULARY_FILES[1]


def sha256_file(path: str | os.PathLike, progress: Callable[[int], None] | None = None) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (``progress(bytes_read)`` after each)."""
    digest, done = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done)
    return digest.hexdigest()


def write_card(path: str | os.PathLike, name: str, source: str, sha256: str, good_at: str) -> Path:
    """Write ``MODEL_CARD.md`` into a Whisper folder (atomically).

    Args:
        name: the model's name, e.g. ``whisper-base``.
        source: where the weights came from (package and version, hub repository, or folder).
        sha256: hex SHA-256 of ``model.bin``.
        good_at: one or two sentences for the model picker.
    """
    path = Path(path)
    info = check_folder(path)
    languages = "99 languages (English is the one Sayso asks for)" if info.multilingual else "English only"
    text = f"""# {name}

OpenAI Whisper {info.size_name} ({info.layers} decoder layers, width {info.width}), a pretrained
general speech recognizer, converted for CTranslate2 / faster-whisper and run int8 on the CPU.

- **Good at:** {good_at}
- **Languages:** {languages}
- **Source:** {source}
- **Weights:** `{MODEL_FILE}`, {info.bytes:,} bytes, SHA-256 `{sha256}`
- **Licence:** MIT (OpenAI, github.com/openai/whisper). Radford et al. 2022, "Robust Speech
  Recognition via Large-Scale Weak Supervision". Sayso did not train it and does not fine-tune it.
"""
    with atomic_write(path / MODEL_CARD_FILE) as fh:
        fh.write(text)
    return path / MODEL_CARD_FILE
