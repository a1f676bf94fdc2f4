"""The embedded analytics engine: DuckDB over the ledger, answering from its columnar copy.

DuckDB keeps a columnar copy of the ledger (in memory, or in a ``.duckdb`` file that survives
restarts), brought up to date by :meth:`DuckEngine.sync` through DuckDB's own scanners
(:mod:`costops.analysis.duck_ingest`: what is new, re-priced hours, the hourly rollups). This
module holds the connection, the lock every reader and sync takes, the threads that fit the
copy's size, and the questions DuckDB answers its own way; those both engines answer alike are
:class:`costops.analysis.answers.Answers`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from costops.analysis.answers import Answers, check_columns
from costops.analysis.duck_ingest import Ingest
from costops.analysis.rollup import CUBE_EXTRA, CUBES, TAGS
from costops.analysis.sql import DUCKDB, aggregate_sql, counted_rows, shape, tag_keys_sql, where_sql
from costops.ledger.query import Filters

PARALLEL_ROWS = 250_000
"""Below this many calls the engine runs on one thread: DuckDB splits a scan by row groups of
122,880 rows, so a second thread over fewer than two only adds its start-up (a small ledger's
dashboard: 10-40 % more CPU with two)."""


class DuckEngine(Answers):
    name = "duckdb"
    d = DUCKDB

    def __init__(
        self, ledger_url: str, *, path: str = ":memory:", threads: int = 2, min_sync_interval_s: float = 0.0,
        rollups: bool | None = None,
    ) -> None:
        """``rollups``: read the hourly cubes when they are much smaller than the calls (``None``),
        always (``True``, for tests on small ledgers), or never (``False``: the calls alone)."""
        import duckdb

        self.ledger_url = ledger_url
        self.rollups = rollups
        self.min_sync_interval_s = min_sync_interval_s
        self._last_sync = float("-inf")
        self._lock = threading.Lock()
        self._con = duckdb.connect(
            path,
            config={
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "threads": threads,
            },
        )
        self.threads = threads
        self._threads = threads
        self._ingest = Ingest(self._con, ledger_url)
        self._sizes = self._measure_sizes()

    # -- ingestion (duck_ingest) -------------------------------------------------------------

    def sync(self, *, force: bool = False) -> int:
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_sync < self.min_sync_interval_s:
                return 0
            self._last_sync = now
            before = self._ingest.count()
            self._use_threads(self.threads)  # ingestion reads the whole ledger at first: every thread
            self._ingest.run()
            self._sizes = self._measure_sizes()
            return self._ingest.count() - before

    def rebuild(self) -> int:
        with self._lock:
            self._ingest.clear()
        return self.sync(force=True)

    def _measure_sizes(self) -> dict[str, int]:
        """The tables' row counts (which cubes are worth reading), and the threads that fit them."""
        tables = ["usage", *(cube.table for cube in (*CUBES, TAGS))]
        counts = self._con.execute(
            "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables)
        ).fetchone()
        sizes = dict(zip(tables, counts or (), strict=True))
        self._use_threads(self.threads if sizes.get("usage", 0) >= PARALLEL_ROWS else 1)
        return sizes

    def _use_threads(self, n: int) -> None:
        if n != self._threads:
            self._con.execute(f"SET threads = {int(n)}")
            self._threads = n

    def export_parquet(self, path: str) -> int:
        """Write the engine's copy as one Parquet file (readable back by an engine over it)."""
        with self._lock:
            self._con.execute(
                f"COPY (SELECT * FROM usage ORDER BY ts, request_id) TO {DUCKDB.literal(path)} (FORMAT parquet)"
            )
            return self._ingest.count()

    # -- questions ---------------------------------------------------------------------------

    def _all(self, sql: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._con.execute(sql).fetchall()

    def aggregate(
        self, group_by: Sequence[str], filters: Filters, extra: Sequence[str] = (), good_score: float = 0.5
    ) -> list[dict[str, Any]]:
        """From the smallest cube that holds the question (:mod:`costops.analysis.rollup`), else the calls."""
        p = self._plan(group_by, filters, extra)
        if p is not None:
            return [shape(row, group_by, extra) for row in self._answer(p, group_by, filters, extra)]
        summed = [x for x in extra if x in CUBE_EXTRA]
        p = self._plan(group_by, filters, summed) if len(summed) < len(extra) else None
        if p is None:
            return [shape(row, group_by, extra) for row in self._all(aggregate_sql(group_by, filters, DUCKDB, extra, good_score))]
        # distinct users and feedback from the calls, three measures instead of two dozen; the rest from a cube
        counted = [x for x in extra if x not in CUBE_EXTRA]
        n = len(group_by)
        more = counted_rows(self._all, group_by, filters, DUCKDB, counted, good_score)
        rows = []
        for row in self._answer(p, group_by, filters, summed):
            values = {x: 0 for x in counted} | more.get(tuple(row[:n]), {})
            values.update(zip(summed, row[len(row) - len(summed):], strict=True))
            rows.append([*row[: len(row) - len(summed)], *(values[x] for x in extra)])
        return [shape(row, group_by, extra) for row in rows]

    def tag_keys(self, filters: Filters) -> list[str]:
        p = self._plan(["tag:_"], filters)
        if p is None:
            return [row[0] for row in self._all(tag_keys_sql(filters, DUCKDB))]
        hours = [f"hour >= {p.first_hour}"] if p.first_hour is not None else []
        hours += [f"hour < {p.end_hour}"] if p.end_hour is not None else []
        keys = {
            r[0]
            for r in self._all(
                f"SELECT DISTINCT tag_key FROM {TAGS.table}"
                + (" WHERE " + " AND ".join(hours) if hours else "")
            )
        }
        for edge in p.edges:
            keys.update(r[0] for r in self._all(tag_keys_sql(edge, DUCKDB)))
        return sorted(keys)

    def rows(
        self, filters: Filters, columns: Sequence[str], batch_size: int = 50_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        check_columns(columns)
        sql = f"SELECT {', '.join('u.' + c for c in columns)} FROM {DUCKDB.table}{where_sql(filters, DUCKDB)} ORDER BY u.ts, u.request_id"
        with self._lock:
            cursor = self._con.cursor()
        try:
            cursor.execute(sql)
            while batch := cursor.fetchmany(batch_size):
                yield batch
        finally:
            cursor.close()

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __repr__(self) -> str:
        return f"DuckEngine({self._ingest.source})"
