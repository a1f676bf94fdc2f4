"""The analytics engines answer exactly what the ledger answers: every dimension and filter, on
a SQLite and a PostgreSQL ledger, with DuckDB and with ClickHouse (chdb, in process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from costops.analysis.clickhouse import ClickHouseEngine, StreamingStore
from costops.analysis.engine import AnalyticsEngine, open_engine
from costops.analysis.report import build_report
from costops.analysis.sql import COLUMNS, MONEY_COLUMNS
from costops.ledger.query import DIMENSIONS, Filters
from costops.ledger.sql_store import PRICE_COLUMNS
from costops.ledger.store import LedgerStore, open_store
from tests.analytics_fixtures import HOSTILE, fill, varied_records
from tests.ledger_fixtures import DAY, T0, ledger_fixture, pg_server_fixture, pg_url_fixture  # noqa: F401


def _url(store: LedgerStore) -> str:
    if hasattr(store, "path"):
        return f"sqlite:///{store.path}"
    return f"{store.conninfo}?schema={store.schema}"  # type: ignore[attr-defined]


@pytest.fixture(params=["duckdb://", "chdb://"])
def engine(request: pytest.FixtureRequest, ledger: LedgerStore) -> Iterator[AnalyticsEngine]:
    """A fresh ledger and engine, for the tests that write to them."""
    fill(ledger)
    e = open_engine(request.param, _url(ledger))
    assert e.sync() == 400
    yield e
    e.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared_ledger(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerStore]:
    """One filled ledger per backend for the read-only tests (filling one per test is slow)."""
    import uuid

    from costops.ledger.store import open_store
    from tests.ledger_fixtures import PG_URL, pg_available

    if request.param == "postgres":
        why = pg_available()
        if why:
            if __import__("os").environ.get("CI"):
                pytest.fail(why)
            pytest.skip(why)
        schema = f"costops_test_{uuid.uuid4().hex[:12]}"
        store = open_store(f"{PG_URL}?schema={schema}")
    else:
        store = open_store(f"sqlite:///{tmp_path_factory.mktemp('engine')}/ledger.db")
    store.migrate()
    fill(store)
    yield store
    store.close()
    if request.param == "postgres":
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="module", params=["duckdb://", "chdb://"])
def shared(request: pytest.FixtureRequest, shared_ledger: LedgerStore) -> Iterator[tuple[AnalyticsEngine, LedgerStore]]:
    e = open_engine(request.param, _url(shared_ledger))
    assert e.sync() == 400
    yield e, shared_ledger
    e.close()


def _exact(row: dict) -> dict:
    """Every count and nano-dollar sum compared exactly; the mean latency (a float, summed in
    another order) to a millionth of a millisecond."""
    latency = row["avg_latency_ms"]
    return {**row, "avg_latency_ms": None if latency is None else round(latency, 6)}


def _same(a: list[dict], b: list[dict], dims: list[str]) -> None:
    def key(row: dict) -> tuple:
        return tuple(str(row[d]) for d in dims)

    assert [_exact(r) for r in sorted(a, key=key)] == [_exact(r) for r in sorted(b, key=key)]


FILTERS = [
    Filters(),
    Filters(tenant="acme"),
    Filters(since=T0 + 3 * DAY, until=T0 + 9.5 * DAY, model="gpt-4o"),
    Filters(tags={"feature": "search"}),
    Filters(tags={"env": HOSTILE[3]}),
    Filters(tags={"o'k": "back\\slash"}, provider="openai"),
    Filters(priced=False),
    Filters(project="no-such-project"),
]


@pytest.mark.parametrize("filters", FILTERS, ids=range(len(FILTERS)))
def test_every_dimension_matches_the_ledger(shared: tuple[AnalyticsEngine, LedgerStore], filters: Filters) -> None:
    engine, ledger = shared
    for dim in [*DIMENSIONS, "tag:feature", "tag:env", "tag:o'k", "tag:naïve", "tag:missing"]:
        _same(engine.aggregate([dim], filters), ledger.aggregate([dim], filters), [dim])
    _same(engine.aggregate(["tenant", "tag:feature", "day"], filters), ledger.aggregate(["tenant", "tag:feature", "day"], filters),
          ["tenant", "tag:feature", "day"])
    assert _exact(engine.totals(filters)) == _exact(ledger.totals(filters))
    assert engine.tag_keys(filters) == ledger.tag_keys(filters)


@pytest.mark.parametrize("filters", FILTERS, ids=range(len(FILTERS)))
def test_the_experiments_arms_match_the_ledger(shared: tuple[AnalyticsEngine, LedgerStore], filters: Filters) -> None:
    """Per (policy, arm, task), what ``costops experiments`` reads from the ledger: counts and
    nanos exactly (a request's cost with its later attempts'), the statistics' float sums to 1e-9."""
    engine, ledger = shared

    def rows(reader, policy=None) -> list[dict]:  # type: ignore[no-untyped-def]
        out = sorted(reader.arms(filters, policy), key=lambda r: (str(r["policy"]), r["arm"], str(r["task"])))
        return [{k: round(v, 9 - len(str(int(abs(v))))) if isinstance(v, float) else v for k, v in r.items()} for r in out]

    assert rows(engine) == rows(ledger)
    assert rows(engine, "cascade") == rows(ledger, "cascade")
    if filters == Filters():
        assert {r["arm"] for r in rows(engine)} == {"a", "b"} and sum(r["feedback_n"] for r in rows(engine)) > 5


