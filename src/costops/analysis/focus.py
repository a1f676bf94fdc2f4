"""The ledger as FinOps FOCUS 1.2 cost and usage rows, for FinOps tools that read FOCUS.

A FOCUS row is one charge for one SKU meter. An LLM call is several: its uncached input, cache
reads, cache writes and output tokens are priced apart, so each call gives one row per token
kind it used (``SkuMeter``), and ``--granularity hour`` sums those rows per hour and dimension
(provider, deployment, model, tenant, team, project, tags, kind). Retried and escalated attempts
are rows too: the provider billed them.

Money is exact: each part is the ledger's rounded nano-dollar part (the parts of a call add up
to its stored total), summed as integers and written as decimal strings (CSV) or
``decimal128(38, 9)`` (Parquet), so the file's BilledCost sums to the ledger's cost to the
nano-dollar. Costs map as costops keeps them:

- ``ListCost``: the public list price; ``ContractedCost``, ``EffectiveCost`` and ``BilledCost``:
  the effective cost (after configured discounts and negotiated deployment prices; costops
  knows no commitment discounts, so nothing is amortized and billed equals effective);
- ``ConsumedQuantity`` / ``PricingQuantity``: tokens, ``ConsumedUnit`` / ``PricingUnit``: ``Tokens``;
- ``InvoiceId``: a provisional statement per provider and billing month (``costops-openai-2026-11``),
  costops's own id: the provider's invoice number is not known to the gateway;
- ``SubAccountId``: the tenant; ``Tags``: the call's tags plus costops's own attribution
  (``costops/team``, ``costops/project``, ``costops/user``, ``costops/key``);
- ``x_``-prefixed columns (FOCUS's custom columns): request counts, price source, priced or not.

A call recorded without a price (unknown model) keeps its tokens with zero cost and
``x_CostopsPriced`` false: unpriced, not free (``costops reprice`` fixes the books).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, Any

from costops.analysis.sql import Dialect
from costops.ledger.query import Filters
from costops.ledger.record import UsageRecord
from costops.money import from_nanos, usd_str

FOCUS_VERSION = "1.2"

COLUMNS: tuple[str, ...] = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodStart", "BillingPeriodEnd", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ChargePeriodStart", "ChargePeriodEnd", "CommitmentDiscountStatus", "ConsumedQuantity", "ConsumedUnit",
    "ContractedCost", "EffectiveCost", "InvoiceId", "InvoiceIssuerName", "ListCost", "PricingCategory", "PricingQuantity",
    "PricingUnit", "ProviderName", "PublisherName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "ServiceSubcategory", "SkuId", "SkuMeter", "SkuPriceId",
    "SubAccountId", "SubAccountName", "Tags",
    "x_CostopsRequestId", "x_CostopsRequests", "x_CostopsModel", "x_CostopsPriceSource", "x_CostopsPriced",
)
MONEY_COLUMNS = ("BilledCost", "ContractedCost", "EffectiveCost", "ListCost")
QUANTITY_COLUMNS = ("ConsumedQuantity", "PricingQuantity")
TIME_COLUMNS = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")

# (meter, cost part index in CostBreakdown.parts_nanos(), the record's token fields)
KINDS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("Input Tokens", 0, ("input_tokens",)),
    ("Cache Read Tokens", 1, ("cache_read_tokens",)),
    ("Cache Write Tokens", 2, ("cache_write_5m_tokens", "cache_write_1h_tokens")),
    ("Output Tokens", 3, ("output_tokens",)),
)

PROVIDERS = {"openai": "OpenAI", "anthropic": "Anthropic", "gemini": "Google"}
SERVICES = {"openai": "OpenAI API", "anthropic": "Anthropic API", "gemini": "Gemini API"}


@dataclass(frozen=True, slots=True)
class Account:
    """Who the export bills: FOCUS's billing account (the organization running costops)."""

    id: str = "costops"
    name: str = "costops gateway"


