"""Pseudo-labels from a Whisper teacher, for sequence-level knowledge distillation.

Sequence-level distillation (Kim & Rush, "Sequence-Level Knowledge
Distillation", EMNLP 2016): the teacher's beam-search output is taken as the
target sequence and the student trains on it with its ordinary losses, beside
the true transcripts. Here the teacher is Whisper (``whisper-base`` by
default) run through the project's recognizer
(:class:`engine.whisper.recognizer.WhisperRecognizer`, faster-whisper int8,
from the offline packages: :func:`engine.whisper.sources.assemble`) and the
student is the base recipe (``python -m engine.recipes.base --pseudo-labels
MANIFEST``, weighted by ``SOURCE_WEIGHTS["pseudo"]``).

Sources (:data:`SOURCES`):

- ``librispeech``: ``librispeech_unlabeled`` (351 read utterances, 261
  speakers, about 1.1 h, no transcripts) — speaker ``libri-<id>``;
- ``an4``, ``sc``: the audio of the AN4 / Speech Commands *training* speakers
  only (:func:`engine.recipes.datasets.real_splits`); their true transcripts
  exist, so these pseudo-labels only add the teacher's view of the same audio.
  Whisper writes digit strings as numbers ("412"), which the normalizer reads
  as "four hundred and twelve": AN4 pseudo-labels of digit strings differ from
  how they were said.

The manifest is NeMo JSONL (:mod:`engine.data.manifest`): ``audio_filepath``,
``text`` (normalized by :func:`engine.text.normalize.normalize_text`),
``duration``, ``speaker`` = :data:`engine.recipes.base.PSEUDO_PREFIX` + the
real speaker id, plus ``teacher`` and ``confidence`` (the teacher's calibrated
confidence, 0–1). Lines are appended as they are made, so an interrupted run
resumes where it stopped. Empty transcripts and transcripts longer than the
student's ``max_text_len`` (256 characters) are left out.

Never report a WER against these labels: they are the teacher's guesses.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from engine.data.utterance import Utterance
from engine.paths import cache_dir

SOURCES = ("librispeech", "an4", "sc")
"""The audio :func:`unlabeled` can gather for the teacher."""
MAX_CHARS = 256
"""Longest pseudo-label kept (the student's ``ModelConfig.max_text_len``)."""
PSEUDO_DIR = Path("recipes") / "pseudo"
"""Default folder of the manifests under :func:`engine.paths.cache_dir`."""
PSEUDO_LABELS = "pseudo_labels.jsonl"
"""The teacher's transcripts in a training run's folder (:class:`engine.jobs.specs.TrainJob` ``teacher``,
``sayso train --teacher``)."""

log = logging.getLogger("sayso.distill")


def librispeech_unlabeled(root: Path | None = None) -> list[Utterance]:
    """Every ``librispeech_unlabeled`` FLAC as an utterance without text; speaker ``libri-<id>``
    (the first field of ``<speaker>-<chapter>-<n>.flac``)."""
    import soundfile as sf

    from engine.recipes.datasets import shared_data_dir

    root = (root or shared_data_dir()) / "librispeech_unlabeled"
    out = []
    for p in sorted(root.rglob("*.flac")):
        info = sf.info(str(p))
        out.append(Utterance(p, "", 0.0, info.frames / info.samplerate, f"libri-{p.stem.split('-')[0]}"))
    return out


def unlabeled(sources: list[str]) -> list[Utterance]:
    """The audio of ``sources`` (names of :data:`SOURCES`) for the teacher; for ``an4`` and ``sc``
    only their training speakers' utterances (never a dev or held-out speaker).

    Raises:
        ValueError: an unknown source.
    """
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown source(s) {sorted(unknown)}: choose from {', '.join(SOURCES)}")
    out = librispeech_unlabeled() if "librispeech" in sources else []
    if {"an4", "sc"} & set(sources):
        from engine.recipes.datasets import real_splits

        train = real_splits().train
        for prefix in ("an4", "sc"):
            if prefix in sources:
                out += [u for u in train if u.speaker.startswith(prefix + "-")]
    return out


def project_unlabeled(project) -> list[Utterance]:
    """The unlabeled utterances of a Sayso project (:class:`engine.data.store.Project`) outside its dev and
    test splits — what a teacher may transcribe without touching what the model is scored on.

    Raises:
        engine.data.errors.ProjectError: the project cannot be read.
    """
    from engine.data.query import UtteranceFilter

    return [u for u in project.export_items(UtteranceFilter(status="unlabeled")) if u.split not in ("dev", "test")]


def pseudo_label(utterances: list[Utterance], out: Path, teacher: str = "whisper-base", threads: int = 2,
                 progress=None, folder: Path | None = None) -> Path:
    """Transcribe ``utterances`` with ``teacher`` and append them to the manifest ``out``.

    ``folder`` is the teacher's model folder, of either family (default: :func:`~engine.whisper.sources.assemble`
    of the offline Whisper package ``teacher`` into the user's models folder); ``teacher`` names it in the rows.

    Utterances already in ``out`` (same audio file and start) are skipped, so a second call resumes.
    ``progress(done, total)`` is called after each one.

    Returns:
        ``out``.

    Raises:
        engine.train.checkpoint.CheckpointError: the teacher cannot be assembled or loaded
            (:class:`~engine.whisper.folder.WhisperFolderError` for a Whisper folder).
    """
    from engine.audio.io import load_segment
    from engine.decode.families import load_recognizer
    from engine.recipes.base import PSEUDO_PREFIX
    from engine.whisper.sources import assemble

    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.exists():
        for line in out.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                done.add((row["audio_filepath"], float(row.get("offset", 0.0))))
    todo = [u for u in utterances if (str(u.audio_path), float(u.start or 0.0)) not in done]
    rec = load_recognizer(folder or assemble(teacher), threads=threads)
    audio_s = decode_s = 0.0
    with open(out, "a", encoding="utf-8") as fh:
        for i, u in enumerate(todo):
            audio = load_segment(u.audio_path, u.start, u.end, min_seconds=0.0)
            t0 = time.perf_counter()
            r = rec.transcribe(audio, None, attention=False)
            decode_s += time.perf_counter() - t0
            audio_s += len(audio) / 16000
            row = {"audio_filepath": str(u.audio_path), "text": r.text, "duration": len(audio) / 16000,
                   "speaker": PSEUDO_PREFIX + (u.speaker or "unknown"), "teacher": teacher,
                   "confidence": round(float(r.confidence), 4)}
            if u.start:
                row["offset"] = u.start
            if r.text and len(r.text) <= MAX_CHARS:
                fh.write(json.dumps(row) + "\n")
                fh.flush()
            else:
                log.info("left out %s: %d characters", u.audio_path.name, len(r.text))
            if progress is not None:
                progress(i + 1, len(todo))
    if audio_s:
        log.info("%s: %.0f s of audio at RTF %.3f", teacher, audio_s, decode_s / audio_s)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m engine.recipes.distill", description=__doc__.splitlines()[0])
    p.add_argument("--sources", default="librispeech", help=f"comma-separated, of {', '.join(SOURCES)}")
    p.add_argument("--teacher", default="whisper-base", help="a Whisper model of the offline packages")
    p.add_argument("--out", type=Path, default=None,
                   help="the manifest (default: <cache>/recipes/pseudo/<teacher>-<sources>.jsonl)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, default=0, help="transcribe at most this many (0: all)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    out = args.out or cache_dir() / PSEUDO_DIR / f"{args.teacher}-{'-'.join(sources)}.jsonl"
    utts = unlabeled(sources)
    if args.limit:
        utts = utts[: args.limit]

    def show(done: int, total: int) -> None:
        if done % 10 == 0 or done == total:
            log.info("%d/%d", done, total)

    pseudo_label(utts, out, args.teacher, args.threads, show)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
