"""Recipe for the bundled base model: ``sayso train --recipe base`` or ``python -m engine.recipes.base``.

1. Real speech from ``../shared/data`` (FSDD, Speech Commands, AN4), split by
   speaker (:func:`engine.recipes.datasets.real_splits`).
2. Synthetic speech from many TTS voices (:mod:`engine.recipes.synth`), a few
   voices held out for testing.
   Each source is weighted (:data:`SOURCE_WEIGHTS`) so real digits from many
   voices are not drowned by synthetic speech.
3. Joint CTC/attention/contrastive training (:class:`engine.train.trainer.Trainer`)
   with speed, noise, channel and SpecAugment augmentation.
4. Evaluation on held-out speakers and voices, open-vocabulary and
   vocabulary-constrained; the best checkpoint, its figures and a model card
   go to ``resources/models/base``.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from pathlib import Path

from engine.checkpoint_layout import CONFIG_FILE, MODEL_CARD_FILE, MODEL_FILES, read_config
from engine.data.manifest import read_manifest, write_manifest
from engine.data.utterance import Utterance
from engine.decode.vocabulary import Vocabulary
from engine.paths import cache_dir
from engine.recipes.datasets import (
    COMMANDS,
    DIGITS,
    FSDD_HELDOUT_SPEAKERS,
    JASON_TRIM,
    Splits,
    an4_vocabulary,
    background_noises,
    real_splits,
)
from engine.resources import BUNDLED_MODEL
from engine.train.augment import AugmentConfig
from engine.train.progress import progress_printer
from engine.train.trainer import TrainConfig, Trainer

WORK = Path("recipes") / "base"
"""The recipe's working folder (generated data, checkpoints) under :func:`engine.paths.cache_dir`."""
SYNTH_TEST_VOICES = ("flite-awb", "festival-ked", "espeak-en-us+klatt3", "espeak-en-gb-x-gbcwmd+f1", "espeak-en-029+f2")
"""Synthetic voices held out for testing: one per engine family and accent group.
(piper-joe, the one neural voice, stays in training.)"""

SOURCE_WEIGHTS = {"fsdd": 1.0, "sc": 1.0, "an4": 2.0, "synth": 1.0, "pseudo": 1.0}
"""How many times each training source is seen per epoch (a fraction: that share of it, drawn once
with a fixed seed). The source is the speaker id's prefix (``fsdd-``, ``sc-``, ``an4-``), ``synth``
for TTS voices, ``pseudo`` for teacher-labelled audio (:mod:`engine.recipes.distill`).

Why: in v1 the synthetic set (about 4,100 clips, 20 voices) held most of the digit words, and real
digits came from 3 FSDD voices. AN4's 58 training speakers say about 1,300 digit words in continuous
speech; seen twice an epoch, the real data (FSDD 1,350 + Speech Commands 1,950 + AN4 2 × 745 clips)
outnumbers the synthetic clips and about two thirds of the digit words heard come from real voices.
Audio seconds per epoch: synthetic ≈ 6,000, AN4 2 × 2,000, Speech Commands ≈ 1,950, FSDD ≈ 600."""

log = logging.getLogger("sayso.recipe")


def source_of(u: Utterance) -> str:
    """The :data:`SOURCE_WEIGHTS` key of a training utterance (its speaker id's prefix; ``synth`` otherwise)."""
    prefix = (u.speaker or "").split("-", 1)[0]
    return prefix if prefix in ("fsdd", "sc", "an4", "pseudo") else "synth"


PSEUDO_PREFIX = "pseudo-"
"""Speaker ids of teacher-labelled utterances start with this, then the real speaker's id
(``pseudo-an4-fash``, ``pseudo-libri-1089``): :func:`source_of` weighs them as ``pseudo`` and
:func:`pseudo_labelled` keeps held-out speakers out."""


