"""Split a long recording of a project into utterances: at its pauses (WebRTC VAD), or into the
segments a model transcribed (a teacher such as Whisper, which cuts at sentence ends)."""
from __future__ import annotations

from engine.audio.io import SAMPLE_RATE, load_audio
from engine.audio.vad import speech_units
from engine.data.errors import ProjectError
from engine.decode.protocol import Recognition

PAD_S = 0.2
"""Seconds of context kept around each stretch of speech."""
MAX_UTTERANCE_S = 15.0
"""Longer stretches of speech are cut at their quietest points."""


def segment_recording(project, recording_id: int, pad_s: float = PAD_S, max_s: float = MAX_UTTERANCE_S,
                      speaker: str | None = None) -> list[int]:
    """Add one unlabeled utterance per stretch of speech of a recording (one undoable edit).

    Args:
        project: an open :class:`engine.data.store.Project`.
        recording_id: the recording to split.
        pad_s: seconds of context on each side (never past the middle of a pause).
        max_s: longest utterance in seconds.
        speaker: speaker name for every new utterance, or None.

    Returns:
        The new utterance ids, in time order ([] if no speech was found).

    Raises:
        ProjectError: the recording is missing or its audio unreadable.
    """
    rec = project.recording(recording_id)
    try:
        audio = load_audio(rec.file, min_seconds=0.0)
    except Exception as exc:  # AudioError: say which recording
        raise ProjectError(f"Cannot split {rec.path}: {exc}") from None
    spans = [(a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b, speech in speech_units(audio, pad_s, max_s) if speech]
    return project.add_segments(recording_id, spans, f"split {rec.path} into {len(spans)} utterances", speaker)


def add_transcribed_segments(project, recording_id: int, recognition: Recognition,
                             speaker: str | None = None) -> list[int]:
    """Add one draft utterance per segment of a model's transcription of a whole recording
    (one undoable edit): its times, its text as the draft transcript and the recognition's
    confidence (words' mean where the segment has words).

    Args:
        project: an open :class:`engine.data.store.Project`.
        recording_id: the recording ``recognition`` transcribed.
        recognition: a :class:`~engine.decode.protocol.Recognition` of the whole recording
            (``segments`` in seconds into it; empty segments are skipped).
        speaker: speaker name for every new utterance, or None.

    Returns:
        The new utterance ids, in time order ([] if nothing was said).

    Raises:
        ProjectError: the recording is missing, or a segment lies outside it.
    """
    kept = [s for s in recognition.segments if s.text.strip() and s.end > s.start]
    labels = []
    for seg in kept:
        words = [w.confidence for w in recognition.words if seg.start <= w.start < seg.end]
        confidence = sum(words) / len(words) if words else recognition.confidence
        labels.append((seg.text, min(1.0, max(0.0, float(confidence)))))
    rec = project.recording(recording_id)
    return project.add_segments(recording_id, [(s.start, s.end) for s in kept],
                                f"split {rec.path} into {len(kept)} utterances transcribed by {recognition.model}",
                                speaker, labels)