def test_one_scan_answers_several_breakdowns(shared: tuple[AnalyticsEngine, LedgerStore]) -> None:
    engine, _ = shared
    groupings = [(), ("model",), ("tag:feature",), ("deployment", "provider", "model"), ("cache",), ("week",)]
    f = Filters(tenant="beta")
    for grouping, rows in zip(groupings, engine.aggregate_sets(groupings, f), strict=True):
        _same(rows, engine.aggregate(grouping, f), list(grouping))


def test_the_report_is_the_same_on_the_engine(shared: tuple[AnalyticsEngine, LedgerStore]) -> None:
    engine, ledger = shared
    f = Filters(since=T0 + DAY)
    assert build_report(engine, f) == build_report(ledger, f)


def test_time_buckets_are_utc_days_weeks_from_monday_and_months(shared: tuple[AnalyticsEngine, LedgerStore]) -> None:
    engine, ledger = shared
    days = {r["day"]: r["cost_nanos"] for r in ledger.aggregate(["day"], Filters())}
    from datetime import date, timedelta

    weeks: dict[str, int] = {}
    months: dict[str, int] = {}
    for day, nanos in days.items():
        d = date.fromisoformat(day)
        monday = (d - timedelta(days=d.weekday())).isoformat()
        weeks[monday] = weeks.get(monday, 0) + nanos
        months[day[:7]] = months.get(day[:7], 0) + nanos
    assert {r["week"]: r["cost_nanos"] for r in engine.aggregate(["week"], Filters())} == weeks
    assert {r["month"]: r["cost_nanos"] for r in engine.aggregate(["month"], Filters())} == months
    hours = engine.aggregate(["hour"], Filters(since=T0, until=T0 + 7200))
    assert all(r["hour"] in ("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z") for r in hours)


def test_sync_takes_only_what_is_new(engine: AnalyticsEngine, ledger: LedgerStore) -> None:
    assert engine.sync() == 0
    ledger.write(varied_records(50, seed=99, start=10_000))
    ledger.write(varied_records(5, seed=98, start=20_000, t0=T0 - 30 * DAY))  # late rows, older than any held
    assert engine.sync() >= 55
    assert _exact(engine.totals(Filters())) == _exact(ledger.totals(Filters()))
    assert engine.totals(Filters())["attempts"] == 455
    assert engine.aggregate(["tag:feature"], Filters()) == sorted(engine.aggregate(["tag:feature"], Filters()),
                                                                 key=lambda r: (r["tag:feature"] is not None, str(r["tag:feature"])))


def test_unit_measures_count_users_feedback_and_useful_output(shared: tuple[AnalyticsEngine, LedgerStore]) -> None:
    engine, _ = shared
    rows = engine.aggregate(["tenant"], Filters(), extra=["users", "rated", "good", "ok_output_tokens"], good_score=0.8)
    records = varied_records(400)
    scored = {r.request_id: s for r, s in zip(records[::9], _scores(), strict=False)}
    for row in rows:
        mine = [r for r in records if r.tenant == row["tenant"]]
        assert row["users"] == len({r.user for r in mine if r.user is not None})
        logical = [r for r in mine if r.parent_id is None]
        assert row["rated"] == sum(1 for r in logical if r.request_id in scored)
        assert row["good"] == sum(1 for r in logical if scored.get(r.request_id, -1) >= 0.8)
        assert row["ok_output_tokens"] == sum(r.usage.output_tokens for r in logical if r.status < 400)


def _scores() -> list[float]:
    import random

    rnd = random.Random(8)
    return [rnd.choice([0.0, 0.2, 0.8, 1.0]) for _ in range(400)]


