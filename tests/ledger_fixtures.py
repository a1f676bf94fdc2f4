"""Fixtures the ledger and report tests share: record factories and a store per backend.

PostgreSQL runs at 127.0.0.1:5432 (trust auth, database ``test``); each test gets its own schema
through the ``?schema=`` the PostgreSQL store understands, dropped afterwards. When the server is
unreachable the PostgreSQL cases are skipped, unless ``CI`` is set: CI starts the server, so
there its absence is a failure.

A test module imports the fixture functions it needs with the helpers it uses
(``from tests.ledger_fixtures import ledger_fixture, make_record``): ``ledger_fixture`` provides
``ledger``, ``pg_url_fixture`` ``pg_url``, ``pg_server_fixture`` ``pg_server``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costops.ledger.record import UsageRecord
from costops.ledger.store import LedgerStore, open_store
from costops.pricing import CostBreakdown
from costops.usage import Usage

PG_URL = os.environ.get("COSTOPS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
DAY = 86_400.0
T0 = 1_793_491_200.0  # 2026-11-01T00:00:00Z


def make_record(i: int = 0, **kw: Any) -> UsageRecord:
    """A priced chat call; ``i`` varies the id, time and token counts."""
    defaults: dict[str, Any] = {
        "request_id": f"req-{i}",
        "ts": T0 + i * 3600.0,
        "endpoint": "chat.completions",
        "model_requested": "gpt-4o-mini",
        "model": "gpt-4o-mini",
        "deployment": "openai",
        "provider": "openai",
        "tenant": "acme",
        "project": "search",
        "tags": {"feature": "summarize"},
        "usage": Usage(input_tokens=100 + i, cache_read_tokens=10, output_tokens=20 + i, reasoning_tokens=5),
        "price_source": "test",
        "list_cost": CostBreakdown(input=Decimal("0.000015"), cache_read=Decimal("0.00000075"), output=Decimal("0.000012")),
        "cost": CostBreakdown(input=Decimal("0.0000135"), cache_read=Decimal("0.000000675"), output=Decimal("0.0000108")),
        "latency_ms": 100.0 + i,
    }
    defaults.update(kw)
    return UsageRecord(**defaults)


def pg_available() -> str | None:
    """None when reachable, else why not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        psycopg.connect(PG_URL, connect_timeout=2).close()
    except Exception as exc:
        return f"PostgreSQL at {PG_URL} is unreachable: {exc}"
    return None


@pytest.fixture(scope="session", name="pg_server")
def pg_server_fixture() -> str:
    why = pg_available()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"{why} (CI is set, so the server must be running)")
        pytest.skip(why)
    return PG_URL


@pytest.fixture(name="pg_url")
def pg_url_fixture(pg_server: str) -> Iterator[str]:
    """A URL whose tables live in a fresh schema, dropped after the test."""
    import psycopg

    schema = f"costops_test_{uuid.uuid4().hex[:12]}"
    yield f"{pg_server}?schema={schema}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def ledger_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "postgres":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path}/ledger.db"


@pytest.fixture(name="ledger", params=["sqlite", "postgres"])
def ledger_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerStore]:
    """A migrated, empty store on each backend."""
    store = open_store(ledger_url(request.param, request, tmp_path))
    store.migrate()
    yield store
    store.close()
