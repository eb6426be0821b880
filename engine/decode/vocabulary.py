"""User vocabulary: words and phrases that constrain decoding.

A vocabulary file has one word or phrase per line (UTF-8; blank lines and
lines starting with ``#`` are ignored). Decoding with it considers two kinds
of candidate, which the recognizer then rescores jointly:

- every listed phrase as a whole (a grammar of alternatives, the way
  pocketsphinx JSGF grammars serve commands);
- word sequences from a lexicon-constrained CTC beam search over the listed
  words (flashlight-text's ``LexiconDecoder`` through
  ``torchaudio.models.decoder.ctc_decoder``; Kahn et al. 2022, "Flashlight").
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.text.normalize import normalize_text
from engine.text.tokenizer import BLANK, CharTokenizer

if TYPE_CHECKING:
    import torch  # the lexicon search's input; torch itself is not needed to read a vocabulary


class VocabularyError(ValueError):
    """A vocabulary file that is missing, not UTF-8 text, or empty after normalization."""


@dataclass
class Vocabulary:
    """Normalized phrases; ``words`` are their distinct words."""

    phrases: list[str]
    words: list[str] = field(init=False)

    def __post_init__(self) -> None:
        seen, phrases = set(), []
        for p in (normalize_text(p) for p in self.phrases):
            if p and p not in seen:
                seen.add(p)
                phrases.append(p)
        if not phrases:
            raise VocabularyError("The vocabulary is empty: give at least one word or phrase.")
        self.phrases = phrases
        self.words = sorted({w for p in phrases for w in p.split()})

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Vocabulary:
        """Read one word or phrase per line.

        Raises:
            VocabularyError: missing file, not UTF-8, or no usable line.
        """
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise VocabularyError(f"{path}: no such vocabulary file.") from None
        except UnicodeDecodeError:
            raise VocabularyError(f"{path.name}: not UTF-8 text; save it as UTF-8.") from None
        try:
            return cls([ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")])
        except VocabularyError:
            raise VocabularyError(f"{path.name}: holds no word or phrase.") from None


class LexiconSearch:
    """Lexicon-constrained CTC beam search over a vocabulary's words (no language model)."""

    def __init__(self, vocabulary: Vocabulary, tokenizer: CharTokenizer, nbest: int = 8, beam_size: int = 32) -> None:
        from torchaudio.models.decoder import ctc_decoder

        self.tokenizer = tokenizer
        names = ["-" if i == BLANK else ("|" if s == " " else s.replace("<", "[").replace(">", "]"))
                 for i, s in enumerate(tokenizer.symbols)]
        with tempfile.NamedTemporaryFile("w", suffix=".lexicon", delete=False, encoding="utf-8") as fh:
            for w in vocabulary.words:
                fh.write(f"{w} {' '.join(names[i] for i in tokenizer.encode(w))} |\n")
            lexicon = fh.name
        try:
            self.decoder = ctc_decoder(lexicon=lexicon, tokens=names, nbest=nbest, beam_size=beam_size,
                                       blank_token="-", sil_token="|", unk_word="<unk>", word_score=0.0,
                                       sil_score=0.0, log_add=True)
        finally:
            os.unlink(lexicon)

    def __call__(self, log_probs: torch.Tensor) -> list[str]:
        """``(frames, vocab)`` CTC log-probabilities → candidate transcripts, best first."""
        hyps = self.decoder(log_probs.detach().float().contiguous().unsqueeze(0).cpu())[0]
        out = []
        for h in hyps:
            text = " ".join(w for w in h.words if w)
            if text and text not in out:
                out.append(text)
        return out