def pseudo_labelled(manifest: Path, splits: Splits) -> list[Utterance]:
    """The teacher-labelled utterances of a distillation manifest (:mod:`engine.recipes.distill`) that
    may train: never one from a speaker of ``splits``' dev or test sets (their audio stays unheard),
    never one with an empty transcript.

    Raises:
        engine.data.manifest.ManifestError, FileNotFoundError: see :func:`read_manifest`.
    """
    kept = set()
    for utts in [splits.dev, *splits.test.values()]:
        kept |= {u.speaker for u in utts}
    out = []
    for u in read_manifest(manifest):
        real = (u.speaker or "")[len(PSEUDO_PREFIX):] if (u.speaker or "").startswith(PSEUDO_PREFIX) else u.speaker
        if real not in kept and u.text.strip():
            out.append(Utterance(u.audio_path, u.text, u.start, u.end, PSEUDO_PREFIX + (real or "unknown")))
    log.info("%s: %d pseudo-labelled utterances may train", manifest, len(out))
    return out


def weighted(utterances: list[Utterance], weights: dict[str, float] | None = None, seed: int = 0) -> list[Utterance]:
    """``utterances`` repeated by their source's weight (:data:`SOURCE_WEIGHTS`): ``w`` = 2.5 gives two
    copies of each plus a third of half of them (chosen once with ``seed``); ``w`` = 0 drops the source."""
    import random

    weights = SOURCE_WEIGHTS if weights is None else weights
    rng = random.Random(seed)
    out = []
    for source in sorted({source_of(u) for u in utterances}):
        mine = [u for u in utterances if source_of(u) == source]
        w = weights.get(source, 1.0)
        out += mine * int(w)
        extra = round((w - int(w)) * len(mine))
        out += rng.sample(mine, extra) if extra else []
    return out


def synthetic_splits(work: Path, n_clips: int) -> tuple[list[Utterance], list[Utterance]]:
    """Generate (or reuse) the synthetic set; returns ``(train, held-out voices)``."""
    from engine.recipes.synth import speaker_of, synthesize

    manifest = synthesize(work / "synth", n_clips, seed=0)
    utts = read_manifest(manifest)
    # Voices built from one recorded speaker (flite-slt, festival-slt) are held out together.
    held = {speaker_of(v) for v in SYNTH_TEST_VOICES}
    test = [u for u in utts if speaker_of(u.speaker) in held]
    train = [u for u in utts if speaker_of(u.speaker) not in held]
    return train, test


def heldout_sets(work: Path | None = None) -> dict[str, tuple[list[Utterance], Vocabulary | None]]:
    """The evaluation sets every reported figure uses, with their vocabulary (``None``: open).

    - ``fsdd-heldout``: the held-out FSDD speaker nicolas, open and with the 10 digits;
    - ``fsdd-heldout jason``: the held-out FSDD speaker jason (trimmed takes), open and with the 10 digits;
    - ``sc-commands-heldout``: held-out Speech Commands speakers saying the 10
      commands, open and with the 10 commands;
    - ``sc-digits-heldout``: the same speakers saying the 10 digits, with the 10 digits;
    - ``sc-all-heldout``: every word of those speakers, open vocabulary;
    - ``an4-heldout``: the 10 held-out AN4 speakers, with the AN4 vocabulary
      (:func:`~engine.recipes.datasets.an4_vocabulary`, a word lexicon) and open;
    - ``synth-heldout``: held-out TTS voices, open vocabulary (if generated).
    """
    splits = real_splits()
    fsdd, jason, sc = splits.test["fsdd-heldout"], splits.test["fsdd-heldout-jason"], splits.test["sc-heldout"]
    an4 = splits.test["an4-heldout"]
    commands = [u for u in sc if u.text in COMMANDS]
    digits = [u for u in sc if u.text in DIGITS]
    sets = {
        "fsdd-heldout (open)": (fsdd, None),
        "fsdd-heldout (10 digits)": (fsdd, Vocabulary(DIGITS)),
        "fsdd-heldout jason (open)": (jason, None),
        "fsdd-heldout jason (10 digits)": (jason, Vocabulary(DIGITS)),
        "sc-commands-heldout (open)": (commands, None),
        "sc-commands-heldout (10 commands)": (commands, Vocabulary(COMMANDS)),
        "sc-digits-heldout (10 digits)": (digits, Vocabulary(DIGITS)),
        "sc-all-heldout (open)": (sc, None),
        "an4-heldout (AN4 vocabulary)": (an4, Vocabulary(an4_vocabulary())),
        "an4-heldout (open)": (an4, None),
    }
    work = work or cache_dir() / WORK
    synth_test = work / "synth-test.jsonl"
    if synth_test.exists():
        sets["synth-heldout-voices (open)"] = (read_manifest(synth_test), None)
    return sets


