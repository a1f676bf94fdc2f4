"""Prices and the cost of a call: data (catalog, overrides) apart from the pure math (table)."""

from costops.pricing.catalog import PriceCatalog, PriceOverride, overrides_from_litellm, table_from_config
from costops.pricing.table import CostBreakdown, PriceTable, Rate

__all__ = [
    "CostBreakdown",
    "PriceCatalog",
    "PriceOverride",
    "PriceTable",
    "Rate",
    "overrides_from_litellm",
    "table_from_config",
]
