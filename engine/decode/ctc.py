"""CTC decoding: greedy (best path) and prefix beam search.

Greedy: arg-max per frame, merge repeats, drop blanks (Graves et al. 2006).
Prefix beam search: Hannun et al. 2014 ("First-Pass Large Vocabulary
Continuous Speech Recognition using Bi-Directional Recurrent DNNs"), without a
language model; its n-best list is rescored by the attention decoder.
"""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import torch

from engine.text.tokenizer import BLANK


def greedy(log_probs: torch.Tensor, length: int | None = None) -> tuple[list[int], list[int]]:
    """Best-path decoding of one utterance.

    Args:
        log_probs: ``(frames, vocab)`` CTC log-probabilities.
        length: valid frames (default all).

    Returns:
        ``(token ids, frame index where each token is first emitted)``.
    """
    best = log_probs[: length or log_probs.shape[0]].argmax(-1).tolist()
    ids, frames, prev = [], [], BLANK
    for t, k in enumerate(best):
        if k != prev and k != BLANK:
            ids.append(k)
            frames.append(t)
        prev = k
    return ids, frames


def _logadd(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def prefix_beam_search(log_probs: torch.Tensor, beam: int = 8, prune: float = -12.0) -> list[tuple[tuple[int, ...], float]]:
    """CTC prefix beam search over one utterance.

    Args:
        log_probs: ``(frames, vocab)`` CTC log-probabilities.
        beam: hypotheses kept per frame.
        prune: tokens whose frame log-probability is below this are skipped.

    Returns:
        Up to ``beam`` ``(token ids, log p(ids | audio))`` pairs, best first.
    """
    lp = log_probs.detach().cpu().numpy().astype(np.float64)
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}  # prefix → (p_blank, p_nonblank)
    for t in range(lp.shape[0]):
        row = lp[t]
        candidates = np.nonzero(row > prune)[0].tolist() or [int(row.argmax())]
        nxt: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [-math.inf, -math.inf])
        for prefix, (pb, pnb) in beams.items():
            total = _logadd(pb, pnb)
            for k in candidates:
                p = row[k]
                if k == BLANK:
                    nb = nxt[prefix]
                    nb[0] = _logadd(nb[0], total + p)
                    continue
                last = prefix[-1] if prefix else None
                ext = prefix + (k,)
                ne = nxt[ext]
                if k == last:
                    ne[1] = _logadd(ne[1], pb + p)  # a repeat needs a blank in between
                    same = nxt[prefix]
                    same[1] = _logadd(same[1], pnb + p)
                else:
                    ne[1] = _logadd(ne[1], total + p)
        ranked = sorted(nxt.items(), key=lambda kv: _logadd(*kv[1]), reverse=True)[:beam]
        beams = {k: (v[0], v[1]) for k, v in ranked}
    return [(k, _logadd(*v)) for k, v in sorted(beams.items(), key=lambda kv: _logadd(*kv[1]), reverse=True)]
