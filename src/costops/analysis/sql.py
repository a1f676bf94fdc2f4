"""The analytics engines' SQL, written once for DuckDB and ClickHouse.

The engines keep their own columnar copy of the ledger (``usage``), shaped for scans: the
ledger's columns, integer time buckets computed at ingestion (``day`` and ``hour`` since the
epoch, ``month`` as ``year * 12 + month - 1``) and the tags as one ``MAP(key, value)`` column,
so a ``tag:<name>`` breakdown reads one column instead of joining a second table. Every query
is the ledger's own measure list (:data:`costops.ledger.query.MEASURES`: integer nano-dollar
sums, counted the same way) grouped by dimension expressions; a :class:`Dialect` supplies the
few spellings that differ (string literals, integer division, a missing map key, the table a
query reads). Values are inlined as quoted literals, never pasted: each dialect's ``literal``
escapes what its parser treats specially.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from costops.ledger.query import DIMENSIONS, MEASURES, TOKEN_KINDS, Filters
from costops.ledger.query import check_dimension as ledger_dimension
from costops.ledger.sql_store import COST_COLUMNS, LIST_PART_COLUMNS

MONEY_COLUMNS = (*COST_COLUMNS, "avoided_cost_nanos", *LIST_PART_COLUMNS)
"""The engines' money columns. Their order is part of a kept DuckDB file's table layout: append,
never reorder (a test in tests/test_analytics_engine.py pins it)."""
TEXT_COLUMNS = (
    "request_id", "endpoint", "model_requested", "model", "deployment", "provider", "tenant", "team",
    "project", "user_id", "key_id", "error_type", "price_source", "service_tier", "cache", "parent_id",
    "attempt_reason", "route", "policy", "arm", "task",
)
INT_COLUMNS = ("stream", "status", "priced", "attempt", "accepted")
COLUMNS: tuple[str, ...] = (
    "request_id", "ts", "day", "hour", "month", "endpoint", "model_requested", "model", "deployment",
    "provider", "tenant", "team", "project", "user_id", "key_id", "stream", "status", "error_type",
    "priced", "price_source", "service_tier", "cache", "parent_id", "attempt", "attempt_reason", "route",
    "policy", "arm", "task", "accepted", *TOKEN_KINDS, *MONEY_COLUMNS, "latency_ms", "ttft_ms", "tags",
)
"""The engines' ``usage`` table, in this order in both."""

TIME_DIMENSIONS = ("hour", "day", "week", "month")
ENGINE_DIMENSIONS: tuple[str, ...] = (*(d for d in DIMENSIONS if d != "day"), "error_type", *TIME_DIMENSIONS)

EXTRA_MEASURES: dict[str, str] = {
    "users": "COUNT(DISTINCT u.user_id)",
    "rated": "COALESCE(SUM(CASE WHEN f.score IS NOT NULL AND u.parent_id IS NULL THEN 1 ELSE 0 END), 0)",
    "good": "COALESCE(SUM(CASE WHEN f.score >= {good} AND u.parent_id IS NULL THEN 1 ELSE 0 END), 0)",
    "ok_output_tokens": "COALESCE(SUM(CASE WHEN u.status < 400 AND u.parent_id IS NULL THEN u.output_tokens ELSE 0 END), 0)",
}
"""Measures only some questions need (the unit economics): ``rated`` and ``good`` join the
feedback table, so they are asked for by name, never computed by default."""
FEEDBACK_MEASURES = ("rated", "good")


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    literal: Callable[[str], str]
    idiv: Callable[[str, int], str]
    tag: Callable[[str], str]
    """The value of tag ``key`` (a quoted literal) as SQL, NULL where the row has no such tag."""
    table: str
    """What a report reads: ``usage`` (ClickHouse adds ``FINAL``: rows delivered twice count once)."""
    feedback: str
    settings: str = ""
    """Appended to every query (ClickHouse: an outer join's missing side is NULL, as in SQL)."""
    exact: Callable[[str], str] = lambda expr: expr
    """An integer sum as it leaves the engine. DuckDB sums BIGINTs into 128-bit HUGEINTs, which
    its Python client turns into ints five times slower than BIGINTs (half a small report's
    time): cast back, so a sum past 2^63 (nano-dollars: $9.2 billion in one group) is an error,
    never a wrong number. ClickHouse sums Int64 as Int64 already."""


