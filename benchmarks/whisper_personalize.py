"""Few-shot personalization of Whisper (engine/whisper/personalize.py) on speakers it never heard.

Usage: python benchmarks/whisper_personalize.py [--model whisper-base] [--speakers nicolas,jason] [--k 1,3]
       [--draws 3] [--heldout 5] [--an4 20] [--threads 2] [--steps N] [--top-encoder-layers N]
       [--decoder none|attention|all] [--an4-speakers fejs,mcel]

For each FSDD speaker and k: ``--draws`` draws of k takes per digit (seeded); the personalized model
(LoRA on Whisper, merged, exported to CTranslate2 int8) chooses among the ten digits on held-out takes
of the same speaker (``--heldout`` per digit, never among the draw's training takes; the same held-out
takes for every draw of a speaker), beside the base model on the same takes. Printed per run: accuracy
before → after, fine-tune seconds (the whole personalize_whisper call: caching the encoder, rehearsal
pseudo-labels, steps, merge, export) and the load average; then the general WER of the first personalized
model of each speaker on ``--an4`` held-out AN4 sentences (open vocabulary, digits as read, as
benchmarks/whisper_wer.py scores them) against the base model's.

``--an4-speakers``: held-out AN4 speakers (continuous speech: digits, spelled letters, commands). Of each
speaker's 12–13 utterances, 6 are kept for testing (fixed) and k of the others are drawn as takes; the
figure is the open WER on the 6 (digits as read), before and after.

FSDD: the Free Spoken Digit Dataset (Jackson et al., CC BY-SA 4.0); AN4: CMU (BSD-style licence).
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import jiwer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.whisper_wer import an4_clips, digits_as_read  # noqa: E402
from engine.audio.io import load_audio  # noqa: E402
from engine.decode.vocabulary import Vocabulary  # noqa: E402
from engine.recipes.datasets import DIGITS, fsdd  # noqa: E402
from engine.registry.index import ModelRegistry  # noqa: E402
from engine.text.normalize import normalize_text  # noqa: E402
from engine.train.dataset import load_utterance  # noqa: E402
from engine.whisper.personalize import WhisperPersonalizeConfig, personalize_whisper  # noqa: E402
from engine.whisper.recognizer import WhisperRecognizer  # noqa: E402


def split(takes, k: int, heldout: int, seed: int, test_seed: int = 1234):
    """k training takes per digit (drawn with ``seed``) and ``heldout`` test takes per digit (fixed by
    ``test_seed``, disjoint from every draw's pool)."""
    by_digit: dict[str, list] = {}
    for t in takes:
        by_digit.setdefault(t.text, []).append(t)
    train, test = [], []
    for digit, group in sorted(by_digit.items()):
        group = sorted(group, key=lambda u: str(u.audio_path))
        random.Random(f"{test_seed}-{digit}").shuffle(group)
        test += group[:heldout]
        train += random.Random(f"{seed}-{digit}").sample(group[heldout:], k)
    return train, test


def accuracy(rec: WhisperRecognizer, test) -> float:
    vocab = Vocabulary(list(DIGITS))
    right = sum(rec.transcribe(load_utterance(u), vocab).text == u.text for u in test)
    return right / len(test)


def an4_few_shot(base: Path, base_rec: WhisperRecognizer, cfg, speakers: list[str], ks: list[int], draws: int,
                 tmp: str, threads: int) -> None:
    """Personalize on k utterances of each held-out AN4 speaker; open WER on 6 of their other utterances."""
    from engine.recipes.datasets import an4

    everything = an4()
    for speaker in speakers:
        mine = sorted((u for u in everything if u.speaker == f"an4-{speaker}"), key=lambda u: str(u.audio_path))
        random.Random(f"an4-{speaker}").shuffle(mine)
        test, pool = mine[:6], mine[6:]
        clips = [(u.audio_path, u.text) for u in test]
        before = general_wer(base_rec, clips)
        print(f"an4 {speaker}: {len(mine)} utterances; {base_rec.name} alone {before:.1%} open WER on 6 of them",
              flush=True)
        for k in ks:
            after, secs = [], []
            for draw in range(draws):
                train = random.Random(f"{speaker}-{k}-{draw}").sample(pool, min(k, len(pool)))
                t0 = time.perf_counter()
                folder, _ = personalize_whisper(base, train, Path(tmp) / f"an4-{speaker}-{k}-{draw}", cfg=cfg)
                secs.append(time.perf_counter() - t0)
                after.append(general_wer(WhisperRecognizer.from_checkpoint(folder, threads=threads), clips))
                print(f"  k={k} draw {draw}: {before:.1%} -> {after[-1]:.1%}; fine-tune {secs[-1]:.1f} s; "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
            print(f"  an4 {speaker} k={k}: {before:.1%} -> {sum(after) / len(after):.1%} "
                  f"({min(after):.1%}–{max(after):.1%}), fine-tune {sum(secs) / len(secs):.1f} s", flush=True)


def general_wer(rec: WhisperRecognizer, clips) -> float:
    refs, hyps = [], []
    for path, ref in clips:
        r = rec.transcribe(load_audio(path), attention=False)
        refs.append(normalize_text(ref))
        hyps.append(digits_as_read(" ".join(getattr(s, "raw", s.text) for s in r.segments), refs[-1]))
    return jiwer.wer(refs, hyps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="whisper-base")
    ap.add_argument("--speakers", default="nicolas,jason")
    ap.add_argument("--k", default="1,3")
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--heldout", type=int, default=5, help="held-out takes per digit")
    ap.add_argument("--an4", type=int, default=20, help="held-out AN4 sentences for the general WER (0: skip)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--top-encoder-layers", type=int)
    ap.add_argument("--quantization", default="int8")
    ap.add_argument("--decoder", choices=["none", "attention", "all"], help="decoder adapters (default: the recipe's)")
    ap.add_argument("--an4-speakers", default="", help="held-out AN4 speakers to personalize on, e.g. fejs,mcel")
    ap.add_argument("--an4-k", default="1,3,5")
    args = ap.parse_args()

    base = ModelRegistry().prepare(args.model).path
    cfg = WhisperPersonalizeConfig(threads=args.threads, quantization=args.quantization)
    if args.steps:
        cfg.steps = args.steps
    if args.top_encoder_layers is not None:
        cfg.top_encoder_layers = args.top_encoder_layers
    if args.decoder:
        cfg.decoder = args.decoder
    print(f"{args.model} ({base}); {cfg}; {os.cpu_count()} cores, load at start {os.getloadavg()[0]:.1f}", flush=True)
    base_rec = WhisperRecognizer.from_checkpoint(base, threads=args.threads)
    an4 = an4_clips(1)[: args.an4] if args.an4 else []
    base_wer = general_wer(base_rec, an4) if an4 else None
    if an4:
        print(f"general WER of {args.model} on {len(an4)} held-out AN4 sentences: {base_wer:.1%}", flush=True)
    everything = fsdd()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.an4_speakers:
            an4_few_shot(base, base_rec, cfg, args.an4_speakers.split(","), [int(x) for x in args.an4_k.split(",")],
                         args.draws, tmp, args.threads)
        for speaker in filter(None, args.speakers.split(",")):
            takes = [u for u in everything if u.speaker == f"fsdd-{speaker}"]
            _, test = split(takes, 1, args.heldout, 0)
            before = accuracy(base_rec, test)
            print(f"{speaker}: {args.model} alone {before:.1%} on {len(test)} held-out takes", flush=True)
            wer_done = False
            for k in (int(x) for x in args.k.split(",")):
                for draw in range(args.draws):
                    train, test = split(takes, k, args.heldout, draw)
                    out = Path(tmp) / f"{speaker}-{k}-{draw}"
                    load = os.getloadavg()[0]
                    t0 = time.perf_counter()
                    folder, report = personalize_whisper(base, train, out, cfg=cfg)
                    seconds = time.perf_counter() - t0
                    rec = WhisperRecognizer.from_checkpoint(folder, threads=args.threads)
                    after = accuracy(rec, test)
                    row = {"speaker": speaker, "k": k, "draw": draw, "before": before, "after": after,
                           "seconds": seconds, "load": load, "report": report}
                    print(f"  k={k} draw {draw}: {before:.1%} -> {after:.1%}; fine-tune {seconds:.1f} s "
                          f"(cache {report.prepare_seconds:.1f} + steps {report.train_seconds:.1f} + export "
                          f"{report.export_seconds:.1f}); loss {report.first_loss:.3f} -> {report.last_loss:.3f}; "
                          f"load {load:.1f}", flush=True)
                    if an4 and not wer_done:
                        row["wer"] = general_wer(rec, an4)
                        wer_done = True
                        print(f"  general WER after (this model): {base_wer:.1%} -> {row['wer']:.1%}", flush=True)
                    rows.append(row)
    print("\nsummary (mean and range over draws):")
    for speaker in args.speakers.split(","):
        for k in (int(x) for x in args.k.split(",")):
            r = [x for x in rows if x["speaker"] == speaker and x["k"] == k]
            if not r:
                continue
            acc = [x["after"] for x in r]
            sec = [x["seconds"] for x in r]
            print(f"  {speaker} k={k}: {r[0]['before']:.1%} -> {sum(acc) / len(acc):.1%} "
                  f"({min(acc):.1%}–{max(acc):.1%}), fine-tune {sum(sec) / len(sec):.1f} s "
                  f"({min(sec):.1f}–{max(sec):.1f}), {len(r)} draw(s)")
    wers = [x["wer"] for x in rows if "wer" in x]
    if wers:
        print(f"  general WER on {len(an4)} held-out AN4 sentences: {base_wer:.1%} -> "
              f"{', '.join(f'{w:.1%}' for w in wers)}")
    print(f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