def evaluate_all(checkpoint: Path, work: Path | None = None, threads: int = 2) -> dict[str, dict]:
    """WER/CER/RTF of ``checkpoint`` on every :func:`heldout_sets` entry, decoding with ``threads`` torch threads."""
    import torch

    from engine.decode.evaluate import evaluate
    from engine.decode.recognizer import SaysoRecognizer

    torch.set_num_threads(threads)
    rec = SaysoRecognizer.from_checkpoint(checkpoint)
    out = {}
    for name, (utts, vocab) in heldout_sets(work).items():
        r = evaluate(rec, utts, vocab)
        out[name] = {"wer": round(r.wer, 4), "cer": round(r.cer, 4), "rtf": round(r.rtf, 4),
                     "utterances": len(utts), "speakers": len({u.speaker for u in utts})}
        log.warning("%-36s WER %6.2f%%  CER %6.2f%%  (%d utterances)", name, 100 * r.wer, 100 * r.cer, len(utts))
    return out


def split_meta(splits: Splits, synth_train: list[Utterance], synth_test: list[Utterance]) -> dict:
    """Which speakers of each corpus train, validate and are held out (for the checkpoint meta and card).

    ``{"fsdd": {"train": [...], "dev": ..., "heldout": [...]}, "speech_commands": ..., "an4": ...,
    "synthetic": {"train": [...], "heldout": [...]}}``; speaker ids without their corpus prefix.
    """
    def ids(utts: list[Utterance], prefix: str) -> list[str]:
        return sorted({u.speaker[len(prefix) + 1:] for u in utts if u.speaker.startswith(prefix + "-")})

    held_sc, held_an4 = splits.test["sc-heldout"], splits.test["an4-heldout"]
    fsdd_held = splits.test["fsdd-heldout"] + splits.test["fsdd-heldout-jason"]
    return {
        "fsdd": {"train": ids(splits.train, "fsdd"), "dev": "takes 45-49 of the training speakers",
                 "heldout": ids(fsdd_held, "fsdd"), "jason_trim": JASON_TRIM,
                 "jason_takes_kept": len(splits.test["fsdd-heldout-jason"])},
        "speech_commands": {"train": ids(splits.train, "sc"), "dev": ids(splits.dev, "sc"), "heldout": ids(held_sc, "sc"),
                            "rule": "speaker_bucket < 0.2 held out, < 0.3 dev (the v1 split)"},
        "an4": {"train": ids(splits.train, "an4"), "dev": ids(splits.dev, "an4"), "heldout": ids(held_an4, "an4"),
                "rule": "an4_heldout_speakers(10) held out, the next 6 by speaker bucket dev"},
        "synthetic": {"train": sorted({u.speaker for u in synth_train}), "heldout": sorted({u.speaker for u in synth_test})},
    }


