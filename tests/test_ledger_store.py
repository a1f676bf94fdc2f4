"""The stores, run the same way against SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from decimal import Decimal

import pytest

from costops.ledger.migrations import MIGRATIONS
from costops.ledger.query import Filters
from costops.ledger.record import ROW_COLUMNS
from costops.ledger.sql_store import STORE_COLUMNS
from costops.ledger.store import LedgerStore, open_store
from costops.pricing import CostBreakdown
from costops.usage import Usage
from tests.ledger_fixtures import DAY, T0, ledger_fixture, make_record, pg_server_fixture, pg_url_fixture  # noqa: F401


def test_round_trip_rebuilds_every_field(ledger: LedgerStore) -> None:
    original = make_record(
        1,
        team="platform",
        user="u-1",
        key_id="key-9",
        tags={"feature": "search", "env": "prod"},
        stream=True,
        service_tier="flex",
        usage=Usage(1, 2, 3, 4, 50, 6),
        list_cost=CostBreakdown(Decimal("0.000001"), Decimal("0.000000002"), Decimal("0.3"), Decimal("12.5")),
        cost=CostBreakdown(Decimal("0.0000009"), Decimal("0"), Decimal("0.27"), Decimal("11.25")),
        ttft_ms=12.5,
        cache="miss",
        avoided_cost=Decimal("0.000123"),
        parent_id="req-0",
        attempt=2,
        attempt_reason="retry",
        route="chat",
        policy="cascade",
        arm="b",
    )
    ledger.write([original])
    [back] = list(ledger.iter_records(Filters()))
    assert back == original


def test_write_is_idempotent_by_request_id(ledger: LedgerStore) -> None:
    batch = [make_record(i) for i in range(5)]
    ledger.write(batch)
    ledger.write(batch)  # a retried batch
    ledger.write(batch[:2] + [make_record(5)])
    totals = ledger.totals(Filters())
    assert totals["requests"] == 6
    assert totals["cost_nanos"] == 6 * 24_975


def test_empty_ledger_totals_are_zero(ledger: LedgerStore) -> None:
    totals = ledger.totals(Filters())
    assert totals["requests"] == 0 and totals["cost_nanos"] == 0 and totals["avg_latency_ms"] is None
    assert ledger.aggregate(["model"], Filters()) == []
    assert list(ledger.iter_records(Filters())) == []


def test_migrate_twice_is_a_no_op(ledger: LedgerStore) -> None:
    assert ledger.migrate() == []


def test_table_has_every_record_column(ledger: LedgerStore) -> None:
    """A field added to UsageRecord.row() needs a migration; this says so."""
    with ledger._tx() as cur:  # type: ignore[attr-defined]
        cur.execute("SELECT * FROM usage WHERE 1 = 0")
        columns = {d[0] for d in cur.description}
    assert set(ROW_COLUMNS) <= columns and set(STORE_COLUMNS) <= columns


def test_iter_records_pages_and_filters(ledger: LedgerStore) -> None:
    ledger.page_size = 7  # type: ignore[attr-defined]
    records = [make_record(i, ts=T0 + (i // 3), tenant="a" if i % 2 else "b") for i in range(40)]
    ledger.write(records[::-1])
    back = list(ledger.iter_records(Filters()))
    assert [r.request_id for r in back] == [r.request_id for r in sorted(records, key=lambda r: (r.ts, r.request_id))]
    assert {r.request_id for r in ledger.iter_records(Filters(tenant="a"))} == {r.request_id for r in records if r.tenant == "a"}


def test_update_costs_rewrites_prices_only(ledger: LedgerStore) -> None:
    r = make_record(1, priced=False, price_source=None, list_cost=CostBreakdown(), cost=CostBreakdown())
    ledger.write([r])
    priced = dataclasses.replace(
        r, priced=True, price_source="config", list_cost=CostBreakdown(output=Decimal("1.5")), cost=CostBreakdown(output=Decimal("1.2"))
    )
    ledger.update_costs([priced])
    [back] = list(ledger.iter_records(Filters()))
    assert back == priced
    assert ledger.totals(Filters())["cost_nanos"] == 1_200_000_000


def test_postgres_migrations_from_two_places_at_once(pg_url: str) -> None:
    """Replicas starting together: the advisory lock lets exactly one create the schema and tables."""
    stores = [open_store(pg_url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def run(store: LedgerStore) -> None:
        barrier.wait()
        try:
            store.migrate()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        with stores[0]._tx() as cur:  # type: ignore[attr-defined]
            cur.execute("SELECT version, name FROM schema_migrations ORDER BY version")
            assert cur.fetchall() == [(m.version, m.name) for m in MIGRATIONS]
    finally:
        for s in stores:
            s.close()


@pytest.mark.parametrize(
    "url",
    ["mysql://u:secret@h/db", "sqlite://relative.db", "sqlite:///", "costops.db", ""],
)
def test_bad_urls_name_the_accepted_forms(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite:///:memory:") as info:
        open_store(url)
    assert "secret" not in str(info.value)


def test_sqlite_forms(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    rel = open_store("sqlite:///sub/rel.db")
    rel.migrate()
    rel.close()
    assert (tmp_path / "sub" / "rel.db").exists()
    absolute = open_store(f"sqlite:///{tmp_path}/abs.db")
    absolute.migrate()
    assert absolute.spill_hint == f"{tmp_path}/abs.db.spill.jsonl"
    absolute.close()
    memory = open_store("sqlite:///:memory:")
    memory.migrate()
    memory.write([make_record(1)])
    assert memory.totals(Filters())["requests"] == 1 and memory.spill_hint is None
    with pytest.raises(FileNotFoundError):
        open_store(f"sqlite:///{tmp_path}/missing.db", must_exist=True)
    assert not (tmp_path / "missing.db").exists()


def test_sqlite_is_wal_and_readable_by_another_connection(tmp_path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/l.db")
    store.migrate()
    store.write([make_record(i) for i in range(3)])
    other = sqlite3.connect(tmp_path / "l.db")
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert other.execute("SELECT count(*) FROM usage").fetchone()[0] == 3
    other.close()
    store.close()


def test_postgres_url_forms(pg_server: str) -> None:
    from costops.ledger.postgres import split_schema

    assert split_schema("postgresql://u@h/db?schema=s&sslmode=disable") == ("postgresql://u@h/db?sslmode=disable", "s")
    assert split_schema("postgres://u@h/db") == ("postgres://u@h/db", None)
    store = open_store(pg_server.replace("postgresql://", "postgres://"))
    store.close()


def test_postgres_reconnects_after_the_connection_drops(pg_url: str) -> None:
    store = open_store(pg_url)
    store.migrate()
    store.write([make_record(1)])
    store._conn.close()  # type: ignore[attr-defined]  # the server went away under us
    store.write([make_record(2)])
    assert store.totals(Filters())["requests"] == 2
    store.close()


def test_day_filter_bounds(ledger: LedgerStore) -> None:
    ledger.write([make_record(0, ts=T0), make_record(1, ts=T0 + DAY - 0.001), make_record(2, ts=T0 + DAY)])
    assert ledger.totals(Filters(since=T0, until=T0 + DAY))["requests"] == 2
    assert ledger.totals(Filters(since=T0 + DAY))["requests"] == 1


def test_text_with_nul_bytes_is_stored_not_refused(ledger: LedgerStore) -> None:
    """PostgreSQL text cannot hold NUL; a provider's error message must not block the ledger."""
    ledger.write([make_record(1, status=502, error_message="bad\x00gateway", tags={"k": "v\x00"})])
    [back] = list(ledger.iter_records(Filters()))
    assert back.error_message in ("bad\x00gateway", "bad\ufffdgateway")
    assert back.tags["k"] in ("v\x00", "v\ufffd")


