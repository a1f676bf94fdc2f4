"""Where prices come from: config overrides first, then the genai-prices catalog.

A lookup answers "what does model M cost at provider P, in service tier T, on day D", and is
cached, because the request path asks it once per call. Unknown models return ``None``: the
caller records the call as *unpriced*, never as free.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from costops.pricing.table import PriceTable, Rate

GENAI_PRICES_FIELDS = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cache_read",
    "cache_write_mtok": "cache_write_5m",
    "cache_write_1h_mtok": "cache_write_1h",
}

# Our provider kinds -> genai-prices provider ids, used when a deployment names none.
DEFAULT_PRICE_PROVIDER = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """A configured price: negotiated, private or missing from the catalog. ``model`` may be a glob."""

    model: str
    table: PriceTable
    provider: str | None = None

    def matches(self, model: str, provider: str | None) -> bool:
        if self.provider and provider and self.provider.lower() != provider.lower():
            return False
        return model == self.model or fnmatch.fnmatchcase(model, self.model)


def tier_context(service_tier: str | None) -> dict[str, str] | None:
    if not service_tier or service_tier in ("default", "standard", "auto"):
        return None
    if service_tier == "batch":
        return {"processing": "batch"}
    return {"service_tier": service_tier}


class PriceCatalog:
    def __init__(self, overrides: Iterable[PriceOverride] = (), *, use_genai_prices: bool = True) -> None:
        self.overrides = list(overrides)
        self.use_genai_prices = use_genai_prices
        self._cache: dict[tuple[str, str | None, str | None, date], PriceTable | None] = {}

    def lookup(
        self,
        model: str,
        provider: str | None = None,
        *,
        service_tier: str | None = None,
        at: datetime | None = None,
    ) -> PriceTable | None:
        """The list price of ``model``; ``provider`` is a genai-prices provider id (``openai``, ``google``...)."""
        at = at or datetime.now(UTC)
        key = (model, provider, service_tier, at.date())
        try:
            return self._cache[key]
        except KeyError:
            pass
        table = self._from_overrides(model, provider, service_tier)
        if table is None and self.use_genai_prices:
            table = _from_genai_prices(model, provider, service_tier, at)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = table
        return table

    def _from_overrides(self, model: str, provider: str | None, service_tier: str | None) -> PriceTable | None:
        for override in self.overrides:
            if override.matches(model, provider):
                table = override.table
                if service_tier == "batch" and "batch_discount" in table.extra:
                    table = table.scaled(Decimal(table.extra["batch_discount"]))
                return table
        return None

    def known_models(self) -> list[tuple[str, str]]:
        """(provider, model) pairs the catalog prices, for listings and shell completion."""
        from genai_prices import data_snapshot

        pairs = [(o.provider or "*", o.model) for o in self.overrides]
        if self.use_genai_prices:
            pairs += [(p.id, m.id) for p in data_snapshot.get_snapshot().providers for m in p.models]
        return pairs


def _from_genai_prices(model: str, provider: str | None, service_tier: str | None, at: datetime) -> PriceTable | None:
    from genai_prices import __version__ as gp_version
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    ref = model.split("/", 1)[1] if provider and model.lower().startswith(provider.lower() + "/") else model
    try:
        prov, info = snapshot.find_provider_model(ref, None, provider, None)
    except LookupError:
        if provider is None:
            return None
        try:  # a deployment's provider may be unknown to the catalog (a private vLLM); try by name
            prov, info = snapshot.find_provider_model(ref, None, None, None)
        except LookupError:
            return None
    ctx = tier_context(service_tier)
    prices = info.get_prices(at, ctx) if ctx else info.get_prices(at)
    rates: dict[str, Rate] = {}
    for key, name in GENAI_PRICES_FIELDS.items():
        value = getattr(prices, key, None)
        if value is None:
            continue
        if isinstance(value, Decimal):
            rates[name] = Rate(value)
        else:  # TieredPrices
            rates[name] = Rate(value.base, tuple((t.start, t.price) for t in value.tiers))
    if "input" not in rates and "output" not in rates:
        return None
    zero = Rate(Decimal(0))
    return PriceTable(
        input=rates.get("input", zero),
        output=rates.get("output", zero),
        cache_read=rates.get("cache_read"),
        cache_write_5m=rates.get("cache_write_5m"),
        cache_write_1h=rates.get("cache_write_1h"),
        source=f"genai-prices {gp_version}:{prov.id}/{info.id}" + (f"@{service_tier}" if ctx else ""),
    )


def table_from_config(raw: Mapping[str, Any], *, where: str) -> PriceTable:
    """A price table from config keys ``input``, ``output``, ``cache_read``, ``cache_write`` (5m),
    ``cache_write_1h`` in USD per million tokens; ``*_per_token`` spellings are accepted too."""
    known = {"input", "output", "cache_read", "cache_write", "cache_write_5m", "cache_write_1h", "batch_discount"}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("model", "provider"):
            continue
        if key not in known:
            raise ValueError(f"{where}.{key}: unknown price field (use one of {', '.join(sorted(known))})")
        values[key] = value
    for need in ("input", "output"):
        if need not in values:
            raise ValueError(f"{where}: missing '{need}' (USD per million tokens)")
    w5 = values.get("cache_write_5m", values.get("cache_write"))
    extra = {"batch_discount": str(values["batch_discount"])} if "batch_discount" in values else {}
    return PriceTable(
        input=Rate.parse(values["input"], what=f"{where}.input"),
        output=Rate.parse(values["output"], what=f"{where}.output"),
        cache_read=Rate.parse(values["cache_read"], what=f"{where}.cache_read") if "cache_read" in values else None,
        cache_write_5m=Rate.parse(w5, what=f"{where}.cache_write") if w5 is not None else None,
        cache_write_1h=Rate.parse(values["cache_write_1h"], what=f"{where}.cache_write_1h")
        if "cache_write_1h" in values
        else None,
        source="config",
        extra=extra,
    )


# -- LiteLLM-format price maps ---------------------------------------------------------------

_LITELLM_FIELDS = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cache_read",
    "cache_creation_input_token_cost": "cache_write_5m",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h",
}
_LITELLM_TIERS = {"_above_128k_tokens": 128_000, "_above_200k_tokens": 200_000, "_above_272k_tokens": 272_000}


def overrides_from_litellm(data: Mapping[str, Any] | Path | str) -> list[PriceOverride]:
    """Read a LiteLLM ``model_prices_and_context_window.json``-style map (USD per token).

    Per-token floats are read from their JSON text through ``repr`` so 2.5e-06 becomes exactly
    2.5 USD/MTok. Entries without token prices (images, audio per second) are skipped.
    """
    entries: Mapping[str, Any] = data if isinstance(data, Mapping) else json.loads(Path(data).read_text())
    out: list[PriceOverride] = []
    for model, entry in entries.items():
        if model == "sample_spec" or not isinstance(entry, Mapping):
            continue
        rates: dict[str, Rate] = {}
        for field_name, name in _LITELLM_FIELDS.items():
            if entry.get(field_name) is None:
                continue
            base = _per_token_to_mtok(entry[field_name])
            tiers = tuple(
                sorted(
                    (threshold, _per_token_to_mtok(entry[field_name + suffix]))
                    for suffix, threshold in _LITELLM_TIERS.items()
                    if entry.get(field_name + suffix) is not None
                )
            )
            rates[name] = Rate(base, tiers)
        if "input" not in rates or "output" not in rates:
            continue
        provider = entry.get("litellm_provider")
        out.append(
            PriceOverride(
                model=model,
                provider=provider if isinstance(provider, str) else None,
                table=PriceTable(source="litellm-map", **rates),  # type: ignore[arg-type]
            )
        )
    return out


def _per_token_to_mtok(value: Any) -> Decimal:
    text = repr(value) if isinstance(value, float) else str(value)
    return Decimal(text) * 1_000_000
