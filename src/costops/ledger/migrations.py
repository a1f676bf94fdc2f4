"""The ledger's schema as an append-only, numbered list of migrations.

Never edit or reorder an entry once released: add a new one. Each is recorded in
``schema_migrations(version, name, applied_at)`` and applied once, inside one transaction with
its record. Two processes may migrate at once (two gateway replicas starting together): on
PostgreSQL a transaction-scoped advisory lock serializes them; on SQLite ``BEGIN IMMEDIATE``
takes the write lock before the applied versions are read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# "costops" in ASCII: the advisory-lock key every costops process agrees on.
ADVISORY_LOCK_KEY = 0x636F73746F7073

Statements = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: Callable[[str], Statements]
    """Statements for a dialect (``sqlite`` or ``postgres``)."""


def _types(dialect: str) -> dict[str, str]:
    if dialect == "postgres":
        return {"text": "TEXT", "int": "INTEGER", "big": "BIGINT", "float": "DOUBLE PRECISION"}
    return {"text": "TEXT", "int": "INTEGER", "big": "INTEGER", "float": "REAL"}


# Version 1's columns, frozen: later changes are new migrations, never edits here.
_V1_COLUMNS = (
    ("request_id", "text", "PRIMARY KEY"),
    ("ts", "float", "NOT NULL"),
    ("endpoint", "text", "NOT NULL"),
    ("model_requested", "text", "NOT NULL"),
    ("model", "text", "NOT NULL DEFAULT ''"),
    ("deployment", "text", ""),
    ("provider", "text", ""),
    ("tenant", "text", "NOT NULL DEFAULT 'default'"),
    ("team", "text", ""),
    ("project", "text", ""),
    ("user_id", "text", ""),
    ("key_id", "text", ""),
    ("stream", "int", "NOT NULL DEFAULT 0"),
    ("status", "int", "NOT NULL"),
    ("error_type", "text", ""),
    ("error_message", "text", ""),
    ("input_tokens", "big", "NOT NULL DEFAULT 0"),
    ("cache_read_tokens", "big", "NOT NULL DEFAULT 0"),
    ("cache_write_5m_tokens", "big", "NOT NULL DEFAULT 0"),
    ("cache_write_1h_tokens", "big", "NOT NULL DEFAULT 0"),
    ("output_tokens", "big", "NOT NULL DEFAULT 0"),
    ("reasoning_tokens", "big", "NOT NULL DEFAULT 0"),
    ("service_tier", "text", ""),
    ("priced", "int", "NOT NULL DEFAULT 1"),
    ("price_source", "text", ""),
    ("list_cost_nanos", "big", "NOT NULL DEFAULT 0"),
    ("input_cost_nanos", "big", "NOT NULL DEFAULT 0"),
    ("cache_read_cost_nanos", "big", "NOT NULL DEFAULT 0"),
    ("cache_write_cost_nanos", "big", "NOT NULL DEFAULT 0"),
    ("output_cost_nanos", "big", "NOT NULL DEFAULT 0"),
    ("cost_nanos", "big", "NOT NULL DEFAULT 0"),
    ("latency_ms", "float", ""),
    ("ttft_ms", "float", ""),
    ("cache", "text", ""),
    ("avoided_cost_nanos", "big", "NOT NULL DEFAULT 0"),
    # The list cost's parts, so a record read back has the list breakdown it was written with.
    ("list_input_cost_nanos", "big", "NOT NULL DEFAULT 0"),
    ("list_cache_read_cost_nanos", "big", "NOT NULL DEFAULT 0"),
    ("list_cache_write_cost_nanos", "big", "NOT NULL DEFAULT 0"),
    ("list_output_cost_nanos", "big", "NOT NULL DEFAULT 0"),
)


def _v1(dialect: str) -> Statements:
    t = _types(dialect)
    columns = ",\n  ".join(f"{name} {t[kind]} {extra}".rstrip() for name, kind, extra in _V1_COLUMNS)
    return (
        f"CREATE TABLE usage (\n  {columns}\n)",
        "CREATE INDEX usage_ts ON usage (ts)",
        "CREATE INDEX usage_tenant_ts ON usage (tenant, ts)",
        "CREATE INDEX usage_model_ts ON usage (model, ts)",
        "CREATE TABLE usage_tags (\n  request_id TEXT NOT NULL,\n  key TEXT NOT NULL,\n  value TEXT NOT NULL,\n"
        "  PRIMARY KEY (request_id, key)\n)",
        "CREATE INDEX usage_tags_key_value ON usage_tags (key, value)",
    )


def _v2(dialect: str) -> Statements:
    """Attempts: a logical request's row (``parent_id`` NULL) is the attempt that answered it; each
    earlier attempt (a retry, a fallback, a cascade's cheaper try) is a row of its own, with its
    own tokens and cost, pointing at it. Route, policy and experiment arm say how it was chosen."""
    t = _types(dialect)
    added = (
        ("parent_id", "text", ""),
        ("attempt", "int", "NOT NULL DEFAULT 1"),
        ("attempt_reason", "text", ""),
        ("route", "text", ""),
        ("policy", "text", ""),
        ("arm", "text", ""),
    )
    return (
        *(f"ALTER TABLE usage ADD COLUMN {name} {t[kind]} {extra}".rstrip() for name, kind, extra in added),
        "CREATE INDEX usage_parent ON usage (parent_id)",
    )


def _v4(dialect: str) -> Statements:
    """What experiments and bandits learn from: the task type a bandit chose an arm for, and
    whether the answer passed the policy's automatic acceptance checks (1, 0; NULL: not checked)."""
    return ("ALTER TABLE usage ADD COLUMN task TEXT", "ALTER TABLE usage ADD COLUMN accepted INTEGER")


def _v5(dialect: str) -> Statements:
    """The hours whose calls changed in place (``costops reprice``), in order: an analytics
    engine keeps a copy of the calls and its hourly sums, and reads these hours again."""
    seq = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" if dialect == "postgres" else "INTEGER PRIMARY KEY"
    return (f"CREATE TABLE usage_changes (\n  seq {seq},\n  hour INTEGER NOT NULL\n)",)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "usage and usage_tags", _v1),
    Migration(2, "attempts, route, policy and arm", _v2),
    Migration(3, "feedback", lambda dialect: (
        "CREATE TABLE feedback (\n  request_id TEXT PRIMARY KEY,\n"
        f"  ts {_types(dialect)['float']} NOT NULL,\n  score {_types(dialect)['float']} NOT NULL,\n"
        "  comment TEXT,\n  source TEXT\n)",
    )),
    Migration(4, "task and accepted", _v4),
    Migration(5, "usage changes", _v5),
)


