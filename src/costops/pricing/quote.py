"""The price of one call at one deployment: list cost from the catalog, effective cost after the
deployment's custom prices and discount. ``quote()`` is the one function the gateway (through
a memoizing :class:`Pricer`) and ``costops reprice`` both use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from costops.config import Deployment
from costops.money import to_nanos
from costops.pricing.catalog import PriceCatalog
from costops.pricing.table import CostBreakdown, PriceTable
from costops.usage import Usage

_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Quote:
    priced: bool
    list_cost: CostBreakdown
    cost: CostBreakdown
    source: str | None


UNPRICED = Quote(False, CostBreakdown(), CostBreakdown(), None)


@dataclass(frozen=True, slots=True)
class Tables:
    """What a model costs at a deployment: its list prices and what this deployment pays."""

    list: PriceTable
    effective: PriceTable
    source: str
    rates: tuple[int, int] | None = field(default=None, init=False, compare=False)
    """The effective table's integer nanos per (input, output) token, when it has them."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "rates", self.effective.integer_rates())

    def quote(self, usage: Usage) -> Quote:
        list_cost = self.list.cost(usage)
        cost = list_cost if self.effective is self.list else self.effective.cost(usage)
        return Quote(True, list_cost, cost, self.source)

    def estimate_nanos(self, input_tokens: int, output_tokens: int) -> int:
        """The effective cost in nanos of plain input and output tokens: integer arithmetic where
        the table allows it, else the Decimal cost rounded (both exact, and equal)."""
        if self.rates is not None:
            return input_tokens * self.rates[0] + output_tokens * self.rates[1]
        return to_nanos(self.effective.cost(Usage(input_tokens=input_tokens, output_tokens=output_tokens)).total)

    def usage_nanos(self, usage: Usage) -> int:
        """The effective cost in nanos of any usage (cache writes and reads priced at their rates)."""
        if not (usage.cache_read_tokens or usage.cache_write_5m_tokens or usage.cache_write_1h_tokens):
            return self.estimate_nanos(usage.input_tokens, usage.output_tokens)
        return to_nanos(self.effective.cost(usage).total)


def resolve_tables(
    catalog: PriceCatalog, deployment: Deployment | None, model: str, service_tier: str | None, at: datetime
) -> Tables | None:
    provider = deployment.catalog_provider if deployment else None
    table = catalog.lookup(model, provider, service_tier=service_tier, at=at)
    custom = deployment.custom_price(model) if deployment else None
    list_table = table or custom
    if list_table is None:
        return None
    effective = custom or list_table
    source = list_table.source
    if custom is not None and table is not None:
        source += f"; effective=config:{deployment.name}"  # type: ignore[union-attr]
    if deployment and deployment.discount_pct:
        effective = effective.scaled((_HUNDRED - deployment.discount_pct) / _HUNDRED)
        source += f"; discount={deployment.discount_pct}%"
    return Tables(list_table, effective, source)


def quote(
    catalog: PriceCatalog,
    deployment: Deployment | None,
    model: str,
    usage: Usage,
    *,
    service_tier: str | None = None,
    at: datetime | None = None,
) -> Quote:
    tables = resolve_tables(catalog, deployment, model, service_tier, at or datetime.now(UTC))
    return UNPRICED if tables is None else tables.quote(usage)


_DAY = 86_400


class Pricer:
    """``quote()`` for the request path: price tables resolved once per (deployment, model, tier,
    day) and reused, so a call costs only the multiplication of its own token counts.

    ``at`` is when the call was made: a Unix timestamp (the request path passes ``record.ts``,
    so a live call is priced at the moment ``costops reprice`` would price its row, and no clock
    is read per call) or a datetime; the clock only when it is omitted."""

    def __init__(self, catalog: PriceCatalog) -> None:
        self.catalog = catalog
        self._tables: dict[tuple[str | None, str, str | None, date | int], Tables | None] = {}

    def tables(
        self, deployment: Deployment | None, model: str, service_tier: str | None, at: datetime | float | None
    ) -> Tables | None:
        if at is None:
            at = datetime.now(UTC)
        day = int(at // _DAY) if isinstance(at, (int, float)) else at.date()
        key = (deployment.name if deployment else None, model, service_tier, day)
        try:
            return self._tables[key]
        except KeyError:
            if len(self._tables) > 10_000:
                self._tables.clear()
            when = datetime.fromtimestamp(at, UTC) if isinstance(at, (int, float)) else at
            tables = self._tables[key] = resolve_tables(self.catalog, deployment, model, service_tier, when)
            return tables

    def quote(
        self, deployment: Deployment | None, model: str, usage: Usage, *, service_tier: str | None = None,
        at: datetime | float | None = None,
    ) -> Quote:
        tables = self.tables(deployment, model, service_tier, at)
        return UNPRICED if tables is None else tables.quote(usage)

    def estimate_nanos(
        self, deployment: Deployment | None, model: str, input_tokens: int, output_tokens: int, *,
        service_tier: str | None = None, at: datetime | float | None = None,
    ) -> int | None:
        """What plain input and output tokens cost at the deployment, in nanos; None: no price."""
        tables = self.tables(deployment, model, service_tier, at)
        return None if tables is None else tables.estimate_nanos(input_tokens, output_tokens)

    def usage_nanos(
        self, deployment: Deployment | None, model: str, usage: Usage, *,
        service_tier: str | None = None, at: datetime | float | None = None,
    ) -> int | None:
        """What ``usage`` costs at the deployment, in nanos (cache writes at their premium); None: no price."""
        tables = self.tables(deployment, model, service_tier, at)
        return None if tables is None else tables.usage_nanos(usage)
