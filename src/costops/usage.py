"""Token usage of one call, normalized once at the provider edge.

Providers disagree on what their counters mean: OpenAI's ``prompt_tokens`` and Gemini's
``promptTokenCount`` *include* cached tokens, Anthropic's ``input_tokens`` *excludes* them;
OpenAI's ``completion_tokens`` include reasoning, Gemini's ``candidatesTokenCount`` does not.
Everything downstream (pricing, ledger, reports) sees only :class:`Usage`, whose fields never
overlap, so a cost is always the plain sum of kind x rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NO_USAGE = "no usage reported by the provider"
"""The ``price_source`` of a call whose provider reported no tokens: unpriced, never free, and
no price added later can price it (there is nothing to multiply)."""
ESTIMATED = "tokens estimated"
"""In a ``price_source``: costops counted these tokens (a broken stream, an API that reports
none), the provider did not report them. Re-pricing keeps the mark."""


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    """Input tokens billed at the plain input rate (cache reads and writes excluded)."""
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    """All billed output tokens, reasoning included (providers bill both at the output rate)."""
    reasoning_tokens: int = 0
    """The part of ``output_tokens`` spent on hidden reasoning; informative, not added again."""

    def __post_init__(self) -> None:
        # Every Usage is checked (one built from a stored row or a cache entry protects the books
        # as much as one from a provider), in one expression on the common case: plain ints.
        a, b, c, d, e, r = (self.input_tokens, self.cache_read_tokens, self.cache_write_5m_tokens,
                            self.cache_write_1h_tokens, self.output_tokens, self.reasoning_tokens)
        try:  # ints (and bools) sum to an int, anything else to another type or a TypeError;
            ok = type(a + b + c + d + e + r) is int and (a | b | c | d | e | r) >= 0 and r <= e  # OR < 0 iff one is
        except TypeError:
            ok = False
        if not ok:
            self._explain()

    def _explain(self) -> None:
        """The precise error for a Usage the fast check refused (or nothing: a bool is an int)."""
        for name in _FIELDS:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"usage.{name} must be a non-negative integer, got {value!r}")
        if self.reasoning_tokens > self.output_tokens:
            raise ValueError("usage.reasoning_tokens cannot exceed output_tokens")

    @property
    def prompt_tokens(self) -> int:
        """Every input token however billed: what tiered prices (>128k, >200k) are judged on."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_5m_tokens + self.cache_write_1h_tokens

    @property
    def cache_write_tokens(self) -> int:
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_5m_tokens + other.cache_write_5m_tokens,
            self.cache_write_1h_tokens + other.cache_write_1h_tokens,
            self.output_tokens + other.output_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )

    # -- provider edges -------------------------------------------------------------------

    @classmethod
    def from_openai(cls, usage: Mapping[str, Any] | None) -> Usage:
        """Chat Completions / Embeddings / Responses usage; cached tokens are *inside* prompt_tokens,
        and so are cache writes where a server reports them (``cache_write_tokens``, as
        :meth:`to_openai` and OpenAI-compatible routers in front of Claude do)."""
        if not usage:
            return cls()
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if type(prompt) is int and type(completion) is int and prompt >= 0 and completion >= 0:
            # the common cases in one pass: Chat Completions' names, counts and details as plain
            # ints (what _int passes through unchanged); anything else takes the general way below
            pdet = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or _EMPTY
            cdet = usage.get("completion_tokens_details") or usage.get("output_tokens_details") or _EMPTY
            if not (pdet.get("cached_tokens") or pdet.get("cache_write_tokens") or pdet.get("cache_write_1h_tokens")
                    or cdet.get("reasoning_tokens")):  # every detail absent or zero (_int reads a falsy value as 0)
                return _checked(prompt, 0, 0, 0, completion, 0) if cls is Usage else cls(prompt, 0, 0, 0, completion, 0)
            cached, written = pdet.get("cached_tokens", 0), pdet.get("cache_write_tokens", 0)
            w1h, reasoning = pdet.get("cache_write_1h_tokens", 0), cdet.get("reasoning_tokens", 0)
            if type(cached) is int and type(written) is int and type(w1h) is int and type(reasoning) is int:
                cached = 0 if cached < 0 else prompt if cached > prompt else cached
                written = 0 if written < 0 else prompt - cached if written > prompt - cached else written
                w1h = 0 if w1h < 0 else written if w1h > written else w1h
                reasoning = 0 if reasoning < 0 else completion if reasoning > completion else reasoning
                if cls is Usage:  # every part is a non-negative int and reasoning <= output by construction
                    return _checked(prompt - cached - written, cached, written - w1h, w1h, completion, reasoning)
                return cls(prompt - cached - written, cached, written - w1h, w1h, completion, reasoning)
        prompt = _int(usage.get("prompt_tokens", usage.get("input_tokens")))
        completion = _int(usage.get("completion_tokens", usage.get("output_tokens")))
        pdet = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
        cdet = usage.get("completion_tokens_details") or usage.get("output_tokens_details") or {}
        cached = min(_int(pdet.get("cached_tokens")), prompt)
        written = min(_int(pdet.get("cache_write_tokens")), prompt - cached)
        w1h = min(_int(pdet.get("cache_write_1h_tokens")), written)
        reasoning = min(_int(cdet.get("reasoning_tokens")), completion)
        return cls(prompt - cached - written, cached, written - w1h, w1h, completion, reasoning)

    @classmethod
    def from_anthropic(cls, usage: Mapping[str, Any] | None) -> Usage:
        """Messages API usage; ``input_tokens`` already *excludes* cache reads and writes."""
        if not usage:
            return cls()
        written = _int(usage.get("cache_creation_input_tokens"))
        split = usage.get("cache_creation") or {}
        w1h = _int(split.get("ephemeral_1h_input_tokens"))
        w5m = _int(split.get("ephemeral_5m_input_tokens")) if split else written
        if split and w5m + w1h < written:  # an older split that misses a part: bill the rest at 5m
            w5m = written - w1h
        return cls(
            input_tokens=_int(usage.get("input_tokens")),
            cache_read_tokens=_int(usage.get("cache_read_input_tokens")),
            cache_write_5m_tokens=w5m,
            cache_write_1h_tokens=w1h,
            output_tokens=_int(usage.get("output_tokens")),
        )

    @classmethod
    def from_gemini(cls, meta: Mapping[str, Any] | None) -> Usage:
        """``usageMetadata``: cached tokens are inside promptTokenCount, thoughts are outside candidates,
        and the prompt of built-in tools (search, code execution) is outside promptTokenCount in
        ``toolUsePromptTokenCount``, billed as input (as genai-prices counts it)."""
        if not meta:
            return cls()
        prompt = _int(meta.get("promptTokenCount"))
        cached = min(_int(meta.get("cachedContentTokenCount")), prompt)
        prompt += _int(meta.get("toolUsePromptTokenCount"))
        thoughts = _int(meta.get("thoughtsTokenCount"))
        candidates = _int(meta.get("candidatesTokenCount"))
        return cls(
            input_tokens=prompt - cached,
            cache_read_tokens=cached,
            output_tokens=candidates + thoughts,
            reasoning_tokens=thoughts,
        )

    # -- back to the wire ------------------------------------------------------------------

    def to_openai(self) -> dict[str, Any]:
        """OpenAI's counters: ``prompt_tokens`` includes cache reads and writes, and the details say
        how many of each, so a client can price every kind: ``cache_write_tokens`` (the name OpenAI's
        SDK reads), and ``cache_write_1h_tokens``, the part of them written for an hour (Claude bills
        those at a higher rate than five-minute writes)."""
        prompt = self.prompt_tokens
        return {
            "prompt_tokens": prompt,
            "completion_tokens": self.output_tokens,
            "total_tokens": prompt + self.output_tokens,
            "prompt_tokens_details": {
                "cached_tokens": self.cache_read_tokens,
                "cache_write_tokens": self.cache_write_tokens,
                "cache_write_1h_tokens": self.cache_write_1h_tokens,
            },
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }

    def to_anthropic(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_write_tokens,
            "cache_read_input_tokens": self.cache_read_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_write_5m_tokens,
                "ephemeral_1h_input_tokens": self.cache_write_1h_tokens,
            },
            "output_tokens": self.output_tokens,
        }


