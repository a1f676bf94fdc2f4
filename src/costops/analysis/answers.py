"""The questions both analytics engines answer the same way, whatever runs their SQL.

DuckDB and ClickHouse keep the same hourly cubes (:mod:`costops.analysis.rollup`) and speak the
same report SQL (:mod:`costops.analysis.sql`) in their own dialect, so planning a question onto a
cube, ranking the costliest values, several breakdowns at once and the experiments' arms are
written once here. An engine says how it runs SQL (``_all``), in which dialect (``d``), where its
cube tables are (``_prefix``) and how many rows they hold (``_sizes``); what differs (a plain
``aggregate``, ``tag_keys``, per-call ``rows``, ingestion) stays in the engine's own module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from costops.analysis.rollup import Cube, Plan, answer, plan, worth
from costops.analysis.sql import (
    COLUMNS,
    Dialect,
    aggregate_sets_sql,
    arms_sql,
    shape,
    split_sets,
    top_rows,
    tops_rows,
)
from costops.ledger.arms import shape as shape_arm
from costops.ledger.query import Filters


def check_columns(columns: Sequence[str]) -> None:
    """Per-call rows name only columns the engines hold: anything else is the caller's typo."""
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise ValueError(f"unknown column(s) {', '.join(unknown)}: use any of {', '.join(COLUMNS)}")


class Answers(ABC):
    """What an engine answers from its cubes or its calls, given how it runs SQL."""

    d: Dialect
    """The engine's SQL dialect, with its ``usage u`` and ``feedback f`` tables."""
    rollups: bool | None
    """Read the cubes when much smaller than the calls (``None``), always, or never."""
    _sizes: dict[str, int]
    """Row counts of ``usage`` and of each cube table, measured after each ingestion."""
    _prefix = ""
    """Before each cube table's name (a ClickHouse database)."""

    @abstractmethod
    def _all(self, sql: str) -> list[tuple[Any, ...]]:
        """Every row ``sql`` returns, on the engine."""

    def _usable(self, cube: Cube) -> bool:
        if self.rollups is not None:
            return self.rollups
        sizes = self._sizes
        return worth(sizes.get(cube.table, 0), sizes.get("usage", 0))

    def _plan(self, group_by: Sequence[str], filters: Filters, extra: Sequence[str] = ()) -> Plan | None:
        return plan(group_by, filters, extra, self._usable)

    def scans(self, group_by: Sequence[str], filters: Filters) -> bool:
        """Whether :meth:`aggregate` reads the calls for this question (no cube holds it)."""
        return self._plan(group_by, filters) is None

    def _answer(self, p: Plan, group_by: Sequence[str], filters: Filters, extra: Sequence[str] = ()) -> list[list[Any]]:
        """A planned question: the cube's whole hours plus the calls at the period's edges."""
        return answer(self._all, p, group_by, filters, self.d, extra, self._prefix)

    @abstractmethod
    def aggregate(
        self, group_by: Sequence[str], filters: Filters, extra: Sequence[str] = (), good_score: float = 0.5
    ) -> list[dict[str, Any]]:
        """One row per group (:meth:`costops.analysis.engine.AnalyticsEngine.aggregate`)."""

    def aggregate_sets(
        self, groupings: Sequence[Sequence[str]], filters: Filters, extra: Sequence[str] = ()
    ) -> list[list[dict[str, Any]]]:
        """Several breakdowns: each from its cube, and those no cube holds in one scan of the calls."""
        plans = [self._plan(g, filters, extra) for g in groupings]
        raw = [g for g, p in zip(groupings, plans, strict=True) if p is None]
        scanned: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        if raw:
            sql, dims, masks = aggregate_sets_sql(raw, filters, self.d, extra)
            split = split_sets(self._all(sql), raw, dims, masks, extra)
            scanned = {tuple(g): rows for g, rows in zip(raw, split, strict=True)}
        return [
            scanned[tuple(g)] if p is None else [shape(r, g, extra) for r in self._answer(p, g, filters, extra)]
            for g, p in zip(groupings, plans, strict=True)
        ]

    def top(self, dim: str, filters: Filters, n: int) -> tuple[list[dict[str, Any]], int]:
        """The ``n`` costliest values of ``dim`` (rows as :meth:`aggregate`'s), and how many values there are."""
        if self._plan([dim], filters) is not None:
            rows = self.aggregate([dim], filters)
            rows.sort(key=lambda r: (-r["cost_nanos"], -r["requests"], r[dim] is not None, r[dim]))
            return rows[:n], len(rows)
        return top_rows(self._all, dim, filters, self.d, n)

    def tops(self, dims: Sequence[str], filters: Filters, n: int) -> dict[str, tuple[list[dict[str, Any]], int]]:
        """:meth:`top` for each of ``dims``; those the cubes cannot answer are ranked in one shared scan."""
        raw = [dim for dim in dims if self._plan([dim], filters) is None]
        out = tops_rows(self._all, raw, filters, self.d, n) if raw else {}
        return {dim: out[dim] if dim in out else self.top(dim, filters, n) for dim in dims}

    def totals(self, filters: Filters) -> dict[str, Any]:
        return self.aggregate((), filters)[0]

    def arms(self, filters: Filters, policy: str | None = None) -> list[dict[str, Any]]:
        """Per (policy, arm, task): what experiments and bandits served, as the ledger's
        :meth:`~costops.ledger.sql_store.SqlStore.arms` rows (:func:`costops.analysis.sql.arms_sql`)."""
        return [shape_arm(row) for row in self._all(arms_sql(filters, self.d, policy))]

    def select(self, make: Callable[[Dialect], str]) -> list[tuple[Any, ...]]:
        """The rows of a query written for this engine's SQL (``make(dialect)``), over ``usage u``
        and ``feedback f`` (``FINAL`` on ClickHouse): for questions of their own
        (:func:`costops.analysis.focus.hourly_sql`)."""
        return self._all(make(self.d))