@dataclass(slots=True)
class Charge:
    """One FOCUS row before formatting: money in nano-dollars, times in Unix seconds."""

    hour: int
    provider: str
    deployment: str
    model: str
    tenant: str
    tags: str
    meter: str
    price_source: str
    priced: bool
    request_id: str | None
    tokens: int = 0
    list_nanos: int = 0
    cost_nanos: int = 0
    requests: int = 0


def charges(records: Iterable[UsageRecord], *, hourly: bool) -> Iterator[Charge]:
    """Per call and token kind, or summed per hour and dimension (``hourly``), in ledger order
    (summed groups come out in first-seen order once the records end)."""
    groups: dict[tuple[object, ...], Charge] = {}
    for r in records:
        if not r.deployment:  # refused before any provider: nothing consumed, nothing billed
            continue
        eff = r.cost.parts_nanos()
        lst = eff if r.list_cost is r.cost else r.list_cost.parts_nanos()
        hour = int(r.ts // 3600 * 3600)
        tags = _tags(r)
        counted = False
        for meter, part, fields in KINDS:
            tokens = sum(getattr(r.usage, f) for f in fields)
            if not tokens and not eff[part] and not lst[part]:
                continue
            source = r.price_source or ""
            requests = 0 if counted or r.parent_id is not None else 1  # a logical request counts once
            counted = True
            if not hourly:
                yield Charge(hour, r.provider or "", r.deployment, r.model, r.tenant, tags, meter, source, r.priced,
                             r.request_id, tokens, lst[part], eff[part], requests)
                continue
            key = (hour, r.provider, r.deployment, r.model, r.tenant, tags, meter, source, r.priced)
            c = groups.get(key)
            if c is None:
                c = groups[key] = Charge(hour, r.provider or "", r.deployment, r.model, r.tenant, tags, meter,
                                         source, r.priced, None)
            c.tokens += tokens
            c.list_nanos += lst[part]
            c.cost_nanos += eff[part]
            c.requests += requests
    yield from groups.values()


def _tags(r: UsageRecord) -> str:
    return _tags_json(r.tags, r.team, r.project, r.user, r.key_id)


def _tags_json(given: Mapping[str, str] | None, team: str | None, project: str | None, user: str | None,
               key: str | None) -> str:
    tags = {str(k): str(v) for k, v in (given or {}).items()}
    for name, value in (("team", team), ("project", project), ("user", user), ("key", key)):
        if value:
            tags[f"costops/{name}"] = value
    return json.dumps(tags, sort_keys=True, ensure_ascii=False)


# the engine's columns of each kind: tokens, list part, effective part (KINDS' order)
_KIND_SQL = (
    ("u.input_tokens", "u.list_input_cost_nanos", "u.input_cost_nanos"),
    ("u.cache_read_tokens", "u.list_cache_read_cost_nanos", "u.cache_read_cost_nanos"),
    ("(u.cache_write_5m_tokens + u.cache_write_1h_tokens)", "u.list_cache_write_cost_nanos", "u.cache_write_cost_nanos"),
    ("u.output_tokens", "u.list_output_cost_nanos", "u.output_cost_nanos"),
)
_GROUP = ("u.hour", "u.provider", "u.deployment", "u.model", "u.tenant", "u.team", "u.project", "u.user_id", "u.key_id",
          "u.tags", "u.price_source", "u.priced")


def hourly_sql(filters: Filters, d: Dialect) -> str:
    """:func:`charges` ``hourly``, summed by an analytics engine over its calls: one row per hour
    and dimension (the tags and the team, project, user and key that :func:`_tags` adds to them),
    then per token kind its tokens, list and effective nanos, how many calls used it (a FOCUS row
    exists only for a kind some call used: tokens or a cost part), and how many logical requests
    it counts (a request counts once, on the first kind it used). No rollup holds this grouping
    (user and key make a group of about every call), so it is one aggregation over the calls."""
    from costops.analysis.sql import where_parts

    used = [f"({t} <> 0 OR {lp} <> 0 OR {ep} <> 0)" for t, lp, ep in _KIND_SQL]
    measures = []
    for i, (t, lp, ep) in enumerate(_KIND_SQL):
        first = " AND ".join([used[i], *(f"NOT {used[j]}" for j in range(i))])
        measures += [d.exact(f"SUM({t})"), d.exact(f"SUM({lp})"), d.exact(f"SUM({ep})"),
                     d.exact(f"SUM(CASE WHEN {used[i]} THEN 1 ELSE 0 END)"),
                     d.exact(f"SUM(CASE WHEN u.parent_id IS NULL AND {first} THEN 1 ELSE 0 END)")]
    parts = ["u.deployment IS NOT NULL", "u.deployment <> ''", *where_parts(filters, d)]
    return (f"SELECT {', '.join([*_GROUP, *measures])} FROM {d.table} WHERE {' AND '.join(parts)} "
            f"GROUP BY {', '.join(_GROUP)}{d.settings}")


def engine_charges(rows: Iterable[Sequence[Any]]) -> list[Charge]:
    """:func:`hourly_sql`'s rows as :func:`charges` ``hourly`` makes them: the same groups (two
    SQL groups whose tags write the same JSON are one), ordered by hour, dimensions and kind."""
    groups: dict[tuple[object, ...], Charge] = {}
    n = len(_GROUP)
    for row in rows:
        hour, provider, deployment, model, tenant, team, project, user, key, given, source, priced = row[:n]
        tags = _tags_json(dict(given) if given else None, team, project, user, key)
        for k, (meter, _, _) in enumerate(KINDS):
            tokens, list_nanos, cost_nanos, used, requests = (int(v or 0) for v in row[n + 5 * k: n + 5 * k + 5])
            if not used:
                continue
            at = (hour * 3600, provider, deployment, model, tenant, tags, meter, source or "", bool(priced))
            c = groups.get(at)
            if c is None:
                c = groups[at] = Charge(hour * 3600, provider or "", deployment, model, tenant, tags, meter, source or "",
                                        bool(priced), None)
            c.tokens += tokens
            c.list_nanos += list_nanos
            c.cost_nanos += cost_nanos
            c.requests += requests
    order = {meter: i for i, (meter, _, _) in enumerate(KINDS)}
    return sorted(groups.values(), key=lambda c: (c.hour, c.provider, c.deployment, c.model, c.tenant or "", c.tags,
                                                  order[c.meter], c.price_source, c.priced))


def month_bounds(ts: float) -> tuple[datetime, datetime]:
    """The calendar month (UTC) holding ``ts``: the billing period."""
    t = datetime.fromtimestamp(ts, UTC)
    start = datetime(t.year, t.month, 1, tzinfo=UTC)
    end = datetime(t.year + (t.month == 12), t.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def focus_row(c: Charge, account: Account) -> dict[str, object]:
    """A charge in FOCUS's columns: money as nano-dollar ints, times as aware datetimes (the
    writers format them)."""
    period_start, period_end = month_bounds(c.hour)
    provider = PROVIDERS.get(c.provider, c.provider or c.deployment)
    description = f"{c.model} {c.meter.lower()}" + ("" if c.priced else " (unpriced: no known price)")
    return {
        "BilledCost": c.cost_nanos, "BillingAccountId": account.id, "BillingAccountName": account.name,
        "BillingCurrency": "USD", "BillingPeriodStart": period_start, "BillingPeriodEnd": period_end,
        "ChargeCategory": "Usage", "ChargeClass": None, "ChargeDescription": description,
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodStart": datetime.fromtimestamp(c.hour, UTC),
        "ChargePeriodEnd": datetime.fromtimestamp(c.hour + 3600, UTC),
        "CommitmentDiscountStatus": None,  # no commitment discount: ConsumedQuantity's rules read this column
        "ConsumedQuantity": c.tokens, "ConsumedUnit": "Tokens",
        "ContractedCost": c.cost_nanos, "EffectiveCost": c.cost_nanos,
        "InvoiceId": f"costops-{c.provider or c.deployment}-{period_start:%Y-%m}",
        "InvoiceIssuerName": provider,
        "ListCost": c.list_nanos, "PricingCategory": "Standard", "PricingQuantity": c.tokens, "PricingUnit": "Tokens",
        "ProviderName": provider, "PublisherName": provider,
        "ResourceId": c.deployment, "ResourceName": c.deployment, "ResourceType": "LLM Deployment",
        "ServiceCategory": "AI and Machine Learning", "ServiceName": SERVICES.get(c.provider, f"{provider} API"),
        "ServiceSubcategory": "Generative AI",
        "SkuId": f"{c.provider}/{c.model}/{c.meter}", "SkuMeter": c.meter,
        "SkuPriceId": f"{c.provider}/{c.model}/{c.meter}@{c.price_source or 'unpriced'}",
        "SubAccountId": c.tenant, "SubAccountName": c.tenant, "Tags": c.tags,
        "x_CostopsRequestId": c.request_id, "x_CostopsRequests": c.requests, "x_CostopsModel": c.model,
        "x_CostopsPriceSource": c.price_source or None, "x_CostopsPriced": c.priced,
    }


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def csv_value(name: str, value: object) -> str:
    if value is None:
        return ""
    if name in MONEY_COLUMNS:
        return usd_str(from_nanos(int(value)))  # type: ignore[call-overload]
    if name in QUANTITY_COLUMNS:
        return f"{value}.0"  # FOCUS types quantities as decimals: a bare integer reads as one
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- files -------------------------------------------------------------------------------------


def write_csv(out: IO[str], rows: Iterable[dict[str, object]]) -> int:
    """RFC 4180 CSV with a header row; returns the rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    n = 0
    for row in rows:
        writer.writerow([csv_value(name, row[name]) for name in COLUMNS])
        n += 1
    return n


def write_parquet(path: str, rows: Iterable[dict[str, object]], batch: int = 50_000) -> int:
    """Parquet with typed columns: money ``decimal128(38, 9)`` (exact dollars), times UTC
    timestamps, quantities int64; written a batch at a time, so memory stays flat."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise RuntimeError(f"--format parquet needs pyarrow ({exc}): pip install 'costops[focus]'") from None
    money = pa.decimal128(38, 9)
    fields = []
    for name in COLUMNS:
        if name in MONEY_COLUMNS:
            kind = money
        elif name in TIME_COLUMNS:
            kind = pa.timestamp("s", tz="UTC")
        elif name in QUANTITY_COLUMNS:
            kind = pa.decimal128(38, 0)
        elif name == "x_CostopsRequests":
            kind = pa.int64()
        elif name == "x_CostopsPriced":
            kind = pa.bool_()
        else:
            kind = pa.string()
        fields.append(pa.field(name, kind))
    schema = pa.schema(fields)
    n = 0
    with pq.ParquetWriter(path, schema) as writer:
        for chunk in _batches(rows, batch):
            columns = {name: [r[name] for r in chunk] for name in COLUMNS}
            for name in MONEY_COLUMNS:
                columns[name] = [from_nanos(int(v)) for v in columns[name]]  # type: ignore[call-overload]
            for name in QUANTITY_COLUMNS:
                columns[name] = [Decimal(int(v)) for v in columns[name]]  # type: ignore[call-overload]
            writer.write_table(pa.table(columns, schema=schema))
            n += len(chunk)
        if n == 0:
            writer.write_table(schema.empty_table())
    return n


def _batches(rows: Iterable[dict[str, object]], size: int) -> Iterator[list[dict[str, object]]]:
    chunk: list[dict[str, object]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