def write_model_card(path: Path, config: dict) -> None:
    """Write the model card from a checkpoint's config (figures, data, recipe)."""
    meta, model = config["meta"], config["model"]
    from engine.model.config import ModelConfig
    from engine.model.cross_modal import CrossModalModel

    n_params = CrossModalModel(ModelConfig.from_json(model)).num_parameters()
    rows = "\n".join(
        f"| {name} | {100 * f['wer']:.2f} % | {100 * f['cer']:.2f} % | {f['utterances']} | {f['speakers']} |"
        for name, f in meta["figures"].items())
    data = meta["data"]
    split = data.get("split")
    if split:
        fsdd_train, fsdd_held = ", ".join(split["fsdd"]["train"]), ", ".join(split["fsdd"]["heldout"])
        sc, an4 = split["speech_commands"], split["an4"]
        real_text = f"""- **Free Spoken Digit Dataset** (Zohar Jackson et al., github.com/Jakobovski/free-spoken-digit-dataset,
  CC BY-SA 4.0): speakers {fsdd_train}. Held out: **{fsdd_held}** (jason's untrimmed 3 s takes cut to
  their digit with the WebRTC VAD; {split['fsdd']['jason_takes_kept']} of 500 kept).
- **Speech Commands v0.02** test-set files (Pete Warden, arXiv:1804.03209, CC BY 4.0): {len(sc['train'])}
  speakers for training, {len(sc['dev'])} for validation, **{len(sc['heldout'])} held out** (split by a hash of
  the speaker id, the same speakers as v1; ids in `config.json` → `meta.data.split`);
  `_background_` noise for augmentation.
- **CMU AN4** training split (Carnegie Mellon University, BSD-style licence in `an4/LICENSE`):
  {len(an4['train'])} speakers for training, {len(an4['dev'])} for validation, held out:
  **{', '.join(an4['heldout'])}**."""
        weights = ", ".join(f"{k} × {v:g}" for k, v in data.get("weights", {}).items())
        weight_text = f"\n- Sources weighted per epoch ({weights}) so real digits from many voices are not drowned by synthetic speech."
    else:  # a v1 card
        real_text = f"""- **Free Spoken Digit Dataset** (Zohar Jackson et al., github.com/Jakobovski/free-spoken-digit-dataset,
  CC BY-SA 4.0): speakers jackson, george, lucas. Held out: **{data['fsdd_heldout_speaker']}**.
- **Speech Commands v0.02** test-set files (Pete Warden, arXiv:1804.03209, CC BY 4.0): 70 % of the
  166 speakers for training, 10 % for validation, 20–25 % held out (split by a hash of the speaker id);
  `_background_` noise for augmentation."""
        weight_text = ""
    pseudo = data.get("pseudo_labels")
    pseudo_text = (f"\n- **Pseudo-labels** (sequence-level distillation, Kim & Rush 2016): {pseudo['utterances']} utterances "
                   f"transcribed by {pseudo['teacher']} ({', '.join(pseudo['sources'])}); LibriSpeech (Panayotov et al. 2015, "
                   "CC BY 4.0). No figure is measured against pseudo-labels." if pseudo else "")
    model_arg = "" if meta.get("name", "sayso-base") == "sayso-base" else f" --model resources/models/{path.parent.name}"
    path.write_text(f"""# {meta.get('name', 'sayso-base')}

A recognizer bundled with Sayso: a cross-modal (audio ↔ text) model trained from
scratch on this project's own recipe, on CPU.{' ' + meta['good_at'] if meta.get('good_at') else ''}

- **Architecture:** log-mel (80 bins, 25 ms / 10 ms) → conv subsampling ×4 → Conformer encoder
  ({model['encoder_layers']} layers, d={model['d_model']}, {model['encoder_heads']} heads, kernel {model['conv_kernel']})
  → CTC head + Transformer attention decoder ({model['decoder_layers']} layers) + text encoder
  ({model['text_encoder_layers']} layers, embedding shared with the decoder) + projections into a
  {model['embed_dim']}-dimensional joint audio–text space. **{n_params / 1e6:.2f}M parameters.**
- **Loss:** λ·CTC + (1−λ)·attention CE + μ·symmetric InfoNCE (λ = {meta['train']['loss']['ctc_weight']},
  μ = {meta['train']['loss']['contrastive_weight']}).
- **Decoding:** candidates from CTC prefix beam search (or the vocabulary), rescored by
  w·log p_CTC + (1−w)·log p_attention with w = {meta.get('decode', {}).get('ctc_weight', 0.5)}, chosen on the
  validation speakers.
- **Tokens:** characters (a–z, space, apostrophe) with CTC blank and `<sos/eos>`.
- **Recipe:** `sayso train --recipe base` (or `make base-model`): {len(meta['history'])} epochs in all
  ({meta.get('stages', 'a second, lower-rate stage with stronger channel augmentation follows the first')}); the
  checkpoint with the best validation WER ({100 * meta['dev_wer']:.2f} %, greedy, open vocabulary) is
  kept; {meta.get('train_minutes', '?')} min on a 2-core CPU.

## Figures (speakers and voices never seen in training)

| set | WER | CER | utterances | speakers |
|---|---|---|---|---|
{rows}

"(10 digits)", "(10 commands)" and "(AN4 vocabulary)" (the 99 words of the AN4 transcripts) decode
with that vocabulary (`--vocabulary`); "(open)" is
open-vocabulary character decoding. Reproduce with `python benchmarks/wer.py{model_arg}`.

## Training data

{real_text}
- **Synthetic speech** generated by the recipe ({data['synthetic']} clips): flite, festival, espeak-ng
  and Piper (joe) voices reading digits, numbers, commands and everyday sentences, with rate/pitch
  and formant (VTLP-like) perturbation. Held-out voices: {', '.join(data['heldout_voices'])}.
- Augmentation: speed 0.9/1.0/1.1, background noise at 5–30 dB SNR, band limits and telephone
  band, gain, SpecAugment.{weight_text}{pseudo_text}

{data['train_utterances']} training utterances in all ({data['real']} real, {data['synthetic']} synthetic).

## Limits

English only; trained on single words, digits, short commands and short synthetic sentences, so
open-vocabulary accuracy on long natural speech is low. Fine-tune it on your own voice and words.
""", encoding="utf-8")


