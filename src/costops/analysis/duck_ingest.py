"""Ingestion for the DuckDB engine: its columnar copy of the ledger, and each sync's reading of what is new.

DuckDB keeps the copy (in memory, or in a ``.duckdb`` file that survives restarts) and each
:meth:`Ingest.run` ingests only what is new:

- SQLite: rows past the last ``rowid`` seen (``usage`` and ``usage_tags`` each have one; the
  writer commits a call's row and its tags in one transaction, so both high-water marks are read
  in one SQLite read transaction and every tag ingested belongs to a row ingested with it).
- PostgreSQL: rows from an hour before the newest ``ts`` seen, less those already held
  (``request_id`` is the ledger's primary key); when the ledger then still counts more rows than
  the engine (a journal replay landed an old row late), every row not held.
- Parquet (an export of this engine, ``*.parquet`` or a glob): loaded once.

The scanner extensions come from PyPI packages (``duckdb-extension-sqlite-scanner``, ...) and
are loaded from their files: nothing is downloaded at run time. A re-priced ledger changes rows
in place, which no high-water mark sees, so the ledger logs the hours it changed
(``usage_changes``, a sequence): a sync drops those hours' calls and rollup rows and reads them
again. Each sync also adds its new calls' sums to the hourly rollups
(:mod:`costops.analysis.rollup`), which answer most questions. The engine that answers over
this copy is :mod:`costops.analysis.duck`; it owns the connection and the lock, this module
only what is written into the tables.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from costops.analysis.rollup import CUBES, TAGS, cube_ddl, fill_sql, merge_sql, of_sets_sql, sets_sql
from costops.analysis.sql import COLUMNS, DUCKDB, INT_COLUMNS, MONEY_COLUMNS, TEXT_COLUMNS
from costops.ledger.query import TOKEN_KINDS

PG_OVERLAP_S = 3600.0
ENGINE_SCHEMA = 2
"""Bumped when a kept ``.duckdb`` file's tables change: an older file is a cache, rebuilt."""
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


_CUBE_TYPES = {c: _column_type(c) for c in COLUMNS if c != "tags"} | {
    "tag_key": "VARCHAR",
    "tag_value": "VARCHAR",
}
DDL = (
    "CREATE TABLE IF NOT EXISTS usage (" + ", ".join(f"{c} {_column_type(c)}" for c in COLUMNS) + ")",
    "CREATE TABLE IF NOT EXISTS feedback (request_id VARCHAR, score DOUBLE)",
    "CREATE TABLE IF NOT EXISTS sync_state (source VARCHAR, usage_mark DOUBLE, tags_mark DOUBLE, changes_mark DOUBLE)",
    *(cube_ddl(cube, _CUBE_TYPES) for cube in (*CUBES, TAGS)),
    "CREATE TABLE IF NOT EXISTS engine_schema (version INTEGER)",
)
TABLES = ("usage", "feedback", "sync_state", *(cube.table for cube in (*CUBES, TAGS)))


def _derived(src: str, tags: str = "t.tags") -> str:
    """The ingested row: the ledger's columns and the integer time buckets."""
    at = f"make_timestamp(CAST({src}.ts * 1000000 AS BIGINT))"
    cols = []
    for c in COLUMNS:
        if c == "day":  # floor(ts) first: an integer division is exact, so hour h is 3600h <= ts < 3600(h+1)
            cols.append(f"CAST(CAST(floor({src}.ts) AS BIGINT) // 86400 AS INTEGER)")
        elif c == "hour":
            cols.append(f"CAST(CAST(floor({src}.ts) AS BIGINT) // 3600 AS INTEGER)")
        elif c == "month":
            cols.append(f"CAST(year({at}) * 12 + month({at}) - 1 AS INTEGER)")
        elif c == "tags":
            cols.append(f"COALESCE({tags}, MAP {{}})")
        else:
            cols.append(f"{src}.{c}")
    return ", ".join(f"{sql} AS {c}" for sql, c in zip(cols, COLUMNS, strict=True))


def _joined(usage: str, tags: str) -> str:
    """Calls (a subquery of ledger rows) with their tags as one map, in the engine's row shape."""
    return (
        f"SELECT {_derived('u')} FROM {usage} u LEFT JOIN (SELECT request_id, map(list(key), list(value)) AS tags "
        f"FROM {tags} x GROUP BY request_id) t ON t.request_id = u.request_id"
    )


