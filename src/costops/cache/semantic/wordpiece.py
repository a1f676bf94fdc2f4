"""BERT's uncased WordPiece tokenizer, small and pure, for the static embedding table.

Written here rather than taken from ``tokenizers`` because the table needs only ids, and that
package would bring the Hugging Face hub client with it. ``bench/make_static_embeddings.py``
checks that it yields the model tokenizer's ids on the whole paraphrase set.

The steps are BERT's: drop control characters, lower-case and strip accents, split on
whitespace, split off punctuation (and CJK ideographs, one per token), then greedy
longest-match-first into vocabulary pieces (continuations start with ``##``); a word with no
full split is ``[UNK]``.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

MAX_WORD_CHARS = 100
_ASCII_WORDS = re.compile(r"[A-Za-z0-9]+|[!-/:-@\[-`{-~]")
"""For plain ASCII text: runs of letters and digits, and each punctuation mark alone."""


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F
    )


def basic_words(text: str) -> list[str]:
    """Lower-cased words and punctuation marks, as BERT's basic tokenizer splits them."""
    if text.isascii():
        return _ASCII_WORDS.findall(text.lower())
    out: list[str] = []
    current: list[str] = []
    text = unicodedata.normalize("NFD", text.lower())
    for ch in text:
        cp = ord(ch)
        cat = unicodedata.category(ch)
        if cp == 0 or cp == 0xFFFD or cat == "Mn" or (cat in ("Cc", "Cf") and ch not in "\t\n\r"):
            continue
        if ch.isspace() or cat == "Zs":
            if current:
                out.append("".join(current))
                current = []
        elif _is_punct(ch) or _is_cjk(cp):
            if current:
                out.append("".join(current))
                current = []
            out.append(ch)
        else:
            current.append(ch)
    if current:
        out.append("".join(current))
    return out


class WordPiece:
    def __init__(self, vocab: list[str], unk: str = "[UNK]") -> None:
        self.vocab = vocab
        self.index = {token: i for i, token in enumerate(vocab)}
        self.unk_id = self.index[unk]
        self._words: dict[str, tuple[int, ...]] = {}

    @classmethod
    def from_vocab_file(cls, path: str | Path) -> WordPiece:
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        return cls(lines[:-1] if lines and lines[-1] == "" else lines)

    def word_ids(self, word: str) -> tuple[int, ...]:
        cached = self._words.get(word)
        if cached is not None:
            return cached
        ids = self._split(word)
        if len(self._words) < 200_000:
            self._words[word] = ids
        return ids

    def _split(self, word: str) -> tuple[int, ...]:
        if len(word) > MAX_WORD_CHARS:
            return (self.unk_id,)
        ids: list[int] = []
        start, index = 0, self.index
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = index.get(piece)
                if found is not None:
                    ids.append(found)
                    break
                end -= 1
            else:
                return (self.unk_id,)
            start = end
        return tuple(ids)

    def ids(self, text: str) -> list[int]:
        out: list[int] = []
        for word in basic_words(text):
            out.extend(self.word_ids(word))
        return out

    def words(self, text: str) -> list[tuple[str, tuple[int, ...]]]:
        """Each basic word with its piece ids (the verifier compares words, not pieces)."""
        return [(w, self.word_ids(w)) for w in basic_words(text)]
