import itertools
import math

import numpy as np
import pytest
import torch

from engine.decode.ctc import greedy, prefix_beam_search
from engine.decode.vocabulary import LexiconSearch, Vocabulary, VocabularyError
from engine.text.tokenizer import CharTokenizer

TOK = CharTokenizer()


def _emissions(path: list[int], vocab: int = 31, sharp: float = 6.0) -> torch.Tensor:
    """Log-probs whose best path is ``path`` (one frame per entry, 0 = blank)."""
    x = torch.zeros(len(path), vocab)
    x[torch.arange(len(path)), torch.tensor(path)] = sharp
    return x.log_softmax(-1)


def test_greedy_merges_repeats_and_drops_blanks():
    e, s = TOK.encode("es")
    ids, frames = greedy(_emissions([0, e, e, 0, e, s, s, 0]))
    assert TOK.decode(ids) == "ees" and frames == [1, 4, 5]


def _brute_force(lp: torch.Tensor, max_len: int = 3) -> dict[tuple[int, ...], float]:
    """p(y|x) for every label sequence, by summing over all CTC paths (tiny vocab only)."""
    T, V = lp.shape
    out: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(V), repeat=T):
        collapsed = [k for i, k in enumerate(path) if k != 0 and (i == 0 or path[i - 1] != k)]
        if len(collapsed) <= max_len:
            key = tuple(collapsed)
            out[key] = out.get(key, 0.0) + math.exp(sum(float(lp[t, k]) for t, k in enumerate(path)))
    return out


def test_prefix_beam_search_matches_exact_sequence_probabilities():
    rng = np.random.default_rng(0)
    lp = torch.from_numpy(rng.normal(size=(5, 3))).float().log_softmax(-1)
    exact = _brute_force(lp, max_len=5)
    beams = prefix_beam_search(lp, beam=50, prune=-100.0)
    assert beams[0][0] == max(exact, key=exact.get)
    for ids, score in beams[:5]:
        assert math.exp(score) == pytest.approx(exact[ids], rel=1e-4)


def test_vocabulary_normalizes_and_rejects(tmp_path):
    v = Vocabulary(["Turn on", "turn on", "  ", "7"])
    assert v.phrases == ["turn on", "seven"] and v.words == ["on", "seven", "turn"]
    f = tmp_path / "v.txt"
    f.write_bytes(b"# commands\nyes\n\nno\n")
    assert Vocabulary.from_file(f).phrases == ["yes", "no"]
    f.write_bytes(b"\xff\xfe\x00y")
    with pytest.raises(VocabularyError, match="UTF-8"):
        Vocabulary.from_file(f)
    f.write_text("# nothing\n\n")
    with pytest.raises(VocabularyError, match="no word"):
        Vocabulary.from_file(f)
    with pytest.raises(VocabularyError, match="no such"):
        Vocabulary.from_file(tmp_path / "missing.txt")


def test_lexicon_search_snaps_to_listed_words():
    # emissions spell "yas" (a non-word); the lexicon search must return a listed word
    y, a, s = TOK.encode("yas")
    lp = _emissions([0, y, 0, a, 0, s, 0], sharp=3.0)
    out = LexiconSearch(Vocabulary(["yes", "no", "stop"]), TOK)(lp)
    assert out and out[0] == "yes"
    assert set(out) <= {"yes", "no", "stop", "yes yes", "no no", "yes no", "no yes", "stop yes", "yes stop", "stop stop", "no stop", "stop no"}
