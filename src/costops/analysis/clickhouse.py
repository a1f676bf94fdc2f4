"""The analytics engine at scale: ClickHouse, which the ledger streams into.

``ledger: {analytics: clickhouse://user:password@host:8123/database}`` makes the gateway send
every batch the ledger writer has stored on to ClickHouse too (:class:`StreamingStore`), and
:meth:`ClickHouseEngine.sync` backfills from the ledger what the stream missed (rows written
before ClickHouse was configured, batches sent while it was down). Delivery may repeat: the table
is a ``ReplacingMergeTree`` keyed by ``(day, request_id)`` and every query reads it ``FINAL``,
so a row sent twice counts once and the money stays exact.

Hourly rollups (:mod:`costops.analysis.rollup`): the DuckDB engine's cubes, one ``MergeTree``
table each (``roll_total``, ``roll_model``, ... ``roll_tags``), kept at insert time. After each
insert the hours it touched are summed again from ``usage FINAL`` and replace those hours' cube
rows, so a repeated delivery counts once in the cubes too (a materialized view or a
``SummingMergeTree`` would add the repeat). Questions are planned and answered as on DuckDB.

``clickhouses://`` connects over TLS; ``chdb:///path`` (or ``chdb://`` in memory) runs the same
SQL in process with chdb, which is how the tests run it. The report SQL is the DuckDB engine's
(:mod:`costops.analysis.sql`); only the table definitions and the client differ.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from costops.analysis.answers import Answers, check_columns
from costops.analysis.rollup import CUBES, TAGS, cube_ddl, fill_sql
from costops.analysis.sql import (
    CLICKHOUSE,
    COLUMNS,
    INT_COLUMNS,
    MONEY_COLUMNS,
    aggregate_sql,
    shape,
    tag_keys_sql,
    where_sql,
)
from costops.ledger.query import TOKEN_KINDS, Filters
from costops.ledger.record import UsageRecord
from costops.ledger.store import LedgerStore

log = logging.getLogger("costops.analytics")

INSERTED = [c for c in COLUMNS if c not in ("day", "hour", "month")]
"""What is sent; the time buckets are computed by ClickHouse (``MATERIALIZED`` columns)."""
PG_OVERLAP_S = 3600.0
BATCH = 50_000
_NULLABLE_TEXT = {"team", "project", "user_id", "key_id", "deployment", "provider", "error_type", "price_source",
                  "service_tier", "cache", "parent_id", "attempt_reason", "route", "policy", "arm", "task"}


def _column(name: str) -> str:
    if name == "ts":
        return "ts Float64"
    if name == "day":
        return "day Int32 MATERIALIZED toInt32(floor(ts / 86400))"
    if name == "hour":
        return "hour Int32 MATERIALIZED toInt32(floor(ts / 3600))"
    if name == "month":
        at = "toDateTime(toInt64(floor(ts)), 'UTC')"
        return f"month Int32 MATERIALIZED toInt32(toYear({at}) * 12 + toMonth({at}) - 1)"
    if name in ("latency_ms", "ttft_ms"):
        return f"{name} Nullable(Float64)"
    if name == "accepted":
        return "accepted Nullable(Int8)"
    if name in INT_COLUMNS:
        return f"{name} Int32"
    if name in TOKEN_KINDS or name in MONEY_COLUMNS:
        return f"{name} Int64"
    if name == "tags":
        return "tags Map(String, String)"
    if name == "request_id":
        return "request_id String"
    if name in _NULLABLE_TEXT:
        return f"{name} LowCardinality(Nullable(String))" if name != "parent_id" else "parent_id Nullable(String)"
    return f"{name} LowCardinality(String)"


def _cube_types() -> dict[str, str]:
    types = {c: _column(c).split(" ", 1)[1].split(" MATERIALIZED")[0] for c in COLUMNS if c != "tags"}
    return types | {"tag_key": "String", "tag_value": "String"}


def ddl(db: str) -> tuple[str, ...]:
    types = _cube_types()
    cubes = tuple(cube_ddl(cube, types, f"{db}.") + " ENGINE = MergeTree ORDER BY hour" for cube in (*CUBES, TAGS))
    return (
        f"CREATE TABLE IF NOT EXISTS {db}.usage (" + ", ".join(_column(c) for c in COLUMNS) + ") "
        "ENGINE = ReplacingMergeTree ORDER BY (day, request_id)",
        f"CREATE TABLE IF NOT EXISTS {db}.feedback (request_id String, score Float64, ts Float64) "
        "ENGINE = ReplacingMergeTree(ts) ORDER BY request_id",
        f"CREATE TABLE IF NOT EXISTS {db}.sync_state (source String, usage_mark Float64, tags_mark Float64, at Float64) "
        "ENGINE = ReplacingMergeTree(at) ORDER BY source",
        *cubes,
    )


class Client(Protocol):
    def command(self, sql: str) -> None: ...
    def rows(self, sql: str) -> list[tuple[Any, ...]]: ...
    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None: ...


class ChdbClient:
    """chdb in process: the same server code as ClickHouse, no server. chdb allows one session
    per process, so every client of a process shares it (counted, closed by the last), and each
    engine keeps its tables in its own database."""

    _shared: dict[str, Any] = {}  # the process's one chdb session: {"path", "session", "users", "lock"}

    def __init__(self, path: str | None) -> None:
        from chdb import session

        shared = ChdbClient._shared
        if shared and shared["path"] != (path or ""):
            raise RuntimeError(f"chdb runs one session per process: {shared['path'] or 'in memory'} is open, not {path!r}")
        if not shared:
            shared.update(path=path or "", session=session.Session(path) if path else session.Session(), users=0,
                          lock=threading.Lock())
        shared["users"] += 1
        self._session = shared["session"]
        self._lock = shared["lock"]

    def command(self, sql: str) -> None:
        with self._lock:
            self._session.query(sql)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        import orjson

        with self._lock:
            result = self._session.query(sql, "JSONCompact")
        data = result.bytes()
        return [tuple(r) for r in orjson.loads(data)["data"]] if data else []

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        import orjson

        body = b"\n".join(orjson.dumps(dict(zip(columns, row, strict=True))) for row in rows)
        with self._lock:
            self._session.query(f"INSERT INTO {table} ({', '.join(columns)}) FORMAT JSONEachRow\n" + body.decode())

    def close(self) -> None:
        shared = ChdbClient._shared
        with self._lock:
            shared["users"] -= 1
            if shared["users"] == 0:
                self._session.close()
                shared.clear()


class ConnectClient:
    """A ClickHouse server over HTTP(S), through clickhouse-connect."""

    def __init__(self, url: str) -> None:
        try:
            import clickhouse_connect
        except ImportError:  # pragma: no cover - depends on the install
            raise RuntimeError("the ClickHouse engine needs clickhouse-connect: pip install 'costops[clickhouse]'") from None
        parts = urlsplit(url)
        options = dict(parse_qsl(parts.query))
        secure = parts.scheme == "clickhouses"
        extra: dict[str, Any] = {"verify": options["verify"] not in ("0", "false")} if "verify" in options else {}
        self._client = clickhouse_connect.get_client(
            host=parts.hostname or "localhost",
            port=parts.port or (8443 if secure else 8123),
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            database=database_of(url),
            secure=secure,
            **extra,
        )

    def command(self, sql: str) -> None:
        self._client.command(sql)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._client.query(sql).result_rows]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self._client.insert(table, [list(r) for r in rows], column_names=list(columns))

    def close(self) -> None:
        self._client.close()


def database_of(url: str) -> str:
    """The database named by a ``clickhouse://`` URL's path (``default`` without one); for chdb
    ``?database=`` (in memory: a database of its own per engine, as chdb shares one session)."""
    parts = urlsplit(url)
    if parts.scheme == "chdb":
        options = dict(parse_qsl(parts.query))
        if "database" in options:
            return options["database"]
        import uuid

        return "costops" if parts.path else f"costops_{uuid.uuid4().hex[:12]}"
    return parts.path.lstrip("/") or "default"


def record_values(r: UsageRecord) -> list[Any]:
    """A ledger record as an ``INSERTED`` row: the store's own rounding of each cost."""
    from costops.ledger.sql_store import STORE_COLUMNS, store_values

    row = dict(zip(STORE_COLUMNS, store_values(r), strict=True))
    row["tags"] = {str(k): str(v) for k, v in r.tags.items()}
    return [row[c] for c in INSERTED]