def test_rows_come_back_in_order_with_their_tags(shared: tuple[AnalyticsEngine, LedgerStore]) -> None:
    engine, _ = shared
    batches = list(engine.rows(Filters(tenant="acme"), ["request_id", "ts", "tags", "cost_nanos"], batch_size=37))
    rows = [r for b in batches for r in b]
    assert len(batches) > 1 and all(len(b) <= 37 for b in batches)
    expected = sorted((r for r in varied_records(400) if r.tenant == "acme"), key=lambda r: (r.ts, r.request_id))
    assert [r[0] for r in rows] == [r.request_id for r in expected]
    assert [dict(r[2]) for r in rows] == [r.tags for r in expected]
    with pytest.raises(ValueError, match="unknown column"):
        next(engine.rows(Filters(), ["password"]))


def test_bad_dimension_is_refused_with_the_choices(shared: tuple[AnalyticsEngine, LedgerStore]) -> None:
    engine, _ = shared
    with pytest.raises(ValueError, match="cannot group by 'colour'.*model.*tag:<name>"):
        engine.aggregate(["colour"], Filters())


def test_parquet_export_reads_back_the_same(ledger: LedgerStore, tmp_path: Path) -> None:
    fill(ledger)
    engine = open_engine("duckdb://", _url(ledger))
    engine.sync()
    path = tmp_path / "ledger.parquet"
    assert engine.export_parquet(str(path)) == 400  # type: ignore[attr-defined]
    back = open_engine(None, str(path))
    back.sync()
    assert _exact(back.totals(Filters())) == _exact(ledger.totals(Filters()))
    _same(back.aggregate(["tag:feature"], Filters()), ledger.aggregate(["tag:feature"], Filters()), ["tag:feature"])
    back.close()
    engine.close()


@pytest.fixture
def streamed(tmp_path: Path) -> Iterator[tuple[LedgerStore, ClickHouseEngine, StreamingStore]]:
    """A SQLite ledger whose writes stream each batch into ClickHouse (chdb, in process) as well."""
    url = f"sqlite:///{tmp_path}/l.db"
    store = open_store(url)
    store.migrate()
    engine = ClickHouseEngine("chdb://", url)
    streaming = StreamingStore(store, engine)
    try:
        yield store, engine, streaming
    finally:
        streaming.close()
        engine.close()


def test_the_ledger_streams_into_clickhouse_and_a_repeat_counts_once(streamed) -> None:
    store, engine, streaming = streamed
    records = varied_records(120, seed=3)
    streaming.write(records[:100])
    assert _exact(engine.totals(Filters())) == _exact(store.totals(Filters()))  # no sync: streamed
    streaming.write(records[50:])  # a retried batch overlapping the first
    assert engine.sync() == 0  # the backfill sends everything again: nothing new
    assert _exact(engine.totals(Filters())) == _exact(store.totals(Filters()))
    assert engine.totals(Filters())["attempts"] == 120


def test_a_failed_stream_loses_nothing(streamed) -> None:
    store, engine, broken = streamed
    engine.stream = lambda records: (_ for _ in ()).throw(ConnectionError("clickhouse is down"))  # type: ignore[method-assign]
    broken.write(varied_records(30))
    assert broken.stream_errors == 1
    assert store.totals(Filters())["attempts"] == 30
    assert engine.sync() == 30 and _exact(engine.totals(Filters())) == _exact(store.totals(Filters()))


def test_unknown_engine_url_names_the_forms() -> None:
    with pytest.raises(ValueError, match="duckdb://.*clickhouse://"):
        open_engine("mysql://x", "sqlite:///x.db")


def test_money_columns_keep_the_order_a_kept_duckdb_file_was_written_in() -> None:
    """MONEY_COLUMNS is derived from the ledger's cost tuple; deriving must not reorder the engine's
    table (a kept file's layout), and re-pricing must still rewrite the same six costs and list parts."""
    costs = ("list_cost_nanos", "input_cost_nanos", "cache_read_cost_nanos", "cache_write_cost_nanos",
             "output_cost_nanos", "cost_nanos")
    parts = ("list_input_cost_nanos", "list_cache_read_cost_nanos", "list_cache_write_cost_nanos", "list_output_cost_nanos")
    assert MONEY_COLUMNS == (*costs, "avoided_cost_nanos", *parts)
    start = COLUMNS.index(MONEY_COLUMNS[0])
    assert COLUMNS[start : start + len(MONEY_COLUMNS)] == MONEY_COLUMNS
    assert PRICE_COLUMNS == ("priced", "price_source", *costs, *parts)
