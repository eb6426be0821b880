"""Conversion parity: Whisper in torch (converted from the CTranslate2 folder) against CTranslate2 itself.

    PYTHONPATH=. .venv/bin/python benchmarks/whisper_torch_parity.py [--models whisper-tiny.en whisper-base]
        [--per-speaker 2] [--compute-types float32 int8] [--threads 2]

Clips: the bundled samples (resources/samples) and the ``--per-speaker`` first utterances of each
held-out AN4 speaker (:data:`whisper_wer.AN4_HELDOUT_SPEAKERS`; skipped without ../shared/data).
For each model and CTranslate2 compute type, :func:`engine.whisper.torch_parity.compare` on every clip:

- max |Δ log p| over every step and every unsuppressed vocabulary entry, teacher-forced on
  CTranslate2's greedy transcript (nats), and over the transcript's own tokens;
- transcript agreement: the torch model's greedy transcript (same suppression) equals CTranslate2's.

``float32`` runs the stored float16 weights widened (what the converter gives torch); ``int8`` is how
the recognizer runs them (weights and activations quantized), so differences there are CTranslate2's
quantization, not the conversion. Torch runs float32 on ``--threads`` threads.
"""
from __future__ import annotations

import argparse
import os
import time

import torch
from whisper_wer import AN4_HELDOUT_SPEAKERS

from engine.audio.io import load_audio
from engine.recipes.datasets import shared_data_dir
from engine.resources import SAMPLES
from engine.whisper.sources import assemble
from engine.whisper.torch_parity import ParityModels, compare
from engine.whisper.torch_weights import load_whisper


def clips(per_speaker: int) -> list:
    found = sorted(SAMPLES.glob("*.wav"))
    an4 = shared_data_dir() / "an4" / "wav"
    if an4.is_dir():
        for speaker in AN4_HELDOUT_SPEAKERS:
            found += sorted((an4 / speaker).glob("*.flac"))[:per_speaker]
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["whisper-tiny.en", "whisper-base"])
    ap.add_argument("--compute-types", nargs="+", default=["float32", "int8"])
    ap.add_argument("--per-speaker", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    paths = clips(args.per_speaker)
    audio = [load_audio(p) for p in paths]
    print(f"{len(paths)} clips ({sum(len(a) for a in audio) / 16000:.0f} s); threads {args.threads}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'model':16} {'ct2 type':8} {'max Δlogp (vocab)':>18} {'max Δlogp (tokens)':>19} "
          f"{'same transcript':>16} {'s/clip':>7}")
    for name in args.models:
        folder = assemble(name)
        model = load_whisper(folder)
        for compute_type in args.compute_types:
            models = ParityModels(folder, model, compute_type, args.threads)
            t0 = time.perf_counter()
            results = [compare(models, a) for a in audio]
            differ = [(p.name, r.text, models.tokenizer.decode(r.torch_tokens))
                      for p, r in zip(paths, results) if not r.same_transcript]
            print(f"{name:16} {compute_type:8} {max(r.max_logprob_diff for r in results):18.2e} "
                  f"{max(r.max_token_logprob_diff for r in results):19.2e} "
                  f"{len(results) - len(differ):>9}/{len(results):<6} {(time.perf_counter() - t0) / len(results):7.1f}")
            for clip, ct2_text, torch_text in differ:
                print(f"    {clip}: ctranslate2 {ct2_text!r}  torch {torch_text!r}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