def _duck_literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _ch_literal(text: str) -> str:
    return "'" + str(text).replace("\\", "\\\\").replace("'", "\\'") + "'"


DUCKDB = Dialect(
    "duckdb",
    _duck_literal,
    lambda expr, n: f"(({expr}) // {n})",
    lambda key: f"u.tags[{key}]",
    "usage u",
    "feedback AS f",
    exact=lambda expr: f"CAST({expr} AS BIGINT)",
)
CLICKHOUSE = Dialect(
    "clickhouse",
    _ch_literal,
    lambda expr, n: f"intDiv({expr}, {n})",
    lambda key: f"if(mapContains(u.tags, {key}), u.tags[{key}], NULL)",
    "usage AS u FINAL",
    "feedback AS f FINAL",
    " SETTINGS join_use_nulls = 1",
)


INEXACT = ("avg_latency_ms", "latency_sum")
"""The measures that are not integer sums."""


def measure_sql(name: str, sql: str, d: Dialect) -> str:
    """``sql AS name``, an integer sum handed out as the dialect's plain integer (:attr:`Dialect.exact`)."""
    return f"{sql if name in INEXACT else d.exact(sql)} AS {name}"


def check_dimension(dim: str) -> None:
    """A dimension the engines group by: :data:`ENGINE_DIMENSIONS` or a ``tag:<name>``."""
    ledger_dimension(dim, ENGINE_DIMENSIONS)


def dimension_sql(dim: str, d: Dialect) -> str:
    check_dimension(dim)
    if dim.startswith("tag:"):
        return d.tag(d.literal(dim[4:]))
    if dim in ("day", "hour", "month"):
        return f"u.{dim}"
    if dim == "week":
        return d.idiv("u.day + 3", 7)  # epoch day 0 was a Thursday: weeks start on Mondays
    if dim == "error_type":
        return "u.error_type"
    return DIMENSIONS[dim]


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"not a finite time: {value!r}")
    return repr(float(value))


def where_sql(filters: Filters, d: Dialect) -> str:
    parts = where_parts(filters, d)
    return (" WHERE " + " AND ".join(parts)) if parts else ""


def where_parts(filters: Filters, d: Dialect) -> list[str]:
    """The conditions ``filters`` make, over the alias ``u`` (a cube has the same column names)."""
    parts: list[str] = []
    if filters.since is not None:
        parts.append(f"u.ts >= {_number(filters.since)}")
    if filters.until is not None:
        parts.append(f"u.ts < {_number(filters.until)}")
    for column in ("tenant", "project", "model", "provider"):
        value = getattr(filters, column)
        if value is not None:
            parts.append(f"u.{column} = {d.literal(value)}")
    if filters.priced is not None:
        parts.append(f"u.priced = {int(filters.priced)}")
    for key, value in sorted(filters.tags.items()):
        parts.append(f"{d.tag(d.literal(key))} = {d.literal(value)}")
    return parts


def aggregate_sql(
    group_by: Sequence[str], filters: Filters, d: Dialect, extra: Sequence[str] = (), good_score: float = 0.5,
    *, inner: bool = False, also: str = "",
) -> str:
    """One scan: ``d0..dN`` (the dimensions), then :data:`MEASURES`, then the ``extra`` measures."""
    exprs = [dimension_sql(dim, d) for dim in group_by]
    measures = dict(MEASURES)
    for name in extra:
        if name not in EXTRA_MEASURES:
            raise ValueError(f"unknown measure {name!r}: use one of {', '.join(EXTRA_MEASURES)}")
        measures[name] = EXTRA_MEASURES[name].format(good=_number(good_score))
    select = [f"{e} AS d{i}" for i, e in enumerate(exprs)] + [measure_sql(name, sql, d) for name, sql in measures.items()]
    source = d.table
    if any(name in FEEDBACK_MEASURES for name in extra):
        source += f" LEFT JOIN {d.feedback} ON f.request_id = u.request_id"
    parts = where_parts(filters, d) + ([also] if also else [])
    sql = f"SELECT {', '.join(select)} FROM {source}" + (" WHERE " + " AND ".join(parts) if parts else "")
    if exprs:
        positions = ", ".join(f"d{i}" for i in range(len(exprs)))
        sql += f" GROUP BY {positions}"
        if not inner:
            sql += f" ORDER BY {', '.join(f'd{i} NULLS FIRST' for i in range(len(exprs)))}"
    return sql if inner else sql + d.settings


