"""Scoring a recognizer on a manifest: WER and CER (jiwer), worst utterances first."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import jiwer

from engine.data.utterance import Utterance
from engine.decode.protocol import Recognizer
from engine.decode.vocabulary import Vocabulary
from engine.text.normalize import normalize_text
from engine.train.dataset import load_utterance


@dataclass
class UtteranceScore:
    """One utterance's row of the report: its audio file (named as in manifests, for the report's JSON),
    speaker ("" when unknown), normalized reference, hypothesis, WER, CER and the recognizer's confidence."""

    audio_filepath: str
    speaker: str
    reference: str
    hypothesis: str
    wer: float
    cer: float
    confidence: float


@dataclass
class EvalReport:
    """Corpus-level ``wer``/``cer`` (errors over reference words/characters), ``rtf`` = decode s / audio s."""

    wer: float
    cer: float
    rtf: float
    audio_seconds: float
    utterances: list[UtteranceScore]

    def worst(self, n: int = 10) -> list[UtteranceScore]:
        return sorted(self.utterances, key=lambda u: (u.wer, u.cer), reverse=True)[:n]


def evaluate(recognizer: Recognizer, utterances: list[Utterance], vocabulary: Vocabulary | None = None,
             progress: Callable[[int, int], None] | None = None) -> EvalReport:
    """Transcribe every utterance and score it against its normalized transcript."""
    refs, hyps, rows = [], [], []
    audio_s = decode_s = 0.0
    for i, u in enumerate(utterances):
        audio = load_utterance(u)
        t0 = time.perf_counter()
        r = recognizer.transcribe(audio, vocabulary, attention=False)
        decode_s += time.perf_counter() - t0
        audio_s += r.duration
        ref = normalize_text(u.text)
        refs.append(ref)
        hyps.append(r.text)
        rows.append(UtteranceScore(str(u.audio_path), u.speaker or "", ref, r.text,
                                   jiwer.wer(ref, r.text) if ref else float(bool(r.text)),
                                   jiwer.cer(ref, r.text) if ref else float(bool(r.text)), r.confidence))
        if progress:
            progress(i + 1, len(utterances))
    return EvalReport(float(jiwer.wer(refs, hyps)), float(jiwer.cer(refs, hyps)), decode_s / max(audio_s, 1e-9), audio_s, rows)
