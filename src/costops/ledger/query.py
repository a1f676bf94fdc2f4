"""The questions reports ask of the ledger, written once as SQL for both dialects.

Everything is aggregated by the database: a report over a billion rows moves a few hundred
group rows into Python, never the rows themselves. Money sums are integer nano-dollars (on
PostgreSQL ``SUM(bigint)`` comes back as ``numeric``, so every count and sum is turned into an
``int`` here), and a ``tag:<name>`` dimension joins ``usage_tags`` once per tag on its primary
key ``(request_id, key)``, so a join never duplicates a row and group sums still add up to the
total.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Filters:
    """Which rows a query sees. ``since`` is inclusive, ``until`` exclusive (Unix seconds, UTC)."""

    since: float | None = None
    until: float | None = None
    tenant: str | None = None
    project: str | None = None
    model: str | None = None
    provider: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    priced: bool | None = None
    """``False`` selects the rows recorded without a known price (what ``costops reprice`` fixes)."""


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    ph: str
    """The driver's parameter placeholder: ``?`` for sqlite3, ``%s`` for psycopg."""
    day: str
    """SQL for the UTC calendar day of ``u.ts`` as ``YYYY-MM-DD``."""


SQLITE = Dialect("sqlite", "?", "strftime('%Y-%m-%d', u.ts, 'unixepoch')")
POSTGRES = Dialect("postgres", "%s", "to_char(to_timestamp(u.ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD')")

DIMENSIONS: dict[str, str] = {
    "model": "u.model",
    "model_requested": "u.model_requested",
    "provider": "u.provider",
    "deployment": "u.deployment",
    "tenant": "u.tenant",
    "team": "u.team",
    "project": "u.project",
    "user": "u.user_id",
    "key": "u.key_id",
    "endpoint": "u.endpoint",
    "status": "u.status",
    "service_tier": "u.service_tier",
    "cache": "u.cache",
    "price_source": "u.price_source",
    "attempt_reason": "u.attempt_reason",
    "route": "u.route",
    "policy": "u.policy",
    "arm": "u.arm",
    "task": "u.task",
    "day": "",  # per dialect
}
"""Group-by names and their columns; ``tag:<name>`` is accepted besides these."""

TOKEN_KINDS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
)
MONEY = (
    "cost_nanos",
    "input_cost_nanos",
    "cache_read_cost_nanos",
    "cache_write_cost_nanos",
    "output_cost_nanos",
    "list_cost_nanos",
    "avoided_cost_nanos",
)
_COUNTS = {
    # a logical request counts once, however many attempts it took; its attempts' costs all add up
    "requests": "COALESCE(SUM(CASE WHEN u.parent_id IS NULL THEN 1 ELSE 0 END), 0)",
    "attempts": "COUNT(*)",
    "errors": "COALESCE(SUM(CASE WHEN u.status >= 400 AND u.parent_id IS NULL THEN 1 ELSE 0 END), 0)",
    "unpriced": "COALESCE(SUM(CASE WHEN u.priced = 0 AND u.status < 400 THEN 1 ELSE 0 END), 0)",
    "cache_hits": "COALESCE(SUM(CASE WHEN u.cache IN ('exact', 'semantic') THEN 1 ELSE 0 END), 0)",
}
MEASURES: dict[str, str] = {
    **_COUNTS,
    **{name: f"COALESCE(SUM(u.{name}), 0)" for name in TOKEN_KINDS + MONEY},
    "avg_latency_ms": "AVG(CASE WHEN u.parent_id IS NULL THEN u.latency_ms END)",
}
"""Every aggregate row carries these; all are exact integers except ``avg_latency_ms``."""


def check_dimension(dim: str, known: Collection[str] = DIMENSIONS) -> None:
    """``dim`` is one of ``known`` (the ledger's, or the analytics engines' wider set) or a
    ``tag:<name>``; else the error lists what can be asked, in one wording for every reader."""
    if dim in known or (dim.startswith("tag:") and len(dim) > 4):
        return
    raise ValueError(f"cannot group by {dim!r}: use one of {', '.join([*known, 'tag:<name>'])}")


def where(filters: Filters, d: Dialect) -> tuple[str, list[Any]]:
    """The WHERE clause (or ``""``) over the alias ``u``, and its parameters."""
    parts: list[str] = []
    params: list[Any] = []
    if filters.since is not None:
        parts.append(f"u.ts >= {d.ph}")
        params.append(float(filters.since))
    if filters.until is not None:
        parts.append(f"u.ts < {d.ph}")
        params.append(float(filters.until))
    for column in ("tenant", "project", "model", "provider"):
        value = getattr(filters, column)
        if value is not None:
            parts.append(f"u.{column} = {d.ph}")
            params.append(value)
    if filters.priced is not None:
        parts.append(f"u.priced = {d.ph}")
        params.append(int(filters.priced))
    for key, value in sorted(filters.tags.items()):
        parts.append(
            "EXISTS (SELECT 1 FROM usage_tags ft WHERE ft.request_id = u.request_id "
            f"AND ft.key = {d.ph} AND ft.value = {d.ph})"
        )
        params += [key, value]
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def aggregate_sql(group_by: Sequence[str], filters: Filters, d: Dialect) -> tuple[str, list[Any]]:
    joins: list[str] = []
    join_params: list[Any] = []
    exprs: list[str] = []
    for i, dim in enumerate(group_by):
        check_dimension(dim)
        if dim.startswith("tag:"):
            # LEFT JOIN on the tag table's primary key: at most one match, rows without the tag group as NULL
            joins.append(f" LEFT JOIN usage_tags g{i} ON g{i}.request_id = u.request_id AND g{i}.key = {d.ph}")
            join_params.append(dim[4:])
            exprs.append(f"g{i}.value")
        else:
            exprs.append(d.day if dim == "day" else DIMENSIONS[dim])
    where_sql, where_params = where(filters, d)
    select = [f"{e} AS d{i}" for i, e in enumerate(exprs)] + [f"{sql} AS {name}" for name, sql in MEASURES.items()]
    sql = f"SELECT {', '.join(select)} FROM usage u{''.join(joins)}{where_sql}"
    if exprs:
        positions = ", ".join(str(i + 1) for i in range(len(exprs)))
        sql += f" GROUP BY {positions} ORDER BY {positions}"
    return sql, join_params + where_params


def tag_keys_sql(filters: Filters, d: Dialect) -> tuple[str, list[Any]]:
    where_sql, params = where(filters, d)
    sql = f"SELECT DISTINCT t.key FROM usage_tags t JOIN usage u ON u.request_id = t.request_id{where_sql} ORDER BY 1"
    return sql, params


def shape(row: Sequence[Any], group_by: Sequence[str]) -> dict[str, Any]:
    """One result row as ``{dim: value, ..., measure: int, ..., avg_latency_ms: float|None}``."""
    out: dict[str, Any] = {}
    n = len(group_by)
    for dim, value in zip(group_by, row[:n], strict=True):
        out[dim] = value
    for name, value in zip(MEASURES, row[n:], strict=True):
        if name == "avg_latency_ms":
            out[name] = None if value is None else float(value)
        else:
            out[name] = int(value or 0)  # psycopg returns SUM(bigint) as Decimal
    return out
