"""WER and RTF of Whisper (and the bundled Sayso model) on held-out AN4 speakers; optionally the
vocabulary-constrained figures on the held-out FSDD and Speech Commands speakers.

    .venv/bin/python benchmarks/whisper_wer.py [--per-speaker 2] [--threads 1] [--vocabulary]

- AN4 (CMU, ../shared/data/an4): the 10 speakers of :data:`AN4_HELDOUT_SPEAKERS`
  (:func:`engine.recipes.datasets.an4_heldout_speakers`: the lowest speaker bucket of ``an4-<id>``); of each, the
  ``--per-speaker`` longest utterances made only of digits and command words, and as many of the
  others (spelled letters, numbers, names), reported apart. Both sides are normalized by
  :func:`engine.text.normalize.normalize_text` (Whisper's "U-M-N-Y-H-6." → "u m n y h six").
  Whisper writes digit strings ("412-687"), which that renders as numbers ("four hundred and
  twelve"), while AN4 speakers read most digits one by one: the "digits as read" WER renders
  each digit string of a hypothesis either way (number words, or digit by digit) and keeps the
  rendering closest to the reference ("0" read as "zero" or "oh") — it counts recognition
  errors, not formatting.
- ``--long``: RTF and WER on one 60 s recording (the held-out speakers' utterances in a row,
  0.5 s apart), transcribed in one call.
- ``--vocabulary``: the held-out FSDD speaker (every 5th take) with the 10 digits, and the
  held-out Speech Commands speakers (every 6th command clip) with the 10 commands.
- ``--direct``: the open-vocabulary WER of ``sayso transcribe --json --model <whisper>`` (the
  real CLI, in a subprocess) beside faster-whisper called directly with the same settings
  (int8, beam 5, English, Silero VAD filter, word timestamps; the text normalized the same
  way), on the AN4 clips plus the bundled samples (resources/samples, references from their
  names): the two must agree within 0.5 points.

Whisper models come from the offline packages (assembled into the user's models folder).
RTF = decode seconds / audio seconds; say the machine's load when quoting it.
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import time
from pathlib import Path

import jiwer
import numpy as np

from engine.audio.io import load_audio
from engine.decode.vocabulary import Vocabulary
from engine.recipes.datasets import (
    COMMANDS,
    DIGITS,
    FSDD_HELDOUT_SPEAKERS,
    an4_heldout_speakers,
    real_splits,
    shared_data_dir,
)
from engine.text.normalize import normalize_text

AN4_WORDS = set(DIGITS) | set(COMMANDS) | {"oh", "enter", "rubout", "erase", "repeat"}


AN4_HELDOUT_SPEAKERS = an4_heldout_speakers()
"""Held out of the Sayso model's training and of every figure (owned by
:func:`engine.recipes.datasets.an4_heldout_speakers`): fjmd, mcel, mwhw, fmjd, mskh, mdxs, fejs, fnsv, msjr, mrcb."""


def digits_as_read(raw: str, ref: str) -> str:
    """``raw`` (a hypothesis as Whisper wrote it) normalized, each digit string rendered as number
    words, or digit by digit with 0 as "zero" or as "oh", whichever is closest to ``ref`` (chosen
    one digit string at a time, left to right)."""
    parts = re.split(r"(\d[\d,]*)", raw)
    spell = {"zero": DIGITS, "oh": ["oh", *DIGITS[1:]]}

    def render(i: int, how: str | None) -> str:
        return " ".join(spell[how][int(d)] for d in parts[i] if d.isdigit()) if how else parts[i].replace(",", "")

    chosen = {i: render(i, None) for i in range(1, len(parts), 2)}
    for i in chosen:
        options = [render(i, how) for how in (None, "zero", "oh")]
        chosen[i] = min(options, key=lambda o: jiwer.wer(ref, normalize_text(" ".join(
            o if j == i else chosen.get(j, p) for j, p in enumerate(parts))) or "<empty>"))
    return normalize_text(" ".join(chosen.get(j, p) for j, p in enumerate(parts)))


def an4_clips(per_speaker: int) -> list[tuple[str, str]]:
    """``(path, reference)`` of the held-out speakers' longest utterances."""
    root = shared_data_dir() / "an4"
    with open(root / "train.tsv", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["speaker"] in AN4_HELDOUT_SPEAKERS]
    out = []
    for spk in AN4_HELDOUT_SPEAKERS:
        mine = sorted((r for r in rows if r["speaker"] == spk), key=lambda r: (-len(r["transcript"].split()), r["path"]))
        for digits in (True, False):
            kind = [r for r in mine if (set(r["transcript"].split()) <= AN4_WORDS) == digits]
            out += [(str(root / r["path"]), r["transcript"]) for r in kind[:per_speaker]]
    return out


