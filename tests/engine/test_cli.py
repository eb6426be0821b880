"""`sayso` headless commands, run as a user would, in a subprocess."""
import json
import subprocess
import sys

from tests.helpers import ROOT, SAMPLES, bundled_model


def sayso(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "app.launcher", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


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
    assert out.returncode == 1
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
