"""Streaming recognition figures on held-out real speakers, fed in real time.

Usage: python benchmarks/live_latency.py [--model DIR] [--clips N] [--threads 2] [--fast]
       [--end-silence S] [--pad S] [--early S --eos P]

Held-out Speech Commands clips (speakers never trained on; the 10 commands)
are joined with 0.8 s pauses and fed to :class:`StreamingRecognizer` in
20 ms chunks at real-time pace (``--fast``: as fast as possible). Prints:

* endpoint → final latency (p50/p95, ms): wall time from the chunk that
  completes the endpoint to the final text;
* end of speech → final latency (p50/p95, ms): wall time from the chunk that
  carried the last speech frame (WebRTC VAD) to the final text: the pause
  the endpointer waits for plus the decode;
* partial update interval (p50/p95, ms): wall time between successive
  partial hypotheses of one utterance, and the partial compute time;
* WER of the streaming finals and of offline decoding of the same clips,
  and the difference.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jiwer
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.audio.endpoint import EndpointConfig  # noqa: E402
from engine.audio.io import SAMPLE_RATE, load_audio  # noqa: E402
from engine.decode.protocol import Final  # noqa: E402
from engine.decode.recognizer import SaysoRecognizer  # noqa: E402
from engine.decode.streaming import StreamingRecognizer  # noqa: E402
from engine.recipes.datasets import COMMANDS, real_splits  # noqa: E402
from engine.resources import BUNDLED_MODEL  # noqa: E402

CHUNK_S = 0.02
GAP_S = 0.8


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=BUNDLED_MODEL)
    p.add_argument("--clips", type=int, default=40)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--fast", action="store_true", help="feed as fast as possible instead of in real time")
    p.add_argument("--end-silence", type=float, default=None, help="EndpointConfig.end_silence_s (seconds)")
    p.add_argument("--pad", type=float, default=None, help="EndpointConfig.pad_s (seconds)")
    p.add_argument("--early", type=float, default=None, help="pause (s) after which the decoder may end an utterance (default: off)")
    p.add_argument("--eos", type=float, default=0.9, help="end-of-sentence probability for an early end")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    test = [u for u in real_splits().test["sc-heldout"] if u.text in COMMANDS]
    rng = np.random.default_rng(0)
    chosen = [test[i] for i in sorted(rng.choice(len(test), size=min(args.clips, len(test)), replace=False))]
    gap = np.zeros(int(GAP_S * SAMPLE_RATE), np.float32)
    clips = [load_audio(u.audio_path) for u in chosen]
    audio = np.concatenate([gap] + [np.concatenate([c, gap]) for c in clips])

    rec = SaysoRecognizer.from_checkpoint(args.model)
    offline = [rec.transcribe(c, attention=False).text for c in clips]  # also warms up torch's kernels
    overrides = {k: v for k, v in (("end_silence_s", args.end_silence), ("pad_s", args.pad)) if v is not None}
    stream = StreamingRecognizer(rec, EndpointConfig(**overrides), early_end_s=args.early,
                                 eos_threshold=args.eos)
    partial_walls: dict[int, list[float]] = {}
    partial_compute: list[float] = []
    inner = stream.partial_text

    def timed_partial(a):
        t0 = time.perf_counter()
        out = inner(a)
        partial_compute.append(time.perf_counter() - t0)
        partial_walls.setdefault(stream.index, []).append(t0)
        return out

    stream.partial_text = timed_partial
    chunk = int(CHUNK_S * SAMPLE_RATE)
    finals: list[Final] = []
    fed_at: list[float] = []  # wall time each chunk was handed over
    eos_latency: list[float] = []  # end of speech -> final, ms
    start = time.perf_counter()
    for k, i in enumerate(range(0, len(audio), chunk)):
        if not args.fast:
            delay = start + k * CHUNK_S - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        fed_at.append(time.perf_counter())
        new = [e for e in stream.feed(audio[i:i + chunk]) if isinstance(e, Final)]
        done = time.perf_counter()
        for f in new:
            # the chunk that carried the last speech sample arrived at fed_at[k_end]
            k_end = min(len(fed_at) - 1, int(np.ceil(f.speech_end * SAMPLE_RATE / chunk)) - 1)
            eos_latency.append(1000 * (done - fed_at[k_end]))
        finals += new
    finals += [e for e in stream.flush() if isinstance(e, Final)]

    lat = np.array([f.latency_seconds for f in finals]) * 1000
    intervals = np.array([b - a for w in partial_walls.values() for a, b in zip(w, w[1:])]) * 1000
    early = sum(f.early for f in finals)
    vad_pause = f"{1000 * stream.endpointer.cfg.end_silence_s:.0f} ms"
    how = (f"{early} of {len(finals)} finals ended early by the decoder after {1000 * stream.early_end_s:.0f} ms, "
           f"the rest by the VAD after {vad_pause}") if stream.early_end_s else f"every final after a {vad_pause} pause"
    refs = [u.text for u in chosen]
    hyps = [f.text for f in finals]
    if len(hyps) != len(refs):
        print(f"note: {len(hyps)} finals for {len(refs)} clips (the endpointer split or merged some)")
    wer_stream = jiwer.wer(" ".join(refs), " ".join(hyps) or "-")
    wer_offline = jiwer.wer(refs, offline)
    print(f"model: {args.model} · {len(chosen)} held-out clips · {len({u.speaker for u in chosen})} speakers · "
          f"{args.threads} threads · {'fast' if args.fast else 'real time'}")
    print(f"endpoint -> final latency p50 {np.percentile(lat, 50):.0f} ms, p95 {np.percentile(lat, 95):.0f} ms")
    print(f"end of speech -> final p50 {np.percentile(eos_latency, 50):.0f} ms, "
          f"p95 {np.percentile(eos_latency, 95):.0f} ms  ({how})")
    print(f"partial update interval p50 {np.percentile(intervals, 50):.0f} ms, p95 {np.percentile(intervals, 95):.0f} ms")
    print(f"partial compute p50 {1000 * np.percentile(partial_compute, 50):.0f} ms, "
          f"p95 {1000 * np.percentile(partial_compute, 95):.0f} ms")
    print(f"WER streaming finals {100 * wer_stream:.1f}% · offline (whole clips) {100 * wer_offline:.1f}% · "
          f"difference {100 * (wer_stream - wer_offline):+.1f} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
