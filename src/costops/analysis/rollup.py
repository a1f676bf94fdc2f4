"""Hourly rollups: the analytics engine's pre-aggregated copy of the ledger, kept at ingestion.

A report over 10 million calls asks for a few hundred group rows; scanning the calls each time
costs seconds, so the engine also keeps, per UTC hour, the sums every report reads (the
ledger's own measures: integer nano-dollar sums and counts, plus the latency sum and count
behind the mean) for a few sets of dimensions, the *cubes* below. A question is answered from
the smallest cube holding its dimensions and filters, for the whole hours of its period; the
un-aligned edges (a period from 09:17) come from the calls themselves, and the two are added
up exactly (every measure is a sum). What no cube can answer honestly stays on the calls:
distinct users, feedback joins, tag filters, breakdowns by user or key (as many groups as calls
in an hour).

Tags: one more cube, ``(hour, tag key, tag value)``, since the keys are whatever callers send.
A call is in it once per tag it carries, so a ``tag:<name>`` breakdown's rows without that tag
are the hour's totals (from the ``total`` cube) less the tagged ones: subtraction of exact
integers, so still exact.

A logical request counts once and its attempts' costs all add up, as in
:data:`costops.ledger.query.MEASURES`: a cube row holds the same sums, over fewer rows.

This module is the pure half (what each cube holds, which cube answers a question, the SQL);
the engines run it (:mod:`costops.analysis.answers`) and keep the cubes in step with their calls
(:mod:`costops.analysis.duck_ingest`, :mod:`costops.analysis.clickhouse`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from costops.analysis.sql import (
    EXTRA_MEASURES,
    TIME_DIMENSIONS,
    Dialect,
    check_dimension,
    dimension_sql,
    measure_sql,
    where_parts,
)
from costops.ledger.query import DIMENSIONS, MEASURES, Filters

HOUR = 3600

ADDITIVE: dict[str, str] = {
    **{name: sql for name, sql in MEASURES.items() if name != "avg_latency_ms"},
    "latency_sum": "COALESCE(SUM(CASE WHEN u.parent_id IS NULL THEN u.latency_ms END), 0.0)",
    "latency_n": "COUNT(CASE WHEN u.parent_id IS NULL THEN u.latency_ms END)",
    "ok_output_tokens": EXTRA_MEASURES["ok_output_tokens"],
}
"""What a cube row holds: sums over its calls (the mean latency is ``latency_sum / latency_n``)."""
CUBE_EXTRA = ("ok_output_tokens",)
"""The extra measures (:data:`costops.analysis.sql.EXTRA_MEASURES`) a cube holds."""
KEYS = ("hour", "day", "month")
"""Every cube's time key: the hour, and the day and month it falls in (the same groups)."""


@dataclass(frozen=True, slots=True)
class Cube:
    name: str
    columns: tuple[str, ...]
    """The ledger columns it groups by besides the hour (``priced`` makes the unpriced filter work)."""

    @property
    def table(self) -> str:
        return f"roll_{self.name}"


CUBES: tuple[Cube, ...] = (
    Cube("total", ()),
    Cube("team", ("team",)),
    Cube("project", ("project",)),
    Cube("tenant", ("tenant",)),
    Cube("model", ("model", "model_requested", "provider", "price_source", "priced")),
    Cube(
        "calls",
        (
            "endpoint",
            "status",
            "error_type",
            "cache",
            "service_tier",
            "attempt_reason",
            "route",
            "policy",
            "arm",
            "task",
            "priced",
        ),
    ),
    Cube("deployment", ("deployment", "provider", "model")),
)
"""Smallest first (the first cube that holds a question answers it). Tenant, team and project
each alone: in a ledger where they do not nest, one cube of all three is as big as the calls."""
TAGS = Cube("tags", ("tag_key", "tag_value"))
FILTER_COLUMNS = ("tenant", "project", "model", "provider")


