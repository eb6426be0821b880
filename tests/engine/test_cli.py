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
