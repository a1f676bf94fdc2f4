"""Arbitrage: when several deployments serve the same model, which one gets the call (pure).

    routing:
      arbitrage: {latency_target_ms: 2000, max_error_rate: 0.3}

Order, best first:

1. an open circuit last (it would only fail fast);
2. a deployment failing more often than ``max_error_rate`` (moving average) after the others;
3. a deployment slower than ``latency_target_ms`` (moving average of its recent answers) after
   those within the target; one not yet measured counts as within it;
4. then the lowest *expected* cost of this request there: its effective price (discounts and
   custom prices applied) divided by the chance that the attempt succeeds, since a failed
   attempt is paid again elsewhere; an unpriced deployment after the priced ones;
5. ties: the lower measured latency (a measured deployment before one not yet measured), then
   config order.

The rest of the order is the fallback list: the call moves to the next when one fails.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from costops.config import ConfigError

if TYPE_CHECKING:
    from costops.routing.catalog import Target


@dataclass(frozen=True, slots=True)
class ArbitrageSettings:
    latency_target_ms: float | None = None
    max_error_rate: float = 0.5


def parse_arbitrage(raw: Any) -> ArbitrageSettings | None:
    if raw is None:
        return None
    if raw is True:
        return ArbitrageSettings()
    if not isinstance(raw, Mapping) or set(raw) - {"latency_target_ms", "max_error_rate"}:
        raise ConfigError("routing.arbitrage: {latency_target_ms: 2000, max_error_rate: 0.5} (or true)")
    target, rate = raw.get("latency_target_ms"), raw.get("max_error_rate", 0.5)
    if target is not None and (isinstance(target, bool) or not isinstance(target, (int, float)) or target <= 0):
        raise ConfigError(f"routing.arbitrage.latency_target_ms: milliseconds above 0, not {target!r}")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
        raise ConfigError(f"routing.arbitrage.max_error_rate: a share above 0 and at most 1, not {rate!r}")
    return ArbitrageSettings(None if target is None else float(target), float(rate))


def rank(targets: Sequence[Target], settings: ArbitrageSettings) -> tuple[Target, ...]:
    """``targets`` best first (see the module docstring)."""
    if len(targets) < 2:
        return tuple(targets)
    limit = settings.latency_target_ms

    def key(item: tuple[int, Target]) -> tuple[Any, ...]:
        i, t = item
        h = t.health
        slow = limit is not None and h.latency_ms is not None and h.latency_ms > limit
        cost = float("inf") if t.cost_nanos is None else t.cost_nanos / max(0.05, 1.0 - h.error_rate)
        latency = h.latency_ms if h.latency_ms is not None else float("inf")
        return (h.circuit == "open", h.error_rate > settings.max_error_rate, slow, cost, latency, i)

    return tuple(t for _, t in sorted(enumerate(targets), key=key))
