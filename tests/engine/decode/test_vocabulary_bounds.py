"""Issue 14, items 1–2: a vocabulary's size and phrase length are bounded by design.

Before the fix: the candidates were scored in one batch (memory grew with the vocabulary: 22 GB
and an OOM kill at 100,000 lines), any number of phrases was accepted, and a phrase longer than
``max_text_len`` raised a RuntimeError (a 2,000,000-character line segfaulted).
"""
import csv
import itertools
import subprocess
import sys
import textwrap

import pytest
import torch

import engine.decode.recognizer as recognizer_module
from engine.audio.io import load_audio
from engine.decode.recognizer import SaysoRecognizer
from engine.decode.vocabulary import MAX_PHRASES, Vocabulary, VocabularyError
from engine.model.cross_modal import pad_tokens
from engine.recipes.datasets import COMMANDS, DIGITS
from tests.helpers import ROOT, SAMPLES, bundled_model, shared_data


@pytest.fixture(scope="module")
def rec():
    return SaysoRecognizer.from_checkpoint(bundled_model())


def an4_phrases(n: int) -> list[str]:
    """``n`` distinct real phrases: the digits and commands, then AN4 transcripts."""
    with open(shared_data() / "an4" / "train.tsv", encoding="utf-8") as fh:
        transcripts = [r["transcript"] for r in csv.DictReader(fh, delimiter="\t")]
    return list(dict.fromkeys(DIGITS + COMMANDS + transcripts))[:n]


def _one_batch_scores(rec, enc, candidates):
    """The scoring before the fix: every candidate in one decoder batch."""
    targets, lengths = pad_tokens(candidates)
    enc_n = enc.expand(len(candidates))
    ctc = torch.nan_to_num(rec.model.ctc_log_likelihood(enc_n, targets, lengths), neginf=-1e4)
    att = rec.model.attention_log_likelihood(enc_n, targets, lengths)
    return rec.ctc_weight * ctc + (1 - rec.ctc_weight) * att, att


@pytest.mark.parametrize("chunk", [16, recognizer_module.SCORE_CHUNK])
def test_chunked_scoring_picks_what_one_batch_picked(rec, monkeypatch, chunk):
    monkeypatch.setattr(recognizer_module, "SCORE_CHUNK", chunk)
    vocab = Vocabulary(an4_phrases(300))
    assert len(vocab.phrases) == 300
    search, phrase_ids = rec._vocabulary_search(vocab)
    for path in sorted(SAMPLES.glob("*.wav")):
        audio = load_audio(path)
        with torch.inference_mode():
            feats, lengths = rec.frontend(torch.from_numpy(audio))
            enc = rec.model.encode(feats, lengths)
            candidates = phrase_ids + [[]]
            scores, att = _one_batch_scores(rec, enc, candidates)
            best, best_att = rec._best_candidate(enc, candidates)
        assert best == int(torch.argmax(scores)), path.name
        assert best_att == pytest.approx(float(att[best]), abs=1e-4)
        assert float(scores[best]) == pytest.approx(float(scores.max()), abs=1e-4)


def test_chunked_scoring_keeps_transcripts(rec):
    vocab = Vocabulary(an4_phrases(300))
    texts = {p.name: rec.transcribe_file(p, vocab, attention=False).text for p in sorted(SAMPLES.glob("*.wav"))}
    small = {p.name: rec.transcribe_file(p, Vocabulary(DIGITS + COMMANDS), attention=False).text
             for p in sorted(SAMPLES.glob("*.wav"))}
    assert sum(texts[k] == small[k] for k in texts) >= len(texts) - 1, (texts, small)


def test_more_phrases_than_the_cap_are_refused_in_one_line(tmp_path):
    words = DIGITS + COMMANDS
    lines = [" ".join(c) for c in itertools.islice(itertools.product(words, repeat=4), MAX_PHRASES + 1)]
    Vocabulary(lines[:MAX_PHRASES])  # up to the cap: fine
    f = tmp_path / "big.txt"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(VocabularyError) as err:
        Vocabulary.from_file(f)
    msg = str(err.value)
    assert "\n" not in msg and "big.txt" in msg and f"{MAX_PHRASES:,}" in msg


def test_a_phrase_longer_than_the_model_takes_names_its_line(rec, tmp_path):
    limit = rec.model.cfg.max_text_len
    f = tmp_path / "words.txt"
    f.write_text("# commands\nyes\n\n" + "go " * limit + "\nno\n", encoding="utf-8")
    vocab = Vocabulary.from_file(f)  # the vocabulary does not know the model
    with pytest.raises(VocabularyError, match=rf"words.txt, line 4: .*at most {limit}\.$"):
        rec.transcribe_file(SAMPLES / "sc_yes_03401e93.wav", vocab)
    ok = Vocabulary(["yes", "go " * (limit // 3)])
    assert rec.transcribe_file(SAMPLES / "sc_yes_03401e93.wav", ok, attention=False).text == "yes"


def test_a_two_million_character_line_is_refused_not_a_segfault(tmp_path):
    f = tmp_path / "huge.txt"
    f.write_text("yes\nno\n" + "a" * 2_000_000 + "\n", encoding="utf-8")
    script = textwrap.dedent(f"""
        from engine.decode.recognizer import SaysoRecognizer
        from engine.decode.vocabulary import Vocabulary, VocabularyError
        rec = SaysoRecognizer.from_checkpoint({str(bundled_model())!r})
        try:
            rec.transcribe_file({str(SAMPLES / 'sc_yes_03401e93.wav')!r}, Vocabulary.from_file({str(f)!r}))
        except VocabularyError as exc:
            print(exc)
            raise SystemExit(2)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.strip().splitlines() == [
        "huge.txt, line 3: the phrase is 2,000,000 characters long; the model takes at most 256."]
