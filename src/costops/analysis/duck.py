"""The embedded analytics engine: DuckDB over the ledger, through DuckDB's own scanners.

DuckDB keeps a columnar copy of the ledger (in memory, or in a ``.duckdb`` file that survives
restarts) and each :meth:`DuckEngine.sync` ingests only what is new:

- SQLite: rows past the last ``rowid`` seen (``usage`` and ``usage_tags`` each have one; the
  writer commits a call's row and its tags in one transaction, so both high-water marks are read
  in one SQLite read transaction and every tag ingested belongs to a row ingested with it).
- PostgreSQL: rows from an hour before the newest ``ts`` seen, less those already held
  (``request_id`` is the ledger's primary key); when the ledger then still counts more rows than
  the engine (a journal replay landed an old row late), every row not held.
- Parquet (an export of this engine, ``*.parquet`` or a glob): loaded once.

The scanner extensions come from PyPI packages (``duckdb-extension-sqlite-scanner``, ...) and
are loaded from their files: nothing is downloaded at run time. A re-priced ledger changes rows
in place, which no high-water mark sees: :meth:`DuckEngine.rebuild` (``costops reprice`` does
it for a kept ``.duckdb`` file) starts over.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from costops.analysis.sql import (
    COLUMNS,
    DUCKDB,
    INT_COLUMNS,
    MONEY_COLUMNS,
    TEXT_COLUMNS,
    aggregate_sets_sql,
    aggregate_sql,
    shape,
    split_sets,
    tag_keys_sql,
    top_sql,
    where_sql,
)
from costops.ledger.query import TOKEN_KINDS, Filters

PG_OVERLAP_S = 3600.0
_LEDGER_COLUMNS = [c for c in COLUMNS if c not in ("day", "hour", "month", "tags")]


def _column_type(name: str) -> str:
    if name in ("ts", "latency_ms", "ttft_ms"):
        return "DOUBLE"
    if name in ("day", "hour", "month", *INT_COLUMNS):
        return "INTEGER"
    if name in TOKEN_KINDS or name in MONEY_COLUMNS:
        return "BIGINT"
    if name == "tags":
        return "MAP(VARCHAR, VARCHAR)"
    assert name in TEXT_COLUMNS, name
    return "VARCHAR"


DDL = (
    "CREATE TABLE IF NOT EXISTS usage (" + ", ".join(f"{c} {_column_type(c)}" for c in COLUMNS) + ")",
    "CREATE TABLE IF NOT EXISTS feedback (request_id VARCHAR, score DOUBLE)",
    "CREATE TABLE IF NOT EXISTS sync_state (source VARCHAR, usage_mark DOUBLE, tags_mark DOUBLE)",
)


def _derived(src: str, tags: str = "t.tags") -> str:
    """The ingested row: the ledger's columns and the integer time buckets."""
    at = f"make_timestamp(CAST({src}.ts * 1000000 AS BIGINT))"
    cols = []
    for c in COLUMNS:
        if c == "day":
            cols.append(f"CAST(floor({src}.ts / 86400) AS INTEGER)")
        elif c == "hour":
            cols.append(f"CAST(floor({src}.ts / 3600) AS INTEGER)")
        elif c == "month":
            cols.append(f"CAST(year({at}) * 12 + month({at}) - 1 AS INTEGER)")
        elif c == "tags":
            cols.append(f"COALESCE({tags}, MAP {{}})")
        else:
            cols.append(f"{src}.{c}")
    return ", ".join(cols)


def _extension(name: str) -> str:
    """The scanner's file, from its PyPI package, for this DuckDB's version."""
    import duckdb

    package = f"duckdb_extension_{name}"
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"reading this ledger needs DuckDB's {name}: pip install 'duckdb-extension-{name.replace('_', '-')}'")
    path = Path(spec.origin).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.exists():
        found = ", ".join(p.name for p in (Path(spec.origin).parent / "extensions").glob("v*")) or "none"
        raise RuntimeError(
            f"DuckDB {duckdb.__version__} needs the {name} extension built for it, but "
            f"{package} carries {found}: install matching versions (pip install 'costops[analytics]')"
        )
    return str(path)


