"""Recipe for the bundled base model: ``sayso train --recipe base`` or ``python -m engine.recipes.base``.

1. Real speech from ``../shared/data``, split by speaker
   (:func:`engine.recipes.datasets.real_splits`).
2. Synthetic speech from many TTS voices (:mod:`engine.recipes.synth`), a few
   voices held out for testing.
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
    FSDD_TEST_SPEAKER,
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

log = logging.getLogger("sayso.recipe")


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

    - ``fsdd-heldout``: the held-out FSDD speaker, open and with the 10 digits;
    - ``sc-commands-heldout``: held-out Speech Commands speakers saying the 10
      commands, open and with the 10 commands;
    - ``sc-all-heldout``: every word of those speakers, open vocabulary;
    - ``synth-heldout``: held-out TTS voices, open vocabulary (if generated).
    """
    splits = real_splits()
    fsdd, sc = splits.test["fsdd-heldout"], splits.test["sc-heldout"]
    commands = [u for u in sc if u.text in COMMANDS]
    sets = {
        "fsdd-heldout (open)": (fsdd, None),
        "fsdd-heldout (10 digits)": (fsdd, Vocabulary(DIGITS)),
        "sc-commands-heldout (open)": (commands, None),
        "sc-commands-heldout (10 commands)": (commands, Vocabulary(COMMANDS)),
        "sc-all-heldout (open)": (sc, None),
    }
    work = work or cache_dir() / WORK
    synth_test = work / "synth-test.jsonl"
    if synth_test.exists():
        sets["synth-heldout-voices (open)"] = (read_manifest(synth_test), None)
    return sets


def evaluate_all(checkpoint: Path, work: Path | None = None) -> dict[str, dict]:
    """WER/CER/RTF of ``checkpoint`` on every :func:`heldout_sets` entry."""
    import torch

    from engine.decode.evaluate import evaluate
    from engine.decode.recognizer import SaysoRecognizer

    torch.set_num_threads(2)
    rec = SaysoRecognizer.from_checkpoint(checkpoint)
    out = {}
    for name, (utts, vocab) in heldout_sets(work).items():
        r = evaluate(rec, utts, vocab)
        out[name] = {"wer": round(r.wer, 4), "cer": round(r.cer, 4), "rtf": round(r.rtf, 4),
                     "utterances": len(utts), "speakers": len({u.speaker for u in utts})}
        log.warning("%-36s WER %6.2f%%  CER %6.2f%%  (%d utterances)", name, 100 * r.wer, 100 * r.cer, len(utts))
    return out


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
    path.write_text(f"""# sayso-base

The base recognizer bundled with Sayso: a cross-modal (audio ↔ text) model trained from
scratch on this project's own recipe, on CPU.

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
  (a second, lower-rate stage with stronger channel augmentation follows the first); the
  checkpoint with the best validation WER ({100 * meta['dev_wer']:.2f} %, greedy, open vocabulary) is
  kept; {meta.get('train_minutes', '?')} min on 2 CPU cores.

## Figures (speakers and voices never seen in training)

| set | WER | CER | utterances | speakers |
|---|---|---|---|---|
{rows}

"(10 digits)" and "(10 commands)" decode with that vocabulary (`--vocabulary`); "(open)" is
open-vocabulary character decoding. Reproduce with `python benchmarks/wer.py`.

## Training data

- **Free Spoken Digit Dataset** (Zohar Jackson et al., github.com/Jakobovski/free-spoken-digit-dataset,
  CC BY-SA 4.0): speakers jackson, george, lucas. Held out: **{data['fsdd_heldout_speaker']}**.
- **Speech Commands v0.02** test-set files (Pete Warden, arXiv:1804.03209, CC BY 4.0): 70 % of the
  166 speakers for training, 10 % for validation, 20–25 % held out (split by a hash of the speaker id);
  `_background_` noise for augmentation.
- **Synthetic speech** generated by the recipe ({data['synthetic']} clips): flite, festival, espeak-ng
  and Piper (joe) voices reading digits, numbers, commands and everyday sentences, with rate/pitch
  and formant (VTLP-like) perturbation. Held-out voices: {', '.join(data['heldout_voices'])}.
- Augmentation: speed 0.9/1.0/1.1, background noise at 5–30 dB SNR, band limits and telephone
  band, gain, SpecAugment.

{data['train_utterances']} training utterances in all ({data['real']} real, {data['synthetic']} synthetic).

## Limits

English only; trained on single words, digits, short commands and short synthetic sentences, so
open-vocabulary accuracy on long natural speech is low. Fine-tune it on your own voice and words.
""", encoding="utf-8")


