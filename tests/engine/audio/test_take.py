"""engine.audio.take: takes streamed to disk while they record, and their recovery
after a crash, on real speech (Speech Commands), a real full disk (a tiny tmpfs)
and a real write error (RLIMIT_FSIZE)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio.io import SAMPLE_RATE, load_audio
from engine.audio.take import (
    HEADER_BYTES,
    TakeError,
    TakeWriter,
    find_unfinished,
    recover,
)
from tests.helpers import ROOT, speech_phrase, tiny_tmpfs


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """About 4 s of real speech ("yes no up down"), int16 at 16 kHz."""
    return speech_phrase()


def as_float(pcm: np.ndarray) -> np.ndarray:
    return (pcm.astype(np.float32) / 32768.0).astype(np.float32)


def chunks(audio: np.ndarray, sizes=(320, 241, 1024, 17, 4800)):
    """Uneven chunks, as read_new() hands them out."""
    i, k = 0, 0
    while i < len(audio):
        n = sizes[k % len(sizes)]
        yield audio[i:i + n]
        i += n
        k += 1


def partial_pcm(path: Path) -> np.ndarray:
    """The samples a partial take file holds (an odd trailing byte ignored)."""
    data = path.read_bytes()[HEADER_BYTES:]
    return np.frombuffer(data[:len(data) // 2 * 2], dtype="<i2")


def read_wav(path: Path) -> np.ndarray:
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype, info.format) == (SAMPLE_RATE, 1, "PCM_16", "WAV")
    data, rate = sf.read(str(path), dtype="int16")
    assert len(data) == info.frames
    return data


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------ writing


def test_streams_while_recording_and_finishes_bit_exact(tmp_path, speech):
    takes = tmp_path / "takes"
    w = TakeWriter(takes, device_name="pulse")
    assert w.path.name == f"{w.take_id}.partial.wav" and w.path.parent == takes
    meta = json.loads(w.sidecar_path.read_text())
    assert meta["sample_rate"] == SAMPLE_RATE and meta["device"] == "pulse"
    assert meta["started"] == w.started and "T" in meta["started"]
    audio = as_float(speech)
    written = 0
    for c in chunks(audio):
        w.write(c)
        written += len(c)
        # on disk (in the kernel) as soon as write() returns: a kill -9 loses nothing written
        assert w.path.stat().st_size == HEADER_BYTES + 2 * written
    np.testing.assert_array_equal(partial_pcm(w.path), speech)
    assert w.samples == len(speech) and w.duration == pytest.approx(len(speech) / SAMPLE_RATE)

    path = w.finish()
    assert path == takes / f"{w.take_id}.wav" and w.finished
    assert files(takes) == [path.name]  # partial file and sidecar are gone
    np.testing.assert_array_equal(read_wav(path), speech)
    np.testing.assert_array_equal(load_audio(path), audio)  # the app opens it like any file
    assert w.finish() == path  # idempotent
    with pytest.raises(TakeError, match="finished"):
        w.write(audio[:10])


def test_fsyncs_at_least_every_flush_interval(tmp_path, speech, monkeypatch):
    synced_at: list[int] = []
    real = getattr(os, "fdatasync", os.fsync)
    w = TakeWriter(tmp_path, flush_seconds=0.25)

    def spy(fd):
        if fd == w._fd:
            synced_at.append(w.samples)
        return real(fd)

    monkeypatch.setattr(os, "fdatasync" if hasattr(os, "fdatasync") else "fsync", spy)
    for c in chunks(as_float(speech), sizes=(240, 320, 160)):
        w.write(c)
    gaps = np.diff([0] + synced_at)
    assert len(synced_at) >= len(speech) // 4000 - 1
    assert gaps.max() <= 0.25 * SAMPLE_RATE + 320  # the interval plus at most one chunk
    w.flush()
    assert synced_at[-1] == len(speech)
    w.finish()


def test_context_manager_finishes_or_keeps_the_partial(tmp_path, speech):
    with TakeWriter(tmp_path, take_id="ok") as w:
        w.write(as_float(speech[:8000]))
    assert files(tmp_path) == ["ok.wav"]
    with pytest.raises(KeyboardInterrupt):
        with TakeWriter(tmp_path, take_id="cut") as w:
            w.write(as_float(speech[:8000]))
            raise KeyboardInterrupt
    assert files(tmp_path) == ["cut.partial.json", "cut.partial.wav", "ok.wav"]
    with pytest.raises(TakeError, match="already exists"):
        TakeWriter(tmp_path, take_id="ok")


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError):
        TakeWriter(tmp_path, flush_seconds=0)
    w = TakeWriter(tmp_path)
    with pytest.raises(ValueError):
        w.write(np.zeros((10, 2), np.float32))
    w.write(np.zeros(0, np.float32))  # nothing new: fine
    w.write(np.array([2.0, -3.0, np.nan], np.float32))  # clipped, NaN → 0
    w.discard()
    assert files(tmp_path) == []


def test_takes_folder_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(TakeError, match="takes folder could not be created") as err:
        TakeWriter(blocker / "takes")
    assert "Traceback" not in str(err.value)


def test_engine_take_does_not_import_qt():
    code = ("import sys, engine.audio.take; "
            "print(any(m.startswith(('PySide6', 'PyQt')) for m in sys.modules), 'sounddevice' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# ------------------------------------------------------------------ recovery


def test_abandoned_take_is_found_and_recovered(tmp_path, speech):
    w = TakeWriter(tmp_path, device_name="USB mic")
    w.write(as_float(speech))
    w.close()  # as if the process died: no finish()
    [u] = find_unfinished(tmp_path)
    assert (u.take_id, u.samples, u.sample_rate, u.device_name, u.problem) == (
        w.take_id, len(speech), SAMPLE_RATE, "USB mic", None)
    assert u.started == w.started and u.duration == pytest.approx(len(speech) / SAMPLE_RATE)
    assert files(tmp_path) == [w.path.name.replace(".wav", ".json"), w.path.name]  # find is read-only
    path = recover(u)
    assert path == tmp_path / f"{w.take_id}.wav"
    np.testing.assert_array_equal(read_wav(path), speech)
    assert files(tmp_path) == [path.name]
    assert find_unfinished(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="no flock")
def test_a_take_still_recording_is_not_listed(tmp_path, speech):
    w = TakeWriter(tmp_path)
    w.write(as_float(speech[:16000]))
    assert find_unfinished(tmp_path) == []  # live: locked by its writer
    w.close()
    assert [u.take_id for u in find_unfinished(tmp_path)] == [w.take_id]


def test_odd_trailing_byte_torn_header_and_no_sidecar(tmp_path, speech):
    w = TakeWriter(tmp_path, take_id="torn")
    w.write(as_float(speech))
    w.close()
    with open(w.path, "r+b") as fh:  # a crash mid-sample and a scribbled header
        fh.write(b"\x00" * HEADER_BYTES)
        fh.seek(0, os.SEEK_END)
        fh.write(b"\x7f")
    w.sidecar_path.unlink()
    [u] = find_unfinished(tmp_path)
    assert u.problem == "no sidecar" and u.sidecar is None
    assert u.sample_rate == SAMPLE_RATE and u.samples == len(speech)  # the half sample does not count
    path = recover(u)
    np.testing.assert_array_equal(read_wav(path), speech)
    assert files(tmp_path) == ["torn.wav"]


def test_corrupt_sidecar_rate_from_header_and_name_clash(tmp_path, speech):
    w = TakeWriter(tmp_path, take_id="x", sample_rate=8_000)
    w.write(as_float(speech[:8000]))
    w.close()
    w.sidecar_path.write_text("{not json")
    (tmp_path / "x.wav").write_bytes(b"someone else's file")
    [u] = find_unfinished(tmp_path)
    assert u.problem.startswith("unreadable sidecar") and u.sample_rate == 8_000
    path = recover(u)
    assert path.name == "x-recovered.wav"
    assert (tmp_path / "x.wav").read_bytes() == b"someone else's file"
    data, rate = sf.read(str(path), dtype="int16")
    assert rate == 8_000
    np.testing.assert_array_equal(data, speech[:8000])


def test_empty_and_corrupt_partials_are_removed_without_crashing(tmp_path):
    # a take killed before its first sample: header and sidecar only
    w = TakeWriter(tmp_path, take_id="a-empty")
    w.close()
    # a file torn inside its header, no sidecar
    (tmp_path / "b-torn.partial.wav").write_bytes(b"RIFF\x00\x00")
    # one lone byte of audio: not even one sample
    (tmp_path / "c-byte.partial.wav").write_bytes(b"\x00" * HEADER_BYTES + b"\x01")
    # a sidecar whose audio file is gone
    (tmp_path / "d-orphan.partial.json").write_text('{"sample_rate": 16000}')
    # a sidecar that is not an object, and garbage instead of a header
    (tmp_path / "e-junk.partial.json").write_text("[1, 2]")
    (tmp_path / "e-junk.partial.wav").write_bytes(bytes(range(256)) * 4)

    found = {u.take_id: u for u in find_unfinished(tmp_path)}
    assert sorted(found) == ["a-empty", "b-torn", "c-byte", "d-orphan", "e-junk"]
    for name in ("a-empty", "b-torn", "c-byte", "d-orphan"):
        assert found[name].samples == 0 and "holds no audio" in found[name].problem
        assert recover(found[name]) is None
    junk = found["e-junk"]
    assert junk.samples == (1024 - HEADER_BYTES) // 2 and junk.sample_rate == SAMPLE_RATE
    assert junk.problem.startswith("unreadable sidecar")
    path = recover(junk)  # garbage, but it is what was on disk: kept as a valid WAV
    assert len(read_wav(path)) == junk.samples
    assert files(tmp_path) == ["e-junk.wav"]
    assert find_unfinished(tmp_path / "missing") == []


# ------------------------------------------------------------------ disk trouble


def test_disk_full_keeps_what_is_on_disk_and_still_finishes(tmp_path, speech):
    with tiny_tmpfs(tmp_path / "disk", 64 * 1024) as disk:
        w = TakeWriter(disk, device_name="pulse")
        audio = as_float(speech)  # 128 kB of PCM: more than the disk holds
        with pytest.raises(TakeError) as err:
            for c in chunks(audio):
                w.write(c)
        message = str(err.value)
        assert "disk is full" in message and "kept" in message and str(disk) in message
        assert "Traceback" not in message and "Errno" not in message
        assert w.failed and w.error == message
        assert 0.5 * SAMPLE_RATE < w.samples < len(speech)
        np.testing.assert_array_equal(partial_pcm(w.path), speech[:w.samples])
        with pytest.raises(TakeError, match="disk is full"):
            w.write(audio[:100])  # refuses, and changes nothing on disk
        assert len(partial_pcm(w.path)) == w.samples

        path = w.finish()  # in place: needs no free space
        np.testing.assert_array_equal(read_wav(path), speech[:w.samples])

        # a new take on the full disk: a clear error, nothing left behind
        with pytest.raises(TakeError, match="disk is full"):
            TakeWriter(disk)
        assert files(disk) == [path.name]


RLIMIT_SCRIPT = textwrap.dedent("""
    import json, resource, signal, sys
    import numpy as np
    from engine.audio.take import TakeError, TakeWriter, HEADER_BYTES
    audio = np.load(sys.argv[2])
    w = TakeWriter(sys.argv[1], take_id="limited")
    limit = HEADER_BYTES + 2 * 20_000 + 1          # room for 20000.5 samples
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    out = {"error": None}
    try:
        for i in range(0, len(audio), 700):
            w.write(audio[i:i + 700])
    except TakeError as exc:
        out = {"error": str(exc), "samples": w.samples, "failed": w.failed}
    print(json.dumps(out), flush=True)
    import os; os._exit(0)   # die without finishing
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE semantics")
def test_any_write_error_is_a_take_error_and_a_torn_sample_is_dropped(tmp_path, speech):
    np.save(tmp_path / "speech.npy", as_float(speech))
    takes = tmp_path / "takes"
    r = subprocess.run([sys.executable, "-c", RLIMIT_SCRIPT, str(takes), str(tmp_path / "speech.npy")],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["failed"] and out["samples"] == 20_000
    assert "could not be saved" in out["error"] and "kept" in out["error"]
    assert (takes / "limited.partial.wav").stat().st_size == HEADER_BYTES + 40_001  # half a sample
    [u] = find_unfinished(takes)
    assert u.samples == 20_000 and u.problem is None
    np.testing.assert_array_equal(read_wav(recover(u)), speech[:20_000])
