"""Label QA: find swapped transcripts among real held-out utterances by audio–text similarity and CTC likelihood.

Usage: python benchmarks/label_qa.py [--model DIR] [--share 0.05] [--seeds 3]

The held-out Speech Commands speakers' utterances (all 35 words; speakers the
model never heard) are labeled correctly; the transcripts of ``share`` of
them are swapped with those of other utterances (each gets a different
word). Each score ranks the set; the top k (k = the number swapped) are
flagged. Prints precision and recall at k for: audio–text similarity alone,
CTC likelihood per token alone, and the combined mislabel score
(:mod:`engine.insight.scoring`). Also: zero-shot commands — each held-out
digit take (FSDD *nicolas* and the held-out Speech Commands speakers) is
given the digit whose text embedding is nearest its audio embedding.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.audio.io import load_audio  # noqa: E402
from engine.decode.recognizer import SaysoRecognizer  # noqa: E402
from engine.insight.scoring import mislabel_scores, score_pairs  # noqa: E402
from engine.recipes.datasets import DIGITS, real_splits  # noqa: E402
from engine.resources import BUNDLED_MODEL  # noqa: E402


def precision_at_k(scores: np.ndarray, truth: np.ndarray) -> float:
    k = int(truth.sum())
    top = np.argsort(-scores)[:k]
    return float(truth[top].mean())  # at k = number swapped, precision = recall


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=BUNDLED_MODEL)
    p.add_argument("--share", type=float, default=0.05)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rec = SaysoRecognizer.from_checkpoint(args.model)
    splits = real_splits()
    utts = splits.test["sc-heldout"]
    audios = [load_audio(u.audio_path) for u in utts]
    texts = [u.text for u in utts]
    print(f"model: {args.model} · {len(utts)} held-out Speech Commands utterances, "
          f"{len({u.speaker for u in utts})} speakers · {100 * args.share:.0f}% transcripts swapped")
    t0 = time.perf_counter()
    clean = score_pairs(rec, audios, texts)
    print(f"scoring: {1000 * (time.perf_counter() - t0) / len(utts):.1f} ms per utterance")
    rows = {"similarity": [], "ctc": [], "combined": []}
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        n = max(1, round(args.share * len(utts)))
        chosen = rng.choice(len(utts), size=n, replace=False)
        noisy = list(texts)
        for i in chosen:  # a different word from another utterance
            noisy[i] = rng.choice([t for t in set(texts) if t != texts[i]])
        truth = np.zeros(len(utts), bool)
        truth[chosen] = True
        s = score_pairs(rec, [audios[i] for i in chosen], [noisy[i] for i in chosen])
        sim, ctc = clean.similarity.copy(), clean.ctc_per_token.copy()
        sim[chosen], ctc[chosen] = s.similarity, s.ctc_per_token
        rows["similarity"].append(precision_at_k(-sim, truth))
        rows["ctc"].append(precision_at_k(-ctc, truth))
        rows["combined"].append(precision_at_k(mislabel_scores(sim, ctc), truth))
    k = max(1, round(args.share * len(utts)))
    for name, vals in rows.items():
        print(f"flag top-{k} by {name:10s}: precision = recall = {100 * np.mean(vals):.1f}% "
              f"(± {100 * np.std(vals):.1f} over {args.seeds} draws)")

    digit_utts = splits.test["fsdd-heldout"] + [u for u in splits.test["sc-heldout"] if u.text in DIGITS]
    text_emb = np.stack([rec.embed_text(d) for d in DIGITS])
    right = []
    for u in digit_utts:
        audio = load_audio(u.audio_path)
        a = score_pairs(rec, [audio], [u.text]).audio[0]
        right.append(DIGITS[int(np.argmax(text_emb @ a))] == u.text)
    print(f"zero-shot digits by nearest text embedding: {100 * np.mean(right):.1f}% of {len(digit_utts)} "
          f"held-out takes (chance 10%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
