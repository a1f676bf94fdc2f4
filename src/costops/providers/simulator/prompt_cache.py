"""Provider prompt caching as the APIs bill it, with TTLs on an injected clock.

* Implicit (OpenAI, Gemini): the prompt's token stream is cut into fixed blocks, each named by a
  hash chained over every block before it; a request reuses the longest run of leading blocks an
  earlier request to the same key and model stored within the TTL. Nothing below 1,024 shared
  tokens counts; OpenAI reports the shared prefix in 128-token steps.
* Explicit (Anthropic): ``cache_control`` marks breakpoints on tools, system blocks and message
  blocks. The longest prefix stored at a breakpoint is read (and its TTL refreshed); every later
  breakpoint whose prefix reaches the model's minimum is written, the tokens up to a 1 h marker
  as 1 h writes, the rest as 5 min writes; what follows the last breakpoint is plain input.

Entries live in one bounded LRU map; a long prompt resent on every call is tokenized once
(:class:`MemoCounter`).
"""

from __future__ import annotations

import hashlib
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from costops.tokens import TokenCounter, count_framed

IMPLICIT_MIN_TOKENS = 1024
IMPLICIT_TTL_S = 300.0
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
_MEMO_MIN_CHARS = 1024


class MemoCounter:
    """A model's counter that remembers the tokens of long texts, so a 50k-token system prompt
    sent with every call is encoded once."""

    def __init__(self, counter: TokenCounter, max_chars: int = 32_000_000) -> None:
        self.counter = counter
        self.exact = counter.exact
        self._memo: OrderedDict[str, tuple[bytes, int]] = OrderedDict()
        self._chars = 0
        self._max_chars = max_chars

    def _entry(self, text: str) -> tuple[bytes, int]:
        hit = self._memo.get(text)
        if hit is not None:
            self._memo.move_to_end(text)
            return hit
        ids = array("I", self.counter.encode(text))
        entry = (ids.tobytes(), len(ids) if self.exact else self.counter.count(text))
        self._memo[text] = entry
        self._chars += len(text)
        while self._chars > self._max_chars and len(self._memo) > 1:
            old, _ = self._memo.popitem(last=False)
            self._chars -= len(old)
        return entry

    def count_messages(self, messages: Iterable[Mapping[str, Any]], tools: Any = None) -> int:
        # The framing rule is TokenCounter's own (count_framed), with ``self.count``, which is ours.
        return count_framed(self.count, messages, tools)

    def count(self, text: str) -> int:
        if len(text) < _MEMO_MIN_CHARS:
            return self.counter.count(text)
        return self._entry(text)[1]

    def tokens(self, text: str) -> bytes:
        """The token ids of ``text`` as packed uint32."""
        if len(text) < _MEMO_MIN_CHARS:
            return array("I", self.counter.encode(text)).tobytes()
        return self._entry(text)[0]


class PrefixStore:
    """(scope, prefix hash) -> (expiry, ttl), least recently used evicted first."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self._entries: OrderedDict[tuple[object, bytes], tuple[float, float]] = OrderedDict()
        self._max = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def alive(self, key: tuple[object, bytes], now: float) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry[0] > now

    def refresh(self, key: tuple[object, bytes], now: float) -> None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries[key] = (now + entry[1], entry[1])
            self._entries.move_to_end(key)

    def put(self, key: tuple[object, bytes], now: float, ttl: float) -> None:
        old = self._entries.get(key)
        if old is None or old[0] < now + ttl:  # a live 1 h entry outlasts a 5 min write
            self._entries[key] = (now + ttl, ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


def _chain(parts: Sequence[bytes]) -> list[bytes]:
    digests, prev = [], b""
    for part in parts:
        prev = hashlib.blake2b(prev + part, digest_size=16).digest()
        digests.append(prev)
    return digests


def implicit_shared(
    store: PrefixStore,
    scope: object,
    tokens: bytes,
    now: float,
    *,
    block: int,
    ttl: float = IMPLICIT_TTL_S,
    minimum: int = IMPLICIT_MIN_TOKENS,
) -> int:
    """Leading tokens of ``tokens`` (packed uint32) that an earlier prompt in ``scope`` shared
    within ``ttl``, in whole ``block``s; stores this prompt's blocks for the next request."""
    size = 4 * block
    n_blocks = len(tokens) // size
    if n_blocks * block < minimum:
        return 0
    digests = _chain([tokens[i * size : (i + 1) * size] for i in range(n_blocks)])
    hit = 0
    for digest in digests:
        if not store.alive((scope, digest), now):
            break
        hit += 1
    for digest in digests:
        store.put((scope, digest), now, ttl)
    shared = hit * block
    return shared if shared >= minimum else 0


@dataclass(frozen=True, slots=True)
class Segment:
    """One cacheable unit of an Anthropic prompt: a tool, a system block or a content block."""

    key: bytes
    """What makes the unit the same unit (its JSON without ``cache_control``)."""
    tokens: int
    ttl: str | None = None
    """"5m" or "1h" when the unit carries a ``cache_control`` breakpoint."""


@dataclass(frozen=True, slots=True)
class CacheUse:
    read: int = 0
    write_5m: int = 0
    write_1h: int = 0


def explicit_use(store: PrefixStore, scope: object, segments: Sequence[Segment], now: float, *, minimum: int) -> CacheUse:
    """Cache reads and writes of one Anthropic request (see the module docstring)."""
    breakpoints = [i for i, s in enumerate(segments) if s.ttl]
    if not breakpoints:
        return CacheUse()
    last = breakpoints[-1]
    digests = _chain([s.key for s in segments[: last + 1]])
    cumulative, total = [], 0
    for s in segments[: last + 1]:
        total += s.tokens
        cumulative.append(total)
    read_at = -1
    for i in range(last, -1, -1):
        if store.alive((scope, digests[i]), now):
            read_at = i
            store.refresh((scope, digests[i]), now)
            break
    read = cumulative[read_at] if read_at >= 0 else 0
    prev, w5m, w1h = read, 0, 0
    for b in breakpoints:
        if b <= read_at or cumulative[b] < minimum:
            continue
        ttl = segments[b].ttl or "5m"
        if ttl == "1h":
            w1h += cumulative[b] - prev
        else:
            w5m += cumulative[b] - prev
        prev = cumulative[b]
        store.put((scope, digests[b]), now, TTL_SECONDS.get(ttl, 300.0))
    return CacheUse(read, w5m, w1h)
