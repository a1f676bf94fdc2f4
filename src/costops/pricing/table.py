"""A model's prices as plain data, and the pure function that turns usage into cost.

Rates are USD per million tokens. A rate may be tiered the way providers bill long context:
once the request's *prompt* passes a threshold, every token of that kind is billed at the tier's
rate (the "cliff" model Anthropic, Google and OpenAI use), not only the tokens above it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from costops.money import to_nanos
from costops.usage import Usage

MTOK = Decimal(1_000_000)
_ZERO = Decimal(0)
_NANOS_PER_MTOK_RATE = 1000
"""A rate of 1 USD per million tokens is 1,000 nano-dollars per token."""


@dataclass(frozen=True, slots=True)
class Rate:
    """USD per million tokens, with optional cliff tiers ``((threshold, rate), ...)`` ascending."""

    base: Decimal
    tiers: tuple[tuple[int, Decimal], ...] = ()

    def at(self, prompt_tokens: int) -> Decimal:
        rate = self.base
        for start, tier_rate in self.tiers:
            if prompt_tokens > start:
                rate = tier_rate
        return rate

    def scaled(self, factor: Decimal) -> Rate:
        return Rate(self.base * factor, tuple((s, r * factor) for s, r in self.tiers))

    @classmethod
    def parse(cls, value: Any, *, what: str) -> Rate:
        """From config: ``3``, ``"0.075"``, or ``{base: 3, tiers: {200000: 6}}``."""
        if isinstance(value, Rate):
            return value
        if isinstance(value, Mapping):
            tiers = value.get("tiers") or {}
            return cls(
                _dec(value.get("base"), what),
                tuple(sorted((int(k), _dec(v, what)) for k, v in dict(tiers).items())),
            )
        return cls(_dec(value, what))


def _dec(value: Any, what: str) -> Decimal:
    if isinstance(value, float):
        value = repr(value)  # 0.1 -> "0.1", never the binary expansion
    try:
        d = Decimal(str(value))
    except Exception:
        raise ValueError(f"{what}: {value!r} is not a number") from None
    if not d.is_finite() or d < 0:
        raise ValueError(f"{what}: {value!r} must be a non-negative number")
    return d


@dataclass(frozen=True, slots=True)
class PriceTable:
    """What one model costs at one deployment and tier. Missing cache rates fall back sensibly:
    reads and writes to the input rate (OpenAI-style implicit caching has no write premium),
    the 1-hour write to the 5-minute write rate, reasoning to the output rate."""

    input: Rate
    output: Rate
    cache_read: Rate | None = None
    cache_write_5m: Rate | None = None
    cache_write_1h: Rate | None = None
    source: str = "config"
    """Where the prices came from, recorded on every ledger row (e.g. ``genai-prices 0.2.3:openai/gpt-4o``)."""
    extra: Mapping[str, str] = field(default_factory=dict)

    def scaled(self, factor: Decimal, *, source: str | None = None) -> PriceTable:
        def s(rate: Rate | None) -> Rate | None:
            return rate.scaled(factor) if rate is not None else None

        return PriceTable(
            self.input.scaled(factor),
            self.output.scaled(factor),
            s(self.cache_read),
            s(self.cache_write_5m),
            s(self.cache_write_1h),
            source or self.source,
            self.extra,
        )

    def cost(self, usage: Usage) -> CostBreakdown:
        """Exact cost of ``usage``: a pure function, Decimal in and out. A kind with no tokens
        costs an exact 0 without Decimal arithmetic (most calls use two kinds of five)."""
        i, o = usage.input_tokens, usage.output_tokens
        if not (usage.cache_read_tokens or usage.cache_write_5m_tokens or usage.cache_write_1h_tokens) and not (
            self.input.tiers or self.output.tiers
        ):  # plain input and output at untiered rates (what at() returns is the base rate)
            return CostBreakdown(i * self.input.base / MTOK if i else _ZERO, _ZERO, _ZERO,
                                 o * self.output.base / MTOK if o else _ZERO)
        n = usage.prompt_tokens
        read = self.cache_read or self.input
        write_5m = self.cache_write_5m or self.input
        write_1h = self.cache_write_1h or write_5m
        i, r, w5, w1, o = (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_5m_tokens,
                           usage.cache_write_1h_tokens, usage.output_tokens)
        if w5 or w1:
            write = ((w5 * write_5m.at(n) if w5 else _ZERO) + (w1 * write_1h.at(n) if w1 else _ZERO)) / MTOK
        else:
            write = _ZERO
        return CostBreakdown(
            input=i * self.input.at(n) / MTOK if i else _ZERO,
            cache_read=r * read.at(n) / MTOK if r else _ZERO,
            cache_write=write,
            output=o * self.output.at(n) / MTOK if o else _ZERO,
        )

    def integer_rates(self) -> tuple[int, int] | None:
        """(input, output) in whole nano-dollars per token, when both are untiered and exact in
        nanos (``0.15`` USD/MTok is 150): then a cost in nanos is plain integer arithmetic, equal
        to rounding the Decimal cost. None otherwise (tiers, or a rate finer than a nano a token)."""
        if self.input.tiers or self.output.tiers:
            return None
        rates = (self.input.base * _NANOS_PER_MTOK_RATE, self.output.base * _NANOS_PER_MTOK_RATE)
        if any(rate != rate.to_integral_value() for rate in rates):
            return None
        return int(rates[0]), int(rates[1])

    def describe(self) -> dict[str, str]:
        """Base rates as strings, for tables and JSON."""
        out = {"input": str(self.input.base), "output": str(self.output.base)}
        for name in ("cache_read", "cache_write_5m", "cache_write_1h"):
            rate = getattr(self, name)
            if rate is not None:
                out[name] = str(rate.base)
        return out


COST_KINDS = ("input", "cache_read", "cache_write", "output")


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Cost split by token kind; ``total`` is their exact sum."""

    input: Decimal = Decimal(0)
    cache_read: Decimal = Decimal(0)
    cache_write: Decimal = Decimal(0)
    output: Decimal = Decimal(0)
    _nanos: tuple[int, int, int, int] | None = field(default=None, init=False, repr=False, compare=False)
    """The rounded parts, computed once: the budgets, the journal and the ledger row all ask."""

    @property
    def total(self) -> Decimal:
        return self.input + self.cache_read + self.cache_write + self.output

    def nanos(self) -> dict[str, int]:
        """Storage form: each part rounded once; ``total`` is the sum of the rounded parts.
        A new dict each call (callers may add to it); the rounding is done once per value."""
        parts = self.parts_nanos()
        return {
            "input_cost_nanos": parts[0],
            "cache_read_cost_nanos": parts[1],
            "cache_write_cost_nanos": parts[2],
            "output_cost_nanos": parts[3],
            "cost_nanos": parts[0] + parts[1] + parts[2] + parts[3],
        }

    def parts_nanos(self) -> tuple[int, int, int, int]:
        """(input, cache_read, cache_write, output) rounded to nanos, as ``nanos()`` has them."""
        parts = self._nanos
        if parts is None:
            parts = (to_nanos(self.input), to_nanos(self.cache_read), to_nanos(self.cache_write), to_nanos(self.output))
            object.__setattr__(self, "_nanos", parts)
        return parts

    def total_nanos(self) -> int:
        """``nanos()["cost_nanos"]`` without building the dict."""
        parts = self.parts_nanos()
        return parts[0] + parts[1] + parts[2] + parts[3]


NO_COST = CostBreakdown()
"""The zero cost, shared (a CostBreakdown is immutable): a record's default before it is priced."""