def column(dim: str) -> str:
    """The ledger column a (non-time, non-tag) dimension reads."""
    return "error_type" if dim == "error_type" else DIMENSIONS[dim].removeprefix("u.")


@dataclass(frozen=True, slots=True)
class Plan:
    """How one question is answered: ``cube`` (or the tag cube, with ``tag``) over the hours
    ``[first_hour, end_hour)`` (``None``: unbounded), and the calls themselves over ``edges``."""

    cube: Cube
    tag: str | None
    first_hour: int | None
    end_hour: int | None
    edges: tuple[Filters, ...]


def hours(filters: Filters) -> tuple[int | None, int | None] | None:
    """The whole hours inside the filter's period, exactly: ``[first, end)`` covers the calls
    with ``first * 3600 <= ts < end * 3600`` (``None``: unbounded); ``None`` if not one hour."""
    first = None if filters.since is None else -(-math.ceil(filters.since) // HOUR)
    end = None if filters.until is None else math.floor(filters.until) // HOUR
    if first is not None and end is not None and first >= end:
        return None
    return first, end


def worth(cube_rows: int, calls: int) -> bool:
    """A cube is read instead of the calls when it is much smaller: on a small ledger (a cube as
    big as the calls) one scan of the calls is quicker than a cube and its edges."""
    return cube_rows * SMALLER <= calls


SMALLER = 4


def plan(
    group_by: Sequence[str],
    filters: Filters,
    extra: Sequence[str] = (),
    usable: Callable[[Cube], bool] = lambda cube: True,
) -> Plan | None:
    """The cube that answers ``group_by`` under ``filters`` (or ``None``: ask the calls);
    ``usable`` says which cubes are worth reading (:func:`worth`)."""
    for dim in group_by:
        check_dimension(dim)
    if any(name not in CUBE_EXTRA for name in extra) or filters.tags:
        return None
    span = hours(filters)
    if span is None:
        return None
    plain = [d for d in group_by if d not in TIME_DIMENSIONS]
    tags = [d for d in plain if d.startswith("tag:")]
    if tags:
        if (
            len(plain) > 1
            or any(getattr(filters, c) is not None for c in FILTER_COLUMNS)
            or filters.priced is not None
        ):
            return None
        cube, tag = TAGS, tags[0][4:]
        if not (usable(TAGS) and usable(CUBES[0])):
            return None
    else:
        needed = {column(d) for d in plain} | {c for c in FILTER_COLUMNS if getattr(filters, c) is not None}
        if filters.priced is not None:
            needed.add("priced")
        fitting = [c for c in CUBES if needed <= set(c.columns) and usable(c)]
        if not fitting:
            return None
        cube, tag = fitting[0], None
    first, end = span
    edges = []
    if first is not None and filters.since is not None and first * HOUR > filters.since:
        edges.append(replace(filters, until=float(first * HOUR)))
    if end is not None and filters.until is not None and end * HOUR < filters.until:
        edges.append(replace(filters, since=float(end * HOUR)))
    return Plan(cube, tag, first, end, tuple(edges))


def cube_ddl(cube: Cube, types: Mapping[str, str], prefix: str = "") -> str:
    """The cube's table; ``types`` maps a ledger column (and ``hour``...) to the engine's type;
    ``prefix``: its database (``db.``, ClickHouse)."""
    cols = [f"{c} {types[c]}" for c in (*KEYS, *cube.columns)]
    cols += [f"{name} {'DOUBLE' if name == 'latency_sum' else 'BIGINT'}" for name in ADDITIVE]
    return f"CREATE TABLE IF NOT EXISTS {prefix}{cube.table} ({', '.join(cols)})"


def fill_sql(cube: Cube, source: str, d: Dialect) -> str:
    """The cube's rows for the calls in ``source`` (a table or subquery of the engine's calls)."""
    keys = [f"u.{c}" for c in (*KEYS, *cube.columns)]
    if cube is TAGS:
        if d.name == "clickhouse":  # two arrayJoin()s would pair every key with every value
            source = (
                f"(SELECT u.*, tag_key, tag_value FROM {source} u "
                "ARRAY JOIN mapKeys(u.tags) AS tag_key, mapValues(u.tags) AS tag_value) u"
            )
        else:
            source = (
                f"(SELECT u.*, unnest(map_keys(u.tags)) AS tag_key, unnest(map_values(u.tags)) AS tag_value "
                f"FROM {source} u) u"
            )
        keys = [f"u.{c}" for c in KEYS] + ["u.tag_key", "u.tag_value"]
    else:
        source = f"{source} u"
    measures = ", ".join(f"{sql} AS {name}" for name, sql in ADDITIVE.items())
    return f"SELECT {', '.join(keys)}, {measures} FROM {source} GROUP BY {', '.join(keys)}"


SET_COLUMNS = (*KEYS, *sorted({c for cube in CUBES for c in cube.columns}))
"""Every column some (non-tag) cube groups by: the keys of :func:`sets_sql`."""


def sets_sql(source: str) -> str:
    """Every non-tag cube's rows for the calls in ``source`` in one scan (DuckDB's ``GROUPING
    SETS``): the measures' expressions are computed once per call instead of once per cube (a
    third less CPU at ingestion than a scan per cube). ``g`` tells the cubes apart (:func:`of_sets_sql`)."""
    keys = ", ".join(f"u.{c}" for c in SET_COLUMNS)
    sets = ", ".join("(" + ", ".join(f"u.{c}" for c in (*KEYS, *cube.columns)) + ")" for cube in CUBES)
    measures = ", ".join(f"{sql} AS {name}" for name, sql in ADDITIVE.items())
    return f"SELECT {keys}, GROUPING({keys}) AS g, {measures} FROM {source} u GROUP BY GROUPING SETS ({sets})"


def of_sets_sql(cube: Cube, sets: str) -> str:
    """``cube``'s rows out of a table of :func:`sets_sql` (``GROUPING`` sets a bit, first column
    highest, for each column the row is not grouped by)."""
    held = {*KEYS, *cube.columns}
    mask = sum(1 << (len(SET_COLUMNS) - 1 - i) for i, c in enumerate(SET_COLUMNS) if c not in held)
    return f"SELECT {', '.join((*KEYS, *cube.columns, *ADDITIVE))} FROM {sets} WHERE g = {mask}"


def merge_sql(cube: Cube, source: str) -> str:
    """``source``'s cube rows summed into one row per key (two syncs' rows for one hour)."""
    keys = ", ".join((*KEYS, *cube.columns))
    sums = ", ".join(f"SUM({name}) AS {name}" for name in ADDITIVE)
    return f"SELECT {keys}, {sums} FROM {source} GROUP BY {keys}"


def query_sql(p: Plan, group_by: Sequence[str], filters: Filters, d: Dialect, prefix: str = "") -> str:
    """The cube's additive sums for ``group_by`` over the plan's hours: ``d0..dN``, then :data:`ADDITIVE`
    (``prefix``: the cubes' database, ``db.``)."""
    exprs = ["u.tag_value" if dim.startswith("tag:") else dimension_sql(dim, d) for dim in group_by]
    parts = where_parts(replace(filters, since=None, until=None), d)
    if p.first_hour is not None:
        parts.append(f"u.hour >= {int(p.first_hour)}")
    if p.end_hour is not None:
        parts.append(f"u.hour < {int(p.end_hour)}")
    if p.tag is not None:
        parts.append(f"u.tag_key = {d.literal(p.tag)}")
    select = [f"{e} AS d{i}" for i, e in enumerate(exprs)]
    select += [
        measure_sql(name, f"COALESCE(SUM(u.{name}), {'0.0' if name == 'latency_sum' else '0'})", d) for name in ADDITIVE
    ]
    sql = f"SELECT {', '.join(select)} FROM {prefix}{p.cube.table} u" + (
        " WHERE " + " AND ".join(parts) if parts else ""
    )
    if exprs:
        sql += " GROUP BY " + ", ".join(f"d{i}" for i in range(len(exprs)))
    return sql + d.settings


def raw_sql(group_by: Sequence[str], filters: Filters, d: Dialect) -> str:
    """The same additive sums from the calls (a period's edges)."""
    exprs = [dimension_sql(dim, d) for dim in group_by]
    select = [f"{e} AS d{i}" for i, e in enumerate(exprs)] + [measure_sql(name, sql, d) for name, sql in ADDITIVE.items()]
    parts = where_parts(filters, d)
    sql = f"SELECT {', '.join(select)} FROM {d.table}" + (" WHERE " + " AND ".join(parts) if parts else "")
    if exprs:
        sql += " GROUP BY " + ", ".join(f"d{i}" for i in range(len(exprs)))
    return sql + d.settings


Sums = dict[tuple[Any, ...], list[Any]]


def answer(
    run: Callable[[str], Sequence[Sequence[Any]]], p: Plan, group_by: Sequence[str], filters: Filters, d: Dialect,
    extra: Sequence[str] = (), prefix: str = "",
) -> list[list[Any]]:
    """A planned question: the cube's whole hours plus the calls at the period's edges (``run``
    executes SQL on the engine)."""
    n = len(group_by)
    sums: Sums = add({}, run(query_sql(p, group_by, filters, d, prefix)), n)
    if p.tag is not None:
        at = next(i for i, dim in enumerate(group_by) if dim.startswith("tag:"))
        times = [dim for i, dim in enumerate(group_by) if i != at]
        totals = add({}, run(query_sql(replace(p, cube=CUBES[0], tag=None), times, filters, d, prefix)), n - 1)
        sums.update(untagged(sums, totals, at))
    for edge in p.edges:
        add(sums, run(raw_sql(group_by, edge, d)), n)
    if not group_by and not sums:
        sums[()] = [0] * len(ADDITIVE)
    return finish(sums, n, extra)


def add(into: Sums, rows: Sequence[Sequence[Any]], n: int, sign: int = 1) -> Sums:
    """Add (or subtract) rows of ``n`` key columns then :data:`ADDITIVE` into ``into``."""
    for row in rows:
        key = tuple(row[:n])
        have = into.get(key)
        values = row[n:]
        if have is None:
            into[key] = [v * sign for v in values]
        else:
            for i, v in enumerate(values):
                have[i] += v * sign
    return into


def untagged(tagged: Sums, totals: Sums, tag_at: int) -> Sums:
    """The rows without the tag: per time key, the totals less every tagged row."""
    out: Sums = {}
    for key, values in totals.items():
        full = (*key[:tag_at], None, *key[tag_at:])
        out[full] = list(values)
    for key, values in tagged.items():
        full = (*key[:tag_at], None, *key[tag_at + 1 :])
        if full not in out:
            out[full] = [0] * len(values)
        have = out[full]
        for i, v in enumerate(values):
            have[i] -= v
    return {k: v for k, v in out.items() if v[1]}  # ``attempts``: no call without the tag, no row


def finish(sums: Sums, n: int, extra: Sequence[str] = ()) -> list[list[Any]]:
    """Rows as the engines' plain queries return them: keys, :data:`MEASURES`, then ``extra``."""
    at = {name: i for i, name in enumerate(ADDITIVE)}
    latency_sum, latency_n = at["latency_sum"], at["latency_n"]
    picks = [None if name == "avg_latency_ms" else at[name] for name in MEASURES] + [at[name] for name in extra]
    out = []
    for key in sorted(sums, key=_order):
        values = sums[key]
        row = [*key]
        for i in picks:
            if i is None:
                count = values[latency_n]
                row.append(values[latency_sum] / count if count else None)
            else:
                row.append(int(values[i]))
        out.append(row)
    return out


def _order(key: tuple[Any, ...]) -> list[tuple[bool, Any]]:
    """NULLs first, as the plain queries' ``ORDER BY ... NULLS FIRST``."""
    return [(v is not None, v) for v in key]
