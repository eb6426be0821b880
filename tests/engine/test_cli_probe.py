"""Issue 14's reliability probe, run through the real CLI: every user error is one line, the documented status.

Each case runs ``sayso …`` (or ``sayso models …``) in a subprocess as a user would and asserts: exit
status 2, exactly one line on stderr, starting ``sayso: error:`` (``sayso models: error:``), no
traceback, and never a hang (a FIFO used to block libsndfile forever). Before the fixes of issue 14
items 6 and 8: the FIFO hung; the vocabulary folder, ``--threads 0``/``-1``, the binary and folder
manifests of ``eval`` and the non-UTF-8 training manifest printed tracebacks (status 1); audio errors
exited 1.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.test_cli import user_env
from tests.helpers import ROOT, SAMPLES, bundled_model

CLIP = SAMPLES / "sc_yes_03401e93.wav"


def run(args: list, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.launcher", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, env=user_env(tmp_path))


def _manifest(tmp_path: Path, data: bytes) -> Path:
    (tmp_path / "m.jsonl").write_bytes(data)
    return tmp_path / "m.jsonl"


def _fifo(tmp_path: Path) -> Path:
    os.mkfifo(tmp_path / "pipe.wav")
    return tmp_path / "pipe.wav"


def _socket(tmp_path: Path) -> Path:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(tmp_path / "sock.wav"))  # the file stays after the socket closes
    s.close()
    return tmp_path / "sock.wav"


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    (tmp_path / name).write_bytes(data)
    return tmp_path / name


def _job(tmp_path: Path, text: str) -> Path:
    (tmp_path / "job.toml").write_text(text)
    return tmp_path / "job.toml"


NOT_UTF8 = '{"audio_filepath": "a.wav", "text": "caf\xe9"}\n'.encode("latin-1")
BINARY = b"\xff\xd8\xff\xe0\x00\x10JFIF" * 64  # a JPEG's first bytes

# case: (args given tmp_path, text the error line holds)
CASES = {
    "bad audio file": (lambda t: ["transcribe", _file(t, "broken.wav", b"RIFF....WAVEfmt junk")],
                       "broken.wav: not a readable audio file"),
    "missing audio file": (lambda t: ["transcribe", t / "none.wav"], "none.wav: no such file"),
    "FIFO": (lambda t: ["transcribe", _fifo(t)], "pipe.wav: not a regular audio file (a named pipe)"),
    "folder as audio": (lambda t: ["transcribe", t], "not a regular audio file (a folder)"),
    "device as audio": (lambda t: ["transcribe", "/dev/null"], "/dev/null: not a regular audio file (a device)"),
    "socket as audio": (lambda t: ["transcribe", _socket(t)], "not a regular audio file (a socket)"),
    "missing vocabulary": (lambda t: ["transcribe", "--vocabulary", t / "none.txt", CLIP], "no such vocabulary"),
    "vocabulary folder": (lambda t: ["transcribe", "--vocabulary", t, CLIP], "a folder"),
    "binary vocabulary": (lambda t: ["transcribe", "--vocabulary", _file(t, "v.txt", b"\xff\xfe\x00\x81"), CLIP],
                          "not UTF-8"),
    "bad checkpoint folder": (lambda t: ["transcribe", "--model", t, CLIP], "not a Sayso checkpoint"),
    "threads 0": (lambda t: ["transcribe", "--threads", "0", CLIP], "--threads: must be at least 1, got 0"),
    "threads -1": (lambda t: ["transcribe", "--threads", "-1", CLIP], "--threads: must be at least 1, got -1"),
    "threads not a number": (lambda t: ["eval", "m.jsonl", "--threads", "two"], "--threads: expected a whole"),
    "train threads 0": (lambda t: ["train", "--threads", "0"], "--threads: must be at least 1"),
    "unknown flag": (lambda t: ["eval", "--bogus", "m.jsonl"], "unrecognized arguments: --bogus"),
    "eval binary file": (lambda t: ["eval", _manifest(t, BINARY)], "m.jsonl, line 1: not UTF-8"),
    "eval folder": (lambda t: ["eval", t], "a folder, not a manifest"),
    "eval missing manifest": (lambda t: ["eval", t / "none.jsonl"], "none.jsonl: No such file or directory"),
    "non-UTF-8 train manifest": (lambda t: ["train", "--train", _manifest(t, NOT_UTF8), "--dev", t / "m.jsonl",
                                            "--out", t / "run"], "m.jsonl, line 1: not UTF-8 text (byte 41)"),
    "job file not TOML": (lambda t: ["train", "--config", _job(t, "train = [")], "job.toml: not valid TOML"),
    "job file unknown key": (lambda t: ["train", "--config", _job(t, "bogus = 1\n")], "unknown key 'bogus'"),
    "missing job file": (lambda t: ["train", "--config", t / "none.toml"], "no such job file"),
    "output dir is a file": (lambda t: ["transcribe", "--output-dir", _file(t, "f", b""), CLIP], "cannot write there"),
    "models: unknown id": (lambda t: ["models", "show", "nope"], "nope"),
    "models: threads 0": (lambda t: ["models", "compare", "a", "b", "m.jsonl", "--threads", "0"],
                          "--threads: must be at least 1"),
    "models: bad checkpoint": (lambda t: ["models", "register", t, "--name", "x"], "not a Sayso checkpoint"),
    "models: binary manifest": (lambda t: ["models", "compare", "sayso-base", "sayso-base",
                                           _manifest(t, BINARY)], "m.jsonl, line 1: not UTF-8"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_probe_case_is_one_line(tmp_path, case):
    bundled_model()
    make, text = CASES[case]
    args = make(tmp_path)
    out = run(args, tmp_path)
    prefix = "sayso models: error: " if args[0] == "models" else "sayso: error: "
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith(prefix) and out.stderr.count("\n") == 1, out.stderr
    assert text in out.stderr, out.stderr


def test_read_only_output_folder_is_one_line(tmp_path):
    """Transcripts written into a read-only folder (a read-only tmpfs: the tests run as root, who may
    write into any mode-0555 folder)."""
    bundled_model()
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)], capture_output=True)
    if mounted.returncode != 0:
        if os.geteuid() == 0:
            pytest.skip("cannot mount a read-only tmpfs here")
        ro.chmod(0o555)
    try:
        out = run(["transcribe", "--format", "txt", "--output-dir", ro, CLIP], tmp_path)
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", "-l", str(ro)], capture_output=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith("sayso: error: ") and out.stderr.count("\n") == 1, out.stderr
    assert "sc_yes_03401e93.txt" in out.stderr and ("Read-only file system" in out.stderr
                                                    or "Permission denied" in out.stderr), out.stderr


def test_transcribe_goes_on_after_a_bad_file_and_exits_2(tmp_path):
    """The documented status for audio errors: the other files are transcribed, one line per bad file, exit 2."""
    bundled_model()
    os.mkfifo(tmp_path / "pipe.wav")
    out = run(["transcribe", tmp_path / "pipe.wav", CLIP, tmp_path / "none.wav"], tmp_path)
    assert out.returncode == 2, out.stderr
    assert out.stdout.strip() == f"{CLIP}\tyes", out.stdout
    lines = out.stderr.splitlines()
    assert len(lines) == 2 and all(ln.startswith("sayso: error: ") for ln in lines), out.stderr


def test_truncated_wav_is_transcribed_with_one_warning(tmp_path):
    """Issue 14 item 12 (before: transcribed without a word): the header promises 1.00 s, the file holds 0.50 s."""
    bundled_model()
    data = CLIP.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: 44 + 16000])  # the 44-byte header, then 8000 of 16000 frames
    out = run(["transcribe", cut], tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ("sayso: warning: cut.wav: the file is truncated: 0.50 s of the 1.00 s its header "
                          "promises are missing; using the 0.50 s there are.\n")
