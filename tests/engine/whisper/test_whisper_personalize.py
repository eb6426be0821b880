"""Whisper personalization (engine/whisper/personalize.py) with the real tiny.en model on a real FSDD speaker.

A few LoRA steps on one take per digit of *nicolas* (never heard by Whisper's training as far as anyone
knows; held out of every Sayso figure), merged, exported by CTranslate2's own converter (int8) and loaded by
the recognizer as it transcribes. The adapters must have done something: the exported model's likelihood
of the takes' transcripts, and of held-out takes of the same speaker, rises.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from engine.decode.vocabulary import Vocabulary
from engine.jobs.events import JobFailed, JobFinished, LogLine, Progress
from engine.jobs.queue import JobRunner
from engine.jobs.specs import PersonalizeJob
from engine.recipes.datasets import DIGITS, fsdd
from engine.registry.index import ModelRegistry
from engine.resources import SAMPLES
from engine.train.dataset import load_utterance
from engine.train.errors import TrainingError
from engine.whisper.folder import MODEL_FILE, TOKENIZER_FILE, check_folder
from engine.whisper.personalize import (
    LINEAGE_FILE,
    WhisperPersonalizeConfig,
    personalize_whisper,
    phrase_text,
    register_personalized,
)
from engine.whisper.recognizer import PAD_S, WhisperRecognizer
from tests.helpers import shared_data

pytestmark = pytest.mark.slow  # loads Whisper in torch and CTranslate2 (tiny.en: seconds)

QUICK = WhisperPersonalizeConfig(steps=12, lr=2e-3, batch_takes=10, batch_rehearse=2)
"""A few steps at a higher rate than the recipe's: enough to move the likelihoods in a test."""


def nicolas(index: int) -> list:
    """One take per digit of FSDD nicolas (take ``index`` of each digit)."""
    shared_data()
    takes = [u for u in fsdd() if u.speaker == "fsdd-nicolas" and u.audio_path.stem.endswith(f"_{index}")]
    assert sorted(u.text for u in takes) == sorted(DIGITS)
    return takes


def rehearsal() -> list:
    from engine.data.utterance import Utterance

    return [Utterance(p, "") for p in sorted(SAMPLES.glob("sc_*.wav"))[:2]]


def likelihood(rec: WhisperRecognizer, takes) -> float:
    """Mean per-token log-likelihood of each take's digit, the audio padded as the phrase choice pads it."""
    pad = np.zeros(int(PAD_S * 16000), np.float32)
    return float(np.mean([rec.score(np.concatenate([pad, load_utterance(u), pad]), u.text).likelihood
                          for u in takes]))