NO_TOKENS = Usage()
"""The empty usage, shared (a Usage is immutable): a record's default, and what a provider that
reported nothing is compared with."""

def counted(usage: Usage) -> bool:
    """Whether ``usage`` counts any token (is not equal to :data:`NO_TOKENS`), read from its
    fields: a dataclass's ``!=`` builds and compares two tuples. Reasoning tokens are part of the
    output tokens, so they need no test of their own."""
    return bool(usage.input_tokens or usage.output_tokens or usage.cache_read_tokens
                or usage.cache_write_5m_tokens or usage.cache_write_1h_tokens)


_FIELDS = ("input_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "output_tokens",
           "reasoning_tokens")

_EMPTY: Mapping[str, Any] = {}

_new = object.__new__
_set_input, _set_read, _set_5m, _set_1h, _set_output, _set_reasoning = (vars(Usage)[name].__set__ for name in _FIELDS)


def _checked(a: int, b: int, c: int, d: int, e: int, r: int) -> Usage:
    """A Usage whose fields the caller has already checked (non-negative ints, ``r <= e``):
    built through the slots' own setters, without ``__init__``'s frozen setattr per field and
    ``__post_init__``'s check. Equal to ``Usage(a, b, c, d, e, r)`` in every way."""
    u = _new(Usage)
    _set_input(u, a)
    _set_read(u, b)
    _set_5m(u, c)
    _set_1h(u, d)
    _set_output(u, e)
    _set_reasoning(u, r)
    return u


def _int(value: Any) -> int:
    if type(value) is int:  # what providers send: checked first, in one test
        return value if value > 0 else 0
    if value is None or isinstance(value, bool):
        return 0
    try:
        n = int(value)
    except (TypeError, ValueError):
        return 0
    return n if n > 0 else 0