def counted_rows(
    run: Callable[[str], Sequence[Sequence[Any]]], group_by: Sequence[str], filters: Filters, d: Dialect,
    names: Sequence[str], good_score: float = 0.5,
) -> dict[tuple[Any, ...], dict[str, int]]:
    """The measures no sum holds, per group (the raw dimension values): ``users`` as the count of
    distinct (group, user) pairs, two aggregations (a fifth less CPU than ``COUNT(DISTINCT)`` over
    10 M calls); ``rated`` and ``good`` from the feedback joined to its calls, feedback first (an
    inner join costs what the feedback holds, nothing when there is none; a group without
    feedback is absent: 0). Asked with ``run``, an engine's query function."""
    exprs = [dimension_sql(dim, d) for dim in group_by]
    dims = [f"d{i}" for i in range(len(exprs))]
    selected = [f"{e} AS d{i}" for i, e in enumerate(exprs)]
    grouped = f" GROUP BY {', '.join(dims)}" if dims else ""
    out: dict[tuple[Any, ...], dict[str, int]] = {}
    n = len(dims)
    if "users" in names:
        pairs = f"SELECT {', '.join([*selected, 'u.user_id AS who'])} FROM {d.table}{where_sql(filters, d)} GROUP BY {', '.join([*dims, 'who'])}"
        for row in run(f"SELECT {', '.join([*dims, d.exact('COUNT(who)') + ' AS users'])} FROM ({pairs}) AS p{grouped}{d.settings}"):
            out.setdefault(tuple(row[:n]), {})["users"] = int(row[n])
    asked = [name for name in FEEDBACK_MEASURES if name in names]
    if asked:
        measures = [measure_sql(name, EXTRA_MEASURES[name].format(good=_number(good_score)), d) for name in asked]
        for row in run(f"SELECT {', '.join([*selected, *measures])} FROM {d.feedback} JOIN {d.table} ON f.request_id = u.request_id"
                       f"{where_sql(filters, d)}{grouped}{d.settings}"):
            out.setdefault(tuple(row[:n]), {}).update(zip(asked, (int(v) for v in row[n:]), strict=True))
    return out


def top_sql(dim: str, filters: Filters, d: Dialect, n: int) -> str:
    """The ``n`` values of ``dim`` that cost most, and (last column) how many values there are:
    a breakdown by user or key has tens of thousands of groups, and only the top few leave SQL.
    Two measures rank them (every measure for each of 50,000 users costs five times as much);
    :func:`among_sql` then sums the rest for those few."""
    e = dimension_sql(dim, d)
    return (f"SELECT {e} AS d0, {MEASURES['cost_nanos']} AS c, {MEASURES['requests']} AS r, COUNT(*) OVER () AS n_groups "
            f"FROM {d.table}{where_sql(filters, d)} GROUP BY d0 ORDER BY c DESC, r DESC, d0 NULLS FIRST LIMIT {int(n)}{d.settings}")


def top_rows(run: Callable[[str], Sequence[Sequence[Any]]], dim: str, filters: Filters, d: Dialect, n: int) -> tuple[list[dict[str, Any]], int]:
    """The ``n`` costliest values of ``dim`` as :func:`shape` rows, and how many values there are,
    asked with ``run`` (an engine's query function): ranked by :func:`top_sql`, then summed."""
    found = run(top_sql(dim, filters, d, n))
    if not found:
        return [], 0
    rows = [shape(r, [dim]) for r in run(aggregate_sql([dim], filters, d, also=among_sql(dim, [r[0] for r in found], d)))]
    rows.sort(key=lambda r: (-r["cost_nanos"], -r["requests"], r[dim] is not None, r[dim]))
    return rows, int(found[0][-1])