def test_the_fast_row_builder_matches_the_record_row_column_by_column() -> None:
    from decimal import Decimal

    from costops.ledger.sql_store import STORE_COLUMNS, store_row, store_values
    from costops.pricing import CostBreakdown

    record = make_record(3, tags={"a": "b"}, parent_id="p", attempt=3, attempt_reason="fallback", arm="x", task="code", accepted=False)
    record.list_cost = CostBreakdown(Decimal("0.000001"), Decimal("0.0000002"), Decimal("0.000003"), Decimal("0.004"))
    record.avoided_cost = Decimal("0.0123")
    row = store_row(record)
    assert store_values(record) == [row[c] for c in STORE_COLUMNS]
    record.cost = record.list_cost  # the shared-object shortcut gives the same values
    row = store_row(record)
    assert store_values(record) == [row[c] for c in STORE_COLUMNS]


def test_batches_of_any_size_land_whole_through_power_of_two_statements(tmp_path) -> None:
    from costops.ledger.query import Filters
    from costops.ledger.sqlite import _chunks
    from costops.ledger.store import open_store

    assert all(sum(_chunks(n, 512)) == n for n in range(2000))
    assert len({size for n in range(2000) for size in _chunks(n, 512)}) == 10  # 1, 2, 4, ... 512
    store = open_store(f"sqlite:///{tmp_path}/l.db")
    store.migrate()
    store.write([make_record(i, tags={"a": str(i), "b": "x"}) for i in range(1337)])
    store.write([make_record(i) for i in range(1300, 1400)])  # overlapping ids are ignored, not doubled
    assert store.totals(Filters())["requests"] == 1400
    assert {g["tag:a"] for g in store.aggregate(["tag:a"], Filters())} >= {"0", "1336"}
    store.close()


