"""Live Whisper figures on held-out AN4 speakers, fed in real time: finals, and partials of each mode.

Usage: python benchmarks/whisper_live.py [--models whisper-tiny.en,whisper-base] [--partials none,whisper,ctc]
       [--utterances 24] [--threads 2] [--interval 1.0] [--end-silence S] [--pad S] [--fast]

Utterances of the AN4 speakers held out of every Whisper figure
(:data:`whisper_wer.AN4_HELDOUT_SPEAKERS`) up to 5 s long, ``--utterances`` of
them drawn evenly by a fixed seed, joined by 0.8 s pauses and fed to
:class:`engine.whisper.stream.WhisperStream` in 20 ms chunks at real-time pace
(``--fast``: as fast as possible). For each model and partial mode it prints:

* end of speech → final (p50/p95, ms): wall time from when the chunk that
  carried the utterance's last speech frame was due (a microphone delivers it
  then, even if the stream is still busy) to the final text: the
  endpointer's pause (``end_silence_s``) plus the whole-utterance decode plus
  any partial decode in the way; and endpoint → final (the decode alone);
* partial update interval (p50/p95, ms): wall time between successive partials
  of one utterance; partial compute (p50/p95); time to first partial (p50/p95:
  from when the chunk of the utterance's first speech frame was due to its first partial),
  and the share of utterances that got one;
* agreement: of the committed words (LocalAgreement-2) at the endpoint, the share
  found in the final (word alignment hits / committed words); and of the last
  partial's words, the share found in the final (every mode);
* WER of the finals (normalized text, all utterances as one sequence) beside the
  offline decode of the same clips (``transcribe``, whole clips), and the load average.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import jiwer
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from whisper_wer import AN4_HELDOUT_SPEAKERS  # noqa: E402  (beside this file)

from engine.audio.endpoint import EndpointConfig  # noqa: E402
from engine.audio.io import SAMPLE_RATE, load_audio  # noqa: E402
from engine.decode.protocol import Final, Partial  # noqa: E402
from engine.recipes.datasets import shared_data_dir  # noqa: E402
from engine.registry.index import ModelRegistry  # noqa: E402
from engine.text.normalize import normalize_text  # noqa: E402
from engine.whisper.recognizer import WhisperRecognizer  # noqa: E402
from engine.whisper.stream import WhisperStream  # noqa: E402

CHUNK_S = 0.02
GAP_S = 0.8
MAX_S = 5.0


def heldout_utterances(n: int) -> list[tuple[np.ndarray, str]]:
    """``n`` held-out AN4 utterances up to :data:`MAX_S` seconds (audio, normalized reference), in path order."""
    root = shared_data_dir() / "an4"
    with open(root / "train.tsv", encoding="utf-8") as fh:
        rows = sorted((r for r in csv.DictReader(fh, delimiter="\t") if r["speaker"] in AN4_HELDOUT_SPEAKERS),
                      key=lambda r: r["path"])
    clips = [(load_audio(root / r["path"]), normalize_text(r["transcript"])) for r in rows]
    clips = [c for c in clips if len(c[0]) <= MAX_S * SAMPLE_RATE]
    keep = np.random.default_rng(0).choice(len(clips), size=min(n, len(clips)), replace=False)
    return [clips[i] for i in sorted(keep)]


def pct(values, q: float) -> str:
    return f"{np.percentile(values, q):.0f}" if len(values) else "-"


def share_found(words: list[str], final: str) -> tuple[int, int]:
    """(hits, len(words)): how many of ``words`` a word alignment finds in ``final``."""
    if not words:
        return 0, 0
    return jiwer.process_words(" ".join(words), final or "<empty>").hits, len(words)


def run(rec: WhisperRecognizer, audio: np.ndarray, mode: str, cfg: EndpointConfig, interval: float,
        fast: bool) -> dict:
    stream = WhisperStream(rec, cfg, partials=mode, partial_interval_s=interval)
    # warm up the partial path (the first call of each decoder pays for its allocations)
    if mode != "none":
        stream.hypothesis(audio[: 2 * SAMPLE_RATE])
    chunk = int(CHUNK_S * SAMPLE_RATE)
    finals: list[Final] = []
    partials: dict[int, list[tuple[float, Partial]]] = {}  # utterance -> (wall time, partial)
    committed: dict[int, list[str]] = {}
    fed_at: list[float] = []
    eos_ms: list[float] = []
    start = time.perf_counter()
    for k, i in enumerate(range(0, len(audio), chunk)):
        if not fast:
            delay = start + k * CHUNK_S - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        # when the chunk is due (a microphone delivers it then, whether or not the stream is still busy)
        fed_at.append(time.perf_counter() if fast else start + k * CHUNK_S)
        events = stream.feed(audio[i:i + chunk])
        done = time.perf_counter()
        for e in events:
            if isinstance(e, Final):
                k_end = min(len(fed_at) - 1, int(np.ceil(e.speech_end * SAMPLE_RATE / chunk)) - 1)
                eos_ms.append(1000 * (done - fed_at[k_end]))
                finals.append(e)
            else:
                partials.setdefault(e.index, []).append((done, e))
        if stream.endpointer.in_speech:
            committed[stream.index] = list(stream.committed)
    finals += [e for e in stream.flush() if isinstance(e, Final)]

    intervals = [1000 * (b[0] - a[0]) for p in partials.values() for a, b in zip(p, p[1:])]
    compute = [1000 * e.compute_seconds for p in partials.values() for _, e in p]
    first_ms = []
    for f in finals:
        if f.index in partials:
            k_first = min(len(fed_at) - 1, int((f.start + cfg.pad_s) * SAMPLE_RATE / chunk))
            first_ms.append(1000 * (partials[f.index][0][0] - fed_at[k_first]))
    texts = {f.index: f.text for f in finals}
    c_hits, c_n = np.sum([share_found(committed.get(i, []), texts[i]) for i in texts], axis=0)
    l_hits, l_n = np.sum([share_found(partials[i][-1][1].text.split() if i in partials else [], texts[i])
                          for i in texts], axis=0)
    return {"finals": finals, "eos": eos_ms, "decode": [1000 * f.latency_seconds for f in finals],
            "intervals": intervals, "compute": compute, "first": first_ms, "with_partial": len(first_ms),
            "committed": (c_hits, c_n), "last": (l_hits, l_n)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="whisper-tiny.en,whisper-base")
    p.add_argument("--partials", default="none,whisper,ctc")
    p.add_argument("--utterances", type=int, default=24)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--interval", type=float, default=1.0, help="seconds of audio between Whisper partials")
    p.add_argument("--end-silence", type=float, default=None, help="EndpointConfig.end_silence_s (seconds)")
    p.add_argument("--pad", type=float, default=None, help="EndpointConfig.pad_s (seconds)")
    p.add_argument("--fast", action="store_true", help="feed as fast as possible instead of in real time")
    args = p.parse_args()
    if "ctc" in args.partials:
        import torch

        torch.set_num_threads(args.threads)
    clips = heldout_utterances(args.utterances)
    gap = np.zeros(int(GAP_S * SAMPLE_RATE), np.float32)
    audio = np.concatenate([gap] + [np.concatenate([c, gap]) for c, _ in clips])
    refs = " ".join(r for _, r in clips)
    overrides = {k: v for k, v in (("end_silence_s", args.end_silence), ("pad_s", args.pad)) if v is not None}
    cfg = EndpointConfig(**overrides)
    print(f"{len(clips)} held-out AN4 utterances ≤ {MAX_S:g} s ({len(audio) / SAMPLE_RATE:.0f} s with "
          f"{GAP_S:g} s pauses) · speakers {', '.join(AN4_HELDOUT_SPEAKERS)} · {args.threads} threads · "
          f"{'fast' if args.fast else 'real time'} · endpointer: end_silence_s {cfg.end_silence_s:g}, pad_s "
          f"{cfg.pad_s:g}, VAD aggressiveness {cfg.aggressiveness} · load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores")
    registry = ModelRegistry()
    for name in args.models.split(","):
        rec = WhisperRecognizer.from_checkpoint(registry.prepare(name).path, threads=args.threads, name=name)
        offline = [rec.transcribe(c).text for c, _ in clips]
        wer_offline = 100 * jiwer.wer(refs, " ".join(offline))
        for mode in args.partials.split(","):
            load0 = os.getloadavg()[0]
            r = run(rec, audio, mode, cfg, args.interval, args.fast)
            finals = r["finals"]
            wer = 100 * jiwer.wer(refs, " ".join(f.text for f in finals) or "-")
            note = "" if len(finals) == len(clips) else f" ({len(finals)} finals for {len(clips)} clips)"
            (ch, cn), (lh, ln) = r["committed"], r["last"]
            print(f"{name} · partials {mode}{note} · load {load0:.2f} → {os.getloadavg()[0]:.2f}")
            print(f"  end of speech → final p50 {pct(r['eos'], 50)} ms, p95 {pct(r['eos'], 95)} ms "
                  f"(endpoint → final p50 {pct(r['decode'], 50)} ms, p95 {pct(r['decode'], 95)} ms)")
            if mode != "none":
                print(f"  partial interval p50 {pct(r['intervals'], 50)} ms, p95 {pct(r['intervals'], 95)} ms · "
                      f"compute p50 {pct(r['compute'], 50)} ms, p95 {pct(r['compute'], 95)} ms · first partial "
                      f"p50 {pct(r['first'], 50)} ms, p95 {pct(r['first'], 95)} ms after speech start "
                      f"({r['with_partial']}/{len(finals)} utterances)")
                committed = f"committed words in the final {100 * ch / cn:.0f} % of {cn} · " if cn else ""
                print(f"  {committed}last partial's words in the final "
                      f"{100 * lh / max(ln, 1):.0f} % of {ln}")
            print(f"  WER finals {wer:.1f} % · offline (whole clips) {wer_offline:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
