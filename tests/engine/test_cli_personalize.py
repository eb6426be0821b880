"""`sayso personalize` as a user runs it (a subprocess): both model families, and one clear line for bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT, SAMPLES, bundled_model


def sayso(*args, env=None):
    return subprocess.run([sys.executable, "-m", "app.launcher", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600, env=env)


def user_env(tmp_path) -> dict:
    """A fresh user's environment: an empty data folder (the model registry) and Hugging Face cache."""
    return {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "HF_HUB_CACHE": str(tmp_path / "hf-hub")}


def manifest(path, rows) -> object:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def takes(tmp_path):
    words = ("yes", "left", "stop")
    return manifest(tmp_path / "takes.jsonl", [
        {"audio_filepath": str(next(SAMPLES.glob(f"sc_{w}_*.wav"))), "text": w, "duration": 1.0} for w in words])


def one_error_line(out, *fragments) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sayso: error: "), out.stderr
    assert "Traceback" not in out.stderr and not out.stdout
    for f in fragments:
        assert f in lines[0], lines[0]


def test_a_missing_manifest(tmp_path):
    one_error_line(sayso("personalize", "--base", "sayso-base", "--train", tmp_path / "nope.jsonl", "--out",
                         tmp_path / "me", env=user_env(tmp_path)), "nope.jsonl", "does not exist")


def test_a_bad_manifest_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"audio_filepath": str(SAMPLES / "sc_yes_03401e93.wav"), "text": "yes"}) + "\n{oops\n")
    one_error_line(sayso("personalize", "--base", "sayso-base", "--train", bad, "--out", tmp_path / "me",
                         env=user_env(tmp_path)), "bad.jsonl")


def test_a_take_whose_audio_is_missing(tmp_path):
    m = manifest(tmp_path / "m.jsonl", [{"audio_filepath": str(tmp_path / "gone.wav"), "text": "yes"}])
    one_error_line(sayso("personalize", "--base", "sayso-base", "--train", m, "--out", tmp_path / "me",
                         env=user_env(tmp_path)), "gone.wav")


def test_an_unknown_model(tmp_path):
    one_error_line(sayso("personalize", "--base", "whisper-gigantic", "--train", takes(tmp_path), "--out",
                         tmp_path / "me", env=user_env(tmp_path)), "whisper-gigantic")


def test_an_output_folder_that_is_not_new(tmp_path):
    (tmp_path / "me").mkdir()
    (tmp_path / "me" / "keep.txt").write_text("mine")
    one_error_line(sayso("personalize", "--base", "sayso-base", "--train", takes(tmp_path), "--out",
                         tmp_path / "me", env=user_env(tmp_path)), "already exists")
    assert (tmp_path / "me" / "keep.txt").read_text() == "mine"


def test_a_missing_flag(tmp_path):
    out = sayso("personalize", "--train", takes(tmp_path), "--out", tmp_path / "me", env=user_env(tmp_path))
    assert out.returncode == 2 and "--base" in out.stderr and "Traceback" not in out.stderr


def registered_and_transcribes(out, tmp_path, env) -> str:
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(": ", 1) for line in out.stdout.strip().splitlines())
    model_id, folder = lines["id"], lines["folder"]
    assert folder == str(tmp_path / "me")
    listed = sayso("models", "show", model_id, env=env)
    assert listed.returncode == 0 and model_id in listed.stdout, listed.stderr
    said = sayso("transcribe", "--model", model_id, SAMPLES / "sc_yes_03401e93.wav", env=env)
    assert said.returncode == 0 and said.stdout.strip(), said.stderr
    return model_id


@pytest.mark.slow
def test_personalize_whisper_then_transcribe_with_it(tiny_folder, tmp_path):
    env = user_env(tmp_path)
    out = sayso("personalize", "--base", tiny_folder, "--train", takes(tmp_path), "--out", tmp_path / "me",
                "--steps", "2", env=env)
    registered_and_transcribes(out, tmp_path, env)
    assert (tmp_path / "me" / "model.bin").is_file() and "step 2/2" in out.stderr


@pytest.mark.slow
def test_personalize_the_sayso_model_then_transcribe_with_it(tmp_path):
    bundled_model()
    env = user_env(tmp_path)
    out = sayso("personalize", "--base", "sayso-base", "--train", takes(tmp_path), "--out", tmp_path / "me",
                "--steps", "2", env=env)
    registered_and_transcribes(out, tmp_path, env)
    assert (tmp_path / "me" / "model.safetensors").is_file()