def tune_ctc_weight(checkpoint: Path, dev: list[Utterance], weights=(0.0, 0.3, 0.5, 0.7)) -> float:
    """Pick the decoder's CTC weight on the validation set (never on test speakers).

    Scores dev utterances of digits and commands decoded with that 20-word
    vocabulary, the dev AN4 sentences decoded with the AN4 vocabulary, and all
    dev utterances open-vocabulary; returns the weight with the lowest summed
    WER. Each decoding mode the model card reports has its term: without the
    AN4 one, a distilled model tied at weights 0.0 and 0.3, got 0.0, and its
    held-out AN4-vocabulary WER was 63.2 % (19.9 % at 0.3).
    """
    from engine.decode.evaluate import evaluate
    from engine.decode.recognizer import SaysoRecognizer

    rec = SaysoRecognizer.from_checkpoint(checkpoint)
    words = Vocabulary(DIGITS + COMMANDS)
    closed = [u for u in dev if u.text in DIGITS + COMMANDS]
    sentences = [u for u in dev if (u.speaker or "").startswith("an4-")]
    an4_words = Vocabulary(an4_vocabulary()) if sentences else None
    scores = {}
    for w in weights:
        rec.ctc_weight = w
        scores[w] = evaluate(rec, closed, words).wer + evaluate(rec, dev, None).wer
        if sentences:
            scores[w] += evaluate(rec, sentences, an4_words).wer
        log.info("ctc weight %.1f: dev WER sum %.4f", w, scores[w])
    return min(scores, key=scores.get)


def _set_meta(checkpoint: Path, update: dict) -> None:
    config = read_config(checkpoint)
    config["meta"].update(update)
    (checkpoint / CONFIG_FILE).write_text(json.dumps(config, indent=2))


def _dev_wer(checkpoint: Path) -> float:
    return read_config(checkpoint)["meta"]["dev_wer"]


