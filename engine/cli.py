"""Headless command line: ``sayso transcribe | eval | train``.

Runs without Qt (on a server, in CI, under ``torchrun``). Every user error
prints one line ``sayso: error: …`` and exits with status 2; no traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from engine.audio.errors import AudioError
from engine.data.manifest import ManifestError, read_manifest
from engine.decode.vocabulary import Vocabulary, VocabularyError
from engine.train.checkpoint import CheckpointError
from engine.train.progress import progress_printer
from engine.train.trainer import TrainingError


def _recognizer(args):
    import torch

    from engine.decode.recognizer import BUNDLED_MODEL, Recognizer

    torch.set_num_threads(args.threads)
    return Recognizer.from_checkpoint(args.model or BUNDLED_MODEL)


def cmd_transcribe(args) -> int:
    rec = _recognizer(args)
    vocab = Vocabulary.from_file(args.vocabulary) if args.vocabulary else None
    failed = 0
    for f in args.files:
        try:
            r = rec.transcribe_file(f, vocab, attention=False)
        except AudioError as exc:
            print(f"sayso: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        if args.json:
            print(json.dumps({"file": str(f), **r.to_json()}))
        else:
            print(f"{f}\t{r.text}" if len(args.files) > 1 else r.text)
    return 1 if failed else 0


def cmd_eval(args) -> int:
    from tqdm import tqdm

    from engine.decode.evaluate import evaluate

    rec = _recognizer(args)
    vocab = Vocabulary.from_file(args.vocabulary) if args.vocabulary else None
    utts = read_manifest(args.manifest)
    with tqdm(total=len(utts), desc="eval", unit="utt", disable=not sys.stderr.isatty()) as bar:
        report = evaluate(rec, utts, vocab, progress=lambda i, n: bar.update(1))
    worst = report.worst(args.worst)
    if args.json:
        print(json.dumps({"wer": report.wer, "cer": report.cer, "rtf": report.rtf, "utterances": len(utts),
                          "worst": [w.__dict__ for w in worst]}, indent=2))
        return 0
    print(f"WER {report.wer:.2%}  CER {report.cer:.2%}  RTF {report.rtf:.3f}  ({len(utts)} utterances, "
          f"{report.audio_seconds:.0f} s of audio)")
    print("worst utterances:")
    for w in worst:
        print(f"  WER {w.wer:6.1%}  ref: {w.reference!r}  hyp: {w.hypothesis!r}  {Path(w.audio_filepath).name}")
    return 0


def cmd_train(args) -> int:
    if args.recipe:
        from engine.recipes import base

        return base.main(["--epochs", str(args.epochs)] if args.epochs else [])
    if not (args.train and args.dev and args.out):
        raise SystemExit("sayso: error: give --recipe base, or --train MANIFEST --dev MANIFEST --out DIR")
    from engine.recipes.datasets import background_noises
    from engine.train.trainer import TrainConfig, Trainer

    cfg = TrainConfig(threads=args.threads, init_from=args.init_from or "")
    if args.epochs:
        cfg.epochs = args.epochs
    try:
        noises = background_noises()
    except FileNotFoundError:
        noises = []
    history = Trainer(cfg, args.out, on_event=progress_printer()).fit(
        read_manifest(args.train), read_manifest(args.dev), noises, resume=args.resume)
    if history:
        print(f"best dev WER {min(h.dev_wer for h in history):.2%}; checkpoints in {args.out}/best and {args.out}/last")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sayso", description="Sayso speech studio (headless commands). "
                                "Run `sayso` with no command to open the studio.")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--model", help="checkpoint folder (default: the bundled base model)")
        sp.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")

    t = sub.add_parser("transcribe", help="print the transcript of audio files")
    t.add_argument("files", nargs="+", type=Path)
    t.add_argument("--json", action="store_true", help="one JSON object per file: times, confidence, model")
    t.add_argument("--vocabulary", type=Path, help="file with one word or phrase per line to constrain decoding")
    common(t)
    t.set_defaults(func=cmd_transcribe)

    e = sub.add_parser("eval", help="WER/CER of a model on a JSONL manifest, worst utterances first")
    e.add_argument("manifest", type=Path)
    e.add_argument("--vocabulary", type=Path)
    e.add_argument("--worst", type=int, default=10)
    e.add_argument("--json", action="store_true")
    common(e)
    e.set_defaults(func=cmd_eval)

    tr = sub.add_parser("train", help="train or fine-tune a model headless")
    tr.add_argument("--recipe", choices=["base"], help="run a bundled recipe end to end")
    tr.add_argument("--train", type=Path, help="training manifest (JSONL)")
    tr.add_argument("--dev", type=Path, help="validation manifest (JSONL)")
    tr.add_argument("--out", type=Path, help="output folder for checkpoints")
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--init-from", type=Path, help="checkpoint to fine-tune from")
    tr.add_argument("--resume", action="store_true", help="continue from OUT/last")
    tr.add_argument("--threads", type=int, default=2)
    tr.set_defaults(func=cmd_train)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (AudioError, ManifestError, VocabularyError, CheckpointError, TrainingError, FileNotFoundError) as exc:
        print(f"sayso: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sayso: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