def tune_ctc_weight(checkpoint: Path, dev: list[Utterance], weights=(0.0, 0.3, 0.5, 0.7)) -> float:
    """Pick the decoder's CTC weight on the validation set (never on test speakers).

    Scores dev utterances of digits and commands decoded with that 20-word
    vocabulary, and all dev utterances open-vocabulary; returns the weight
    with the lowest summed WER.
    """
    from engine.decode.evaluate import evaluate
    from engine.decode.recognizer import SaysoRecognizer

    rec = SaysoRecognizer.from_checkpoint(checkpoint)
    words = Vocabulary(DIGITS + COMMANDS)
    closed = [u for u in dev if u.text in DIGITS + COMMANDS]
    scores = {}
    for w in weights:
        rec.ctc_weight = w
        scores[w] = evaluate(rec, closed, words).wer + evaluate(rec, dev, None).wer
        log.info("ctc weight %.1f: dev WER sum %.4f", w, scores[w])
    return min(scores, key=scores.get)


def _set_meta(checkpoint: Path, update: dict) -> None:
    config = read_config(checkpoint)
    config["meta"].update(update)
    (checkpoint / CONFIG_FILE).write_text(json.dumps(config, indent=2))


def _dev_wer(checkpoint: Path) -> float:
    return read_config(checkpoint)["meta"]["dev_wer"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m engine.recipes.base", description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=cache_dir() / WORK,
                   help="cache for generated data and checkpoints")
    p.add_argument("--synth-clips", type=int, default=5000)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--stage2-epochs", type=int, default=10,
                   help="epochs of a second, lower-rate stage with stronger augmentation (0: none)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoints")
    p.add_argument("--out", type=Path, default=BUNDLED_MODEL, help="where the bundled model goes")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t0 = time.time()

    splits = real_splits()
    synth_train, synth_test = synthetic_splits(args.work, args.synth_clips)
    write_manifest(args.work / "synth-test.jsonl", synth_test)
    train = splits.train + synth_train
    dev = splits.dev
    write_manifest(args.work / "train.jsonl", train)
    write_manifest(args.work / "dev.jsonl", dev)
    log.info("train: %d utterances (%d real, %d synthetic), dev: %d", len(train), len(splits.train), len(synth_train), len(dev))

    noises = background_noises()
    cfg = TrainConfig(epochs=args.epochs)
    history = Trainer(cfg, args.work / "run", on_event=progress_printer(log_lines=False)).fit(train, dev, noises, resume=args.resume)
    best = args.work / "run" / "best"
    if args.stage2_epochs:
        # Stage 2: continue at a lower rate with stronger channel and speed augmentation
        # (telephone band, band limits, speed 0.85-1.15), so the model leans less on
        # the recording conditions of the few real speakers.
        cfg2 = TrainConfig(epochs=args.stage2_epochs, peak_lr=5e-4, warmup_steps=100, init_from=str(best),
                           augment=AugmentConfig(speed_factors=(0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15),
                                                 telephone_prob=0.35, lowpass_prob=0.3))
        history += Trainer(cfg2, args.work / "run2", on_event=progress_printer(log_lines=False)).fit(train, dev, noises, resume=args.resume)
        if _dev_wer(args.work / "run2" / "best") <= _dev_wer(best):
            best = args.work / "run2" / "best"
    log.info("selected %s (dev WER %.2f%%)", best, 100 * _dev_wer(best))
    ctc_weight = tune_ctc_weight(best, dev)
    _set_meta(best, {"decode": {"ctc_weight": ctc_weight}})
    figures = evaluate_all(best, args.work)

    args.out.mkdir(parents=True, exist_ok=True)
    for f in MODEL_FILES:
        shutil.copy2(best / f, args.out / f)
    config = read_config(args.out)
    config["meta"].update({
        "name": "sayso-base", "figures": figures, "train_minutes": round((time.time() - t0) / 60, 1),
        "data": {"train_utterances": len(train), "real": len(splits.train), "synthetic": len(synth_train),
                 "synthetic_voices": sorted({u.speaker for u in synth_train}),
                 "heldout_voices": sorted({u.speaker for u in synth_test}),
                 "fsdd_heldout_speaker": FSDD_TEST_SPEAKER},
        "history": [h.__dict__ for h in history],
    })
    (args.out / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    write_model_card(args.out / MODEL_CARD_FILE, config)
    log.info("wrote %s in %.0f min", args.out, (time.time() - t0) / 60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