def tops_sql(dims: Sequence[str], filters: Filters, d: Dialect, n: int) -> str:
    """:func:`top_sql` for several dimensions in one scan (``GROUPING SETS``): per dimension its
    ``n`` costliest values (``gid``, then ``d0..dN`` with only that one set, then its count of
    values). The dashboard ranks users and keys at once, not in a scan each."""
    exprs = [dimension_sql(dim, d) for dim in dims]
    cols = ", ".join(f"d{i}" for i in range(len(dims)))
    order = ", ".join(f"d{i} NULLS FIRST" for i in range(len(dims)))
    grouped = (f"SELECT {', '.join(f'{e} AS d{i}' for i, e in enumerate(exprs))}, GROUPING({', '.join(exprs)}) AS gid, "
               f"{MEASURES['cost_nanos']} AS c, {MEASURES['requests']} AS r FROM {d.table}{where_sql(filters, d)} "
               f"GROUP BY GROUPING SETS ({', '.join(f'({e})' for e in exprs)})")
    ranked = (f"SELECT gid, {cols}, ROW_NUMBER() OVER (PARTITION BY gid ORDER BY c DESC, r DESC, {order}) AS rn, "
              f"COUNT(*) OVER (PARTITION BY gid) AS n_groups FROM ({grouped}) AS g")
    return f"SELECT gid, {cols}, n_groups FROM ({ranked}) AS t WHERE rn <= {int(n)} ORDER BY gid, rn{d.settings}"


def tops_rows(
    run: Callable[[str], Sequence[Sequence[Any]]], dims: Sequence[str], filters: Filters, d: Dialect, n: int
) -> dict[str, tuple[list[dict[str, Any]], int]]:
    """:func:`top_rows` for each of ``dims``: ranked in one scan by :func:`tops_sql`, then every
    measure of the ranked values summed in a second (:func:`among_sets_sql`)."""
    found: dict[int, list[Sequence[Any]]] = {}
    for row in run(tops_sql(dims, filters, d, n)):
        found.setdefault(int(row[0]), []).append(row)
    ranked: dict[str, list[Any]] = {}
    counts: dict[str, int] = {}
    for i, dim in enumerate(dims):
        mask = sum(1 << (len(dims) - 1 - j) for j in range(len(dims)) if j != i)
        mine = found.get(mask, [])
        if mine:
            ranked[dim], counts[dim] = [r[1 + i] for r in mine], int(mine[0][-1])
    out: dict[str, tuple[list[dict[str, Any]], int]] = {dim: ([], 0) for dim in dims}
    if not ranked:
        return out
    names = list(ranked)
    for i, rows in enumerate(_by_set(run(among_sets_sql(ranked, filters, d)), len(names))):
        dim = names[i]
        picked = [shape(r, [dim]) for r in rows]
        picked.sort(key=lambda r: (-r["cost_nanos"], -r["requests"], r[dim] is not None, r[dim]))
        out[dim] = (picked, counts[dim])
    return out


def among_sets_sql(ranked: Mapping[str, Sequence[Any]], filters: Filters, d: Dialect) -> str:
    """Every measure of the ranked values of each dimension, in one scan of the calls of any of
    them: per dimension a grouping set of (its value when ranked, else NULL; whether ranked), so
    the calls of values not ranked fold into one group instead of one each (a top key's calls
    come from thousands of users). Rows: ``gid``, ``d0..dN``, ``k0..kN``, then :data:`MEASURES`."""
    conds = [among_sql(dim, values, d) for dim, values in ranked.items()]
    values = [f"CASE WHEN {c} THEN {dimension_sql(dim, d)} END" for dim, c in zip(ranked, conds, strict=True)]
    select = [f"GROUPING({', '.join(conds)}) AS gid", *(f"{v} AS d{i}" for i, v in enumerate(values)),
              *(f"{c} AS k{i}" for i, c in enumerate(conds))]
    select += [measure_sql(name, sql, d) for name, sql in MEASURES.items()]
    parts = [*where_parts(filters, d), "(" + " OR ".join(conds) + ")"]
    sets = ", ".join(f"({v}, {c})" for v, c in zip(values, conds, strict=True))
    return f"SELECT {', '.join(select)} FROM {d.table} WHERE {' AND '.join(parts)} GROUP BY GROUPING SETS ({sets}){d.settings}"


