"""Whisper's weights in torch: a CTranslate2 folder converted back, or a Hugging Face folder (safetensors).

**Which implementation.** Hugging Face ``transformers``'
``WhisperForConditionalGeneration``, not ``openai-whisper``'s model code:
CTranslate2's Whisper converter (``ct2-transformers-converter``) is written
against the ``transformers`` model, so reversing it is a renaming of the same
tensors (nothing transposed, no shape guessed); ``transformers`` returns
per-layer, per-head encoder and cross-attention (``output_attentions=True``)
that Insight needs, works with ``peft`` (LoRA) for personalization, and saves and
loads safetensors; and it is maintained and pinned like our other dependencies,
where ``openai-whisper`` pulls ``tiktoken`` and ``numba`` and loads ``.pt`` pickles.

**The reversal** (CTranslate2 ``WhisperSpec`` → ``transformers`` names), per layer:

=====================================================  ===============================================
CTranslate2 ``model.bin``                              ``WhisperForConditionalGeneration``
=====================================================  ===============================================
``encoder/conv{1,2}/{weight,bias}``                    ``model.encoder.conv{1,2}.*`` (as they are)
``{enc,dec}oder/position_encodings/encodings``         ``model.{enc,dec}oder.embed_positions.weight``
``*/self_attention/linear_0`` (fused Q, K, V rows)     ``self_attn.{q,k,v}_proj`` (K's bias is zero: dropped)
``*/self_attention/linear_1``                          ``self_attn.out_proj``
``decoder/layer_i/attention/linear_0``                 ``encoder_attn.q_proj``
``decoder/layer_i/attention/linear_1`` (fused K, V)    ``encoder_attn.{k,v}_proj``
``decoder/layer_i/attention/linear_2``                 ``encoder_attn.out_proj``
``*/layer_norm/{gamma,beta}``                          ``*_layer_norm.{weight,bias}``
``*/ffn/linear_{0,1}``                                 ``fc1``, ``fc2``
``decoder/embeddings/weight``                          ``model.decoder.embed_tokens.weight`` (tied to
                                                       ``proj_out``: the alias ``decoder/projection``)
=====================================================  ===============================================

Weights stored as float16 or bfloat16 are widened to float32; int8 (or int16)
weights are divided by their ``weight_scale`` (CTranslate2 multiplies each row
by ``127 / max|row|`` and rounds). The configuration comes from the tensor shapes,
the stored head counts, ``config.json`` (suppressed tokens, alignment heads) and
the vocabulary (special token ids); the generation settings (:func:`generation_config`)
are those of the hub's Whisper folders, so ``model.generate`` transcribes and
CTranslate2's own converter (``ctranslate2.converters.TransformersConverter``) reads
the alignment heads back from a folder written by :func:`save_hf_folder`.

Nothing is read from or written to a pickle: converted weights are saved with
:func:`save_hf_folder` as ``model.safetensors``, and :func:`load_whisper` loads a
Hugging Face folder only from ``*.safetensors``.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import torch
from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration

from engine.whisper.folder import (
    CONFIG_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    VOCABULARY_FILES,
    WhisperFolderError,
    check_folder,
    read_model_variables,
)

__all__ = ["HF_WEIGHTS_FILE", "ct2_state_dict", "generation_config", "is_hf_folder", "load_whisper", "save_hf_folder",
           "whisper_config"]

HF_WEIGHTS_FILE = "model.safetensors"
"""The weights of a Hugging Face Whisper folder (sharded folders have an index beside ``model-*.safetensors``)."""
_ACTIVATION_GELU = 3
"""``decoder/activation`` of a Whisper spec (``ctranslate2.specs.common_spec.Activation.GELU``)."""


def _dequantize(variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Float32 arrays of every float or quantized tensor (scales folded in, ``*_scale`` dropped)."""
    out = {}
    for name, value in variables.items():
        if name.endswith("_scale") or value.ndim == 0:
            continue
        scale = variables.get(f"{name}_scale")
        if scale is not None:  # int8 rows (or one int16 scale) times scale = the stored integers
            scale = scale.astype(np.float32)
            value = value.astype(np.float32) / (scale.reshape(-1, *[1] * (value.ndim - 1)) if scale.ndim else scale)
        out[name] = value.astype(np.float32, copy=False)
    return out