def long_recording(seconds: float = 60.0) -> tuple[np.ndarray, list[str]]:
    """The held-out speakers' utterances in a row, 0.5 s apart, up to ``seconds``; and their transcripts."""
    root = shared_data_dir() / "an4"
    with open(root / "train.tsv", encoding="utf-8") as fh:
        rows = sorted((r for r in csv.DictReader(fh, delimiter="\t") if r["speaker"] in AN4_HELDOUT_SPEAKERS),
                      key=lambda r: r["path"])
    gap = np.zeros(8000, np.float32)
    pieces, refs, n = [], [], 0
    for r in rows:
        a = load_audio(root / r["path"])
        if n + len(a) > seconds * 16000:
            break
        pieces += [a, gap]
        refs.append(r["transcript"])
        n += len(a) + len(gap)
    return np.concatenate(pieces), refs


def load(name: str, threads: int, phrase_window_s: int = 30):
    if name.startswith("whisper"):
        from engine.whisper.recognizer import WhisperRecognizer
        from engine.whisper.sources import assemble

        return WhisperRecognizer.from_checkpoint(assemble(name), threads=threads, phrase_window_s=phrase_window_s)
    import torch

    from engine.decode.families import load_recognizer
    from engine.registry.index import ModelRegistry

    torch.set_num_threads(threads)
    return load_recognizer(ModelRegistry().get(name).path)  # sayso-base, sayso-base-v2 (shipped with Sayso)


def run(rec, clips: list[tuple[str, str]], vocabulary: Vocabulary | None = None) -> dict:
    refs, hyps, read, audio_s, decode_s = [], [], [], 0.0, 0.0
    for path, ref in clips:
        audio = load_audio(path)
        t0 = time.perf_counter()
        r = rec.transcribe(audio, vocabulary, attention=False)
        decode_s += time.perf_counter() - t0
        audio_s += len(audio) / 16000
        refs.append(normalize_text(ref))
        hyps.append(r.text)
        read.append(digits_as_read(" ".join(getattr(s, "raw", s.text) for s in r.segments), refs[-1]))
    return {"refs": refs, "hyps": hyps, "read": read, "rtf": decode_s / audio_s, "audio_s": audio_s,
            "n": len(clips)}


def bundled_samples() -> list[tuple[str, str]]:
    """``(path, reference)`` of resources/samples: ``sc_<word>_…`` and ``fsdd_<digit>_…``."""
    from engine.resources import SAMPLES

    out = []
    for path in sorted(SAMPLES.glob("*.wav")):
        kind, word = path.stem.split("_")[:2]
        out.append((str(path), DIGITS[int(word)] if kind == "fsdd" else word))
    return out


def direct_vs_cli(name: str, clips: list[tuple[str, str]], threads: int) -> None:
    """WER of the CLI and of faster-whisper called directly, same clips and settings."""
    import json
    import subprocess
    import sys

    from faster_whisper import WhisperModel

    from engine.whisper.sources import assemble

    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "engine.cli", "transcribe", "--json", "--threads", str(threads), "--model", name]
    out = subprocess.run(cmd + [p for p, _ in clips], capture_output=True, text=True, cwd=root, check=True)
    cli = [json.loads(line)["text"] for line in out.stdout.splitlines() if line.startswith("{")]
    model = WhisperModel(str(assemble(name)), device="cpu", compute_type="int8", cpu_threads=threads)
    direct = []
    for path, _ in clips:
        segments, _info = model.transcribe(load_audio(path), language="en", beam_size=5, word_timestamps=True,
                                           vad_filter=True)
        direct.append(normalize_text(" ".join(seg.text for seg in segments)))
    refs = [normalize_text(r) for _, r in clips]
    a, b = wer(refs, cli), wer(refs, direct)
    print(f"{name:16s} open WER on {len(clips)} clips (AN4 held-out + bundled samples): `sayso transcribe` "
          f"{a:5.1f} % | faster-whisper directly {b:5.1f} % | difference {a - b:+.1f} points "
          f"({sum(x != y for x, y in zip(cli, direct))} transcripts differ)")