def _create_bookkeeping(dialect: str) -> str:
    ts = "DOUBLE PRECISION" if dialect == "postgres" else "REAL"
    return (
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        f"(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at {ts} NOT NULL)"
    )


def apply_postgres(conn: Any, *, schema: str | None = None) -> list[int]:
    """Apply what is missing on a psycopg connection; returns the versions applied now.
    ``schema`` is created first (under the lock, so two processes never race to create it)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
        if schema:
            from psycopg import sql

            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        applied = _apply_missing(conn, "postgres", "%s")
    return applied


def _apply_missing(conn: Any, dialect: str, ph: str) -> list[int]:
    """Inside the caller's transaction: every migration not yet recorded, in order, each recorded."""
    conn.execute(_create_bookkeeping(dialect))
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for m in MIGRATIONS:
        if m.version in done:
            continue
        for statement in m.sql(dialect):
            conn.execute(statement)
        conn.execute(
            f"INSERT INTO schema_migrations (version, name, applied_at) VALUES ({ph}, {ph}, {ph})",
            (m.version, m.name, time.time()),
        )
        applied.append(m.version)
    return applied


def apply_sqlite(conn: Any) -> list[int]:
    """Apply what is missing on an autocommit sqlite3 connection (``isolation_level=None``)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        applied = _apply_missing(conn, "sqlite", "?")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return applied