def _by_set(rows: Sequence[Sequence[Any]], n: int) -> list[list[list[Any]]]:
    """:func:`among_sets_sql`'s rows per dimension, ranked values only, as ``[value, *measures]``."""
    out: list[list[list[Any]]] = [[] for _ in range(n)]
    for row in rows:
        i = next(j for j in range(n) if int(row[0]) == sum(1 << (n - 1 - k) for k in range(n) if k != j))
        if row[1 + n + i]:
            out[i].append([row[1 + i], *row[1 + 2 * n :]])
    return out


def among_sql(dim: str, values: Sequence[Any], d: Dialect) -> str:
    """``dim`` is one of ``values`` (``None`` among them: or NULL)."""
    e = dimension_sql(dim, d)
    known = [d.literal(v) if isinstance(v, str) else str(int(v)) for v in values if v is not None]
    parts = [f"{e} IN ({', '.join(known)})"] if known else []
    if any(v is None for v in values):
        parts.append(f"{e} IS NULL")
    return "(" + " OR ".join(parts or ["FALSE"]) + ")"


def aggregate_sets_sql(
    groupings: Sequence[Sequence[str]], filters: Filters, d: Dialect, extra: Sequence[str] = ()
) -> tuple[str, list[str], list[int]]:
    """Several breakdowns in one scan (``GROUPING SETS``): the SQL, the distinct dimensions it
    selects (``d0..dN``), and per grouping the ``GROUPING(...)`` mask its rows carry (a bit set
    for each dimension the grouping does not group by, as the SQL standard says)."""
    dims: list[str] = []
    for g in groupings:
        for dim in g:
            if dim not in dims:
                dims.append(dim)
    exprs = [dimension_sql(dim, d) for dim in dims]
    measures = {**MEASURES, **{name: EXTRA_MEASURES[name] for name in extra}}
    if any(name in FEEDBACK_MEASURES for name in extra):
        raise ValueError("feedback measures are asked one breakdown at a time")
    n = len(dims)
    masks = [sum(1 << (n - 1 - i) for i, dim in enumerate(dims) if dim not in g) for g in groupings]
    sets = ", ".join("(" + ", ".join(exprs[dims.index(dim)] for dim in g) + ")" for g in groupings)
    select = [f"{e} AS d{i}" for i, e in enumerate(exprs)]
    select.append(f"GROUPING({', '.join(exprs)}) AS gid" if exprs else "0 AS gid")
    select += [measure_sql(name, sql, d) for name, sql in measures.items()]
    sql = f"SELECT {', '.join(select)} FROM {d.table}{where_sql(filters, d)}"
    if exprs:
        sql += f" GROUP BY GROUPING SETS ({sets})"
    return sql + d.settings, dims, masks


def split_sets(
    rows: Sequence[Sequence[Any]], groupings: Sequence[Sequence[str]], dims: Sequence[str], masks: Sequence[int],
    extra: Sequence[str] = (),
) -> list[list[dict[str, Any]]]:
    """The rows of :func:`aggregate_sets_sql`, shaped and split back into one list per grouping."""
    n = len(dims)
    by_mask: dict[int, list[Sequence[Any]]] = {}
    for row in rows:
        by_mask.setdefault(int(row[n]), []).append(row)
    out = []
    for g, mask in zip(groupings, masks, strict=True):
        picked = []
        for row in by_mask.get(mask, []):
            values = [row[dims.index(dim)] for dim in g]
            picked.append(shape([*values, *row[n + 1 :]], g, extra))
        if not g and not picked:
            picked = [shape([None] * (len(MEASURES) + len(extra)), (), extra)]
        picked.sort(key=lambda r: tuple((r[dim] is not None, str(r[dim])) for dim in g))
        out.append(picked)
    return out


def tag_keys_sql(filters: Filters, d: Dialect) -> str:
    keys = "mapKeys(u.tags)" if d.name == "clickhouse" else "map_keys(u.tags)"
    unnest = "arrayJoin" if d.name == "clickhouse" else "unnest"
    return f"SELECT DISTINCT k FROM (SELECT {unnest}({keys}) AS k FROM {d.table}{where_sql(filters, d)}) AS t ORDER BY k{d.settings}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bucket_label(dim: str, value: Any) -> Any:
    """An integer time bucket as people (and the ledger's own ``day``) write it."""
    if value is None or dim not in TIME_DIMENSIONS:
        return value
    return _label(dim, int(value))


