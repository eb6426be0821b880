"""Comparing two real checkpoints on the same real clips: the bundled model and a personalized copy of it."""
from __future__ import annotations

import pytest
import torch

from engine.data.manifest import write_manifest
from engine.data.utterance import Utterance
from engine.decode.vocabulary import Vocabulary
from engine.registry.index import BUILTIN_ID, ModelRegistry, RegistryError, fingerprint, test_set_name
from engine.resources import BUNDLED_MODEL
from engine.train.checkpoint import save_checkpoint
from engine.train.personalize import PersonalizeConfig, personalize
from tests.engine.registry.model_helpers import copy_checkpoint
from tests.helpers import SAMPLES

pytestmark = pytest.mark.slow  # fine-tunes and decodes the real model (about 20 s)

TAKES = [("sc_yes_03401e93.wav", "yes"), ("sc_no_03401e93.wav", "no"), ("sc_left_03401e93.wav", "left")]


@pytest.fixture(scope="module")
def personalized(tmp_path_factory):
    """The bundled model fine-tuned for a few steps on 3 real clips, saved as a checkpoint; and its takes."""
    torch.set_num_threads(2)
    takes = [Utterance(SAMPLES / name, text, speaker="me") for name, text in TAKES]
    model, tokenizer, meta, report = personalize(BUNDLED_MODEL, takes, cfg=PersonalizeConfig(steps=4, batch_base=0, lr=2e-3))
    # saved as engine.jobs.runners saves a personalization: the parent's meta (figures too) + "personalized"
    path = save_checkpoint(tmp_path_factory.mktemp("personal") / "model", model, tokenizer,
                           {**meta, "personalized": {"from": str(BUNDLED_MODEL), **report.to_json()}})
    return path, takes


def test_compare_bundled_with_its_fine_tuned_copy(tmp_path, personalized, test_utterances):
    ckpt, takes = personalized
    reg = ModelRegistry(tmp_path / "reg")
    mine = reg.register(ckpt, "me", parent=BUILTIN_ID, train_data=takes, copy=True)
    assert mine.data_fingerprint == fingerprint(takes) and mine.train_utterances == 3
    assert mine.metrics == {}  # the parent's figures in its meta are not this model's

    seen = []
    c = reg.compare(BUILTIN_ID, mine.id, test_utterances, progress=lambda i, n: seen.append((i, n)))
    n = len(test_utterances)
    assert seen[-1] == (2 * n, 2 * n) and len(c.utterances) == n
    assert c.wins_a + c.wins_b + c.ties == n
    assert c.set_name == test_set_name(fingerprint(test_utterances)) == c.set_name
    assert [u.reference for u in c.utterances] == ["yes", "stop", "down", "seven"]
    for u in c.utterances:  # per-utterance wins agree with the per-utterance scores
        assert u.winner == ("a" if (u.wer_a, u.cer_a) < (u.wer_b, u.cer_b) else
                            "b" if (u.wer_b, u.cer_b) < (u.wer_a, u.cer_a) else None)
    assert 0 <= c.report_a.wer <= 1.5 and 0 <= c.report_b.cer <= 1.5
    assert c.report_a.utterances[0].hypothesis == "yes"  # the bundled model hears this held-out "yes"

    # both entries keep the figures, under the same set name, across instances
    again = ModelRegistry(reg.root)
    for entry_id, report in ((BUILTIN_ID, c.report_a), (mine.id, c.report_b)):
        m = again.get(entry_id).metrics[c.set_name]
        assert m["wer"] == pytest.approx(report.wer, abs=1e-6) and m["cer"] == pytest.approx(report.cer, abs=1e-6)
        assert m["utterances"] == n and m["fingerprint"] == fingerprint(test_utterances)
    assert again.get(BUILTIN_ID).metrics["fsdd-heldout (open)"]["wer"] == 0.382  # figures kept beside it

    from engine.registry.export import export_model
    from engine.train.checkpoint import load_checkpoint

    exported = export_model(again.get(mine.id), tmp_path / "exported")
    meta = load_checkpoint(exported)[2]
    assert set(meta["figures"]) == {c.set_name} and meta["name"] == "me"  # its own figures replace the parent's

    js = c.to_json()
    assert js["a"]["id"] == BUILTIN_ID and js["b"]["wins"] == c.wins_b and len(js["per_utterance"]) == n

    # with a vocabulary it is another measurement, stored under another name
    vocab = Vocabulary(["yes", "no", "stop", "down", "seven", "left"])
    cv = reg.compare(mine.id, BUILTIN_ID, test_utterances[:2], vocabulary=vocab)
    assert cv.set_name.startswith(test_set_name(fingerprint(test_utterances[:2]))) and "+vocab-" in cv.set_name
    assert [u.hypothesis_b for u in cv.utterances] == ["yes", "stop"]
    assert {c.set_name, cv.set_name} <= set(ModelRegistry(reg.root).get(mine.id).metrics)


def test_two_copies_of_one_model_tie_everywhere(tmp_path, test_utterances):
    reg = ModelRegistry(tmp_path / "reg")
    a = reg.register(copy_checkpoint(tmp_path / "a"), "copy a")
    b = reg.register(copy_checkpoint(tmp_path / "b"), "copy b")
    manifest = write_manifest(tmp_path / "test.jsonl", test_utterances[:2])
    c = reg.compare(a.id, b.id, manifest)  # a manifest path works too
    assert c.ties == 2 and c.wins_a == c.wins_b == 0 and c.winner is None
    assert c.report_a.wer == c.report_b.wer


def test_compare_errors(tmp_path, test_utterances):
    reg = ModelRegistry(tmp_path / "reg")
    gone = reg.register(copy_checkpoint(tmp_path / "gone"), "gone")
    with pytest.raises(RegistryError, match="at least one test utterance"):
        reg.compare(BUILTIN_ID, gone.id, [])
    with pytest.raises(RegistryError, match="No model 'ghost'"):
        reg.compare(BUILTIN_ID, "ghost", test_utterances)
    (tmp_path / "gone" / "model.safetensors").unlink()
    with pytest.raises(RegistryError, match=r"'gone-.*' \(gone\): its checkpoint folder .* is missing"):
        reg.compare(BUILTIN_ID, gone.id, test_utterances[:1])
    with pytest.raises(RegistryError, match="Cannot fingerprint"):
        reg.compare(BUILTIN_ID, BUILTIN_ID, [Utterance(tmp_path / "none.wav", "yes")])