def _extension(name: str) -> str:
    """The scanner's file, from its PyPI package, for this DuckDB's version."""
    import duckdb

    package = f"duckdb_extension_{name}"
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise RuntimeError(
            f"reading this ledger needs DuckDB's {name}: pip install 'duckdb-extension-{name.replace('_', '-')}'"
        )
    path = Path(spec.origin).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.exists():
        found = ", ".join(p.name for p in (Path(spec.origin).parent / "extensions").glob("v*")) or "none"
        raise RuntimeError(
            f"DuckDB {duckdb.__version__} needs the {name} extension built for it, but "
            f"{package} carries {found}: install matching versions (pip install 'costops[analytics]')"
        )
    return str(path)


class Ingest:
    """The engine's tables on ``con`` (made, or rebuilt from an older costops's file) and the
    ledger at ``ledger_url`` attached to read from. The caller holds the engine's lock."""

    def __init__(self, con: Any, ledger_url: str) -> None:
        self._con = con
        self.ledger_url = ledger_url
        tables = {
            r[0] for r in self._con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        row = self._con.execute("SELECT max(version) FROM engine_schema").fetchone() if "engine_schema" in tables else None
        version = row[0] if row else None
        if tables and version != ENGINE_SCHEMA:  # a kept file from an older costops: a cache, so rebuilt
            for table in (*TABLES, "engine_schema"):
                self._con.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in DDL:
            self._con.execute(statement)
        if version != ENGINE_SCHEMA:
            self._con.execute(f"INSERT INTO engine_schema VALUES ({ENGINE_SCHEMA})")
        self.source = self._attach(ledger_url)

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
        raise ValueError(
            f"the analytics engine reads sqlite:///..., postgresql://... or a .parquet export, not {url!r}"
        )

    def _state(self) -> tuple[float, float, float] | None:
        # no bound parameters anywhere: binding makes DuckDB import pandas and pyarrow (a second)
        row = self._con.execute(
            f"SELECT usage_mark, tags_mark, changes_mark FROM sync_state WHERE source = {DUCKDB.literal(self.ledger_url)}"
        ).fetchone()
        if row is None:
            if self._con.execute("SELECT count(*) FROM sync_state").fetchone()[0]:  # type: ignore[index]
                self.clear()  # a kept file built from another ledger: start over
            return None
        return float(row[0]), float(row[1]), float(row[2] or 0)

    def clear(self) -> None:
        for table in TABLES:
            self._con.execute(f"DELETE FROM {table}")

    def _save(self, usage_mark: float, tags_mark: float, changes_mark: float = 0.0) -> None:
        self._con.execute("DELETE FROM sync_state")
        self._con.execute(
            f"INSERT INTO sync_state VALUES ({DUCKDB.literal(self.ledger_url)}, {usage_mark!r}, {tags_mark!r}, {changes_mark!r})"
        )

    def run(self) -> None:
        """Ingest what the ledger gained since the last run, in one transaction."""
        self._con.execute("BEGIN")
        try:
            getattr(self, f"_sync_{self.source}")()
            self._con.execute("COMMIT")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise

    def count(self) -> int:
        return int(self._con.execute("SELECT count(*) FROM usage").fetchone()[0])  # type: ignore[index]

    def _take(self, select: str) -> None:
        """Ingest the calls ``select`` returns (the ``usage`` row shape) into ``usage``, and their
        sums into every cube. A first fill goes straight in and the cubes are summed from it;
        later ones (seconds of traffic, or re-priced hours) pass through a temporary table."""
        if self._con.execute("SELECT 1 FROM usage LIMIT 1").fetchone() is None:
            self._con.execute(f"INSERT INTO usage {select}")
            source = "usage"
        else:
            self._con.execute(f"CREATE OR REPLACE TEMP TABLE fresh AS {select}")
            self._con.execute("INSERT INTO usage SELECT * FROM fresh")
            source = "fresh"
        self._con.execute(f"CREATE OR REPLACE TEMP TABLE sets AS {sets_sql(source)}")
        for cube in (*CUBES, TAGS):
            fill = fill_sql(cube, source, DUCKDB) if cube is TAGS else of_sets_sql(cube, "sets")
            if self._con.execute(f"SELECT 1 FROM {cube.table} LIMIT 1").fetchone() is None:
                self._con.execute(f"INSERT INTO {cube.table} {fill}")
                continue
            # hours already held (a late call, the hour still being written): summed into one row per key
            self._con.execute(f"CREATE OR REPLACE TEMP TABLE delta AS {fill}")
            touched = "SELECT DISTINCT hour FROM delta"
            self._con.execute(f"INSERT INTO delta SELECT * FROM {cube.table} WHERE hour IN ({touched})")
            self._con.execute(f"DELETE FROM {cube.table} WHERE hour IN ({touched})")
            self._con.execute(f"INSERT INTO {cube.table} {merge_sql(cube, 'delta')}")
            self._con.execute("DROP TABLE delta")
        self._con.execute("DROP TABLE IF EXISTS fresh")
        self._con.execute("DROP TABLE sets")

    def _forget(self, hours: Sequence[int], ts: str = "ts") -> str:
        """Drop the calls and cube rows of these hours (re-priced: read again); returns the
        ledger-side condition on ``ts`` that selects exactly those hours' calls."""
        spans: list[list[int]] = []
        for h in sorted(set(hours)):
            if spans and spans[-1][1] == h:
                spans[-1][1] = h + 1
            else:
                spans.append([h, h + 1])
        held = " OR ".join(f"(hour >= {a} AND hour < {b})" for a, b in spans)
        for table in ("usage", *(cube.table for cube in (*CUBES, TAGS))):
            self._con.execute(f"DELETE FROM {table} WHERE {held}")
        return " OR ".join(f"({ts} >= {a * 3600} AND {ts} < {b * 3600})" for a, b in spans)

    def _sync_sqlite(self) -> None:
        import sqlite3

        state = self._state()
        done_rows, done_tags, done_changes = (int(m) for m in state or (0, 0, 0))
        ledger = sqlite3.connect(f"file:{self._sqlite_path}?mode=ro", uri=True, isolation_level=None)
        try:
            ledger.execute("BEGIN")  # one snapshot for every mark
            top_rows = ledger.execute("SELECT COALESCE(max(rowid), 0) FROM usage").fetchone()[0]
            top_tags = ledger.execute("SELECT COALESCE(max(rowid), 0) FROM usage_tags").fetchone()[0]
            logged = ledger.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'usage_changes'"
            ).fetchone()
            top_changes = (
                ledger.execute("SELECT COALESCE(max(seq), 0) FROM usage_changes").fetchone()[0]
                if logged
                else 0
            )
            changed = (
                [
                    h
                    for (h,) in ledger.execute(
                        "SELECT DISTINCT hour FROM usage_changes WHERE seq > ? AND seq <= ?",
                        (done_changes, top_changes),
                    )
                ]
                if state is not None and top_changes > done_changes
                else []
            )
            ledger.execute("COMMIT")
        finally:
            ledger.close()
        if changed:  # re-priced calls: their hours read again, as far as they were read before
            where = f"rowid <= {done_rows} AND ({self._forget(changed)})"
            usage = self._sqlite_rows("usage", _LEDGER_COLUMNS, where)
            tags = self._sqlite_rows(
                "usage_tags",
                ["request_id", "key", "value"],
                f"rowid <= {done_tags} AND request_id IN (SELECT request_id FROM usage WHERE {where})",
            )
            self._take(_joined(usage, tags))
        if top_rows > done_rows:
            usage = self._sqlite_rows(
                "usage", _LEDGER_COLUMNS, f"rowid > {done_rows} AND rowid <= {top_rows}", scan=done_rows == 0
            )
            tags = self._sqlite_rows(
                "usage_tags",
                ["request_id", "key", "value"],
                f"rowid > {done_tags} AND rowid <= {top_tags}",
                scan=done_rows == 0,
            )
            self._take(_joined(usage, tags))
        self._replace_feedback("SELECT request_id, score FROM led.feedback")
        self._save(float(top_rows), float(top_tags), float(top_changes))

    def _sqlite_rows(self, table: str, columns: Sequence[str], where: str, *, scan: bool = False) -> str:
        """A ledger table's rows ``where`` (SQLite's SQL), as a DuckDB subquery. A first sync
        scans the attached table (typed, in parallel); a later one has SQLite itself seek the
        rows by rowid or time (the attached scan would read the whole table to filter them),
        which returns text: cast back to the engine's types (``ts`` printed with all 17 digits)."""
        if scan:
            return f"(SELECT {', '.join(columns)} FROM led.{table} WHERE {where})"
        double = {c for c in columns if c in COLUMNS and _column_type(c) == "DOUBLE"}
        inner = ", ".join(
            f"CASE WHEN {c} IS NULL THEN NULL ELSE printf('%.17g', {c}) END AS {c}" if c in double else c
            for c in columns
        )
        query = DUCKDB.literal(f"SELECT {inner} FROM {table} WHERE {where}")
        typed = ", ".join(
            f"CAST({c} AS {_column_type(c) if c in COLUMNS else 'VARCHAR'}) AS {c}" for c in columns
        )
        return f"(SELECT {typed} FROM sqlite_query('led', {query}))"

    def _sync_postgres(self) -> None:
        """Rows from an hour before the newest held, less those held; then, if the ledger still
        counts more rows than the engine (a row landed later than that), every row not held;
        first the hours of re-priced calls, dropped and read again."""
        state = self._state()
        s = '"' + self._pg_schema.replace('"', '""') + '"'
        done_changes = int(state[2]) if state else 0
        (logged,) = self._pg_one(f"SELECT to_regclass('{s}.usage_changes') IS NOT NULL")
        (top_changes,) = (
            self._pg_one(f"SELECT COALESCE(max(seq), 0) FROM {s}.usage_changes") if logged else (0,)
        )
        if state is not None and int(top_changes) > done_changes:
            hours = self._con.execute(
                f"SELECT * FROM postgres_query('pg', {DUCKDB.literal(f'SELECT DISTINCT hour FROM {s}.usage_changes WHERE seq > {done_changes} AND seq <= {int(top_changes)}')})"
            ).fetchall()
            self._pg_ingest(s, None, self._forget([int(h) for (h,) in hours], "u.ts"))
        newest = self._con.execute("SELECT max(ts) FROM usage").fetchone()[0]  # type: ignore[index]
        since = None if state is None or newest is None else float(newest) - PG_OVERLAP_S
        self._pg_ingest(s, since)
        (ledger_rows,) = self._pg_one(f"SELECT count(*) FROM {s}.usage")
        if since is not None and int(ledger_rows) > self.count():
            self._pg_ingest(s, None)
        self._replace_feedback(
            f"SELECT request_id, score FROM postgres_query('pg', {DUCKDB.literal(f'SELECT request_id, score FROM {s}.feedback')})"
        )
        self._save(0.0, 0.0, float(top_changes))

    def _pg_one(self, sql: str) -> tuple[Any, ...]:
        return self._con.execute(f"SELECT * FROM postgres_query('pg', {DUCKDB.literal(sql)})").fetchone()  # type: ignore[return-value]

    def _pg_ingest(self, s: str, since: float | None, where: str | None = None) -> None:
        conds = [
            c
            for c in ("" if since is None else f"u.ts >= {since!r}", "" if where is None else f"({where})")
            if c
        ]
        cond = (" WHERE " + " AND ".join(conds)) if conds else ""
        inner = (
            f"SELECT {', '.join('u.' + c for c in _LEDGER_COLUMNS)}, g.keys, g.vals FROM {s}.usage u "
            "LEFT JOIN LATERAL (SELECT array_agg(key ORDER BY key) AS keys, array_agg(value ORDER BY key) AS vals "
            f"FROM {s}.usage_tags x WHERE x.request_id = u.request_id) g ON true{cond}"
        )
        held = "SELECT request_id FROM usage" + ("" if since is None else f" WHERE ts >= {since!r}")
        self._take(
            f"SELECT {_derived('q', 'q.tag_map')} FROM (SELECT q0.*, CASE WHEN q0.keys IS NULL "
            f"THEN NULL ELSE map(q0.keys, q0.vals) END AS tag_map FROM postgres_query('pg', {DUCKDB.literal(inner)}) q0) q "
            f"ANTI JOIN ({held}) e ON e.request_id = q.request_id"
        )

    def _sync_parquet(self) -> None:
        if self._state() is not None:
            return
        self._take(f"SELECT {', '.join(COLUMNS)} FROM read_parquet({DUCKDB.literal(self.ledger_url)})")
        self._save(0.0, 0.0)

    def _replace_feedback(self, select: str) -> None:
        """Feedback is small and a later score replaces an earlier one: copied whole each sync."""
        self._con.execute("DELETE FROM feedback")
        self._con.execute(f"INSERT INTO feedback {select}")

