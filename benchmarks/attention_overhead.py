"""What looking inside the model costs, and how close the forced alignment's word boundaries are.

Usage: python benchmarks/attention_overhead.py [--model DIR] [--threads 2] [--utterances 20] [--rounds 3]

Utterances: 2–5 digits of the held-out FSDD speaker *nicolas* joined with
0.1–0.6 s pauses (every third with steady room noise at −50 dBFS), so each
word's true start and end are known to the sample (``tests/insight_clips.py``).

Prints, as medians per utterance (rounds interleaved so machine load hits all alike):

1. encoder pass alone, hooks absent vs :func:`engine.insight.attention.capture_self_attention` open;
2. ``SaysoRecognizer.transcribe`` with ``attention=False`` (the view closed) before
   any capture, and again after many captures (the hooks must leave nothing
   behind); with ``attention=True`` (the Studio's cross-attention);
3. :func:`engine.insight.attention.inspect` (capture on: cross- and
   self-attention plus forced alignment), as the Insight page asks for it;
4. word boundary error of the forced alignment (mean, 95th percentile, max;
   raw CTC spikes vs the speech-refined boundaries the app uses).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.decode.alignment import align, align_tokens, words_from_tokens  # noqa: E402
from engine.decode.recognizer import SaysoRecognizer  # noqa: E402
from engine.insight.attention import capture_self_attention, inspect  # noqa: E402
from engine.model.audio_encoder import ENCODER_FRAME_S  # noqa: E402
from engine.resources import BUNDLED_MODEL  # noqa: E402
from tests.insight_clips import digit_utterance  # noqa: E402


def utterances(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = int(rng.integers(2, 6))
        digits = tuple(int(d) for d in rng.integers(0, 10, k))
        gaps = tuple(float(g) for g in rng.uniform(0.1, 0.6, k + 1))
        out.append(digit_utterance(digits, int(rng.integers(0, 50)), gaps, -50.0 if i % 3 == 2 else None))
    return out


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(BUNDLED_MODEL))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--utterances", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rec = SaysoRecognizer.from_checkpoint(args.model)
    data = utterances(args.utterances)
    seconds = statistics.mean(len(a) / 16000 for a, _, _ in data)
    for audio, text, _ in data[:3]:  # warm up
        rec.transcribe(audio, attention=False)
        inspect(rec, audio, text)

    feats = [rec.frontend(torch.from_numpy(a)) for a, _, _ in data]

    @torch.inference_mode()
    def encode(f, hooked: bool):
        if hooked:
            with capture_self_attention(rec.model):
                rec.model.encode(*f)
        else:
            rec.model.encode(*f)

    t = {k: [] for k in ("enc", "enc_hooked", "closed_before", "cross", "inspect", "closed_after")}
    for _ in range(args.rounds):
        for (audio, text, _), f in zip(data, feats):
            t["enc"].append(timed(lambda: encode(f, False)))
            t["enc_hooked"].append(timed(lambda: encode(f, True)))
            t["closed_before"].append(timed(lambda: rec.transcribe(audio, attention=False)))
            t["cross"].append(timed(lambda: rec.transcribe(audio, attention=True)))
            t["inspect"].append(timed(lambda: inspect(rec, audio, text)))
            t["closed_after"].append(timed(lambda: rec.transcribe(audio, attention=False)))
    med = {k: statistics.median(v) for k, v in t.items()}
    print(f"{args.utterances} utterances of {seconds:.2f} s on average, {args.rounds} rounds, "
          f"{args.threads} threads; medians in ms per utterance")
    print(f"  encoder pass, no hooks                   {med['enc']:7.1f}")
    print(f"  encoder pass, self-attention captured    {med['enc_hooked']:7.1f}  "
          f"({100 * (med['enc_hooked'] / med['enc'] - 1):+.0f} %)")
    print(f"  transcribe, view closed (attention=False){med['closed_before']:7.1f}")
    print(f"  transcribe, same after {len(t['inspect'])} captures      {med['closed_after']:7.1f}  "
          f"({100 * (med['closed_after'] / med['closed_before'] - 1):+.1f} %)")
    print(f"  transcribe with cross-attention (Studio) {med['cross']:7.1f}  "
          f"({100 * (med['cross'] / med['closed_before'] - 1):+.0f} %)")
    print(f"  inspect: cross + self-attention + align  {med['inspect']:7.1f}")

    raw, fixed = [], []
    for audio, text, truth in data:
        with torch.inference_mode():
            enc = rec.model.encode(*rec.frontend(torch.from_numpy(audio)))
        lp, ids = enc.ctc_log_probs[0, : int(enc.lengths[0])], rec.tokenizer.encode(text)
        for out, words in ((raw, words_from_tokens(align_tokens(lp, ids, rec.tokenizer, ENCODER_FRAME_S))),
                           (fixed, words_from_tokens(align(lp, ids, rec.tokenizer, audio, ENCODER_FRAME_S)))):
            for w, (_, s, e) in zip(words, truth):
                out += [abs(w.start - s), abs(w.end - e)]
    print(f"word boundary error over {len(fixed)} boundaries ({sum(len(x[2]) for x in data)} words), ms:")
    for name, e in (("raw CTC spikes (forced_align)", raw), ("refined on speech (the app)", fixed)):
        e = np.array(e) * 1000
        print(f"  {name:30s} mean {e.mean():5.0f}  p95 {np.percentile(e, 95):5.0f}  max {e.max():5.0f}  "
              f"within 60 ms {100 * np.mean(e <= 60):5.1f} %")


if __name__ == "__main__":
    main()