class DuckEngine:
    name = "duckdb"

    def __init__(self, ledger_url: str, *, path: str = ":memory:", threads: int = 2, min_sync_interval_s: float = 0.0) -> None:
        import duckdb

        self.ledger_url = ledger_url
        self.min_sync_interval_s = min_sync_interval_s
        self._last_sync = float("-inf")
        self._lock = threading.Lock()
        self._con = duckdb.connect(
            path, config={"autoinstall_known_extensions": False, "autoload_known_extensions": False, "threads": threads}
        )
        held = [r[0] for r in self._con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'usage' ORDER BY ordinal_position").fetchall()]
        if held and held != list(COLUMNS):  # a kept file from an older costops: a cache, so rebuilt
            for table in ("usage", "feedback", "sync_state"):
                self._con.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in DDL:
            self._con.execute(statement)
        self._source = self._attach(ledger_url)

    # -- ingestion ---------------------------------------------------------------------------

    def _attach(self, url: str) -> str:
        if url.startswith("sqlite:///"):
            self._sqlite_path = url[len("sqlite:///") :]
            if not Path(self._sqlite_path).exists():
                raise FileNotFoundError(f"no ledger database at {Path(self._sqlite_path).resolve()}")
            self._con.execute(f"LOAD {DUCKDB.literal(_extension('sqlite_scanner'))}")
            self._con.execute(f"ATTACH {DUCKDB.literal(self._sqlite_path)} AS led (TYPE sqlite, READ_ONLY)")
            return "sqlite"
        if url.startswith(("postgresql://", "postgres://")):
            from costops.ledger.postgres import split_schema

            conninfo, schema = split_schema(url)
            self._pg_schema = schema or "public"
            self._con.execute(f"LOAD {DUCKDB.literal(_extension('postgres_scanner'))}")
            self._con.execute(f"ATTACH {DUCKDB.literal(conninfo)} AS pg (TYPE postgres, READ_ONLY)")
            return "postgres"
        if url.endswith(".parquet") or "*" in url:
            return "parquet"
        raise ValueError(f"the analytics engine reads sqlite:///..., postgresql://... or a .parquet export, not {url!r}")

    def _state(self) -> tuple[float, float] | None:
        # no bound parameters anywhere: binding makes DuckDB import pandas and pyarrow (a second)
        row = self._con.execute(
            f"SELECT usage_mark, tags_mark FROM sync_state WHERE source = {DUCKDB.literal(self.ledger_url)}"
        ).fetchone()
        if row is None:
            if self._con.execute("SELECT count(*) FROM sync_state").fetchone()[0]:  # type: ignore[index]
                self._clear()  # a kept file built from another ledger: start over
            return None
        return float(row[0]), float(row[1])

    def _clear(self) -> None:
        for table in ("usage", "feedback", "sync_state"):
            self._con.execute(f"DELETE FROM {table}")

    def _save(self, usage_mark: float, tags_mark: float) -> None:
        self._con.execute("DELETE FROM sync_state")
        self._con.execute(f"INSERT INTO sync_state VALUES ({DUCKDB.literal(self.ledger_url)}, {usage_mark!r}, {tags_mark!r})")

    def sync(self, *, force: bool = False) -> int:
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_sync < self.min_sync_interval_s:
                return 0
            self._last_sync = now
            before = self._count()
            self._con.execute("BEGIN")
            try:
                getattr(self, f"_sync_{self._source}")()
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            return self._count() - before

    def rebuild(self) -> int:
        with self._lock:
            self._clear()
        return self.sync(force=True)

    def _count(self) -> int:
        return int(self._con.execute("SELECT count(*) FROM usage").fetchone()[0])  # type: ignore[index]

    def _sync_sqlite(self) -> None:
        import sqlite3

        state = self._state()
        done_rows, done_tags = (int(m) for m in state or (0, 0))
        ledger = sqlite3.connect(f"file:{self._sqlite_path}?mode=ro", uri=True, isolation_level=None)
        try:
            ledger.execute("BEGIN")  # one snapshot for both marks
            top_rows = ledger.execute("SELECT COALESCE(max(rowid), 0) FROM usage").fetchone()[0]
            top_tags = ledger.execute("SELECT COALESCE(max(rowid), 0) FROM usage_tags").fetchone()[0]
            ledger.execute("COMMIT")
        finally:
            ledger.close()
        if top_rows > done_rows:
            usage = self._sqlite_rows("usage", _LEDGER_COLUMNS, done_rows, top_rows)
            tags = self._sqlite_rows("usage_tags", ["request_id", "key", "value"], done_tags, top_tags)
            self._con.execute(
                f"INSERT INTO usage SELECT {_derived('u')} FROM {usage} u LEFT JOIN (SELECT request_id, "
                f"map(list(key), list(value)) AS tags FROM {tags} x GROUP BY request_id) t ON t.request_id = u.request_id"
            )
        self._replace_feedback("SELECT request_id, score FROM led.feedback")
        self._save(float(top_rows), float(top_tags))

    def _sqlite_rows(self, table: str, columns: Sequence[str], after: int, upto: int) -> str:
        """Rows ``after < rowid <= upto`` of a ledger table, as a DuckDB subquery. A first sync
        scans the attached table (typed, in parallel); a later one has SQLite itself seek the
        new rowids (the attached scan would read the whole table to filter on rowid), which
        returns text: cast back to the engine's types (``ts`` printed with all 17 digits)."""
        if after == 0:
            return f"(SELECT {', '.join(columns)} FROM led.{table} WHERE rowid <= {upto})"
        double = {c for c in columns if c in COLUMNS and _column_type(c) == "DOUBLE"}
        inner = ", ".join(f"CASE WHEN {c} IS NULL THEN NULL ELSE printf('%.17g', {c}) END AS {c}" if c in double else c for c in columns)
        query = DUCKDB.literal(f"SELECT {inner} FROM {table} WHERE rowid > {after} AND rowid <= {upto}")
        typed = ", ".join(f"CAST({c} AS {_column_type(c) if c in COLUMNS else 'VARCHAR'}) AS {c}" for c in columns)
        return f"(SELECT {typed} FROM sqlite_query('led', {query}))"

    def _sync_postgres(self) -> None:
        """Rows from an hour before the newest held, less those held; then, if the ledger still
        counts more rows than the engine (a row landed later than that), every row not held."""
        state = self._state()
        newest = self._con.execute("SELECT max(ts) FROM usage").fetchone()[0]  # type: ignore[index]
        s = '"' + self._pg_schema.replace('"', '""') + '"'
        since = None if state is None or newest is None else float(newest) - PG_OVERLAP_S
        self._pg_ingest(s, since)
        ledger_rows = self._con.execute(
            f"SELECT * FROM postgres_query('pg', {DUCKDB.literal(f'SELECT count(*) FROM {s}.usage')})"
        ).fetchone()[0]  # type: ignore[index]
        if since is not None and int(ledger_rows) > self._count():
            self._pg_ingest(s, None)
        self._replace_feedback(
            f"SELECT request_id, score FROM postgres_query('pg', {DUCKDB.literal(f'SELECT request_id, score FROM {s}.feedback')})"
        )
        self._save(0.0, 0.0)

    def _pg_ingest(self, s: str, since: float | None) -> None:
        cond = "" if since is None else f" WHERE u.ts >= {since!r}"
        inner = (
            f"SELECT {', '.join('u.' + c for c in _LEDGER_COLUMNS)}, g.keys, g.vals FROM {s}.usage u "
            "LEFT JOIN LATERAL (SELECT array_agg(key ORDER BY key) AS keys, array_agg(value ORDER BY key) AS vals "
            f"FROM {s}.usage_tags x WHERE x.request_id = u.request_id) g ON true{cond}"
        )
        held = "SELECT request_id FROM usage" + ("" if since is None else f" WHERE ts >= {since!r}")
        self._con.execute(
            f"INSERT INTO usage SELECT {_derived('q', 'q.tag_map')} FROM (SELECT q0.*, CASE WHEN q0.keys IS NULL "
            f"THEN NULL ELSE map(q0.keys, q0.vals) END AS tag_map FROM postgres_query('pg', {DUCKDB.literal(inner)}) q0) q "
            f"ANTI JOIN ({held}) e ON e.request_id = q.request_id"
        )

    def _sync_parquet(self) -> None:
        if self._state() is not None:
            return
        self._con.execute(f"INSERT INTO usage SELECT {', '.join(COLUMNS)} FROM read_parquet({DUCKDB.literal(self.ledger_url)})")
        self._save(0.0, 0.0)

    def _replace_feedback(self, select: str) -> None:
        """Feedback is small and a later score replaces an earlier one: copied whole each sync."""
        self._con.execute("DELETE FROM feedback")
        self._con.execute(f"INSERT INTO feedback {select}")

    def export_parquet(self, path: str) -> int:
        """Write the engine's copy as one Parquet file (readable back by an engine over it)."""
        with self._lock:
            self._con.execute(f"COPY (SELECT * FROM usage ORDER BY ts, request_id) TO {DUCKDB.literal(path)} (FORMAT parquet)")
            return self._count()

    # -- questions ---------------------------------------------------------------------------

    def _all(self, sql: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._con.execute(sql).fetchall()

    def aggregate(
        self, group_by: Sequence[str], filters: Filters, extra: Sequence[str] = (), good_score: float = 0.5
    ) -> list[dict[str, Any]]:
        rows = self._all(aggregate_sql(group_by, filters, DUCKDB, extra, good_score))
        return [shape(row, group_by, extra) for row in rows]

    def aggregate_sets(
        self, groupings: Sequence[Sequence[str]], filters: Filters, extra: Sequence[str] = ()
    ) -> list[list[dict[str, Any]]]:
        """Several breakdowns in one scan; one list of rows per grouping, in order."""
        sql, dims, masks = aggregate_sets_sql(groupings, filters, DUCKDB, extra)
        return split_sets(self._all(sql), groupings, dims, masks, extra)

    def top(self, dim: str, filters: Filters, n: int) -> tuple[list[dict[str, Any]], int]:
        """The ``n`` costliest values of ``dim`` (rows as :meth:`aggregate`'s), and how many values there are."""
        rows = self._all(top_sql(dim, filters, DUCKDB, n))
        return [shape(r[:-1], [dim]) for r in rows], int(rows[0][-1]) if rows else 0

    def totals(self, filters: Filters) -> dict[str, Any]:
        return self.aggregate((), filters)[0]

    def tag_keys(self, filters: Filters) -> list[str]:
        return [row[0] for row in self._all(tag_keys_sql(filters, DUCKDB))]

    def rows(self, filters: Filters, columns: Sequence[str], batch_size: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
        unknown = [c for c in columns if c not in COLUMNS]
        if unknown:
            raise ValueError(f"unknown column(s) {', '.join(unknown)}: use any of {', '.join(COLUMNS)}")
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
        return f"DuckEngine({self._source})"
