"""``sayso transcribe --model DIR`` and ``sayso train --resume`` on broken checkpoints: one line, exit 2."""
import json

import pytest

from tests.engine.test_cli import sayso
from tests.engine.train.broken_checkpoints import BROKEN, broken_checkpoint
from tests.helpers import SAMPLES, bundled_model


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_transcribe_with_an_invalid_checkpoint_is_one_line(tmp_path, case):
    """Issue 14 item 5: each broken checkpoint (before: a traceback, or decoding with it) is refused."""
    bundled_model()
    folder = broken_checkpoint(case, tmp_path)
    out = sayso("transcribe", "--model", folder, SAMPLES / "sc_go_0f250098.wav")
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("sayso: error: ") and out.stderr.count("\n") == 1, out.stderr
    assert BROKEN[case][1] in out.stderr and "Traceback" not in out.stderr


def test_job_file_with_bad_model_sizes_is_one_line(tmp_path):
    """Issue 14 item 5: negative or odd sizes in a job file's [model] (before: RuntimeError/AssertionError)."""
    for line, msg in [("d_model = -64", "[model] d_model must be a positive integer, got -64"),
                      ("encoder_heads = 5", "[model] encoder_heads (5) must divide d_model (144)")]:
        job = tmp_path / "job.toml"
        job.write_text(f'train = "m.jsonl"\ndev = "m.jsonl"\nout = "run"\n[model]\n{line}\n')
        out = sayso("train", "--config", job)
        assert out.returncode == 2 and out.stderr.strip() == f"sayso: error: job.toml: {msg}", out.stderr


def test_train_on_a_full_disk_is_one_line(tmp_path):
    """Issue 14 item 7 (before: a SafetensorError traceback). The file size limit (RLIMIT_FSIZE, SIGXFSZ
    ignored) makes the kernel refuse the checkpoint's weights as a full disk would (EFBIG instead of ENOSPC,
    the same error path: no small file system can be mounted here)."""
    import resource
    import signal
    import subprocess
    import sys

    from tests.engine.test_cli import _tiny_job
    from tests.helpers import ROOT, shared_data

    clips = sorted((shared_data() / "fsdd" / "recordings").glob("*_jackson_1*.wav"))[:8]
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(
        {"audio_filepath": str(c), "text": words[int(c.name[0])], "duration": 0.5}) + "\n" for c in clips))
    job = _tiny_job(tmp_path)

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    out = subprocess.run([sys.executable, "-m", "app.launcher", "train", "--config", str(job)], capture_output=True,
                         text=True, cwd=ROOT, timeout=300, preexec_fn=limit)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("sayso: error:") == 1, out.stderr  # after tqdm's bar, which ends in "\r"
    error = out.stderr.split("sayso: error: ")[1].splitlines()[0]
    assert error.startswith("cannot write the checkpoint ") and error.endswith(": File too large"), error
    assert "Traceback" not in out.stderr
    assert not [p for p in (tmp_path / "run").iterdir() if ".tmp" in p.name]
