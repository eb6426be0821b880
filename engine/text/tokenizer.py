"""Character tokenizer shared by the CTC head, the attention decoder and the text encoder.

Token ids: 0 ``<blank>`` (CTC blank, also padding), 1 ``<sos/eos>``, 2
``<unk>``, then space and the characters. The vocabulary is stored inside
every checkpoint's JSON config, so a model always decodes with its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field

BLANK, SOS_EOS, UNK = 0, 1, 2
SPECIALS = ["<blank>", "<sos/eos>", "<unk>"]
CHARACTERS = " abcdefghijklmnopqrstuvwxyz'"


@dataclass
class CharTokenizer:
    """Maps normalized text to ids and back.

    >>> tok = CharTokenizer()
    >>> tok.decode(tok.encode("go left"))
    'go left'
    """

    symbols: list[str] = field(default_factory=lambda: SPECIALS + list(CHARACTERS))

    def __post_init__(self) -> None:
        self._index = {s: i for i, s in enumerate(self.symbols)}

    @property
    def vocab_size(self) -> int:
        return len(self.symbols)

    @property
    def space_id(self) -> int:
        return self._index[" "]

    def encode(self, text: str) -> list[int]:
        """Normalized text → ids (unknown characters become ``<unk>``)."""
        return [self._index.get(c, UNK) for c in text]

    def decode(self, ids) -> str:
        """Ids → text; special tokens are dropped."""
        return "".join(self.symbols[i] for i in ids if i >= len(SPECIALS))

    def to_json(self) -> dict:
        return {"type": "char", "symbols": self.symbols}

    @classmethod
    def from_json(cls, data: dict) -> CharTokenizer:
        if data.get("type") != "char":
            raise ValueError(f"unknown tokenizer type {data.get('type')!r}")
        return cls(symbols=list(data["symbols"]))
