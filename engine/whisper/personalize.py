"""Personalize Whisper: LoRA adapters fitted to a few takes of one person, merged and exported to CTranslate2.

The recipe (speaker adaptation of a large pretrained model with low-rank adapters,
Hu et al. 2021 "LoRA"; rehearsal against forgetting, Robins 1995):

- **Adapters** (``peft`` ``LoraConfig``, rank :attr:`WhisperPersonalizeConfig.rank`) on every
  linear layer of the top :attr:`~WhisperPersonalizeConfig.top_encoder_layers` encoder layers (2 by
  default) and, if :attr:`~WhisperPersonalizeConfig.decoder` says so, of the decoder; everything else
  is frozen. By default the decoder is not adapted: the person's voice is an acoustic matter, and
  adapting the decoder to a few short phrases changed how Whisper writes everything else (measured:
  :class:`~engine.whisper.personalize_config.WhisperPersonalizeConfig`).
- **A cheap step on a CPU.** The frozen lower encoder runs once per clip (no gradients) and its
  output is cached. Whisper always encodes a 30 s window, but a short take fills a few percent
  of it: a step recomputes the top encoder layers only for the first ``L`` frames (the longest
  clip, padded as below, plus :data:`~engine.whisper.recognizer.MARGIN_FRAMES`), which attend to
  the rest of the window through keys and values cached from the base model, and the decoder
  attends to those ``L`` frames — exactly what the recognizer's phrase choice reads
  (:meth:`engine.whisper.recognizer.WhisperRecognizer.transcribe` with a vocabulary). The padding
  frames past ``L`` are seen as the base model sees them (an approximation: after merging, the
  adapted layers also compute them), so a step costs a few decoder passes over ``L`` frames.
- **Targets.** A take's transcript is written as the phrase choice scores it (`` Seven.``) and
  its audio gets :data:`~engine.whisper.recognizer.PAD_S` of silence on each side, as there.
- **Rehearsal** (off by default: with the decoder frozen it did not help, and with it adapted it
  made open transcription worse). If :attr:`~WhisperPersonalizeConfig.batch_rehearse` is set, each
  step also replays a few other people's clips with the base model's own transcripts of them
  (pseudo-labels, decoded once before training; :func:`rehearsal_clips`).
- **Export.** The adapters are merged (``merge_and_unload``), the model saved as a Hugging Face
  folder (:func:`engine.whisper.torch_weights.save_hf_folder`, safetensors), converted by
  CTranslate2's own ``TransformersConverter`` (``int8`` by default) and moved into place
  atomically (a temporary sibling renamed), with the base folder's ``tokenizer.json`` and a
  model card naming the lineage.

Shapes: ``B`` batch, ``L`` kept encoder frames (20 ms each), ``T`` tokens, ``d`` width.
"""
from __future__ import annotations

import json
import math
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - torch's convention

from engine.atomic import atomic_write, fsync_dir
from engine.audio.io import SAMPLE_RATE
from engine.data.utterance import Utterance
from engine.train.errors import TrainingError
from engine.whisper.folder import CONFIG_FILE, TOKENIZER_FILE, check_folder
from engine.whisper.personalize_config import WhisperPersonalizeConfig
from engine.whisper.recognizer import MARGIN_FRAMES, PAD_S
from engine.whisper.torch_model import TorchWhisper, load_torch_whisper

__all__ = ["LINEAGE_FILE", "WhisperPersonalizeConfig", "WhisperPersonalizeReport", "export_ct2", "personalize_whisper",
           "phrase_text", "register_personalized", "rehearsal_clips"]

LINEAGE_FILE = "personalized.json"
"""Written into the exported folder: the base model, the takes, the settings and the report."""
MAX_CLIP_S = 29.0 - 2 * PAD_S
"""Longer takes are cut (Whisper's window is 30 s)."""
WINDOW_FRAMES = 3000
"""Whisper's 30 s window in 10 ms mel frames."""


@dataclass
class WhisperPersonalizeReport:
    """What a run did (seconds of wall time for each stage, losses on the person's takes)."""

    seconds: float
    prepare_seconds: float
    train_seconds: float
    export_seconds: float
    trainable: int
    total: int
    first_loss: float
    last_loss: float
    steps: int
    takes: int
    rehearsal: int
    frames: int
    losses: list[float] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def phrase_text(text: str) -> str:
    """A transcript as the recognizer's phrase choice writes it: `` Seven.``, `` Call my sister.``."""
    text = " ".join(text.split())
    return f" {text[:1].upper()}{text[1:]}." if text else ""


