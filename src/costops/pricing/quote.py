"""The price of one call at one deployment: list cost from the catalog, effective cost after the
deployment's custom prices and discount. One function, used by the gateway when it settles a
call and by ``costops reprice`` when it re-prices the books."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from costops.config import Deployment
from costops.pricing.catalog import PriceCatalog
from costops.pricing.table import CostBreakdown
from costops.usage import Usage

_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Quote:
    priced: bool
    list_cost: CostBreakdown
    cost: CostBreakdown
    source: str | None


UNPRICED = Quote(False, CostBreakdown(), CostBreakdown(), None)


def quote(
    catalog: PriceCatalog,
    deployment: Deployment | None,
    model: str,
    usage: Usage,
    *,
    service_tier: str | None = None,
    at: datetime | None = None,
) -> Quote:
    provider = deployment.catalog_provider if deployment else None
    table = catalog.lookup(model, provider, service_tier=service_tier, at=at or datetime.now(UTC))
    custom = deployment.custom_price(model) if deployment else None
    if table is None and custom is None:
        return UNPRICED
    list_table = table or custom
    assert list_table is not None
    list_cost = list_table.cost(usage)
    effective_table = custom or list_table
    if deployment and deployment.discount_pct:
        effective_table = effective_table.scaled((_HUNDRED - deployment.discount_pct) / _HUNDRED)
    source = list_table.source if custom is None else f"{list_table.source}; effective=config:{deployment.name}"  # type: ignore[union-attr]
    if deployment and deployment.discount_pct:
        source += f"; discount={deployment.discount_pct}%"
    return Quote(True, list_cost, effective_table.cost(usage), source)
