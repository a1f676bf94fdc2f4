"""The price of one call at one deployment: list cost from the catalog, effective cost after the
deployment's custom prices and discount. ``quote()`` is the one function the gateway (through
a memoizing :class:`Pricer`) and ``costops reprice`` both use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from costops.config import Deployment
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

    def quote(self, usage: Usage) -> Quote:
        list_cost = self.list.cost(usage)
        cost = list_cost if self.effective is self.list else self.effective.cost(usage)
        return Quote(True, list_cost, cost, self.source)


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


class Pricer:
    """``quote()`` for the request path: price tables resolved once per (deployment, model, tier,
    day) and reused, so a call costs only the multiplication of its own token counts."""

    def __init__(self, catalog: PriceCatalog) -> None:
        self.catalog = catalog
        self._tables: dict[tuple[str | None, str, str | None, date], Tables | None] = {}

    def quote(
        self, deployment: Deployment | None, model: str, usage: Usage, *, service_tier: str | None = None,
        at: datetime | None = None,
    ) -> Quote:
        at = at or datetime.now(UTC)
        key = (deployment.name if deployment else None, model, service_tier, at.date())
        try:
            tables = self._tables[key]
        except KeyError:
            if len(self._tables) > 10_000:
                self._tables.clear()
            tables = self._tables[key] = resolve_tables(self.catalog, deployment, model, service_tier, at)
        return UNPRICED if tables is None else tables.quote(usage)
