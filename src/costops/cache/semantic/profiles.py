"""The feature judge's Profiles of recent texts, bounded by their bytes.

A lookup judges up to two neighbours; a neighbour's Profile (its words, their vectors, its
sentences, its word forms) was rebuilt on every lookup that found it, about a quarter of the
judge's time, while a Profile is a pure function of its text (the judge reads a text's facts
from the same text). A query's Profile is the one its entry needs once stored, so one memo,
keyed by text, serves both sides.

Why bounded by bytes, not by count: a Profile holds a words x 128 float32 array (512 bytes per
word) and a few strings and sets per token: about 12 KB for a one-line prompt, 110 KB for a
200-word one, 2 MB for a 20,000-character one (``max_query_chars``; measured with tracemalloc).
:func:`size` over-estimates those figures, so ``MAX_BYTES`` holds whatever the texts.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from costops.cache.semantic.judge import Profile

MAX_BYTES = 32 * 1024 * 1024
"""About 2,700 one-line prompts' Profiles, 300 of 200 words, 16 of the longest cacheable."""


def size(p: Profile) -> int:
    """A Profile's bytes, a little over what tracemalloc sees (its arrays, ~200 bytes per token)."""
    return p.vectors.nbytes + p.weights.nbytes + 256 * len(p.tokens) + 4096


class Profiles:
    """Least recently used first out, once the Profiles held pass ``max_bytes``."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._held: OrderedDict[str, tuple[Profile, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._held)

    def held(self, text: str) -> Profile | None:
        """The Profile of ``text`` if held (not counted as a use)."""
        held = self._held.get(text)
        return None if held is None else held[0]

    def get(self, text: str, make: Callable[[], Profile]) -> Profile:
        held = self._held.get(text)
        if held is not None:
            self._held.move_to_end(text)
            return held[0]
        p = make()
        n = size(p)
        if n <= self.max_bytes:
            self._held[text] = (p, n)
            self.bytes += n
            while self.bytes > self.max_bytes:
                _, (_, gone) = self._held.popitem(last=False)
                self.bytes -= gone
        return p
