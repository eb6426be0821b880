"""Whisper's word boundaries from its alignment heads, against known word times; and what capturing the attention costs.

Usage: PYTHONPATH=. .venv/bin/python benchmarks/whisper_word_boundaries.py [--models whisper-tiny.en whisper-base]
           [--sequences 20] [--threads 2] [--rounds 2]

Sequences: 2–5 digits of the held-out FSDD speaker *nicolas* joined with 0.1–0.6 s pauses (every third
with steady room noise at −50 dBFS), the same sequences as ``benchmarks/attention_overhead.py``: his
clips are trimmed to the speech upstream, so each word's true start and end are known to the sample
(``tests/insight_clips.py``). jason's clips are untrimmed 3 s recordings with room noise (no known word
times), so they are not used here. Whisper never trained on FSDD; the Sayso model never heard nicolas.

For each Whisper model, teacher-forced on the true digits (as a forced alignment is), one pass of
:meth:`engine.insight.whisper_attention.WhisperLens.inspect`:

1. word boundaries from the alignment heads by dynamic time warping, as Whisper's word timing computes
   them (a word runs until the next starts), and the same moved onto the speech holding each word (what
   the Insight page shows; :func:`engine.insight.whisper_attention.word_timings`); and, to check the
   torch path, faster-whisper's own word times on the same tokens (CTranslate2's ``align``, int8);
2. beside them, the Sayso model's forced alignment on the same sequences (:func:`engine.insight.attention.inspect`,
   the Insight page's alignment for a Sayso model);
3. capture overhead, medians per sequence (rounds interleaved): CTranslate2 transcription (the studio's
   Whisper path), the torch teacher-forced pass with no capture, with the cross-attention captured, with
   cross- and self-attention captured plus word times (the Insight page's request), and transcription
   followed by that inspection (what the page costs on a take without a transcript).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from attention_overhead import utterances  # noqa: E402

from engine.decode.alignment import WordTiming  # noqa: E402
from engine.decode.recognizer import SaysoRecognizer  # noqa: E402
from engine.insight.attention import inspect as sayso_inspect  # noqa: E402
from engine.insight.whisper_attention import WhisperLens, whisper_text, word_timings  # noqa: E402
from engine.resources import BUNDLED_MODEL  # noqa: E402
from engine.text.normalize import normalize_text  # noqa: E402
from engine.whisper.recognizer import WhisperRecognizer  # noqa: E402
from engine.whisper.sources import assemble  # noqa: E402


def errors(words, truth) -> tuple[list[float], list[float], int]:
    """Absolute start and end errors (s) of the words that match the truth in order; and the words missed."""
    if [w.word for w in words] != [t[0] for t in truth]:
        return [], [], len(truth)
    return [abs(w.start - s) for w, (_, s, _) in zip(words, truth)], \
        [abs(w.end - e) for w, (_, _, e) in zip(words, truth)], 0


def row(name: str, starts: list[float], ends: list[float], missed: int) -> str:
    s, e = np.array(starts) * 1000, np.array(ends) * 1000
    both = np.concatenate([s, e])
    return (f"  {name:34s} start mean {s.mean():5.0f} median {np.median(s):5.0f} | end mean {e.mean():5.0f} "
            f"median {np.median(e):5.0f} | within 60 ms {100 * np.mean(both <= 60):5.1f} %"
            + (f" | {missed} words not aligned" if missed else ""))


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["whisper-tiny.en", "whisper-base"])
    ap.add_argument("--sayso", default=str(BUNDLED_MODEL))
    ap.add_argument("--sequences", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = utterances(args.sequences)
    n_words = sum(len(t) for _, _, t in data)
    print(f"{len(data)} sequences of nicolas's digits ({n_words} words, {np.mean([len(a) for a, _, _ in data]) / 16000:.2f} s "
          f"on average); {args.threads} threads; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    print("word boundary error (ms; absolute; teacher-forced on the true digits):")
    sayso = SaysoRecognizer.from_checkpoint(args.sayso)
    s_starts, s_ends, s_missed = [], [], 0
    for audio, text, truth in data:
        a, b, m = errors(sayso_inspect(sayso, audio, text).words, truth)
        s_starts, s_ends, s_missed = s_starts + a, s_ends + b, s_missed + m
    print(row(f"{sayso.name} forced alignment (app)", s_starts, s_ends, s_missed))

    lenses, ct2s = {}, {}
    for name in args.models:
        folder = assemble(name)
        lens = lenses[name] = WhisperLens.load(folder, threads=args.threads)
        ct2 = ct2s[name] = WhisperRecognizer.from_checkpoint(folder, threads=args.threads)
        results = {"dtw": ([], [], 0), "speech": ([], [], 0), "ct2": ([], [], 0)}
        for audio, text, truth in data:
            ids = lens.model.encode_text(whisper_text(text))
            encoded, frames = ct2._encode(audio, 30)
            (aligned,) = ct2.model.find_alignment(ct2.tokenizer, [ids], encoded, frames)
            theirs = [WordTiming(normalize_text(w["word"]), w["start"], w["end"], w["probability"])
                      for w in aligned if normalize_text(w["word"])]
            a, b, m = errors(theirs, truth)
            s, e, mm = results["ct2"]
            results["ct2"] = (s + a, e + b, mm + m)
            look = lens.model.look(audio, ids + [lens.tokenizer.eot])
            alignment, duration = look.cross.alignment(), len(audio) / 16000
            for key, on in (("dtw", None), ("speech", audio)):
                _, words = word_timings(alignment, ids, look.probs, lens.tokenizer, duration, look.cross.frame_s, on)
                a, b, m = errors(words, truth)
                s, e, mm = results[key]
                results[key] = (s + a, e + b, mm + m)
        print(row(f"{name} faster-whisper's own (CT2)", *results["ct2"]))
        print(row(f"{name} alignment heads, DTW", *results["dtw"]))
        print(row(f"{name} DTW, edges on speech (app)", *results["speech"]))

    print(f"capture overhead (ms per sequence, medians over {args.rounds} rounds; load average "
          f"{os.getloadavg()[0]:.1f}):")
    print(f"  {'model':16s} {'transcribe (CT2)':>17s} {'torch pass':>11s} {'+ cross':>8s} {'+ self + words':>15s} "
          f"{'transcribe + inspect':>21s}")
    for name in args.models:
        lens = lenses[name]
        ct2 = ct2s[name]
        t = {k: [] for k in ("ct2", "plain", "cross", "inspect", "both")}
        for _ in range(args.rounds):
            for audio, text, _ in data:
                ids = lens.model.encode_text(whisper_text(text))
                mel = lens.model.mel(audio)
                full = torch.tensor([lens.model.prompt + ids + [lens.tokenizer.eot]])

                def plain():
                    with torch.inference_mode():
                        lens.model.model(input_features=mel, decoder_input_ids=full)

                t["ct2"].append(timed(lambda: ct2.transcribe(audio)))
                t["plain"].append(timed(plain))
                t["cross"].append(timed(lambda: lens.model.look(audio, ids + [lens.tokenizer.eot])))
                t["inspect"].append(timed(lambda: lens.inspect(audio, text)))

                def both():
                    rec = ct2.transcribe(audio)
                    lens.inspect(audio, " ".join(s.raw for s in rec.segments), recognized=True)

                t["both"].append(timed(both))
        m = {k: statistics.median(v) for k, v in t.items()}
        print(f"  {name:16s} {m['ct2']:17.0f} {m['plain']:11.0f} {m['cross']:8.0f} {m['inspect']:15.0f} "
              f"{m['both']:21.0f}   (capture {100 * (m['inspect'] / m['plain'] - 1):+.0f} % over the plain pass; "
              f"transcribe + inspect {m['both'] / m['ct2']:.1f}× transcribe)")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