def test_a_version_1_ledger_gains_the_attempt_columns_and_keeps_its_rows(tmp_path) -> None:
    from costops.ledger.migrations import MIGRATIONS, _create_bookkeeping

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for statement in MIGRATIONS[0].sql("sqlite"):  # a ledger written before attempts existed
        conn.execute(statement)
    conn.execute(_create_bookkeeping("sqlite"))
    conn.execute("INSERT INTO schema_migrations VALUES (1, 'usage and usage_tags', 0)")
    conn.execute("INSERT INTO usage (request_id, ts, endpoint, model_requested, status) VALUES ('old-1', 1.0, 'e', 'm', 200)")
    conn.execute("COMMIT")
    conn.close()
    store = open_store(f"sqlite:///{path}")
    try:
        assert store.migrate() == [m.version for m in MIGRATIONS[1:]]
        [old] = list(store.iter_records(Filters()))
        assert (old.request_id, old.parent_id, old.attempt) == ("old-1", None, 1)
        store.write([make_record(2, parent_id="old-1", attempt=1, attempt_reason="retry")])
        totals = store.totals(Filters())
        assert (totals["requests"], totals["attempts"]) == (1, 2)  # an attempt is not another request
    finally:
        store.close()


def test_sqlite_binds_a_rows_nulls_through_a_registered_adapter(tmp_path) -> None:
    """A NULL found no adapter and cost two failed attribute lookups per column; now it finds one
    and is still stored as SQL NULL, not as a text or a zero."""
    from costops.ledger.sqlite import SqliteLedger

    ledger = SqliteLedger(str(tmp_path / "l.db"))
    ledger.migrate()
    assert sqlite3.adapters.get((type(None), sqlite3.PrepareProtocol)) is not None
    ledger.write([make_record(1)])
    conn = sqlite3.connect(tmp_path / "l.db")
    types = conn.execute("SELECT typeof(error_type), typeof(parent_id), typeof(task), typeof(accepted) FROM usage").fetchone()
    assert types == ("null", "null", "null", "null")
    conn.close()
    ledger.close()