@pytest.fixture(scope="module")
def personalized(tiny_folder: Path, tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("personalized") / "nicolas"
    return personalize_whisper(tiny_folder, nicolas(0), out, rehearsal=rehearsal(), cfg=QUICK)


def test_the_adapters_fit_the_takes_and_the_exported_model_transcribes(tiny_folder, personalized) -> None:
    folder, report = personalized
    assert report.steps == 12 and report.takes == 10 and report.rehearsal == 2
    assert report.last_loss < report.first_loss / 2, report.losses
    assert 0 < report.trainable < report.total / 20  # adapters only
    base = WhisperRecognizer.from_checkpoint(tiny_folder)
    mine = WhisperRecognizer.from_checkpoint(folder)
    seen, unseen = nicolas(0), nicolas(1)
    # the exported CTranslate2 model (int8) finds the person's takes likelier than the base model does:
    # its own takes, and takes it was not trained on
    assert likelihood(mine, seen) > likelihood(base, seen) + 0.1
    assert likelihood(mine, unseen) > likelihood(base, unseen)
    vocab = Vocabulary(list(DIGITS))
    right = sum(mine.transcribe(load_utterance(u), vocab).text == u.text for u in unseen)
    assert right >= 8  # tiny.en alone: 9 of these 10
    assert mine.transcribe(load_utterance(unseen[3])).text  # open transcription works too


def test_the_folder_is_complete_safe_and_says_where_it_came_from(tiny_folder, personalized) -> None:
    folder, _ = personalized
    info = check_folder(folder)
    assert info.size_name == check_folder(tiny_folder).size_name
    assert (folder / TOKENIZER_FILE).read_bytes() == (tiny_folder / TOKENIZER_FILE).read_bytes()
    lineage = json.loads((folder / LINEAGE_FILE).read_text())
    assert lineage["base"] == str(tiny_folder) and len(lineage["takes"]) == 10
    assert lineage["config"]["steps"] == 12 and lineage["report"]["steps"] == 12
    assert "personalized by Sayso" in (folder / "MODEL_CARD.md").read_text()
    names = {p.name for p in folder.iterdir()}
    assert MODEL_FILE in names and not {n for n in names if n.endswith((".pt", ".pth", ".pkl", ".safetensors"))}
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no temporary folder left behind
    config = json.loads((folder / "config.json").read_text())
    assert config["alignment_heads"] and config["suppress_ids"]


def test_registered_with_its_lineage(tiny_folder, personalized, tmp_path) -> None:
    folder, report = personalized
    registry = ModelRegistry(tmp_path / "registry", packaged=())
    entry = register_personalized(folder, tiny_folder, nicolas(0), report, registry)
    assert entry.family == "whisper" and entry.parent_path == str(tiny_folder) and entry.train_utterances == 10
    assert entry.data_fingerprint and "12 steps" in entry.notes and entry.name == "nicolas"
    assert registry.get(entry.id).path == folder
    assert registry.recognizer(entry.id).transcribe(load_utterance(nicolas(2)[0]), Vocabulary(list(DIGITS))).text


def test_refusals(tiny_folder, tmp_path) -> None:
    from engine.data.utterance import Utterance

    with pytest.raises(TrainingError, match="at least one take"):
        personalize_whisper(tiny_folder, [], tmp_path / "a")
    with pytest.raises(TrainingError, match="no transcript"):
        personalize_whisper(tiny_folder, [Utterance(SAMPLES / "sc_yes_03401e93.wav", " ")], tmp_path / "b")
    (tmp_path / "c").mkdir()
    with pytest.raises(FileExistsError):
        personalize_whisper(tiny_folder, [Utterance(SAMPLES / "sc_yes_03401e93.wav", "yes")], tmp_path / "c")
    assert phrase_text("call  my sister") == " Call my sister." and phrase_text("") == ""


def test_as_a_job_with_progress_registry_entry_and_cancel(tiny_folder, tmp_path) -> None:
    takes = nicolas(0)
    cfg = WhisperPersonalizeConfig(steps=3, batch_rehearse=0)
    registry = tmp_path / "registry"
    with JobRunner() as runner:
        done = runner.submit(PersonalizeJob(tmp_path / "run", tiny_folder, takes, config=cfg, registry=registry,
                                            name="my voice"))
        events = runner.wait(done, timeout=600)
        assert isinstance(events[-1], JobFinished), events[-1]
        stopped = runner.submit(PersonalizeJob(tmp_path / "stopped", tiny_folder, takes, registry=registry,
                                               config=WhisperPersonalizeConfig(steps=10_000, batch_rehearse=0)))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            e = runner.poll(1.0)
            if isinstance(e, Progress) and e.job_id == stopped and e.stage == "personalize":
                break
        assert runner.cancel(stopped)
        cancelled = runner.wait(stopped, timeout=120)
    finished = events[-1]
    assert finished.checkpoint == str(tmp_path / "run" / "model")
    stages = {e.stage for e in events if isinstance(e, Progress)}
    assert stages == {"loading", "personalize"}
    log = "\n".join(e.message for e in events if isinstance(e, LogLine))
    assert "personalizing Whisper" in log and "registered as" in log
    entry = ModelRegistry(registry, packaged=()).get(finished.report["model_id"])
    assert entry.name == "my voice" and entry.path == Path(finished.checkpoint) and entry.train_utterances == 10
    assert isinstance(cancelled[-1], JobFailed) and cancelled[-1].kind == "cancelled"
    assert not (tmp_path / "stopped" / "model").exists()


def test_the_cached_top_layers_give_what_the_whole_encoder_gives(tiny_folder) -> None:
    """A step runs only the adapted layers over the take's frames, attending to the cached keys and
    values of the rest of the 30 s window: before any adaptation that must be the encoder's own output."""
    import torch

    from engine.whisper.personalize import _top_layer, _TorchCache
    from engine.whisper.torch_model import load_torch_whisper

    tw = load_torch_whisper(tiny_folder)
    tw.model.set_attn_implementation("sdpa")
    audio = load_utterance(nicolas(1)[3])
    top, frames = 2, 80
    clip = _TorchCache(tw, top, frames)(audio, [1, 2])
    encoder = tw.model.model.encoder
    n = len(encoder.layers)
    with torch.inference_mode():
        x = clip.x[None]
        for i, j in enumerate(range(n - top, n)):
            x = _top_layer(encoder.layers[j], x, clip.kv[i][0][None], clip.kv[i][1][None])
        cached = encoder.layer_norm(x)[0]
        whole = encoder(tw.mel(audio)).last_hidden_state[0, :frames]
    assert cached.shape == whole.shape == (frames, tw.model.config.d_model)
    assert torch.allclose(cached, whole, atol=2e-3), float((cached - whole).abs().max())
