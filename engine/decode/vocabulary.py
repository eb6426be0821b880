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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.text.normalize import normalize_text
from engine.text.tokenizer import BLANK, CharTokenizer

if TYPE_CHECKING:
    import torch  # the lexicon search's input; torch itself is not needed to read a vocabulary


MAX_PHRASES = 20_000
"""Most distinct phrases a vocabulary may hold. Every phrase is a candidate of every decoded
window, scored in chunks of a fixed size, so time grows with the count and memory does not
(``benchmarks/vocabulary_scale.py``); past this, one window would take too long to decode."""


class VocabularyError(ValueError):
    """A vocabulary file that is missing, not UTF-8 text, empty after normalization, holds more
    than :data:`MAX_PHRASES` phrases, or a phrase longer than the model takes (:meth:`Vocabulary.check_lengths`)."""


@dataclass
class Vocabulary:
    """Normalized phrases; ``words`` are their distinct words.

    Args:
        phrases: words or phrases (normalized here; blank and repeated ones dropped).
        lines: the 1-based line of each given phrase in its file, for messages
            (default: its position in ``phrases``).
        source: the file's name, for messages ('' for a list).

    Raises:
        VocabularyError: no usable phrase, or more than :data:`MAX_PHRASES` distinct ones.
    """

    phrases: list[str]
    lines: list[int] | None = None
    source: str = ""
    words: list[str] = field(init=False)

    def __post_init__(self) -> None:
        lines = list(range(1, len(self.phrases) + 1)) if self.lines is None else list(self.lines)
        seen, phrases, kept = set(), [], []
        for p, line in zip((normalize_text(p) for p in self.phrases), lines):
            if p and p not in seen:
                seen.add(p)
                phrases.append(p)
                kept.append(line)
        name = self.source or "the vocabulary"
        if not phrases:
            raise VocabularyError(f"{name}: holds no word or phrase; give at least one.")
        if len(phrases) > MAX_PHRASES:
            raise VocabularyError(f"{name}: {len(phrases):,} distinct phrases; a vocabulary holds at most "
                                  f"{MAX_PHRASES:,}.")
        self.phrases, self.lines = phrases, kept
        self.words = sorted({w for p in phrases for w in p.split()})

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Vocabulary:
        """Read one word or phrase per line (blank lines and lines starting with ``#`` are skipped).

        Raises:
            VocabularyError: missing file, a folder, not UTF-8, no usable line, or more than
                :data:`MAX_PHRASES` phrases.
        """
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise VocabularyError(f"{path}: no such vocabulary file.") from None
        except IsADirectoryError:
            raise VocabularyError(f"{path}: a folder, not a vocabulary file.") from None
        except UnicodeDecodeError:
            raise VocabularyError(f"{path.name}: not UTF-8 text; save it as UTF-8.") from None
        except OSError as exc:
            raise VocabularyError(f"{path}: cannot read it ({exc.strerror or exc}).") from None
        used = [(n, ln) for n, ln in enumerate(lines, 1) if ln.strip() and not ln.lstrip().startswith("#")]
        if not used:
            raise VocabularyError(f"{path.name}: holds no word or phrase.")
        return cls([ln for _, ln in used], lines=[n for n, _ in used], source=path.name)

    def check_lengths(self, limit: int, length: Callable[[str], int] = len) -> None:
        """Refuse a phrase longer than a model takes (the model owns ``limit``; the recognizer calls this).

        Args:
            limit: most tokens a phrase may have.
            length: a phrase's length in the model's tokens (default: characters).

        Raises:
            VocabularyError: one line naming the first too-long phrase's line and the limit, e.g.
                ``"words.txt, line 3: the phrase is 2,000,000 characters long; the model takes at most 256."``.
        """
        for phrase, line in zip(self.phrases, self.lines):
            n = length(phrase)
            if n > limit:
                where = f"{self.source}, line {line}" if self.source else f"phrase {line}"
                raise VocabularyError(f"{where}: the phrase is {n:,} characters long; "
                                      f"the model takes at most {limit:,}.")


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
