"""The shared ledger: PostgreSQL through psycopg 3, for several gateway replicas.

One connection under a lock is enough for a batched writer (one transaction per few hundred
rows) plus occasional reports; a broken connection is dropped and reopened on the next call, and
the writer's retry covers the call that failed. ``?schema=name`` in the URL keeps the ledger's
tables in that schema (created on ``migrate()``); tests use it to isolate each run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from costops.ledger.migrations import apply_postgres
from costops.ledger.query import POSTGRES
from costops.ledger.sql_store import SqlLedger

CONNECT_TIMEOUT_S = 5


def split_schema(url: str) -> tuple[str, str | None]:
    """``postgresql://h/db?schema=s&sslmode=x`` -> (``postgresql://h/db?sslmode=x``, ``s``)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema or None


class PostgresLedger(SqlLedger):
    dialect = POSTGRES

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "the PostgreSQL ledger needs psycopg 3: pip install 'costops[postgres]'"
            ) from None
        self._psycopg = psycopg
        self.conninfo, self.schema = split_schema(url)
        self._lock = threading.Lock()
        self._conn: Any = None
        with self._lock:
            self._connection()  # fail fast on a wrong URL or an unreachable server

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed or self._conn.broken:
            kwargs: dict[str, Any] = {"autocommit": True}
            if "connect_timeout" not in self.conninfo:
                kwargs["connect_timeout"] = CONNECT_TIMEOUT_S
            conn = self._psycopg.connect(self.conninfo, **kwargs)
            if self.schema:
                from psycopg import sql

                conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            self._conn = conn
        return self._conn

    def _discard(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
        self._conn = None

    def _text(self, value: Any) -> Any:
        # An upstream error message with a NUL byte would be refused forever and block the writer.
        if isinstance(value, str) and "\x00" in value:
            return value.replace("\x00", "\ufffd")
        return value

    def migrate(self) -> list[int]:
        with self._lock:
            conn = self._connection()
            try:
                return apply_postgres(conn, schema=self.schema)
            except self._psycopg.OperationalError:
                self._discard()
                raise

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    yield cur
            except self._psycopg.OperationalError:
                self._discard()  # reconnect on the next call
                raise

    def close(self) -> None:
        with self._lock:
            self._discard()

    def __repr__(self) -> str:
        return f"PostgresLedger(schema={self.schema!r})"
