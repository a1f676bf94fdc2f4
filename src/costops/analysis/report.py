"""The spend report: totals and breakdowns by model, provider, tenant, project, day and tags.

:func:`build_report` asks the store for aggregates (the database sums, Python only shapes) and
returns a JSON-ready dict whose money is exact decimal strings of USD ("12.345678901"); the
renderers turn it into JSON or aligned text tables. Unpriced calls are counted, never shown as
free: the report names their models and says how to price them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from costops.analysis.engine import Prefetched, Reader
from costops.config import Config
from costops.ledger.query import Filters, check_dimension
from costops.ledger.record import UsageRecord
from costops.ledger.sql_store import PRICE_COLUMNS, store_row
from costops.ledger.store import LedgerStore
from costops.money import from_nanos, usd_str
from costops.pricing import PriceCatalog
from costops.pricing.quote import quote
from costops.usage import ESTIMATED, NO_USAGE, Usage

BASE_DIMS = ("model", "provider", "tenant", "project", "day")
MAX_TAG_KEYS = 20
UNPRICED_HINT = "add a price under `prices:` in the config and run `costops reprice`"
NO_USAGE_HINT = (
    "look up their cost on the provider's own bill, and make the deployment report usage "
    "(an OpenAI-compatible server must return `usage`, in streams when asked with `stream_options.include_usage`)"
)
TOKEN_NAMES = {
    "input": "input_tokens",
    "cache_read": "cache_read_tokens",
    "cache_write_5m": "cache_write_5m_tokens",
    "cache_write_1h": "cache_write_1h_tokens",
    "output": "output_tokens",
    "reasoning": "reasoning_tokens",
}


def default_dims(store: Reader, filters: Filters, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The base dimensions, one ``tag:<key>`` per tag key seen (up to 20), then ``extra``."""
    dims = list(BASE_DIMS) + [f"tag:{k}" for k in store.tag_keys(filters)[:MAX_TAG_KEYS]]
    for dim in extra:
        if dim not in dims:
            dims.append(dim)
    return tuple(dims)


def build_report(
    store: Reader,
    filters: Filters | None = None,
    dims: Sequence[str] | None = None,
    catalog: PriceCatalog | None = None,
) -> dict[str, Any]:
    """The report over ``filters`` from a ledger store or an analytics engine; ``dims=None``
    means :func:`default_dims`. ``catalog`` prices the prompt-cache net saving (the default
    catalog when ``None``). An engine answers every breakdown in one scan."""
    from costops.analysis.cache_savings import PROMPT_CACHE_DIMS, by_cache_kind, check_cost, prompt_cache

    filters = filters or Filters()
    dims = default_dims(store, filters) if dims is None else tuple(dims)
    for dim in dims:
        check_dimension(dim)
    store = Prefetched(store, [(), *((d,) for d in dims), ("cache",), PROMPT_CACHE_DIMS, _UNPRICED_DIMS], filters)
    totals = store.totals(filters)
    report: dict[str, Any] = {"filters": _describe(filters), **_measures(totals)}
    report["cost_breakdown_usd"] = {
        kind: _usd(totals[f"{kind}_cost_nanos"]) for kind in ("input", "cache_read", "cache_write", "output")
    }
    by_tag: dict[str, list[dict[str, Any]]] = {}
    for dim in dims:
        groups = [_group(dim, row) for row in store.aggregate([dim], filters)]
        if dim == "day":
            groups.sort(key=lambda g: g["day"] or "")
        else:
            groups.sort(key=lambda g: (-g["_cost"], -g["requests"], str(g[_label(dim)])))
        for g in groups:
            del g["_cost"]
        if dim.startswith("tag:"):
            by_tag[dim[4:]] = groups
        else:
            report[f"by_{dim}"] = groups
    report["by_tag"] = by_tag
    report["cache_kinds"] = by_cache_kind(store, filters)
    checks = check_cost(report["cache_kinds"])
    if checks:  # the semantic cache's LLM checks are its own cost: the saving is net of them
        report["saved_usd"] = usd_str(from_nanos(totals["avoided_cost_nanos"]) - checks)
        report["cache_check_cost_usd"] = usd_str(checks)
    report["prompt_cache"] = prompt_cache(store, filters, catalog)
    report["unpriced"] = _unpriced(store, filters) if totals["unpriced"] else None
    return report


def _label(dim: str) -> str:
    return "value" if dim.startswith("tag:") else dim


def _usd(nanos: int) -> str:
    return usd_str(from_nanos(nanos))


def _measures(row: Mapping[str, Any], cost_key: str = "total_cost_usd") -> dict[str, Any]:
    tokens = {name: int(row[column]) for name, column in TOKEN_NAMES.items()}
    tokens["total"] = sum(v for k, v in tokens.items() if k != "reasoning")
    latency = row["avg_latency_ms"]
    return {
        "requests": row["requests"],
        "errors": row["errors"],
        "unpriced_requests": row["unpriced"],
        "cache_hits": row["cache_hits"],
        cost_key: _usd(row["cost_nanos"]),
        "list_cost_usd": _usd(row["list_cost_nanos"]),
        "discount_usd": _usd(max(0, row["list_cost_nanos"] - row["cost_nanos"])),
        "saved_usd": _usd(row["avoided_cost_nanos"]),
        "tokens": tokens,
        "avg_latency_ms": None if latency is None else round(latency, 3),
    }


