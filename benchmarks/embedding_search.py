"""Cross-modal search at 20k utterances: embedding throughput, search latency, and search precision.

Usage: python benchmarks/embedding_search.py [--model DIR] [--size 20000] [--threads 2]

1. Embeds every real clip in the shared data (FSDD: 2000 digits, 4 speakers;
   Speech Commands: 2853 words, 166 speakers) with the model, one clip at a
   time as the studio's embedding worker does, and prints the throughput.
   The embeddings are cached (``~/.cache/sayso/bench-embeddings``, the
   studio's cache format), so a second run skips this part.
2. Builds a search index of ``--size`` utterances from them: the real clips'
   embeddings, repeated to reach the size (the latency of a search depends
   on the number of rows, not on their values).
3. Search latency for typed words (the 35 Speech Commands words): the text
   embedding in the worker process (a real round trip to
   :class:`engine.workers.embedding.EmbeddingWorker`, what the search box
   waits for), the ranking (top 50 of ``--size``, :func:`engine.insight.search.rank`),
   and the two together; p50 and p95.
4. Precision at 10 of text → recording search on the real clips (each
   word's query, the 10 best recordings, share with that transcript).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.utterance import Utterance  # noqa: E402
from engine.decode.recognizer import SaysoRecognizer  # noqa: E402
from engine.insight.embedding import EmbeddingCache, EmbedItem, embed_items, model_hash  # noqa: E402
from engine.insight.search import rank  # noqa: E402
from engine.paths import cache_dir  # noqa: E402
from engine.resources import BUNDLED_MODEL  # noqa: E402
from engine.workers.embedding import EmbeddingWorker, TextResult  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DIGITS = "zero one two three four five six seven eight nine".split()


def real_clips() -> list[tuple[Path, str]]:
    clips = [(p, DIGITS[int(p.name.split("_")[0])]) for p in sorted((DATA / "fsdd" / "recordings").glob("*.wav"))]
    for folder in sorted((DATA / "speech_commands").iterdir()):
        if folder.is_dir() and not folder.name.startswith("_"):
            clips += [(p, folder.name) for p in sorted(folder.glob("*.wav"))]
    return clips


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=BUNDLED_MODEL)
    p.add_argument("--size", type=int, default=20_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache", type=Path, default=cache_dir() / "bench-embeddings")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    clips = real_clips()
    if not clips:
        print(f"no clips in {DATA}")
        return 1
    items = [EmbedItem(i, Utterance(path, word, 0.0, _duration(path)), hashlib.sha256(path.read_bytes()).hexdigest())
             for i, (path, word) in enumerate(clips)]
    rec = SaysoRecognizer.from_checkpoint(args.model)
    model = model_hash(args.model)
    cache = EmbeddingCache.load(args.cache / f"{model}.npz", model)
    known = set(cache.audio)
    t0 = time.perf_counter()
    emb = embed_items(rec, items, cache)
    seconds = time.perf_counter() - t0
    print(f"model: {args.model} ({model}) · {len(items)} real clips (FSDD + Speech Commands), {args.threads} threads")
    new = len({it.key for it in items} - known)  # distinct clips embedded now (a few files are byte-identical)
    if new > len(items) // 2:
        print(f"embedding throughput: {new / seconds:.1f} clips/s ({1000 * seconds / new:.1f} ms per clip of "
              f"about 1 s, audio and {len(emb.texts)} transcripts, one clip at a time, loading included)")
    else:
        print(f"embeddings read from the cache in {seconds:.2f} s ({emb.cached} rows, {emb.computed} computed); "
              f"delete {cache.path} to time the embedding again")
    if emb.failed:
        print(f"  {len(emb.failed)} clips could not be read: {emb.failed[0][1]}")

    reps = -(-args.size // len(emb.audio))
    index = np.tile(emb.audio, (reps, 1))[: args.size]
    words = sorted(set(emb.texts))
    with EmbeddingWorker(args.model, threads=args.threads) as worker:
        worker.wait(worker.texts(["warm up"]), timeout=120)
        embed_ms, rank_ms, total_ms = [], [], []
        for _round in range(5):
            for w in words:
                t0 = time.perf_counter()
                answer = worker.wait(worker.texts([w]), timeout=60)
                t1 = time.perf_counter()
                assert isinstance(answer, TextResult), answer
                rank(answer.embeddings[0], index, 50)
                t2 = time.perf_counter()
                embed_ms.append(1000 * (t1 - t0))
                rank_ms.append(1000 * (t2 - t1))
                total_ms.append(1000 * (t2 - t0))
    print(f"search latency over {args.size} utterances ({len(total_ms)} typed words):")
    for name, vals in (("text embedding (worker round trip)", embed_ms), ("ranking, top 50", rank_ms),
                       ("typed text -> ranked list", total_ms)):
        print(f"  {name:36s} p50 {pct(vals, 50):6.2f} ms   p95 {pct(vals, 95):6.2f} ms")

    labels = np.array([it.utterance.text for it in items if it.utterance_id in set(emb.ids.tolist())])
    precision = {}
    for w in words:
        top = rank(emb.text[emb.texts.index(w)], emb.audio, 10).indices
        precision[w] = float(np.mean(labels[top] == w))
    worst = sorted(precision, key=precision.get)[:3]
    print(f"text -> recording precision@10 on the {len(emb.audio)} real clips: mean {100 * np.mean(list(precision.values())):.1f}% "
          f"over {len(words)} words (worst: {', '.join(f'{w} {100 * precision[w]:.0f}%' for w in worst)})")
    return 0


def _duration(path: Path) -> float:
    import soundfile as sf

    return sf.info(path).duration


if __name__ == "__main__":
    sys.exit(main())