def rehearsal_clips(count: int = 12, seed: int = 0, max_seconds: float = 3.0,
                    exclude_speakers: Sequence[str] = ()) -> tuple[list[Utterance], str]:
    """Up to ``count`` short clips of other people to replay while adapting (their text is ignored:
    the base model's own transcripts are used).

    AN4 utterances of at most ``max_seconds`` from ``$SAYSO_DATA`` or ``../shared/data``, never of the
    speakers held out of every figure (:func:`engine.recipes.datasets.an4_heldout_speakers`) nor of
    ``exclude_speakers``; without those corpora, the bundled Speech Commands samples.

    Returns:
        ``(clips, description)``.
    """
    import csv

    import soundfile as sf

    from engine.recipes.datasets import an4_heldout_speakers, shared_data_dir
    from engine.resources import SAMPLES

    rng = random.Random(seed)
    try:
        root = shared_data_dir() / "an4"
        with open(root / "train.tsv", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        held = set(an4_heldout_speakers()) | {s.removeprefix("an4-") for s in exclude_speakers}
        rows = [r for r in rows if r["speaker"] not in held]
        rng.shuffle(rows)
        clips = []
        for r in rows:
            path = root / r["path"]
            try:
                if sf.info(str(path)).duration > max_seconds:
                    continue
            except (OSError, RuntimeError):
                continue
            clips.append(Utterance(path, r["transcript"], speaker=f"an4-{r['speaker']}"))
            if len(clips) >= count:
                break
        if clips:
            return clips, f"{len(clips)} AN4 clips of {len({c.speaker for c in clips})} other speakers"
    except (FileNotFoundError, OSError):
        pass
    samples = sorted(SAMPLES.glob("sc_*.wav"))
    rng.shuffle(samples)
    clips = [Utterance(p, "") for p in samples[:count]]
    return clips, f"{len(clips)} bundled Speech Commands samples (no AN4 on this machine)"


def _audio(utt: Utterance) -> np.ndarray:
    """The take as float32 16 kHz with :data:`PAD_S` of silence on each side (cut to fit the window)."""
    from engine.train.dataset import load_utterance

    audio = load_utterance(utt)[: int(MAX_CLIP_S * SAMPLE_RATE)].astype(np.float32)
    pad = np.zeros(int(PAD_S * SAMPLE_RATE), np.float32)
    return np.concatenate([pad, audio, pad])


def _pseudo_labels(model, audios: list[np.ndarray]) -> list[str]:
    """The base model's own greedy transcripts (a ``faster_whisper.WhisperModel``), one per clip."""
    out = []
    for a in audios:
        segments, _ = model.transcribe(a, beam_size=1, language="en", without_timestamps=True, vad_filter=False,
                                       condition_on_previous_text=False)
        out.append("".join(s.text for s in segments))
    return out


@dataclass
class _Clip:
    """One clip's cache: the top encoder layers' input for the first ``L`` frames, the base model's
    keys and values of the frames past ``L`` (float16) for each adapted layer, and its target tokens."""

    x: torch.Tensor  # (L, d) float32
    kv: list[tuple[torch.Tensor, torch.Tensor]]  # per top layer: (H, 1500-L, dh) float16 each
    tokens: list[int]


class _TorchCache:
    """The top encoder layers' inputs from the frozen lower encoder in torch (adapted encoder layers)."""

    def __init__(self, tw: TorchWhisper, top: int, frames: int) -> None:
        self.tw, self.top, self.frames = tw, top, frames
        self.encoder = tw.model.model.encoder

    @torch.inference_mode()
    def __call__(self, audio: np.ndarray, tokens: list[int]) -> _Clip:
        enc, L = self.encoder, self.frames
        n = len(enc.layers)
        states = _lower_states(enc, self.tw.mel(audio), n - 1)  # the last layer's output is never needed
        kv = []
        for j in range(n - self.top, n):
            layer = enc.layers[j]
            h = layer.self_attn_layer_norm(states[j][:, L:])
            kv.append((_heads(layer.self_attn.k_proj(h), layer.self_attn.num_heads)[0].half(),
                       _heads(layer.self_attn.v_proj(h), layer.self_attn.num_heads)[0].half()))
        return _Clip(states[n - self.top][0, :L].float().clone(), kv, tokens)


def _lower_states(encoder, mel: torch.Tensor, layers: int) -> list[torch.Tensor]:
    """The input of each of the first ``layers + 1`` layers of a ``WhisperEncoder`` (as its
    ``hidden_states`` output: the embeddings, then each layer's output), ``(1, 1500, d)`` each, without
    running the layers above: ``mel`` is ``(1, n_mels, 3000)``."""
    x = F.gelu(encoder.conv2(F.gelu(encoder.conv1(mel)))).permute(0, 2, 1)
    x = x + encoder.embed_positions.weight[: x.shape[1]]
    states = [x]
    for layer in encoder.layers[:layers]:
        x = layer(x, None)
        x = x[0] if isinstance(x, tuple) else x
        states.append(x)
    return states


class _Ct2Cache:
    """The encoder's output (decoder-only adapters) as the recognizer computes it: CTranslate2 int8,
    faster-whisper's log-mel padded to the 30 s window (:meth:`WhisperRecognizer._encode`)."""

    def __init__(self, model, frames: int) -> None:
        self.model, self.frames = model, frames

    def __call__(self, audio: np.ndarray, tokens: list[int]) -> _Clip:
        from faster_whisper.audio import pad_or_trim

        features = pad_or_trim(self.model.feature_extractor(audio), WINDOW_FRAMES)
        encoded = np.asarray(self.model.encode(features))[0, :self.frames]
        return _Clip(torch.from_numpy(np.array(encoded, dtype=np.float32)), [], tokens)


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """``(B, T, d)`` → ``(B, heads, T, d / heads)``."""
    b, t, d = x.shape
    return x.view(b, t, heads, d // heads).transpose(1, 2)


def _top_layer(layer, x: torch.Tensor, k_rest: torch.Tensor, v_rest: torch.Tensor) -> torch.Tensor:
    """One encoder layer (pre-norm self-attention and feed-forward, as ``WhisperEncoderLayer``) over the
    first ``L`` frames ``x (B, L, d)``, attending to them and to the cached keys/values of the others."""
    attn = layer.self_attn
    heads = attn.num_heads
    h = layer.self_attn_layer_norm(x)
    q = _heads(attn.q_proj(h), heads)
    k = torch.cat([_heads(attn.k_proj(h), heads), k_rest.to(x.dtype)], dim=2)
    v = torch.cat([_heads(attn.v_proj(h), heads), v_rest.to(x.dtype)], dim=2)
    o = F.scaled_dot_product_attention(q, k, v)  # Whisper's scale: head_dim ** -0.5
    b, _, t, _ = o.shape
    x = x + attn.out_proj(o.transpose(1, 2).reshape(b, t, -1))
    return x + layer.fc2(layer.activation_fn(layer.fc1(layer.final_layer_norm(x))))


DECODER_TARGETS = {
    "all": r"self_attn\.(q_proj|k_proj|v_proj|out_proj)|encoder_attn\.(q_proj|out_proj)|fc1|fc2",
    "attention": r"self_attn\.(q_proj|v_proj)|encoder_attn\.q_proj",
    "none": "",
}
"""The decoder modules that get adapters, by :attr:`WhisperPersonalizeConfig.decoder`. Never the
cross-attention's keys and values: the encoder frames past the ones a step keeps (which open decoding
attends to) keep what the base model makes of them."""


def _lora_targets(n_encoder: int, top: int, decoder: str = "all") -> str:
    """The regular expression of the modules that get adapters (``peft`` ``target_modules``).

    Raises:
        ValueError: an unknown ``decoder`` choice, or no module at all (``"none"`` and ``top`` 0).
    """
    if decoder not in DECODER_TARGETS:
        raise ValueError(f"decoder adapters {decoder!r}: choose one of {', '.join(DECODER_TARGETS)}")
    parts = []
    if DECODER_TARGETS[decoder]:
        parts.append(rf"model\.decoder\.layers\.\d+\.({DECODER_TARGETS[decoder]})")
    if top:
        layers = "|".join(str(i) for i in range(n_encoder - top, n_encoder))
        parts.append(rf"model\.encoder\.layers\.({layers})\.(self_attn\.(q_proj|k_proj|v_proj|out_proj)|fc1|fc2)")
    if not parts:
        raise ValueError("no module gets adapters: adapt the decoder or some top encoder layers")
    return parts[0] if len(parts) == 1 else "(" + "|".join(parts) + ")"


class _Trainer:
    """The adapted model's loss on a batch of cached clips."""

    def __init__(self, model, prompt: list[int], eot: int, top: int) -> None:
        self.model, self.prompt, self.eot, self.top = model, prompt, eot, top
        inner = model.base_model.model.model  # PeftModel → LoraModel → WhisperForConditionalGeneration → .model
        self.encoder, self.decoder = inner.encoder, inner.decoder
        self.proj_out = model.base_model.model.proj_out

    def loss(self, clips: list[_Clip]) -> torch.Tensor:
        x = torch.stack([c.x for c in clips])
        if self.top:
            n = len(self.encoder.layers)
            for i, j in enumerate(range(n - self.top, n)):
                k = torch.stack([c.kv[i][0] for c in clips])
                v = torch.stack([c.kv[i][1] for c in clips])
                x = _top_layer(self.encoder.layers[j], x, k, v)
            x = self.encoder.layer_norm(x)
        longest = max(len(c.tokens) for c in clips) + 1
        ids = torch.full((len(clips), len(self.prompt) + longest - 1), self.eot, dtype=torch.long)
        labels = torch.full(ids.shape, -100, dtype=torch.long)
        for b, c in enumerate(clips):
            seq = self.prompt + c.tokens
            ids[b, :len(seq)] = torch.tensor(seq)
            target = c.tokens + [self.eot]  # what each position from the prompt's last token on predicts
            labels[b, len(self.prompt) - 1: len(self.prompt) - 1 + len(target)] = torch.tensor(target)
        hidden = self.decoder(input_ids=ids, encoder_hidden_states=x, use_cache=False).last_hidden_state
        logits = self.proj_out(hidden)
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)


def _frames(audios: list[np.ndarray], limit: int) -> int:
    """Encoder frames kept: the longest clip's (two mel frames of 10 ms each) plus the margin."""
    longest = max(len(a) for a in audios)
    return min(limit, math.ceil(longest / (SAMPLE_RATE * 0.01)) // 2 + MARGIN_FRAMES)


def personalize_whisper(base: str | os.PathLike, takes: Sequence[Utterance], out: str | os.PathLike,
                        rehearsal: Sequence[Utterance] | None = None,
                        cfg: WhisperPersonalizeConfig | None = None,
                        on_step: Callable[[int, int, float], bool | None] | None = None,
                        log: Callable[[str], None] | None = None,
                        on_prepare: Callable[[int, int], bool | None] | None = None,
                        lineage: dict | None = None) -> tuple[Path, WhisperPersonalizeReport]:
    """Fit LoRA adapters of the CTranslate2 Whisper folder ``base`` to ``takes`` and export the result.

    Args:
        base: a CTranslate2 Whisper folder (e.g. the registry's ``whisper-base``).
        takes: the person's takes (their transcripts are the targets).
        out: the new CTranslate2 folder (must not exist; written atomically).
        rehearsal: clips replayed at every step with the base model's transcripts of them (None:
            :func:`rehearsal_clips`; ``[]``: none).
        cfg: settings.
        on_step: ``on_step(step, steps, loss)`` after each step (loss on the batch's takes and
            rehearsal); returning True stops (nothing is exported: :class:`InterruptedError`).
        on_prepare: ``on_prepare(done, total)`` after each clip is read and encoded; True stops too.
        log: one line at a time about what it does.
        lineage: extra facts for the lineage file and the model card (e.g. the base model's registry id).

    Returns:
        ``(folder, report)``.

    Raises:
        TrainingError: no takes, a take without a transcript, or a non-finite loss.
        InterruptedError: ``on_step`` asked to stop.
        engine.whisper.folder.WhisperFolderError: ``base`` is not a Whisper folder.
        engine.audio.errors.AudioError: a take cannot be read.
        FileExistsError: ``out`` exists.
    """
    from peft import LoraConfig, get_peft_model

    cfg = cfg or WhisperPersonalizeConfig()
    say = log or (lambda _line: None)
    base, out = Path(base).expanduser(), Path(out).expanduser()
    takes = list(takes)
    if not takes:
        raise TrainingError("Personalization needs at least one take.")
    empty = [t for t in takes if not t.text.strip()]
    if empty:
        raise TrainingError(f"{len(empty)} take(s) have no transcript (e.g. {empty[0].audio_path}).")
    if out.exists():
        raise FileExistsError(f"{out} already exists.")
    check_folder(base)
    t0 = time.perf_counter()
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)

    from faster_whisper import WhisperModel

    tw = load_torch_whisper(base)
    tw.model.set_attn_implementation("sdpa")
    n_enc = tw.model.config.encoder_layers
    top = max(0, min(cfg.top_encoder_layers, n_enc))
    if rehearsal is None:
        rehearsal, what = (rehearsal_clips(cfg.rehearse_clips, cfg.seed) if cfg.batch_rehearse else ([], "none"))
        say(f"rehearsal: {what}")
    rehearsal = list(rehearsal) if cfg.batch_rehearse else []
    # CTranslate2 only for what torch does not do here: the rehearsal's pseudo-labels, a decoder-only cache
    ct2 = (WhisperModel(str(base), device="cpu", compute_type="int8", cpu_threads=cfg.threads)
           if rehearsal or not top else None)
    take_audio = [_audio(t) for t in takes]
    rehearse_audio = [_audio(r) for r in rehearsal]
    labels = _pseudo_labels(ct2, rehearse_audio) if rehearse_audio else []
    keep = [i for i, text in enumerate(labels) if tw.encode_text(text)]
    rehearse_audio, labels = [rehearse_audio[i] for i in keep], [labels[i] for i in keep]
    frames = _frames(take_audio + rehearse_audio, tw.model.config.max_source_positions)
    cache = _TorchCache(tw, top, frames) if top else _Ct2Cache(ct2, frames)
    jobs = [(a, tw.encode_text(phrase_text(t.text))) for a, t in zip(take_audio, takes)]
    jobs += [(a, tw.encode_text(text)) for a, text in zip(rehearse_audio, labels)]
    clips = []
    for a, tokens in jobs:
        clips.append(cache(a, tokens))
        if on_prepare is not None and on_prepare(len(clips), len(jobs)):
            raise InterruptedError("Personalization was stopped.")
    mine, theirs = clips[:len(takes)], clips[len(takes):]
    del ct2
    prepare_s = time.perf_counter() - t0
    say(f"cached the frozen encoder of {len(mine)} take(s) and {len(theirs)} rehearsal clip(s) "
        f"({frames} frames kept) in {prepare_s:.1f} s")

    lora = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=0.0, bias="none",
                      target_modules=_lora_targets(n_enc, top, cfg.decoder))
    model = get_peft_model(tw.model, lora)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    trainer = _Trainer(model, tw.prompt, tw.model.config.eos_token_id, top)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    losses: list[float] = []
    t1 = time.perf_counter()
    for step in range(cfg.steps):
        for g in opt.param_groups:
            g["lr"] = cfg.lr * min(1.0, (step + 1) / 5)
        batch = rng.sample(mine, min(cfg.batch_takes, len(mine)))
        if theirs and cfg.batch_rehearse:
            batch += rng.sample(theirs, min(cfg.batch_rehearse, len(theirs)))
        loss = trainer.loss(batch)
        if not torch.isfinite(loss):
            raise TrainingError(f"The loss became {loss.item()} at step {step + 1}; lower the learning rate.")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(float(loss.item()))
        if on_step is not None and on_step(step + 1, cfg.steps, losses[-1]):
            raise InterruptedError("Personalization was stopped.")
    train_s = time.perf_counter() - t1
    trainable, total = sum(p.numel() for p in params), sum(p.numel() for p in model.parameters())
    say(f"trained {trainable / 1e6:.2f}M adapter parameters for {len(losses)} step(s) in {train_s:.1f} s: "
        f"loss {losses[0]:.3f} -> {float(np.mean(losses[-3:])):.3f}")

    t2 = time.perf_counter()
    merged = model.merge_and_unload()
    merged.eval()
    report = WhisperPersonalizeReport(
        seconds=0.0, prepare_seconds=prepare_s, train_seconds=train_s, export_seconds=0.0, trainable=trainable,
        total=total, first_loss=losses[0], last_loss=float(np.mean(losses[-3:])), steps=len(losses),
        takes=len(takes), rehearsal=len(theirs), frames=frames, losses=losses)
    facts = {"base": str(base), **(lineage or {}), "config": asdict(cfg),
             "takes": [{"audio_filepath": str(t.audio_path), "text": t.text} for t in takes]}
    export_ct2(merged, base, out, cfg.quantization, facts)
    report.export_seconds = time.perf_counter() - t2
    report.seconds = time.perf_counter() - t0
    _write_lineage(out, {**facts, "report": report.to_json()})
    say(f"exported to {out} ({cfg.quantization}) in {report.export_seconds:.1f} s; {report.seconds:.1f} s in all")
    return out, report


