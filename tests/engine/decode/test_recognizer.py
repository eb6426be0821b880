"""The bundled model on real clips from speakers it never heard."""
import numpy as np
import pytest

from engine.audio.errors import AudioError
from engine.audio.io import SAMPLE_RATE, load_audio
from engine.decode.recognizer import UNIT_PAD_S, SaysoRecognizer
from engine.decode.vocabulary import Vocabulary
from engine.recipes.datasets import COMMANDS, DIGITS
from tests.helpers import SAMPLES, bundled_model


def _expected(path) -> str:
    kind, word = path.stem.split("_")[:2]
    return DIGITS[int(word)] if kind == "fsdd" else word


@pytest.fixture(scope="module")
def rec():
    return SaysoRecognizer.from_checkpoint(bundled_model())


def test_constrained_decoding_gets_held_out_samples_right(rec):
    vocab = Vocabulary(DIGITS + COMMANDS)
    paths = sorted(SAMPLES.glob("*.wav"))
    right = [rec.transcribe_file(p, vocab).text == _expected(p) for p in paths]
    assert sum(right) >= len(paths) - 1, list(zip([p.name for p in paths], right))


def test_recognition_carries_times_attention_and_embeddings(rec):
    audio = load_audio(SAMPLES / "sc_yes_03401e93.wav")
    r = rec.transcribe(audio, Vocabulary(COMMANDS))
    assert r.text == "yes"
    assert 0 < r.confidence <= 1
    n_frames = int(np.ceil(len(audio) / SAMPLE_RATE / 0.04)) + 1
    layers = rec.model.cfg.decoder_layers
    assert r.attention.shape == (layers, rec.model.cfg.decoder_heads, len("yes") + 1, n_frames)
    assert np.allclose(r.attention.sum(-1), 1.0, atol=1e-3)
    assert r.attention_tokens == ["y", "e", "s", "<eos>"]
    assert [t.token for t in r.tokens] == ["y", "e", "s"]
    starts = [t.start for t in r.tokens]
    assert starts == sorted(starts) and 0 <= starts[0] and r.tokens[-1].end <= r.duration + 0.04
    assert [w.word for w in r.words] == ["yes"]
    assert np.linalg.norm(r.audio_embedding) == pytest.approx(1, abs=1e-4)
    assert np.linalg.norm(r.text_embedding) == pytest.approx(1, abs=1e-4)
    assert r.decode_seconds > 0 and r.rtf == pytest.approx(r.decode_seconds / r.duration)  # speed: benchmarks/
    assert set(r.to_json()) >= {"text", "confidence", "words", "tokens", "model", "rtf"}


def test_audio_text_space_prefers_the_right_transcript(rec):
    wins = 0
    paths = sorted(SAMPLES.glob("sc_*.wav"))
    texts = np.stack([rec.embed_text(c) for c in COMMANDS])
    for p in paths:
        r = rec.transcribe_file(p, attention=False)
        wins += COMMANDS[int(np.argmax(texts @ r.audio_embedding))] == _expected(p)
    assert wins >= len(paths) - 2


def test_long_audio_is_decoded_per_stretch_of_speech_with_absolute_times(rec):
    rec_small = SaysoRecognizer(rec.model, rec.tokenizer, window_s=3.0)
    words = ["yes", "left", "stop", "go"]
    files = {w: next(SAMPLES.glob(f"sc_{w}_*.wav")) for w in words}
    rng = np.random.default_rng(0)
    pauses = [rng.normal(0, 0.002, int(1.5 * SAMPLE_RATE)).astype(np.float32) for _ in words]  # quiet room noise
    audio = np.concatenate([x for w, pause in zip(words, pauses) for x in (load_audio(files[w]), pause)])
    r = rec_small.transcribe(audio, Vocabulary(COMMANDS))
    assert len(r.segments) == 4  # one unit per spoken word; the pauses are not decoded
    assert 0 <= r.segments[0].start and r.segments[-1].end <= len(audio) / SAMPLE_RATE
    assert r.text.split() == words
    for w, timing in zip(words, r.words):
        onset = words.index(w) * (1.0 + 1.5)
        assert onset - UNIT_PAD_S <= timing.start <= onset + 1.0  # CTC spans may reach into the context pad
    assert r.attention.shape[2] == sum(len(s.text) + 1 for s in r.segments)


def test_bad_audio_raises_audio_error(rec):
    with pytest.raises(AudioError, match="too short"):
        rec.transcribe(np.zeros(100, np.float32))
    with pytest.raises(AudioError, match="empty"):
        rec.transcribe(np.zeros(0, np.float32))


def test_digital_silence_is_not_decoded(rec):
    r = rec.transcribe(np.zeros(2 * SAMPLE_RATE, np.float32), Vocabulary(COMMANDS))
    assert r.text == "" and r.words == [] and r.attention_tokens == ["<eos>"]


def test_commands_separated_by_pauses_are_each_recognized(rec):
    rng = np.random.default_rng(0)
    parts = []
    for name in ("sc_left_03401e93", "sc_stop_18f8afd5", "sc_go_0f250098"):
        parts += [load_audio(SAMPLES / f"{name}.wav"), rng.normal(0, 0.002, int(0.3 * SAMPLE_RATE)).astype(np.float32)]
    r = rec.transcribe(np.concatenate(parts), Vocabulary(COMMANDS))
    assert r.text == "left stop go"
    assert [w.word for w in r.words] == ["left", "stop", "go"]


def an4_minute(seconds: float = 60.0) -> tuple[np.ndarray, str]:
    """Real speech: AN4 utterances (sorted by path) in a row, 0.5 s apart, up to ``seconds``; and their transcript."""
    import csv

    from tests.helpers import shared_data

    root = shared_data() / "an4"
    with open(root / "train.tsv", encoding="utf-8") as fh:
        rows = sorted(csv.DictReader(fh, delimiter="\t"), key=lambda r: r["path"])
    gap = np.zeros(SAMPLE_RATE // 2, np.float32)
    parts, refs, n = [], [], 0
    for row in rows:
        a = load_audio(root / row["path"])
        if n + len(a) + len(gap) > seconds * SAMPLE_RATE:
            break
        parts += [a, gap]
        refs.append(row["transcript"])
        n += len(a) + len(gap)
    return np.concatenate(parts), " ".join(refs)


def test_a_minute_of_speech_with_a_transcript_longer_than_the_text_encoder(rec):
    """Transcripts past ``max_text_len`` (256 characters) are embedded piece by piece instead of crashing."""
    audio, reference = an4_minute()
    limit = rec.model.cfg.max_text_len
    assert len(audio) / SAMPLE_RATE > 55 and len(reference) > limit
    r = rec.transcribe(audio, attention=False)
    assert len(r.text) > limit and len(r.segments) > 10
    assert np.linalg.norm(r.text_embedding) == pytest.approx(1, abs=1e-4) and -1 <= r.similarity <= 1
    s = rec.score(audio, reference)
    assert np.isfinite(s.likelihood) and -1 <= s.similarity <= 1
    # the long text's embedding is the length-weighted sum of its ≤ 256-character pieces' embeddings
    cut = reference.rindex(" ", 0, limit + 1)
    head, tail = reference[:cut], reference[cut + 1:]
    assert len(tail) <= limit
    combined = len(head) * rec.embed_text(head) + len(tail) * rec.embed_text(tail)
    assert np.allclose(s.text_embedding, combined / np.linalg.norm(combined), atol=1e-5)
