"""Split a long recording of a project into utterances at its pauses (WebRTC VAD)."""
from __future__ import annotations

from engine.audio.io import SAMPLE_RATE, load_audio
from engine.audio.vad import speech_units
from engine.data.errors import ProjectError

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
