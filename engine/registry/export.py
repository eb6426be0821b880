"""Exporting models: a clean checkpoint folder with a model card, and the encoder + CTC path alone.

- :func:`export_model` writes ``model.safetensors`` + ``config.json`` (the
  format :func:`engine.train.checkpoint.load_checkpoint` reads; no training
  state) and a ``MODEL_CARD.md`` stub with the registry's figures, atomically.
- :func:`export_torchscript` writes the part the streaming path runs for its
  partial hypotheses — log-mel ``(1, frames, 80)`` → CTC log-probs
  ``(1, frames', vocab)`` with ``frames' = ((frames - 1) // 2 - 1) // 2`` — as
  a TorchScript module that runs without Sayso's code (``torch.jit.load``;
  the tokenizer's symbols travel inside it as the extra file ``config.json``).
- :func:`export_onnx` writes the same graph as ONNX.

**What works** (torch 2.14, CPU), measured by :func:`verify_export` against
``CrossModalModel.encode(...).ctc_log_probs`` on the real clips in
``resources/samples`` (``sc_yes_03401e93.wav`` by default):

- **TorchScript**, by ``torch.jit.trace`` (the default) or ``torch.jit.script``:
  works, exact — max abs diff 0.0 on every sample clip, including clips of
  another length than the one traced (the frame axis stays dynamic: the trace
  records the shape arithmetic). ``torch.jit`` is deprecated in torch 2.14 but
  still works; its deprecation warnings are silenced here.
- **ONNX** (legacy TorchScript-based exporter, ``dynamo=False``, opset 17,
  dynamic ``frames`` axis): needs the ``onnx`` package, which Sayso does not
  depend on; without it :func:`export_onnx` raises :class:`ExportUnavailable`
  saying so. With ``onnx`` 1.23 + ``onnxruntime`` 1.31 installed by hand it
  works: max abs diff about 1.1e-5 on the sample clips of every length.
  ``nn.MultiheadAttention`` exported this way fixes the traced frame count into
  its reshapes (a clip of another length then fails in onnxruntime), so the
  ONNX graph writes self-attention out as matmuls (``explicit_attention``).
  The dynamo exporter (``dynamo=True``) also needs ``onnxscript`` and is not used.

The exported graph is :class:`EncoderCTC`: the model's own modules (conv
subsampling, positions, Conformer blocks, CTC head) for one utterance with no
padding mask, which is what ``encode`` computes for a batch of one. It needs at
least 7 log-mel frames (70 ms; :func:`engine.audio.io.check_audio` already
requires 100 ms).
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from engine.atomic import atomic_write
from engine.checkpoint_layout import CONFIG_FILE, MODEL_CARD_FILE
from engine.registry.index import ModelEntry, own_figures, summarize_checkpoint
from engine.resources import sample_path

__all__ = [
    "DEFAULT_CLIP", "EncoderCTC", "ExportError", "ExportResult", "ExportUnavailable", "clip_features",
    "export_model", "export_onnx", "export_torchscript", "load_torchscript", "model_card", "onnx_unavailable_reason",
    "verify_export",
]

DEFAULT_CLIP = sample_path("sc_yes_03401e93.wav")
"""The real clip exports are checked on by default (Speech Commands "yes", a held-out speaker)."""
TOLERANCE = 1e-4
"""Largest max-abs difference of CTC log-probs accepted from an exported module."""
MIN_FRAMES = 7


class ExportError(RuntimeError):
    """An export that failed or whose output does not match the PyTorch model."""


class ExportUnavailable(ExportError):
    """The exporter itself is not available here (e.g. the ``onnx`` package is not installed)."""


@dataclass
class ExportResult:
    """``path`` written in ``format``; ``max_abs_diff`` of CTC log-probs against PyTorch on ``clip``
    (None: not verified, ``note`` says why)."""

    path: Path
    format: str
    max_abs_diff: float | None = None
    clip: str | None = None
    frames: int | None = None
    note: str = ""


# --------------------------------------------------------------------------- checkpoint + card

def _checkpoint_path(entry_or_checkpoint) -> tuple[Path, ModelEntry | None]:
    if isinstance(entry_or_checkpoint, ModelEntry):
        return entry_or_checkpoint.path, entry_or_checkpoint
    return Path(entry_or_checkpoint), None


def export_model(entry_or_checkpoint: ModelEntry | str | os.PathLike, out_dir: str | os.PathLike,
                 overwrite: bool = False) -> Path:
    """Write a standalone checkpoint folder: ``model.safetensors``, ``config.json``, ``MODEL_CARD.md``.

    The weights are loaded and saved again with
    :func:`engine.train.checkpoint.save_checkpoint`, so the copy is checked and
    carries no optimizer state. With a registry entry, ``meta["name"]`` becomes
    the entry's name, ``meta["figures"]`` its metrics, and ``meta["registry"]``
    records its id, parent, data fingerprint and metrics. The folder appears whole or not at all.

    Raises:
        ExportError: unreadable checkpoint, or ``out_dir`` exists and is not
            empty (pass ``overwrite=True`` to replace it).
        OSError: disk full or not writable (nothing is left behind).
    """
    from engine.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

    src, entry = _checkpoint_path(entry_or_checkpoint)
    out = Path(out_dir).absolute()
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise ExportError(f"{out} already exists and is not empty; choose another folder or overwrite it.")
    if out.exists() and _same(out, src):
        raise ExportError(f"Cannot export {src} onto itself.")
    try:
        model, tokenizer, meta = load_checkpoint(src)
    except CheckpointError as exc:
        raise ExportError(str(exc)) from None
    meta = dict(meta)
    if entry is not None:
        meta["name"] = entry.name
        meta["figures"] = entry.metrics  # what the registry knows of this model (not figures inherited from a parent)
        meta["registry"] = {"id": entry.id, "parent_id": entry.parent_id, "parent_path": entry.parent_path,
                            "created": entry.created, "data_fingerprint": entry.data_fingerprint,
                            "train_utterances": entry.train_utterances, "metrics": entry.metrics,
                            "notes": entry.notes}
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.export"))
    try:
        save_checkpoint(stage / "model", model, tokenizer, meta)
        with atomic_write(stage / "model" / MODEL_CARD_FILE) as fh:
            fh.write(model_card(stage / "model", entry))
        _public(stage / "model")
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
        os.replace(stage / "model", out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out


def model_card(checkpoint: str | os.PathLike, entry: ModelEntry | None = None) -> str:
    """A ``MODEL_CARD.md`` stub: what the model is, its lineage, data fingerprint and figures."""
    summary, meta = summarize_checkpoint(Path(checkpoint))
    name = entry.name if entry else str(meta.get("name") or Path(checkpoint).name)
    metrics = entry.metrics if entry else own_figures(meta)
    lines = [f"# {name}", "",
             "A cross-modal (audio ↔ text) speech recognizer exported from Sayso "
             "(load with `engine.train.checkpoint.load_checkpoint` or `engine.decode.families.load_recognizer`).", ""]
    if entry:
        lines += [f"- **Registry id:** `{entry.id}`", f"- **Created:** {entry.created}"]
        if entry.parent_id or entry.parent_path:
            lines.append(f"- **Fine-tuned from:** {entry.parent_id or ''}"
                         + (f" (`{entry.parent_path}`)" if entry.parent_path else ""))
    p = summary.get("parameters")
    lines.append(f"- **Parameters:** {p / 1e6:.2f}M" if p else "- **Parameters:** unknown")
    arch = ", ".join(f"{k}={summary[k]}" for k in ("d_model", "encoder_layers", "encoder_heads", "decoder_layers",
                                                    "embed_dim", "vocab_size") if k in summary)
    if arch:
        lines.append(f"- **Architecture:** Conformer encoder + CTC head + attention decoder ({arch})")
    if entry and entry.data_fingerprint:
        lines.append(f"- **Training data:** {entry.train_utterances} utterances, fingerprint "
                     f"`{entry.data_fingerprint}` (sha256 over audio content, offset, duration, transcript)")
    else:
        lines.append("- **Training data:** _describe it here (sources, licences, speakers)._")
    lines += ["", "## Figures", ""]
    if metrics:
        lines += ["| set | WER | CER | utterances |", "|---|---|---|---|"]
        for set_name, m in metrics.items():
            lines.append(f"| {set_name} | {_pct(m.get('wer'))} | {_pct(m.get('cer'))} | {m.get('utterances', '')} |")
    else:
        lines.append("_No figures yet: compare it with another model on a test set (`sayso models compare`)._")
    notes = entry.notes if entry and entry.notes else "_Intended use, limits, known failure cases._"
    lines += ["", "## Notes", "", notes, ""]
    return "\n".join(lines)


def _public(path: Path) -> None:
    """Make an export readable by others like any file (temporary files and folders are created owner-only)."""
    paths = [path] + (list(path.iterdir()) if path.is_dir() else [])
    for p in paths:
        with contextlib.suppress(OSError):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)


def _pct(x) -> str:
    return f"{100 * x:.2f} %" if isinstance(x, (int, float)) else ""


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


# --------------------------------------------------------------------------- encoder + CTC graph

class _ConformerBlock(nn.Module):
    """A ``torchaudio`` ``ConformerLayer`` for one utterance, batch-first, with self-attention
    written out (matmul + softmax with ``-1`` for the frame axis) instead of
    ``nn.MultiheadAttention``, whose legacy ONNX export fixes the frame count
    into its reshapes. Shares the layer's modules."""

    def __init__(self, layer) -> None:
        super().__init__()
        self.ffn1, self.ffn2 = layer.ffn1, layer.ffn2
        self.attn_norm, self.final_norm = layer.self_attn_layer_norm, layer.final_layer_norm
        self.conv_module = layer.conv_module
        self.convolution_first = bool(layer.convolution_first)
        mha = layer.self_attn
        if not mha._qkv_same_embed_dim or mha.in_proj_bias is None or mha.batch_first:
            raise ExportError("Unsupported attention layout in the Conformer (separate q/k/v weights or batch_first).")
        self.in_proj_weight, self.in_proj_bias = mha.in_proj_weight, mha.in_proj_bias
        self.out_proj = mha.out_proj
        self.heads = int(mha.num_heads)
        self.head_dim = int(mha.head_dim)
        self.d_model = int(mha.embed_dim)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        qkv = F.linear(x[0], self.in_proj_weight, self.in_proj_bias)  # (frames, 3 d)
        q, k, v = qkv.chunk(3, dim=-1)
        q = q.reshape(-1, self.heads, self.head_dim).transpose(0, 1)  # (heads, frames, head_dim)
        k = k.reshape(-1, self.heads, self.head_dim).transpose(0, 1)
        v = v.reshape(-1, self.heads, self.head_dim).transpose(0, 1)
        w = torch.softmax(torch.matmul(q, k.transpose(1, 2)) * (self.head_dim ** -0.5), dim=-1)
        o = torch.matmul(w, v).transpose(0, 1).reshape(-1, self.d_model)  # (frames, d)
        return self.out_proj(o).unsqueeze(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (1, frames, d)
        x = self.ffn1(x) * 0.5 + x
        if self.convolution_first:
            x = x + self.conv_module(x)
        x = x + self.attention(self.attn_norm(x))
        if not self.convolution_first:
            x = x + self.conv_module(x)
        x = self.ffn2(x) * 0.5 + x
        return self.final_norm(x)


class _NativeBlock(nn.Module):
    """A ``torchaudio`` ``ConformerLayer`` as it is (``nn.MultiheadAttention``), batch-first, no padding mask."""

    def __init__(self, layer) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (1, frames, d)
        return self.layer(x.transpose(0, 1), None).transpose(0, 1)


class EncoderCTC(nn.Module):
    """Log-mel ``(1, frames, n_mels)`` → CTC log-probs ``(1, frames', vocab)`` (frames ≥ 7).

    Built from a :class:`~engine.model.cross_modal.CrossModalModel`'s own
    modules (shared, not copied); put in eval mode. Computes what
    ``model.encode(feats, lengths).ctc_log_probs`` computes for one unpadded
    utterance.

    ``explicit_attention`` writes self-attention out as matmuls (needed for an
    ONNX graph whose frame axis stays dynamic; agrees with the model to about
    1e-5); otherwise the model's ``nn.MultiheadAttention`` runs as is (exact).
    """

    def __init__(self, model, explicit_attention: bool = False) -> None:
        super().__init__()
        enc = model.encoder
        self.conv = enc.subsampling.conv
        self.out = enc.subsampling.out
        self.register_buffer("pe", enc.positions.pe, persistent=False)
        block = _ConformerBlock if explicit_attention else _NativeBlock
        self.blocks = nn.ModuleList(block(layer) for layer in enc.conformer.conformer_layers)
        self.ctc_head = model.ctc_head
        self.eval()

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        x = self.conv(feats.unsqueeze(1))  # (1, channels, frames/4, mels/4)
        b, c, t, f = x.shape
        x = self.out(x.transpose(1, 2).reshape(b, t, c * f))
        x = x + self.pe[: x.shape[1]].unsqueeze(0)
        for block in self.blocks:
            x = block(x)
        return F.log_softmax(self.ctc_head(x), dim=-1)


def _load(checkpoint):
    from engine.train.checkpoint import CheckpointError, load_checkpoint

    path, _ = _checkpoint_path(checkpoint)
    try:
        return load_checkpoint(path)
    except CheckpointError as exc:
        raise ExportError(str(exc)) from None


def clip_features(clip: str | os.PathLike = DEFAULT_CLIP):
    """Log-mel ``(1, frames, 80)`` of an audio file, as the recognizer computes it."""
    from engine.audio.features import LogMel
    from engine.audio.io import load_audio

    feats, _ = LogMel()(torch.from_numpy(load_audio(clip)))
    return feats


def reference_log_probs(model, feats):
    """CTC log-probs of ``feats`` by the PyTorch model (``CrossModalModel.encode``)."""
    with torch.inference_mode():
        return model.encode(feats, torch.tensor([feats.shape[1]])).ctc_log_probs


@contextlib.contextmanager
def _quiet_jit():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+` is deprecated.*")
        warnings.filterwarnings("ignore", message=r".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx.*")
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        yield


def export_torchscript(checkpoint: ModelEntry | str | os.PathLike, out_path: str | os.PathLike,
                       method: str = "trace", verify_clip: str | os.PathLike | None = DEFAULT_CLIP,
                       tolerance: float = TOLERANCE) -> ExportResult:
    """Write the encoder + CTC path as TorchScript (``torch.jit.load``-able) and check it.

    Args:
        checkpoint: a registry entry or a checkpoint folder.
        out_path: the ``.pt`` file (written atomically).
        method: ``"trace"`` (``torch.jit.trace`` on the clip's features) or ``"script"``.
        verify_clip: real audio to compare exported and PyTorch log-probs on (None: skip).
        tolerance: largest accepted max abs difference.

    Returns:
        :class:`ExportResult` with the measured ``max_abs_diff``.

    Raises:
        ExportError: unreadable checkpoint, tracing/scripting failed, or the
            exported module disagrees with PyTorch by more than ``tolerance``.
    """
    if method not in ("trace", "script"):
        raise ExportError(f"method must be 'trace' or 'script', not {method!r}.")
    model, tokenizer, meta = _load(checkpoint)
    module = EncoderCTC(model)
    feats = clip_features(verify_clip or DEFAULT_CLIP)
    try:
        with _quiet_jit(), torch.no_grad():
            exported = torch.jit.trace(module, feats) if method == "trace" else torch.jit.script(module)
    except Exception as exc:
        raise ExportError(f"TorchScript {method} failed: {type(exc).__name__}: {exc}") from None
    out = Path(out_path)
    extra = {CONFIG_FILE: json.dumps({"model": model.cfg.to_json(), "tokenizer": tokenizer.to_json(),
                                        "name": meta.get("name", ""), "input": "log-mel (1, frames, 80)",
                                        "output": "CTC log-probs (1, frames', vocab)"})}
    with atomic_write(out, "wb") as fh, _quiet_jit():
        torch.jit.save(exported, fh, _extra_files=extra)
    _public(out)
    result = ExportResult(out, f"torchscript-{method}")
    if verify_clip is not None:
        with _quiet_jit():
            loaded = torch.jit.load(str(out))
        result = verify_export(lambda x: loaded(x), model, verify_clip, result, tolerance)
    return result


def load_torchscript(path: str | os.PathLike):
    """``(module, info)`` of a file written by :func:`export_torchscript`; ``info`` holds the
    model config, the tokenizer's ``symbols`` (CTC output ids → characters) and the model's name."""
    extra = {CONFIG_FILE: ""}
    with _quiet_jit():
        module = torch.jit.load(str(path), _extra_files=extra)
    return module.eval(), json.loads(extra[CONFIG_FILE] or "{}")


def onnx_unavailable_reason() -> str | None:
    """Why ONNX export cannot run here (None: it can)."""
    if importlib.util.find_spec("onnx") is None:
        return ("ONNX export is unavailable: the 'onnx' package is not installed (Sayso does not depend on it; "
                "`pip install onnx` to enable it, plus `onnxruntime` to verify the result). "
                "TorchScript export works without it.")
    return None


def export_onnx(checkpoint: ModelEntry | str | os.PathLike, out_path: str | os.PathLike,
                verify_clip: str | os.PathLike | None = DEFAULT_CLIP, opset: int = 17,
                tolerance: float = TOLERANCE) -> ExportResult:
    """Write the encoder + CTC path as ONNX (input ``feats`` (1, frames, 80), output ``log_probs``).

    Uses the legacy TorchScript-based exporter (``dynamo=False``), which needs
    only ``onnx``; the graph has a dynamic ``frames`` axis. Verified with
    ``onnxruntime`` when installed (else ``max_abs_diff`` is None and ``note`` says so).

    Raises:
        ExportUnavailable: the ``onnx`` package is not installed.
        ExportError: unreadable checkpoint, the export failed, or the ONNX
            graph disagrees with PyTorch by more than ``tolerance``.
    """
    reason = onnx_unavailable_reason()
    if reason:
        raise ExportUnavailable(reason)
    model, tokenizer, meta = _load(checkpoint)
    module = EncoderCTC(model, explicit_attention=True)
    feats = clip_features(verify_clip or DEFAULT_CLIP)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with _quiet_jit(), torch.no_grad():
            torch.onnx.export(module, (feats,), tmp, dynamo=False, opset_version=opset, do_constant_folding=False,
                              input_names=["feats"], output_names=["log_probs"],
                              dynamic_axes={"feats": {1: "frames"}, "log_probs": {1: "encoder_frames"}})
        os.replace(tmp, out)
        _public(out)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, ModuleNotFoundError):
            raise ExportUnavailable(f"ONNX export is unavailable: {exc}.") from None
        raise ExportError(f"ONNX export failed: {type(exc).__name__}: {exc}") from None
    result = ExportResult(out, f"onnx-opset{opset}")
    if verify_clip is None:
        return result
    if importlib.util.find_spec("onnxruntime") is None:
        result.note = "not verified: onnxruntime is not installed"
        return result
    import onnxruntime as ort

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    run = lambda x: torch.from_numpy(session.run(["log_probs"], {"feats": x.numpy()})[0])  # noqa: E731
    return verify_export(run, model, verify_clip, result, tolerance)


def verify_export(run, model, clip: str | os.PathLike, result: ExportResult,
                  tolerance: float = TOLERANCE) -> ExportResult:
    """Fill ``result.max_abs_diff`` with ``max |run(feats) - model.encode(feats).ctc_log_probs|`` on ``clip``.

    Raises:
        ExportError: shapes differ or the difference exceeds ``tolerance``.
    """
    feats = clip_features(clip)
    if feats.shape[1] < MIN_FRAMES:
        raise ExportError(f"{clip}: too short to verify on ({feats.shape[1]} frames; at least {MIN_FRAMES}).")
    ref = reference_log_probs(model, feats)
    with torch.inference_mode():
        got = run(feats)
    if tuple(got.shape) != tuple(ref.shape):
        raise ExportError(f"The exported module gives shape {tuple(got.shape)}, PyTorch {tuple(ref.shape)}.")
    diff = float((got.float() - ref).abs().max())
    result.max_abs_diff, result.clip, result.frames = diff, str(clip), int(feats.shape[1])
    if not diff <= tolerance:
        raise ExportError(f"The exported module disagrees with PyTorch on {Path(clip).name}: "
                          f"max abs diff {diff:.3g} > {tolerance:g}.")
    return result