def export_ct2(model, base: str | os.PathLike, out: str | os.PathLike, quantization: str = "int8",
               facts: dict | None = None) -> Path:
    """Save ``model`` (a ``WhisperForConditionalGeneration``) as a CTranslate2 folder ``out``.

    Through a Hugging Face folder (safetensors) and CTranslate2's own ``TransformersConverter``; the
    base folder's ``tokenizer.json`` is copied, a model card written, and the folder appears at ``out``
    only when complete (built in a temporary sibling, then renamed).

    Raises:
        FileExistsError: ``out`` exists.
        OSError: the disk is full or the folder not writable (nothing is left behind).
    """
    import ctranslate2

    from engine.whisper.torch_weights import save_hf_folder

    base, out = Path(base), Path(out)
    if out.exists():
        raise FileExistsError(f"{out} already exists.")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        hf = save_hf_folder(model, work / "hf", tokenizer_from=base)
        stage = work / "ct2"
        ctranslate2.converters.TransformersConverter(str(hf), load_as_float16=quantization == "float16").convert(
            str(stage), quantization=quantization)
        shutil.copy(base / TOKENIZER_FILE, stage / TOKENIZER_FILE)
        base_config = json.loads((base / CONFIG_FILE).read_text(encoding="utf-8"))
        config = json.loads((stage / CONFIG_FILE).read_text(encoding="utf-8"))
        for key, value in base_config.items():  # the base's suppression lists and alignment heads if ours lack them
            config.setdefault(key, value)
        with atomic_write(stage / CONFIG_FILE) as fh:
            json.dump(config, fh, indent=2)
        _write_card(stage, out.name, base, facts or {})
        os.replace(stage, out)
        fsync_dir(out.parent)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def _write_card(folder: Path, name: str, base: Path, facts: dict) -> None:
    """``MODEL_CARD.md`` of a personalized Whisper folder: what it is, its lineage, the licences."""
    from engine.checkpoint_layout import MODEL_CARD_FILE

    info = check_folder(folder)
    cfg = facts.get("config", {})
    text = f"""# {facts.get("name") or name}

Whisper {info.size_name} personalized by Sayso: LoRA adapters (rank {cfg.get("rank", "?")}) on the top
{cfg.get("top_encoder_layers", "?")} encoder layer(s) (decoder: {cfg.get("decoder", "?")}), fitted to {len(facts.get("takes", []))} take(s) of one person in
{cfg.get("steps", "?")} steps, merged and converted for CTranslate2 ({cfg.get("quantization", "?")}).

- **Good at:** the voice and the words of the person whose takes it was adapted to; elsewhere about
  what its base model does.
- **Base model:** {facts.get("base_id") or base.name} (`{base}`)
- **Weights:** `model.bin`, {info.bytes:,} bytes; lineage and settings in `{LINEAGE_FILE}`
- **Licence:** MIT (OpenAI Whisper, github.com/openai/whisper; Radford et al. 2022); the adaptation
  is the person's own recordings.
"""
    with atomic_write(folder / MODEL_CARD_FILE) as fh:
        fh.write(text)


