"""The analytics engine: where reports, the dashboard and exports ask their questions.

Reports do not scan the transactional ledger: an engine keeps a columnar copy of it and answers
aggregate questions over that. Two engines implement one small protocol:

- DuckDB, embedded (the default, ``duckdb://`` in memory or ``duckdb:///path.duckdb`` kept on
  disk): it reads the SQLite or PostgreSQL ledger through DuckDB's own scanners, or a Parquet
  export, and ingests only what is new at each :meth:`~AnalyticsEngine.sync`.
- ClickHouse (``clickhouse://user:password@host:8123/database``, or ``chdb:///path`` in process),
  which the ledger writer streams each written batch into, and which backfills from the ledger.

Both answer with the ledger store's own row shape (:func:`costops.analysis.sql.shape`): every
count and nano-dollar sum an exact ``int``, so code written against the store
(:func:`costops.analysis.report.build_report`) runs unchanged on an engine, and money becomes
``Decimal`` only at the edge (:func:`costops.money.from_nanos`).

Dimensions: those of the ledger (model, provider, deployment, tenant, team, project, user, key,
cache, route, policy, arm, ...), ``error_type``, ``tag:<name>``, and the time buckets ``hour``
(``2026-11-01T13:00:00Z``), ``day`` (``2026-11-01``), ``week`` (its Monday) and ``month``
(``2026-11``), all UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from costops.ledger.query import Filters

DEFAULT_ENGINE = "duckdb://"
ENGINE_FORMS = "duckdb:// (in memory), duckdb:///path.duckdb, clickhouse://user:password@host:8123/db, chdb:///path"


class Reader(Protocol):
    """What reports read: a ledger store and an engine both are one."""

    def aggregate(self, group_by: Sequence[str], filters: Filters) -> list[dict[str, Any]]: ...
    def totals(self, filters: Filters) -> dict[str, Any]: ...
    def tag_keys(self, filters: Filters) -> list[str]: ...


class Prefetched:
    """A reader whose breakdowns for one filter were asked all at once: an engine answers them
    in one scan (``GROUPING SETS``); anything else asked is passed on. A breakdown by ``day``
    over whole days inside the filter's period (the same filter otherwise) is the prefetched
    rows of those days: a call's day is its ``ts`` floored, so the slice is exact. ``wide``: the
    period is wider than the questions' (several questions' periods at once), so only what the
    reader would scan the calls for is prefetched (sharing the scan); what it answers from its
    cubes (:meth:`~costops.analysis.answers.Answers.scans`) is asked for its own period, not read
    wider for nothing."""

    def __init__(self, reader: Reader, groupings: Sequence[Sequence[str]], filters: Filters, *, wide: bool = False) -> None:
        self._reader = reader
        self._filters = filters
        sets = getattr(reader, "aggregate_sets", None)
        scans = getattr(reader, "scans", None)
        keep = scans if wide and scans is not None else lambda g, f: True
        keys = [k for k in dict.fromkeys(tuple(g) for g in groupings) if keep(k, filters)]
        self._rows: dict[tuple[str, ...], list[dict[str, Any]]] = dict(zip(keys, sets(keys, filters), strict=True)) if sets else {}

    def aggregate(self, group_by: Sequence[str], filters: Filters) -> list[dict[str, Any]]:
        rows = self._rows.get(tuple(group_by))
        if rows is not None and filters == self._filters:
            return [dict(r) for r in rows]
        days = self._days(filters) if rows is not None and "day" in group_by else None
        if days is not None:
            first, end = days
            return [dict(r) for r in rows or () if r["day"] is not None and first <= r["day"] < end]
        return self._reader.aggregate(group_by, filters)

    def _days(self, filters: Filters) -> tuple[str, str] | None:
        """``[first, end)`` as day labels, when ``filters`` are ours but for whole days inside our period."""
        mine = self._filters
        if replace(filters, since=None, until=None) != replace(mine, since=None, until=None):
            return None
        since, until = filters.since, filters.until
        if since is None or until is None or since % DAY or until % DAY:
            return None
        if (mine.since is not None and since < mine.since) or (mine.until is not None and until > mine.until):
            return None
        return _label(since), _label(until)

    def totals(self, filters: Filters) -> dict[str, Any]:
        return self.aggregate((), filters)[0]

    def tag_keys(self, filters: Filters) -> list[str]:
        return self._reader.tag_keys(filters)


DAY = 86400


def _label(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


@runtime_checkable
class AnalyticsEngine(Protocol):
    name: str
    """``duckdb`` or ``clickhouse``."""

    def sync(self) -> int:
        """Ingest what the ledger gained since the last sync; returns the rows added."""
        ...

    def aggregate(
        self, group_by: Sequence[str], filters: Filters, extra: Sequence[str] = (), good_score: float = 0.5
    ) -> list[dict[str, Any]]:
        """One row per group: the dimensions, every :data:`costops.ledger.query.MEASURES`, and
        the ``extra`` measures asked for (:data:`costops.analysis.sql.EXTRA_MEASURES`: ``users``,
        ``rated``, ``good`` (feedback score >= ``good_score``), ``ok_output_tokens``)."""
        ...

    def aggregate_sets(
        self, groupings: Sequence[Sequence[str]], filters: Filters, extra: Sequence[str] = ()
    ) -> list[list[dict[str, Any]]]:
        """Several breakdowns in one scan: one list of :meth:`aggregate` rows per grouping."""
        ...

    def totals(self, filters: Filters) -> dict[str, Any]: ...

    def tag_keys(self, filters: Filters) -> list[str]: ...

    def rows(self, filters: Filters, columns: Sequence[str], batch_size: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
        """Per-call rows (any of :data:`costops.analysis.sql.COLUMNS`; ``tags`` is a dict) in
        ``(ts, request_id)`` order, a batch at a time: for exports one row per call."""
        ...

    def close(self) -> None: ...


def open_engine(url: str | None, ledger_url: str, **kw: Any) -> AnalyticsEngine:
    """The engine at ``url`` (``None``: DuckDB in memory) over the ledger at ``ledger_url``
    (a SQLite or PostgreSQL ledger URL, or a Parquet file or glob written by an export)."""
    url = url or DEFAULT_ENGINE
    if url.startswith("duckdb://"):
        from costops.analysis.duck import DuckEngine

        path = url[len("duckdb://") :].removeprefix("/") or ":memory:"
        return DuckEngine(ledger_url, path=path, **kw)
    if url.startswith(("clickhouse://", "clickhouses://", "chdb://")):
        from costops.analysis.clickhouse import ClickHouseEngine

        return ClickHouseEngine(url, ledger_url, **kw)
    raise ValueError(f"unsupported analytics engine URL {url!r}: use {ENGINE_FORMS}")