def _tokens(folder: Path) -> list[str]:
    """The vocabulary (one token per id) of a CTranslate2 folder."""
    for name in VOCABULARY_FILES:
        path = folder / name
        if path.is_file():
            if name.endswith(".json"):
                return json.loads(path.read_text(encoding="utf-8"))
            return path.read_text(encoding="utf-8").split("\n")
    raise WhisperFolderError(f"{folder}: no vocabulary file ({' or '.join(VOCABULARY_FILES)}).")


def whisper_config(folder: str | os.PathLike, variables: dict[str, np.ndarray] | None = None) -> WhisperConfig:
    """The ``transformers`` configuration of a CTranslate2 Whisper folder.

    Sizes (layers, width, heads, feed-forward width, mel bins, positions) come from
    ``model.bin``; suppressed tokens and alignment heads from ``config.json``; the
    special token ids from the vocabulary.

    Args:
        variables: ``model.bin``'s variables if already read (:func:`engine.whisper.folder.read_model_variables`).

    Raises:
        WhisperFolderError: not a complete Whisper folder, or a layout this converter does not know.
    """
    folder = Path(folder)
    check_folder(folder)
    if variables is None:
        variables, _ = read_model_variables(folder / MODEL_FILE)
    if int(variables["decoder/activation"]) != _ACTIVATION_GELU or int(variables["decoder/scale_embeddings"]):
        raise WhisperFolderError(f"{folder}: not the Whisper layout this converter knows (activation, embedding scale).")
    ct2 = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    tokens = _tokens(folder)
    ids = {t: i for i, t in enumerate(tokens)}
    layers = {p: len({k.split("/")[1] for k in variables if re.match(rf"{p}/layer_\d+/", k)})
              for p in ("encoder", "decoder")}
    vocab, width = variables["decoder/embeddings/weight"].shape
    eot = ids["<|endoftext|>"]
    config = WhisperConfig(
        vocab_size=int(vocab), num_mel_bins=int(variables["encoder/conv1/weight"].shape[1]), d_model=int(width),
        encoder_layers=layers["encoder"], decoder_layers=layers["decoder"],
        encoder_attention_heads=int(variables["encoder/num_heads"]),
        decoder_attention_heads=int(variables["decoder/num_heads"]),
        encoder_ffn_dim=int(variables["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        decoder_ffn_dim=int(variables["decoder/layer_0/ffn/linear_0/weight"].shape[0]),
        max_source_positions=int(variables["encoder/position_encodings/encodings"].shape[0]),
        max_target_positions=int(variables["decoder/position_encodings/encodings"].shape[0]),
        activation_function="gelu", scale_embedding=False, tie_word_embeddings=True,
        bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
        decoder_start_token_id=ids["<|startoftranscript|>"],
        suppress_tokens=list(ct2.get("suppress_ids", [])),
        begin_suppress_tokens=list(ct2.get("suppress_ids_begin", [])),
    )
    config.alignment_heads = [list(map(int, h)) for h in ct2.get("alignment_heads", [])]
    return config


def generation_config(folder: str | os.PathLike, config: WhisperConfig) -> GenerationConfig:
    """The ``transformers`` generation settings of a CTranslate2 Whisper folder, as the hub's Whisper
    folders have them (so that ``model.generate`` and CTranslate2's converter both read them back):
    alignment heads, suppressed tokens, the language and task ids, ``<|notimestamps|>``.

    Raises:
        WhisperFolderError: a vocabulary without Whisper's special tokens.
    """
    folder = Path(folder)
    ct2 = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    tokens = _tokens(folder)
    ids = {t: i for i, t in enumerate(tokens)}
    try:
        specials = {t: ids[f"<|{t}|>"] for t in ("transcribe", "translate", "notimestamps")}
    except KeyError as exc:
        raise WhisperFolderError(f"{folder}: the vocabulary lacks {exc}.") from None
    multilingual = config.vocab_size >= 51865
    return GenerationConfig(
        _from_model_config=False,  # else transformers drops the Whisper-specific keys when loading it
        decoder_start_token_id=config.decoder_start_token_id, bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id,
        max_length=config.max_target_positions, suppress_tokens=list(config.suppress_tokens or []),
        begin_suppress_tokens=list(config.begin_suppress_tokens or []),
        alignment_heads=config.alignment_heads, is_multilingual=multilingual,
        task_to_id={"transcribe": specials["transcribe"], "translate": specials["translate"]},
        no_timestamps_token_id=specials["notimestamps"],
        # English-only models have none: transformers detects the language whenever the key exists
        **({"lang_to_id": {tokens[i]: int(i) for i in ct2.get("lang_ids", [])},
            "forced_decoder_ids": [[1, None], [2, specials["transcribe"]]]}  # detect the language, transcribe
           if multilingual else {}))


def ct2_state_dict(folder: str | os.PathLike) -> tuple[WhisperConfig, dict[str, torch.Tensor]]:
    """Reverse a CTranslate2 Whisper folder's ``model.bin`` into a ``transformers`` state dict.

    Returns:
        ``(config, state)``: the :func:`whisper_config` and ``{name: float32 tensor}`` for every
        parameter of ``WhisperForConditionalGeneration(config)`` (``proj_out.weight`` included, the
        same tensor as ``model.decoder.embed_tokens.weight``).

    Raises:
        WhisperFolderError: not a complete Whisper folder, or a tensor this converter does not expect
            (every stored tensor must be used).
    """
    folder = Path(folder)
    check_folder(folder)
    raw, aliases = read_model_variables(folder / MODEL_FILE)
    config = whisper_config(folder, raw)
    v = _dequantize(raw)
    used: set[str] = set()
    state: dict[str, np.ndarray] = {}

    def take(name: str) -> np.ndarray:
        used.add(name)
        return v[name]

    def linear(dst: str, src: str) -> None:
        state[f"{dst}.weight"], state[f"{dst}.bias"] = take(f"{src}/weight"), take(f"{src}/bias")

    def norm(dst: str, src: str) -> None:
        state[f"{dst}.weight"], state[f"{dst}.bias"] = take(f"{src}/gamma"), take(f"{src}/beta")

    def split(dst: str, src: str, parts: str) -> None:
        """A fused linear (rows of q|k|v or k|v) into one projection per letter; k has no bias."""
        weights = np.split(take(f"{src}/weight"), len(parts))
        biases = np.split(take(f"{src}/bias"), len(parts))
        for p, w, b in zip(parts, weights, biases):
            state[f"{dst}.{p}_proj.weight"] = w
            if p != "k":
                state[f"{dst}.{p}_proj.bias"] = b
            elif np.any(b):
                raise WhisperFolderError(f"{folder}: {src} has a key bias; Whisper's keys have none.")

    def common(side: str) -> None:
        state[f"model.{side}.embed_positions.weight"] = take(f"{side}/position_encodings/encodings")
        norm(f"model.{side}.layer_norm", f"{side}/layer_norm")

    for i in range(2):
        linear(f"model.encoder.conv{i + 1}", f"encoder/conv{i + 1}")
    common("encoder")
    for i in range(config.encoder_layers):
        src, dst = f"encoder/layer_{i}", f"model.encoder.layers.{i}"
        split(f"{dst}.self_attn", f"{src}/self_attention/linear_0", "qkv")
        linear(f"{dst}.self_attn.out_proj", f"{src}/self_attention/linear_1")
        norm(f"{dst}.self_attn_layer_norm", f"{src}/self_attention/layer_norm")
        linear(f"{dst}.fc1", f"{src}/ffn/linear_0")
        linear(f"{dst}.fc2", f"{src}/ffn/linear_1")
        norm(f"{dst}.final_layer_norm", f"{src}/ffn/layer_norm")
    state["model.decoder.embed_tokens.weight"] = take("decoder/embeddings/weight")
    common("decoder")
    for i in range(config.decoder_layers):
        src, dst = f"decoder/layer_{i}", f"model.decoder.layers.{i}"
        split(f"{dst}.self_attn", f"{src}/self_attention/linear_0", "qkv")
        linear(f"{dst}.self_attn.out_proj", f"{src}/self_attention/linear_1")
        norm(f"{dst}.self_attn_layer_norm", f"{src}/self_attention/layer_norm")
        linear(f"{dst}.encoder_attn.q_proj", f"{src}/attention/linear_0")
        split(f"{dst}.encoder_attn", f"{src}/attention/linear_1", "kv")
        linear(f"{dst}.encoder_attn.out_proj", f"{src}/attention/linear_2")
        norm(f"{dst}.encoder_attn_layer_norm", f"{src}/attention/layer_norm")
        linear(f"{dst}.fc1", f"{src}/ffn/linear_0")
        linear(f"{dst}.fc2", f"{src}/ffn/linear_1")
        norm(f"{dst}.final_layer_norm", f"{src}/ffn/layer_norm")
    projection = aliases.get("decoder/projection/weight", "decoder/projection/weight")
    if projection != "decoder/embeddings/weight" or "decoder/projection/bias" in v:
        raise WhisperFolderError(f"{folder}: the output projection is not tied to the token embedding.")
    left = sorted(set(v) - used)
    if left:
        raise WhisperFolderError(f"{folder}: tensors this converter does not know: {', '.join(left[:5])}.")
    tensors = {k: torch.from_numpy(np.ascontiguousarray(a)) for k, a in state.items()}
    tensors["proj_out.weight"] = tensors["model.decoder.embed_tokens.weight"]
    return config, tensors


def is_hf_folder(folder: str | os.PathLike) -> bool:
    """True if ``folder`` holds a ``transformers`` Whisper model in safetensors (``config.json`` of a
    ``whisper`` model type and ``model.safetensors`` or a sharded index)."""
    folder = Path(folder)
    try:
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(config, dict) and config.get("model_type") == "whisper" and (
        (folder / HF_WEIGHTS_FILE).is_file() or (folder / f"{HF_WEIGHTS_FILE}.index.json").is_file())


def load_whisper(folder: str | os.PathLike, dtype: torch.dtype = torch.float32) -> WhisperForConditionalGeneration:
    """A ``WhisperForConditionalGeneration`` in eval mode from a CTranslate2 folder (converted in
    memory, :func:`ct2_state_dict`) or a Hugging Face folder (:func:`is_hf_folder`; safetensors only).

    Raises:
        WhisperFolderError: neither kind of folder, or weights that do not fit the configuration.
    """
    folder = Path(folder).expanduser()
    if (folder / MODEL_FILE).is_file():
        config, state = ct2_state_dict(folder)
        with torch.device("meta"):
            model = WhisperForConditionalGeneration(config)
        missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
        if missing or unexpected:
            raise WhisperFolderError(f"{folder}: converted weights do not fit: missing {missing[:3]}, "
                                     f"unexpected {unexpected[:3]}.")
        model.tie_weights()
        model.generation_config = generation_config(folder, config)
    elif is_hf_folder(folder):
        try:
            model = WhisperForConditionalGeneration.from_pretrained(folder, use_safetensors=True,
                                                                    local_files_only=True)
        except (OSError, ValueError, RuntimeError) as exc:
            raise WhisperFolderError(f"{folder}: transformers cannot load it ({exc}).") from None
    else:
        raise WhisperFolderError(f"{folder}: neither a CTranslate2 Whisper folder ({MODEL_FILE}) nor a "
                                 f"Hugging Face one ({CONFIG_FILE} + {HF_WEIGHTS_FILE}).")
    if getattr(model.generation_config, "alignment_heads", None) is None:  # ours keep them in config.json too
        model.generation_config.alignment_heads = getattr(model.config, "alignment_heads", None)
    return model.to(dtype).eval()


def save_hf_folder(model: WhisperForConditionalGeneration, dest: str | os.PathLike,
                   tokenizer_from: str | os.PathLike | None = None) -> Path:
    """Save ``model`` as a Hugging Face folder: ``config.json``, ``generation_config.json``,
    ``model.safetensors`` (never a pickle), and ``tokenizer.json`` copied from ``tokenizer_from``.

    Returns:
        ``dest`` (created).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest, safe_serialization=True)
    if tokenizer_from is not None and (Path(tokenizer_from) / TOKENIZER_FILE).is_file():
        (dest / TOKENIZER_FILE).write_bytes((Path(tokenizer_from) / TOKENIZER_FILE).read_bytes())
    return dest