class ClickHouseEngine(Answers):
    name = "clickhouse"

    def __init__(
        self, url: str, ledger_url: str | None, *, min_sync_interval_s: float = 0.0, client: Client | None = None,
        rollups: bool | None = None,
    ) -> None:
        """``rollups``: read the hourly cubes when they are much smaller than the calls (``None``),
        always (``True``) or never (``False``); they are kept either way."""
        self.url = url
        self.rollups = rollups
        self._roll_lock = threading.Lock()
        self.ledger_url = ledger_url
        self.min_sync_interval_s = min_sync_interval_s
        self._last_sync = float("-inf")
        self._sync_lock = threading.Lock()
        if client is not None:
            self._client: Any = client
        elif url.startswith("chdb://"):
            self._client = ChdbClient(urlsplit(url).path or None)
        else:
            self._client = ConnectClient(url)
        name = database_of(url)
        if not name.replace("_", "").isalnum():
            raise ValueError(f"ClickHouse database {name!r}: use letters, digits and underscores")
        self.db = name
        self._prefix = f"{name}."
        self.d = replace(CLICKHOUSE, table=f"{name}.usage AS u FINAL", feedback=f"{name}.feedback AS f FINAL")
        if url.startswith("chdb://"):
            self._client.command(f"CREATE DATABASE IF NOT EXISTS {name}")
        for statement in ddl(name):
            self._client.command(statement)
        for c in COLUMNS:  # a table made by an older costops: the columns since added (NULL in rows sent before)
            if c not in ("day", "hour", "month"):
                self._client.command(f"ALTER TABLE {name}.usage ADD COLUMN IF NOT EXISTS {_column(c)}")
        if not self._client.rows(f"SELECT 1 FROM {name}.roll_total LIMIT 1"):  # calls sent by a costops without cubes
            self._roll(None)
        self._sizes = self._measure_sizes()

    # -- ingestion ---------------------------------------------------------------------------

    def stream(self, records: Sequence[UsageRecord]) -> None:
        """Send records the ledger has just stored (the writer's batch)."""
        if records:
            self._client.insert(f"{self.db}.usage", INSERTED, [record_values(r) for r in records])
            self._roll({int(r.ts // 3600) for r in records})

    def _roll(self, hours: set[int] | None) -> None:
        """Sum these hours (``None``: every hour) again from the calls into every cube, replacing
        what the cubes held for them."""
        if hours is not None and not hours:
            return
        cond = ""
        if hours is not None:
            listed = ", ".join(str(h) for h in sorted(hours))
            days = ", ".join(str(d) for d in sorted({h // 24 for h in hours}))
            cond = f" WHERE day IN ({days}) AND hour IN ({listed})"
        source = f"(SELECT *, day, hour, month FROM {self.db}.usage FINAL{cond})"
        with self._roll_lock:
            for cube in (*CUBES, TAGS):
                if hours is not None:
                    self._client.command(f"DELETE FROM {self.db}.{cube.table} WHERE hour IN ({listed})")
                self._client.command(f"INSERT INTO {self.db}.{cube.table} {fill_sql(cube, source, CLICKHOUSE)}")
        self._sizes = self._measure_sizes()

    def _measure_sizes(self) -> dict[str, int]:
        tables = ["usage", *(cube.table for cube in (*CUBES, TAGS))]
        counts = self._client.rows("SELECT " + ", ".join(f"(SELECT count() FROM {self.db}.{t})" for t in tables))[0]
        return {t: int(n) for t, n in zip(tables, counts, strict=True)}

    def sync(self, *, force: bool = False) -> int:
        """Backfill from the ledger; returns the rows the engine holds now and did not before."""
        if self.ledger_url is None:
            return 0
        now = time.monotonic()
        with self._sync_lock:
            if not force and now - self._last_sync < self.min_sync_interval_s:
                return 0
            self._last_sync = now
            from costops.ledger.store import open_store

            store = open_store(self.ledger_url, must_exist=True)
            before = self._count()
            try:
                if self.ledger_url.startswith("sqlite:///"):
                    self._sync_sqlite(store)
                else:
                    self._sync_postgres(store)
            finally:
                store.close()
            return self._count() - before

    def _count(self) -> int:
        return int(self._client.rows(f"SELECT count() FROM {self.d.table}")[0][0])

    def _marks(self) -> tuple[float, float]:
        rows = self._client.rows(
            f"SELECT usage_mark, tags_mark FROM {self.db}.sync_state FINAL WHERE source = {CLICKHOUSE.literal(self.ledger_url or '')}"
        )
        return (float(rows[0][0]), float(rows[0][1])) if rows else (0.0, float("-inf"))

    def _save(self, usage_mark: float, tags_mark: float) -> None:
        self._client.insert(f"{self.db}.sync_state", ["source", "usage_mark", "tags_mark", "at"],
                            [[self.ledger_url, usage_mark, tags_mark, time.time()]])

    def _send(self, cur: Any, rows: list[tuple[Any, ...]], ph: str) -> None:
        columns = [c for c in INSERTED if c != "tags"]
        ids = [r[0] for r in rows]
        tags: dict[str, dict[str, str]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cur.execute(f"SELECT request_id, key, value FROM usage_tags WHERE request_id IN ({', '.join([ph] * len(chunk))})", chunk)
            for request_id, key, value in cur.fetchall():
                tags.setdefault(request_id, {})[key] = value
        out = [[*(_plain(v) for v in r), tags.get(r[0], {})] for r in rows]
        self._client.insert(f"{self.db}.usage", [*columns, "tags"], out)
        at = columns.index("ts")
        self._roll({int(float(r[at]) // 3600) for r in rows})

    def _sync_sqlite(self, store: LedgerStore) -> int:
        done, _ = self._marks()
        columns = ", ".join(c for c in INSERTED if c != "tags")
        sent = 0
        with store._tx() as cur:  # type: ignore[attr-defined]
            cur.execute("SELECT COALESCE(max(rowid), 0) FROM usage")
            top = int(cur.fetchone()[0])
        mark = int(done)
        while mark < top:
            with store._tx() as cur:  # type: ignore[attr-defined]
                cur.execute(f"SELECT rowid, {columns} FROM usage WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT {BATCH}", (mark, top))
                page = cur.fetchall()
                if not page:
                    break
                self._send(cur, [r[1:] for r in page], "?")
            mark = int(page[-1][0])
            sent += len(page)
            self._save(float(mark), 0.0)
        self._sync_feedback(store)
        return sent

    def _sync_postgres(self, store: LedgerStore) -> int:
        """Rows from an hour before the newest held; all of them again if the ledger then still
        counts more (a late row): the table's replacing merge keeps one copy of each."""
        newest = self._client.rows(f"SELECT max(ts), count() FROM {self.db}.usage")
        since = float(newest[0][0]) - PG_OVERLAP_S if newest and int(newest[0][1]) else float("-inf")
        sent = self._pg_send(store, since)
        with store._tx() as cur:  # type: ignore[attr-defined]
            cur.execute("SELECT count(*) FROM usage")
            ledger_rows = int(cur.fetchone()[0])
        if since != float("-inf") and ledger_rows > self._count():
            sent += self._pg_send(store, float("-inf"))
        self._sync_feedback(store)
        return sent

    def _pg_send(self, store: LedgerStore, since: float) -> int:
        columns = ", ".join(c for c in INSERTED if c != "tags")
        sent = 0
        after: tuple[float, str] = (since, "")
        while True:
            with store._tx() as cur:  # type: ignore[attr-defined]
                cur.execute(
                    f"SELECT {columns} FROM usage WHERE (ts > %s OR (ts = %s AND request_id > %s)) "
                    f"ORDER BY ts, request_id LIMIT {BATCH}",
                    (after[0], after[0], after[1]),
                )
                page = cur.fetchall()
                if not page:
                    break
                self._send(cur, page, "%s")
            after = (float(page[-1][1]), str(page[-1][0]))
            sent += len(page)
        return sent

    def _sync_feedback(self, store: LedgerStore) -> None:
        with store._tx() as cur:  # type: ignore[attr-defined]
            cur.execute("SELECT request_id, score, ts FROM feedback")
            rows = [[r[0], float(r[1]), float(r[2])] for r in cur.fetchall()]
        if rows:
            self._client.insert(f"{self.db}.feedback", ["request_id", "score", "ts"], rows)

    # -- questions ---------------------------------------------------------------------------

    def _all(self, sql: str) -> list[tuple[Any, ...]]:
        return self._client.rows(sql)

    def aggregate(
        self, group_by: Sequence[str], filters: Filters, extra: Sequence[str] = (), good_score: float = 0.5
    ) -> list[dict[str, Any]]:
        """From the smallest cube that holds the question (:mod:`costops.analysis.rollup`), else the calls."""
        p = self._plan(group_by, filters, extra)
        rows = (
            self._answer(p, group_by, filters, extra)
            if p is not None
            else self._all(aggregate_sql(group_by, filters, self.d, extra, good_score))
        )
        return [shape(row, group_by, extra) for row in rows]

    def tag_keys(self, filters: Filters) -> list[str]:
        return [row[0] for row in self._all(tag_keys_sql(filters, self.d))]

    def rows(self, filters: Filters, columns: Sequence[str], batch_size: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
        check_columns(columns)
        select = ", ".join(["u.ts", "u.request_id", *(f"u.{c}" for c in columns)])
        base = where_sql(filters, self.d)
        after: tuple[float, str] | None = None
        while True:
            cond = base
            if after is not None:
                key = f"(u.ts > {after[0]!r} OR (u.ts = {after[0]!r} AND u.request_id > {CLICKHOUSE.literal(after[1])}))"
                cond = (cond + " AND " if cond else " WHERE ") + key
            page = self._client.rows(
                f"SELECT {select} FROM {self.d.table}{cond} ORDER BY u.ts, u.request_id LIMIT {int(batch_size)}"
            )
            if not page:
                return
            yield [tuple(r[2:]) for r in page]
            if len(page) < batch_size:
                return
            after = (float(page[-1][0]), str(page[-1][1]))

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"ClickHouseEngine({self.url.split('@')[-1]!r})"


def _plain(value: Any) -> Any:
    return int(value) if type(value).__name__ == "Decimal" else value


class StreamingStore:
    """The ledger store, and each batch it has written sent on to the analytics engine.

    The ledger stays the book of record: a failed send is logged, never fails the write (the
    writer would retry a batch the store already holds), and the next :meth:`sync` backfills."""

    def __init__(self, store: LedgerStore, engine: ClickHouseEngine) -> None:
        self._store = store
        self.engine = engine
        self.spill_hint = store.spill_hint
        self.stream_errors = 0

    def write(self, records: Sequence[UsageRecord]) -> None:
        self._store.write(records)
        try:
            self.engine.stream(records)
        except Exception as exc:  # the ledger has the rows; a backfill sends them later
            self.stream_errors += 1
            log.warning("analytics stream failed (%s); the next sync backfills these %d rows", exc, len(records))

    def close(self) -> None:
        """Closes the ledger store; the engine is its owner's to close (the dashboard reads it)."""
        self._store.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)