def _group(dim: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {_label(dim): row[dim], **_measures(row, "cost_usd"), "_cost": row["cost_nanos"]}


_UNPRICED_DIMS = ("model", "price_source")


def _unpriced(store: Reader, filters: Filters) -> dict[str, Any]:
    """Unpriced calls by cause, because each has its own remedy: a model with no known price
    (add one, reprice), or a provider that reported no usage (nothing to price)."""
    by_cause: dict[str, dict[str | None, int]] = {"no_price": {}, "no_usage": {}}
    for r in store.aggregate(_UNPRICED_DIMS, filters):
        if r["unpriced"]:
            models = by_cause["no_usage" if r["price_source"] == NO_USAGE else "no_price"]
            models[r["model"]] = models.get(r["model"], 0) + r["unpriced"]
    causes = [_cause(cause, models) for cause, models in by_cause.items() if models]
    merged: dict[str | None, int] = {}
    for models in by_cause.values():
        for model, n in models.items():
            merged[model] = merged.get(model, 0) + n
    return {
        "requests": sum(c["requests"] for c in causes),
        "models": _ranked(merged),
        "causes": causes,
        "message": " ".join(c["message"] for c in causes),
    }


def _ranked(models: Mapping[str | None, int]) -> list[dict[str, Any]]:
    ranked = sorted(models.items(), key=lambda m: (-m[1], m[0] or ""))
    return [{"model": model, "requests": n} for model, n in ranked]


def _cause(cause: str, models: Mapping[str | None, int]) -> dict[str, Any]:
    ranked = _ranked(models)
    total = sum(models.values())
    names = ", ".join(f"{m['model'] or '(none)'} ({m['requests']})" for m in ranked)
    if cause == "no_usage":
        message = (
            f"{total} request(s) got no token usage from the provider and count as $0 here: {names}. "
            f"With no tokens there is nothing to price (`costops reprice` leaves them unpriced): {NO_USAGE_HINT}."
        )
    else:
        message = f"{total} request(s) had no known price and count as $0 here: {names}. To price them, {UNPRICED_HINT}."
    return {"cause": cause, "requests": total, "models": ranked, "message": message}


def _describe(filters: Filters) -> dict[str, Any]:
    def iso(ts: float | None) -> str | None:
        return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")

    out: dict[str, Any] = {"since": iso(filters.since), "until": iso(filters.until)}
    for name in ("tenant", "project", "model", "provider"):
        if getattr(filters, name) is not None:
            out[name] = getattr(filters, name)
    if filters.tags:
        out["tags"] = dict(filters.tags)
    return out


# -- re-pricing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepriceResult:
    examined: int
    changed: int
    still_unpriced: dict[str, int]
    """Models that still have no price, with how many of their records were examined."""
    no_usage: dict[str, int] = dataclasses.field(default_factory=dict)
    """Models of records left unpriced because their provider reported no usage."""


def reprice(store: LedgerStore, config: Config, *, unpriced_only: bool = True, batch: int = 500) -> RepriceResult:
    """Price stored records again from their token counts, with the current catalog and config.

    Each record is priced at its own timestamp (the price that applied that day) by the same
    :func:`~costops.pricing.quote.quote` the gateway settles calls with; only price columns change.
    A record whose provider reported no usage has no tokens to price: it stays unpriced, never
    becomes a $0 call. A record whose tokens costops estimated keeps that mark in its price source.
    """
    catalog = PriceCatalog(config.prices)
    examined = 0
    changed: list[UsageRecord] = []
    n_changed = 0
    still: dict[str, int] = {}
    no_usage: dict[str, int] = {}
    for record in store.iter_records(Filters(priced=False if unpriced_only else None)):
        examined += 1
        if not record.priced and record.price_source == NO_USAGE and record.usage == Usage():
            no_usage[record.model] = no_usage.get(record.model, 0) + 1
            continue
        deployment = config.deployment(record.deployment) if record.deployment else None
        q = quote(
            catalog,
            deployment,
            record.model,
            record.usage,
            service_tier=record.service_tier,
            at=datetime.fromtimestamp(record.ts, UTC),
        )
        if not q.priced:
            still[record.model] = still.get(record.model, 0) + 1
        source = _keep_estimate_mark(q.source, record.price_source)
        new = dataclasses.replace(record, priced=q.priced, price_source=source, list_cost=q.list_cost, cost=q.cost)
        if _price_columns(new) != _price_columns(record):
            changed.append(new)
        if len(changed) >= batch:
            store.update_costs(changed)
            n_changed += len(changed)
            changed = []
    store.update_costs(changed)
    return RepriceResult(examined, n_changed + len(changed), still, no_usage)


def _keep_estimate_mark(source: str | None, old: str | None) -> str | None:
    """The new price source, still saying the tokens were estimated if the old one did."""
    if not old or (at := old.find(ESTIMATED)) < 0:
        return source
    return f"{source}; {old[at:]}" if source else old[at:]


def _price_columns(record: UsageRecord) -> tuple[Any, ...]:
    row = store_row(record)
    return tuple(row[c] for c in PRICE_COLUMNS)


# -- renderers -----------------------------------------------------------------------------------


def render_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False)


