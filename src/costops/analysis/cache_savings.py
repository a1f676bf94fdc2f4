"""What caching saved: provider prompt caching per route, and response caches per kind.

Prompt caching is not free: Anthropic bills a cache write above the input rate (1.25x for
5 minutes, 2x for an hour) and a read far below it (0.1x). The *net* saving of a route is

    (input rate - read rate) x read tokens - (write rate - input rate) x write tokens

per write lifetime. Rates differ per model, so the database sums tokens per (deployment,
provider, model) and Python prices those few rows with the catalog. Base (untiered) list rates
are used: the long-context tiers depend on each call's own prompt size, which a sum has lost.

Response caches (exact, semantic) record each hit with zero cost and the cost it avoided, so
their saving is a plain database sum per ``cache`` kind. The semantic cache's LLM checks
(``cache.semantic`` routes' ``llm_check``) are its own spend: their rows (``cache:
semantic-check``, attempts under the request they checked) are netted from the semantic saving,
confirmed or not, and the top-line "saved by cache" of the report and the dashboard is net too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from costops.analysis.engine import Reader
from costops.cache.semantic.llm_check import CACHE_KIND as CHECK_KIND
from costops.config import Deployment
from costops.ledger.query import Filters
from costops.money import from_nanos, usd_str
from costops.pricing import PriceCatalog
from costops.pricing.quote import resolve_tables
from costops.pricing.table import MTOK

HIT_KINDS = ("exact", "semantic")
PROMPT_CACHE_DIMS = ("deployment", "provider", "model")


def prompt_cache(store: Reader, filters: Filters, catalog: PriceCatalog | None = None) -> dict[str, Any]:
    """Hit rate (cache-read / prompt tokens) and net saving per route, and over all routes."""
    routes = []
    total_prompt = total_read = 0
    total_saving = Decimal(0)
    unpriced: list[str] = []
    for row in store.aggregate(PROMPT_CACHE_DIMS, filters):
        read, w5, w1 = row["cache_read_tokens"], row["cache_write_5m_tokens"], row["cache_write_1h_tokens"]
        prompt = row["input_tokens"] + read + w5 + w1
        if not prompt or row["provider"] is None:
            continue
        saving: Decimal | None = Decimal(0)
        if read or w5 or w1:
            catalog = catalog or PriceCatalog()
            saving = net_saving(catalog, row["deployment"], row["provider"], row["model"], read, w5, w1)
            if saving is None:
                unpriced.append(str(row["model"]))
        total_prompt += prompt
        total_read += read
        total_saving += saving or 0
        routes.append({
            "deployment": row["deployment"], "model": row["model"], "requests": row["requests"],
            "prompt_tokens": prompt, "cache_read_tokens": read, "cache_write_tokens": w5 + w1,
            "hit_rate": _rate(read, prompt), "net_saving_usd": None if saving is None else usd_str(saving),
        })
    routes.sort(key=lambda r: (-Decimal(r["net_saving_usd"] or 0), -r["prompt_tokens"], str(r["model"])))
    return {
        "hit_rate": _rate(total_read, total_prompt),
        "prompt_tokens": total_prompt,
        "cache_read_tokens": total_read,
        "net_saving_usd": usd_str(total_saving),
        "unpriced_models": sorted(set(unpriced)),
        "by_route": routes,
    }


def net_saving(
    catalog: PriceCatalog, deployment: str | None, provider: str, model: str, read: int, write_5m: int, write_1h: int
) -> Decimal | None:
    """Read discount minus write premium at the model's base list rates; ``None`` when unpriced."""
    where = Deployment(name=deployment or provider, kind=provider, base_url="")
    tables = resolve_tables(catalog, where, model, None, datetime.now(UTC))
    if tables is None:
        return None
    t = tables.list
    inp = t.input.base
    read_rate = (t.cache_read or t.input).base
    w5_rate = (t.cache_write_5m or t.input).base
    w1_rate = (t.cache_write_1h or t.cache_write_5m or t.input).base
    return ((inp - read_rate) * read - (w5_rate - inp) * write_5m - (w1_rate - inp) * write_1h) / MTOK


def by_cache_kind(store: Reader, filters: Filters) -> list[dict[str, Any]]:
    """Requests per ``cache`` value (exact, semantic, miss, bypass; none = no cache stage), each
    with its share of all requests and, for hits, what they saved: the cost they avoided less,
    for the semantic cache, what its LLM checks cost (``avoided_usd``, ``checks``,
    ``check_cost_usd`` say both parts)."""
    rows = store.aggregate(["cache"], filters)
    checks = [r for r in rows if r["cache"] == CHECK_KIND]
    rows = [r for r in rows if r["cache"] != CHECK_KIND]
    if checks and not any(r["cache"] == "semantic" for r in rows):
        rows.append({"cache": "semantic", "requests": 0, "avoided_cost_nanos": 0})
    check_nanos = sum(r["cost_nanos"] for r in checks)
    total = sum(r["requests"] for r in rows)
    out = []
    for r in rows:
        kind: dict[str, Any] = {"cache": r["cache"], "requests": r["requests"], "share": _rate(r["requests"], total),
                                "saved_usd": usd_str(from_nanos(r["avoided_cost_nanos"]))}
        if checks and r["cache"] == "semantic":
            kind["avoided_usd"] = kind["saved_usd"]
            kind["checks"] = sum(c.get("attempts", 0) for c in checks)
            kind["check_cost_usd"] = usd_str(from_nanos(check_nanos))
            kind["saved_usd"] = usd_str(from_nanos(r["avoided_cost_nanos"] - check_nanos))
        out.append(kind)
    out.sort(key=lambda r: (r["cache"] not in HIT_KINDS, -r["requests"], str(r["cache"])))
    return out


def check_cost(kinds: list[dict[str, Any]]) -> Decimal:
    """What the semantic cache's LLM checks cost, from :func:`by_cache_kind`'s rows."""
    return sum((Decimal(k.get("check_cost_usd", 0)) for k in kinds), Decimal(0))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