def _write_lineage(out: Path, facts: dict) -> None:
    with atomic_write(out / LINEAGE_FILE) as fh:
        json.dump(facts, fh, indent=2)


def register_personalized(folder: str | os.PathLike, base: str | os.PathLike, takes: Sequence[Utterance],
                          report: WhisperPersonalizeReport, registry=None, name: str | None = None):
    """Register a personalized folder in the model registry with its lineage: the base model as parent,
    the takes' fingerprint and count, and the steps in the notes.

    Args:
        registry: a :class:`~engine.registry.index.ModelRegistry`, its folder, or None (the default one).
        name: the entry's name (default: the folder's name, or its parent's when it is ``model``).

    Returns:
        The new :class:`~engine.registry.index.ModelEntry`.

    Raises:
        engine.registry.index.RegistryError: the registry cannot take it.
    """
    from engine.registry.index import ModelRegistry, RegistryError

    reg = registry if isinstance(registry, ModelRegistry) else ModelRegistry(registry)
    folder = Path(folder)
    if name is None:
        name = folder.parent.name if folder.name == "model" else folder.name
    try:
        parent = reg.resolve(base)
        parent_name = parent.name
    except RegistryError:
        parent_name = Path(base).name
    notes = (f"Personalized from {parent_name} on {report.takes} take(s): LoRA adapters, {report.steps} steps, "
             f"{report.seconds:.0f} s; loss on the takes {report.first_loss:.2f} → {report.last_loss:.2f}.")
    return reg.register(folder, name, parent=str(base), train_data=list(takes), notes=notes,
                        source=f"personalized from {parent_name} by Sayso (LoRA)")