def money(usd: str | Decimal) -> str:
    """For people: four decimals (the JSON keeps every digit)."""
    d = Decimal(usd)
    if d == 0:
        return "$0"
    q = d.quantize(Decimal("0.0001"))
    if q == 0:
        return "<$0.0001"
    return f"${q:,.4f}"


def _int(n: int) -> str:
    return f"{n:,}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain aligned text: the first column left-aligned, the numbers right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        out = [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


_GROUP_HEADERS = ("requests", "errors", "unpriced", "input tok", "cached tok", "output tok", "cost", "share")


def _group_rows(groups: Sequence[Mapping[str, Any]], key: str, total_usd: Decimal) -> list[list[str]]:
    rows = []
    for g in groups:
        t = g["tokens"]
        cost = Decimal(g["cost_usd"])
        share = f"{cost / total_usd * 100:.1f}%" if total_usd else "-"
        name = g[key]
        rows.append(
            [
                "(none)" if name is None else str(name),
                _int(g["requests"]),
                _int(g["errors"]),
                _int(g["unpriced_requests"]),
                _int(t["input"] + t["cache_write_5m"] + t["cache_write_1h"]),
                _int(t["cache_read"]),
                _int(t["output"]),
                money(cost),
                share,
            ]
        )
    return rows


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _cache_lines(report: Mapping[str, Any]) -> list[str]:
    """Savings by response-cache kind, and provider prompt caching per route."""
    lines: list[str] = []
    kinds = report.get("cache_kinds") or []
    if any(k["cache"] is not None for k in kinds) and any("check_cost_usd" in k for k in kinds):
        rows = [[str(k["cache"] or "(no cache)"), _int(k["requests"]), _pct(k["share"]),
                 money(k.get("avoided_usd", k["saved_usd"])), _int(k.get("checks", 0)), money(k.get("check_cost_usd", "0")),
                 money(k["saved_usd"])] for k in kinds]
        lines += ["", "By cache kind (saved = avoided - LLM check cost)",
                  table(("cache", "requests", "share", "avoided", "checks", "check cost", "saved"), rows)]
    elif any(k["cache"] is not None for k in kinds):
        rows = [[str(k["cache"] or "(no cache)"), _int(k["requests"]), _pct(k["share"]), money(k["saved_usd"])] for k in kinds]
        lines += ["", "By cache kind", table(("cache", "requests", "share", "saved"), rows)]
    pc = report.get("prompt_cache") or {}
    routes = [r for r in pc.get("by_route", ()) if r["cache_read_tokens"] or r["cache_write_tokens"]]
    if routes:
        rows = [
            [f"{r['deployment']}/{r['model']}", _int(r["prompt_tokens"]), _int(r["cache_read_tokens"]),
             _int(r["cache_write_tokens"]), _pct(r["hit_rate"]),
             "unpriced" if r["net_saving_usd"] is None else money(r["net_saving_usd"])]
            for r in routes
        ]
        lines += [
            "",
            f"Provider prompt cache  hit rate {_pct(pc['hit_rate'])}   net saving {money(pc['net_saving_usd'])}",
            table(("route", "prompt tok", "read tok", "write tok", "hit rate", "net saving"), rows),
        ]
    return lines


def render_table(report: Mapping[str, Any]) -> str:
    f = report["filters"]
    period = f"{f.get('since') or 'start'} .. {f.get('until') or 'now'}"
    t = report["tokens"]
    lines = [
        f"costops report  {period}",
        f"requests {_int(report['requests'])}   errors {_int(report['errors'])}   "
        f"unpriced {_int(report['unpriced_requests'])}   cache hits {_int(report['cache_hits'])}",
        f"cost {money(report['total_cost_usd'])}   list {money(report['list_cost_usd'])}   "
        f"discounts {money(report['discount_usd'])}   saved by cache {money(report['saved_usd'])}",
        "tokens  " + "   ".join(f"{name} {_int(t[name])}" for name in (*TOKEN_NAMES, "total")),
    ]
    total = Decimal(report["total_cost_usd"])
    for key, value in report.items():
        if key.startswith("by_") and key != "by_tag" and value:
            dim = key[3:]
            lines += ["", f"By {dim}", table((dim, *_GROUP_HEADERS), _group_rows(value, dim, total))]
    for tag, groups in report.get("by_tag", {}).items():
        if groups:
            lines += ["", f"By tag {tag}", table((tag, *_GROUP_HEADERS), _group_rows(groups, "value", total))]
    lines += _cache_lines(report)
    if report.get("unpriced"):
        lines += ["", *("! " + cause["message"] for cause in report["unpriced"]["causes"])]
    return "\n".join(lines) + "\n"
