import pytest

from engine.text.normalize import normalize_text
from engine.text.tokenizer import BLANK, SOS_EOS, CharTokenizer


@pytest.mark.parametrize("raw,norm", [
    ("Yes!", "yes"),
    ("Call 7 now", "call seven now"),
    ("42", "forty two"),
    ("Don't  STOP,   go-left", "don't stop go left"),
    ("Café Ünïcode", "cafe unicode"),
    ("   ", ""),
])
def test_normalize(raw, norm):
    assert normalize_text(raw) == norm


def test_tokenizer_round_trip_and_specials():
    tok = CharTokenizer()
    ids = tok.encode("go left")
    assert BLANK not in ids and SOS_EOS not in ids
    assert tok.decode(ids) == "go left"
    assert tok.decode([BLANK, SOS_EOS] + ids) == "go left"
    again = CharTokenizer.from_json(tok.to_json())
    assert again.symbols == tok.symbols and again.vocab_size == 31


def test_unknown_characters_map_to_unk():
    tok = CharTokenizer()
    assert tok.decode(tok.encode("a#b")) == "ab"