@lru_cache(maxsize=65536)
def _label(dim: str, n: int) -> str:
    """Labels repeat (a series has one per bucket and value): formatted once each."""
    if dim == "day":
        return (_EPOCH + timedelta(days=n)).strftime("%Y-%m-%d")
    if dim == "hour":
        return (_EPOCH + timedelta(hours=n)).strftime("%Y-%m-%dT%H:00:00Z")
    if dim == "week":
        return (_EPOCH + timedelta(days=n * 7 - 3)).strftime("%Y-%m-%d")
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


def shape(row: Sequence[Any], group_by: Sequence[str], extra: Sequence[str] = ()) -> dict[str, Any]:
    """One result row as ``{dim: value, ..., measure: int, ..., avg_latency_ms: float | None}``;
    money and counts come back as Python ``int`` whatever integer type the engine summed in."""
    out: dict[str, Any] = {}
    n = len(group_by)
    for dim, value in zip(group_by, row[:n], strict=True):
        out[dim] = bucket_label(dim, value)
    for name, value in zip([*MEASURES, *extra], row[n:], strict=True):
        if name == "avg_latency_ms":
            out[name] = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
        else:
            out[name] = int(value or 0)
    return out


def arms_sql(filters: Filters, d: Dialect, policy: str | None = None) -> str:
    """:func:`costops.ledger.arms.arms_sql` on an engine: per (policy, arm, task), the logical
    requests an experiment's or bandit's arm served, in :data:`costops.ledger.arms.COLUMNS`
    order. A request's cost adds its later attempts' (summed once per parent, joined, where the
    ledger asks a correlated subquery per request); quality is the feedback score, the
    automatic check, and the score where there is one else the check, on answered requests."""
    conds = ["u.parent_id IS NULL", "u.arm IS NOT NULL", *where_parts(filters, d)]
    if policy is not None:
        conds.append(f"u.policy = {d.literal(policy)}")
    # An attempt row is stamped no earlier than its request (the request's own time, or a side
    # call's later one), so the period's start bounds the later attempts too: 10M rows, 30 d, 325 -> 252 ms.
    since = "" if filters.since is None else f" AND u.ts >= {_number(filters.since)}"
    later = (f"SELECT u.parent_id AS pid, SUM(u.cost_nanos) AS c FROM {d.table} "
             f"WHERE u.parent_id IS NOT NULL{since} GROUP BY u.parent_id")
    inner = (
        "SELECT u.policy AS policy, u.arm AS arm, u.task AS task, u.status AS status, u.latency_ms AS latency_ms, "
        "CASE WHEN u.status < 400 THEN u.accepted END AS accepted, "
        "CASE WHEN u.status < 400 THEN f.score END AS score, "
        "CASE WHEN u.status < 400 THEN COALESCE(f.score, u.accepted) END AS q, "
        "u.cost_nanos AS own, u.cost_nanos + COALESCE(k.c, 0) AS cost "
        f"FROM {d.table} LEFT JOIN {d.feedback} ON f.request_id = u.request_id "
        f"LEFT JOIN ({later}) AS k ON k.pid = u.request_id WHERE {' AND '.join(conds)}"
    )
    x = d.exact
    return (
        f"SELECT r.policy, r.arm, r.task, {x('COUNT(*)')}, "
        f"{x('SUM(CASE WHEN r.status >= 400 THEN 1 ELSE 0 END)')}, {x('SUM(r.cost)')}, "
        "SUM(CAST(r.cost AS DOUBLE) * r.cost), "
        f"{x('SUM(CASE WHEN r.status < 400 THEN 1 ELSE 0 END)')}, {x('SUM(CASE WHEN r.status < 400 THEN r.own ELSE 0 END)')}, "
        f"{x('COUNT(r.latency_ms)')}, SUM(r.latency_ms), SUM(r.latency_ms * r.latency_ms), "
        f"{x('COUNT(r.score)')}, SUM(r.score), SUM(r.score * r.score), {x('COUNT(r.accepted)')}, {x('SUM(r.accepted)')}, "
        f"{x('COUNT(r.q)')}, SUM(r.q), SUM(r.q * r.q), {x('SUM(CASE WHEN r.q > 0 AND r.q < 1 THEN 1 ELSE 0 END)')} "
        f"FROM ({inner}) AS r GROUP BY r.policy, r.arm, r.task{d.settings}"
    )