def wer(refs: list[str], hyps: list[str]) -> float:
    return 100 * jiwer.wer(refs, [h or "<empty>" for h in hyps]) if refs else float("nan")


def subset(result: dict, idx: list[int], key: str) -> tuple[list[str], list[str]]:
    return [result["refs"][i] for i in idx], [result[key][i] for i in idx]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="whisper-tiny.en,whisper-base,sayso-base,sayso-base-v2")
    ap.add_argument("--per-speaker", type=int, default=1, help="utterances of each kind per speaker")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--vocabulary", action="store_true", help="also the vocabulary-constrained figures")
    ap.add_argument("--long", action="store_true", help="also one 60 s recording")
    ap.add_argument("--phrase-window", type=int, default=30, help="Whisper's encoder window for a phrase choice (s)")
    ap.add_argument("--show", action="store_true", help="print every hypothesis")
    ap.add_argument("--direct", action="store_true", help="also `sayso transcribe` vs faster-whisper called directly")
    args = ap.parse_args()
    clips = an4_clips(args.per_speaker)
    print(f"AN4 held-out speakers: {', '.join(AN4_HELDOUT_SPEAKERS)}; {len(clips)} utterances; "
          f"threads {args.threads}; phrase window {args.phrase_window} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    splits = real_splits() if args.vocabulary else None
    for name in args.models.split(","):
        if args.direct and name.startswith("whisper"):
            direct_vs_cli(name, clips + bundled_samples(), args.threads)
        rec = load(name, args.threads, args.phrase_window)
        r = run(rec, clips)
        samples = run(rec, bundled_samples())
        print(f"{name:16s} bundled samples open WER: {wer(samples['refs'], samples['hyps']):5.1f} % "
              f"({samples['n']} clips)")
        digits = [i for i, ref in enumerate(r["refs"]) if set(ref.split()) <= AN4_WORDS]
        other = [i for i in range(r["n"]) if i not in digits]

        for key, label in (("hyps", "normalized"), ("read", "digits as read")):
            print(f"{name:16s} AN4 open WER, {label:14s}: all {wer(r['refs'], r[key]):5.1f} % | digits/commands "
                  f"{wer(*subset(r, digits, key)):5.1f} % ({len(digits)} utt) | letters/numbers/words "
                  f"{wer(*subset(r, other, key)):5.1f} % ({len(other)} utt)")
        print(f"{name:16s} AN4 RTF {r['rtf']:.3f} over {r['audio_s']:.0f} s")
        if args.show:
            for ref, hyp in zip(r["refs"], r["read"]):
                print(f"    {ref!r:40s} -> {hyp!r}")
        if args.long:
            audio, refs = long_recording()
            t0 = time.perf_counter()
            try:
                rl = rec.transcribe(audio, attention=False)
            except RuntimeError as exc:  # the Sayso model's text embedding stops at 258 characters
                print(f"{name:16s} {len(audio) / 16000:.0f} s recording: failed ({str(exc)[:80]})")
                rl = None
            took = time.perf_counter() - t0
        if args.long and rl is not None:
            raw = " ".join(getattr(s, "raw", s.text) for s in rl.segments)
            ref = normalize_text(" ".join(refs))
            print(f"{name:16s} {len(audio) / 16000:.0f} s recording: RTF {took * 16000 / len(audio):.3f} | WER "
                  f"normalized {wer([ref], [rl.text]):5.1f} %, digits as read {wer([ref], [digits_as_read(raw, ref)]):5.1f} %")
        if splits is not None:
            fsdd = [(u.audio_path, u.text) for u in splits.test["fsdd-heldout"]][::5]
            sc = [(u.audio_path, u.text) for u in splits.test["sc-heldout"] if u.text in COMMANDS][::6]
            for label, set_, vocab in ((f"FSDD {FSDD_HELDOUT_SPEAKERS[0]}, 10 digits", fsdd, Vocabulary(DIGITS)),
                                       ("Speech Commands held-out, 10 commands", sc, Vocabulary(COMMANDS))):
                v = run(rec, set_, vocab)
                print(f"{name:16s} {label}: WER {wer(v['refs'], v['hyps']):5.1f} % "
                      f"({v['n']} clips) | RTF {v['rtf']:.3f}")


if __name__ == "__main__":
    main()
