"""Whisper live sessions on a real held-out AN4 utterance fed in 20 ms chunks (as fast as possible):
LocalAgreement-2 partials before the final, committed words only grow, finals only with ``partials="none"``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.audio.io import load_audio
from engine.decode.protocol import Final, Partial, StreamSession
from engine.whisper.recognizer import WhisperRecognizer
from engine.whisper.stream import WhisperStream, common_prefix
from tests.helpers import shared_data

pytestmark = pytest.mark.slow

AN4_HELDOUT = "an4/wav/mcel/cen5-mcel-b.flac"  # 3.7 s, "s u n n y v a l e"; mcel is held out of every figure
CHUNK = 320  # 20 ms


@pytest.fixture(scope="module")
def tiny(tiny_folder: Path) -> WhisperRecognizer:
    return WhisperRecognizer.from_checkpoint(tiny_folder, threads=2)


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    pause = np.zeros(8000, np.float32)
    return np.concatenate([pause, load_audio(shared_data() / AN4_HELDOUT), pause, pause])


def feed(stream: WhisperStream, audio: np.ndarray) -> tuple[list, list[list[str]]]:
    """All events, and the committed words after each chunk."""
    events, committed = [], []
    for i in range(0, len(audio), CHUNK):
        events += stream.feed(audio[i: i + CHUNK])
        committed.append(list(stream.committed))
    return events + stream.flush(), committed


def test_whisper_partials_come_before_the_final_and_committed_words_never_change(tiny, audio) -> None:
    stream = WhisperStream(tiny, partials="whisper")
    assert isinstance(stream, StreamSession)
    events, committed = feed(stream, audio)
    partials = [e for e in events if isinstance(e, Partial)]
    assert [type(e) for e in events] == [Partial] * len(partials) + [Final] and len(partials) >= 2
    final = events[-1]
    assert final.text == "s u n n y v a l e" and final.index == 0
    assert all(p.index == 0 and p.start == final.start and p.compute_seconds > 0 for p in partials)
    ends = [p.end for p in partials]
    assert ends == sorted(ends) and ends[1] - ends[0] >= stream.partial_interval_s - 0.02
    # no partial is decoded while the VAD hears the pause that ends the utterance
    assert all(p.end <= final.speech_end + 0.02 for p in partials)
    # committed words only grow; each partial shows them first; reset once the final is out
    grown = [c for c in committed if c]
    assert grown, "nothing was committed"
    assert all(common_prefix(a, b) == a for a, b in zip(grown, grown[1:]))
    assert grown[-1] == final.text.split()[: len(grown[-1])]  # committed words survive into the final
    assert partials[-1].text.split()[: len(grown[-1])] == grown[-1]
    assert committed[-1] == []


def test_live_sessions_get_whisper_partials_by_default(tiny) -> None:
    assert tiny.stream().partials == "whisper"


def test_no_partials(tiny, audio) -> None:
    events, committed = feed(WhisperStream(tiny, partials="none"), audio)
    assert [type(e) for e in events] == [Final] and events[0].text == "s u n n y v a l e"
    assert not any(committed)


def test_small_model_ctc_partials_beside_whisper_finals(tiny, audio) -> None:
    events, committed = feed(WhisperStream(tiny, partials="ctc"), audio)
    partials = [e for e in events if isinstance(e, Partial)]
    assert partials and isinstance(events[-1], Final) and events[-1].text == "s u n n y v a l e"
    assert all(e.index == 0 for e in events) and not any(committed)


def test_an_unknown_mode_is_refused(tiny) -> None:
    with pytest.raises(ValueError, match="Unknown partials 'beam'"):
        WhisperStream(tiny, partials="beam")