def _finished_runs(work: Path, init_from: Path | None):
    """``(history, best checkpoint, stages text)`` of the runs already in ``work`` (``run/``, ``run2/``),
    from their ``last/`` trainer state; the best is the better ``best/`` by validation WER (``run2``'s
    when the recipe started from ``init_from``)."""
    from engine.checkpoint_layout import TRAINER_STATE_FILE
    from engine.train.trainer import EpochReport

    history, bests = [], []
    for run in ("run", "run2"):
        if (work / run / "last" / TRAINER_STATE_FILE).exists():
            state = json.loads((work / run / "last" / TRAINER_STATE_FILE).read_text())
            history += [EpochReport(**h) for h in state["history"]]
        if (work / run / "best").exists():
            bests.append(work / run / "best")
    best = bests[-1] if init_from else min(bests, key=_dev_wer)
    stages = (f"continued from {init_from.name} with the second-stage settings only" if init_from
              else "a second, lower-rate stage with stronger channel augmentation follows the first")
    return history, best, stages + f"; stopped after {len(history)} epochs"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m engine.recipes.base", description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=cache_dir() / WORK,
                   help="cache for generated data and checkpoints")
    p.add_argument("--synth-clips", type=int, default=5000)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--stage2-epochs", type=int, default=10,
                   help="epochs of a second, lower-rate stage with stronger augmentation (0: none)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoints")
    p.add_argument("--threads", type=int, default=2,
                   help="torch threads (1 trains faster than 2 when other work shares the cores)")
    p.add_argument("--init-from", type=Path, default=None,
                   help="start from this checkpoint and run stage 2 only (e.g. the v1 base model; said in the card)")
    p.add_argument("--encoder-layers", type=int, default=None, metavar="N",
                   help="with --init-from: grow its encoder to N Conformer layers first (engine.recipes.grow)")
    p.add_argument("--grow-method", choices=("identity", "duplicate"), default="identity",
                   help="how --encoder-layers starts each added layer (engine.recipes.grow)")
    p.add_argument("--pad-prob", type=float, default=0.0, metavar="P",
                   help="second stage: the chance of up to 0.6 s of silence added before and after a clip")
    p.add_argument("--weight", action="append", default=[], metavar="SOURCE=W",
                   help=f"override a source's weight (sources: {', '.join(SOURCE_WEIGHTS)})")
    p.add_argument("--pseudo-labels", type=Path, action="append", default=[], metavar="MANIFEST",
                   help="teacher-labelled JSONL manifest(s) (python -m engine.recipes.distill) to train on beside the true labels")
    p.add_argument("--teacher", default="whisper-base", help="the teacher that labelled --pseudo-labels (for the card)")
    p.add_argument("--publish-only", action="store_true",
                   help="train nothing: tune, evaluate and publish the best checkpoint of the runs in --work "
                        "(after a run was stopped; the history is read from its last/ checkpoint)")
    p.add_argument("--out", type=Path, default=BUNDLED_MODEL, help="where the bundled model goes")
    p.add_argument("--name", default="sayso-base", help="the model's name (its card's title; in the registry)")
    p.add_argument("--good-at", default="", help="what the model is good at, one sentence or two (the registry shows it)")
    p.add_argument("--float16", action="store_true",
                   help="ship the weights at half precision (half the size; the figures are measured on them)")
    args = p.parse_args(argv)
    if args.encoder_layers and not args.init_from:
        p.error("--encoder-layers grows the --init-from checkpoint: give --init-from too")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t0 = time.time()
    weights = dict(SOURCE_WEIGHTS)
    for item in args.weight:
        key, _, value = item.partition("=")
        if key not in weights:
            p.error(f"unknown source {key!r} in --weight")
        weights[key] = float(value)

    splits = real_splits()
    synth_train, synth_test = synthetic_splits(args.work, args.synth_clips)
    write_manifest(args.work / "synth-test.jsonl", synth_test)
    pseudo = []
    for manifest in args.pseudo_labels:
        pseudo += pseudo_labelled(manifest, splits)
    train = weighted(splits.train + synth_train + pseudo, weights)
    dev = splits.dev
    write_manifest(args.work / "train.jsonl", train)
    write_manifest(args.work / "dev.jsonl", dev)
    log.info("train: %d utterances a epoch (%d real, %d synthetic, %d pseudo-labelled before weighting %s), dev: %d",
             len(train), len(splits.train), len(synth_train), len(pseudo), weights, len(dev))

    noises = background_noises()
    history = []
    grown = (f", its encoder grown to {args.encoder_layers} layers ({args.grow_method} growth)"
             if args.encoder_layers else "")
    if args.publish_only:
        history, best, stages = _finished_runs(args.work, args.init_from)
        stages += grown
    elif args.init_from:
        best = args.init_from
        stages = f"continued from {args.init_from.name} with the second-stage settings only"
        if args.encoder_layers:
            from engine.recipes.grow import deepen

            best = deepen(args.init_from, args.work / "grown", args.encoder_layers, args.grow_method)
            stages += grown
    else:
        cfg = TrainConfig(epochs=args.epochs, threads=args.threads)
        history = Trainer(cfg, args.work / "run", on_event=progress_printer(log_lines=False)).fit(train, dev, noises, resume=args.resume)
        best = args.work / "run" / "best"
        stages = "a second, lower-rate stage with stronger channel augmentation follows the first"
    if args.stage2_epochs and not args.publish_only:
        # Stage 2: continue at a lower rate with stronger channel and speed augmentation
        # (telephone band, band limits, speed 0.85-1.15), so the model leans less on
        # the recording conditions of the few real speakers.
        cfg2 = TrainConfig(epochs=args.stage2_epochs, threads=args.threads, peak_lr=5e-4, warmup_steps=100, init_from=str(best),
                           augment=AugmentConfig(speed_factors=(0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15),
                                                 telephone_prob=0.35, lowpass_prob=0.3, pad_prob=args.pad_prob))
        history += Trainer(cfg2, args.work / "run2", on_event=progress_printer(log_lines=False)).fit(train, dev, noises, resume=args.resume)
        if args.init_from or _dev_wer(args.work / "run2" / "best") <= _dev_wer(best):
            best = args.work / "run2" / "best"
    log.info("selected %s (dev WER %.2f%%)", best, 100 * _dev_wer(best))
    if args.float16:
        from engine.train.checkpoint import load_checkpoint, save_checkpoint

        model, tokenizer, meta = load_checkpoint(best)
        best = save_checkpoint(args.work / "float16", model, tokenizer, meta, float16=True)
    ctc_weight = tune_ctc_weight(best, dev)
    _set_meta(best, {"decode": {"ctc_weight": ctc_weight}})
    figures = evaluate_all(best, args.work, threads=args.threads)

    args.out.mkdir(parents=True, exist_ok=True)
    for f in MODEL_FILES:
        shutil.copy2(best / f, args.out / f)
    config = read_config(args.out)
    config["meta"].update({
        "name": args.name, "figures": figures, **({"good_at": args.good_at} if args.good_at else {}),
        **({"parent": read_config(args.init_from)["meta"].get("name")} if args.init_from else {}),
        "train_minutes": round(sum(h.seconds for h in history) / 60 if args.publish_only else (time.time() - t0) / 60, 1),
        "stages": stages,
        "data": {"train_utterances": len(train), "real": len(splits.train), "synthetic": len(synth_train),
                 "synthetic_voices": sorted({u.speaker for u in synth_train}),
                 "heldout_voices": sorted({u.speaker for u in synth_test}),
                 "fsdd_heldout_speakers": list(FSDD_HELDOUT_SPEAKERS),
                 "weights": weights, "split": split_meta(splits, synth_train, synth_test),
                 **({"pseudo_labels": {"utterances": len(pseudo), "teacher": args.teacher,
                                       "sources": [m.name for m in args.pseudo_labels]}} if pseudo else {})},
        "history": [h.__dict__ for h in history],
    })
    (args.out / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    write_model_card(args.out / MODEL_CARD_FILE, config)
    log.info("wrote %s in %.0f min", args.out, (time.time() - t0) / 60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
