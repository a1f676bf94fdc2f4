"""Money as exact Decimal in code and integer nano-dollars in storage.

Nano-dollars (1e-9 USD) keep every per-token price in the catalogs exact for ordinary calls
(a token of a $0.075/MTok model is 75 nano-dollars) and let SQL sum them as 64-bit integers
(up to 9.2 billion dollars). A sub-nano remainder is rounded half-even once, per part, and the
stored total is the sum of the stored parts, so stored parts always add up to the stored total.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

NANOS_PER_USD = 1_000_000_000
_NANO = Decimal(1) / NANOS_PER_USD


def to_nanos(usd: Decimal) -> int:
    if not usd:  # most parts of most costs (cache reads, cache writes): no arithmetic
        return 0
    return int((usd * NANOS_PER_USD).to_integral_value(rounding=ROUND_HALF_EVEN))


def from_nanos(nanos: int | None) -> Decimal:
    """Exact dollars from stored nanos, normalized so that 1500 nanos prints as 0.0000015."""
    if not nanos:
        return Decimal(0)
    return (Decimal(int(nanos)) * _NANO).normalize() if nanos % NANOS_PER_USD else Decimal(nanos // NANOS_PER_USD)


def usd_str(usd: Decimal) -> str:
    """A decimal string without exponent notation ("0.0000015", not "1.5E-6")."""
    text = format(usd, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"
