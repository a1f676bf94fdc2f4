"""The engine's hourly rollups answer exactly what the calls answer: every dimension and filter,
periods that do not start or end on the hour, calls that arrive late into hours already rolled
up, and hours re-priced by ``costops reprice`` after the engine read them (a kept ``.duckdb``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from costops.analysis.engine import open_engine
from costops.analysis.report import build_report
from costops.analysis.rollup import plan
from costops.analysis.sql import ENGINE_DIMENSIONS
from costops.cli.report import reprice_command
from costops.ledger.query import DIMENSIONS, Filters
from costops.ledger.store import LedgerStore
from tests.analytics_fixtures import varied_records
from tests.ledger_fixtures import DAY, T0, ledger_fixture, pg_server_fixture, pg_url_fixture  # noqa: F401

HOUR = 3600.0
RECORDS = 1500
DAYS = 3  # 72 hours: many calls per hour, so the cubes are much smaller than the calls


def _url(store: LedgerStore) -> str:
    if hasattr(store, "path"):
        return f"sqlite:///{store.path}"
    return f"{store.conninfo}?schema={store.schema}"  # type: ignore[attr-defined]


@pytest.fixture(params=["duckdb://", "chdb://"])
def pair(ledger: LedgerStore, request: pytest.FixtureRequest) -> Iterator[tuple[object, object, LedgerStore]]:
    """The same ledger through an engine that always reads its cubes and one that never does
    (DuckDB, or ClickHouse in process: both chdb engines share the process's one session, each
    its own database, and are closed here)."""
    records = varied_records(RECORDS, days=DAYS)
    ledger.write(records)
    for i, r in enumerate(records[::7]):
        ledger.write_feedback(r.request_id, r.ts + 60, [0.0, 0.2, 0.8, 1.0][i % 4], None, "test")
    cubes = open_engine(request.param, _url(ledger), rollups=True)
    try:
        calls = open_engine(request.param, _url(ledger), rollups=False)
    except BaseException:
        cubes.close()
        raise
    try:
        assert cubes.sync() == calls.sync() == RECORDS
        yield cubes, calls, ledger
    finally:
        cubes.close()
        calls.close()


def _exact(rows: list[dict]) -> list[dict]:
    """Counts and nano-dollar sums exactly; the mean latency (a float summed in another order) to 1e-6 ms."""
    out = [{**r, "avg_latency_ms": None if r["avg_latency_ms"] is None else round(r["avg_latency_ms"], 6)} for r in rows]
    return sorted(out, key=lambda r: tuple(str(v) for k, v in r.items() if k not in _MEASURE_NAMES))


_MEASURE_NAMES: set[str] = set()


def _measures() -> None:
    from costops.ledger.query import MEASURES

    _MEASURE_NAMES.update(MEASURES, ["ok_output_tokens"])


_measures()

EDGES = [
    Filters(),
    Filters(since=T0 + 3.3 * HOUR, until=T0 + 50.7 * HOUR),  # neither end on the hour
    Filters(since=T0 + 10 * HOUR + 0.25),  # a quarter second past the hour, open-ended
    Filters(until=T0 + 2 * DAY - 1e-3),
    Filters(since=T0 + 5.1 * HOUR, until=T0 + 5.9 * HOUR),  # inside one hour: the calls alone
    Filters(since=T0 + 7 * HOUR, until=T0 + 31 * HOUR, tenant="acme"),
    Filters(since=T0 + 1.5 * HOUR, model="gpt-4o", provider="openai"),
    Filters(priced=False, model="gpt-4o"),
]
GROUPINGS = [
    *([d] for d in DIMENSIONS if d != "day"),
    ["day"], ["hour"], ["week"], ["month"], ["error_type"],
    ["tag:feature"], ["tag:env"], ["tag:o'k"], ["tag:missing"],
    ["day", "tag:feature"], ["tag:feature", "hour"],
    ["deployment", "provider", "model"], ["day", "status", "error_type"], ["model", "price_source"], ["tenant", "day"],
    ["tenant", "model"],  # no cube holds both: the calls answer
]


@pytest.mark.parametrize("filters", EDGES, ids=range(len(EDGES)))
def test_cubes_answer_what_the_calls_answer(pair: tuple, filters: Filters) -> None:
    cubes, calls, ledger = pair
    planned = 0
    for group_by in GROUPINGS:
        planned += cubes._plan(group_by, filters) is not None
        got = cubes.aggregate(group_by, filters)
        assert _exact(got) == _exact(calls.aggregate(group_by, filters)), group_by
        if all(d in DIMENSIONS or d.startswith("tag:") for d in group_by):
            assert _exact(got) == _exact(ledger.aggregate(group_by, filters)), group_by
    assert _exact([cubes.totals(filters)]) == _exact([ledger.totals(filters)])
    assert cubes.tag_keys(filters) == ledger.tag_keys(filters)
    assert _exact(cubes.aggregate(["model"], filters, extra=["ok_output_tokens"])) == _exact(
        calls.aggregate(["model"], filters, extra=["ok_output_tokens"]))
    inside_one_hour = filters.since is not None and filters.until is not None and filters.until - filters.since < HOUR
    assert (planned == 0) if inside_one_hour else (planned >= (12 if filters in EDGES[:4] else 3))  # the cubes answered


def test_several_tops_ranked_in_one_scan_match_one_at_a_time(pair: tuple) -> None:
    """The dashboard ranks users and keys together: each dimension's top rows and count of values
    are exactly those of its own ranking, and of the ledger's whole breakdown cut to the top."""
    cubes, calls, ledger = pair
    f = Filters(since=T0 + 0.5 * HOUR, until=T0 + 60.2 * HOUR)
    dims = ("user", "key", "tenant")
    for engine in (cubes, calls):
        got = engine.tops(dims, f, 2)
        assert list(got) == list(dims)
        for dim in dims:
            rows, groups = got[dim]
            want, want_groups = calls.top(dim, f, 2)
            assert _exact(rows) == _exact(want) and groups == want_groups, dim
            whole = ledger.aggregate([dim], f)
            assert groups == len(whole) > 2 and len(rows) == 2
            assert [r["cost_nanos"] for r in rows] == sorted((r["cost_nanos"] for r in whole), reverse=True)[:2]


def test_top_and_sets_and_the_report_from_cubes(pair: tuple) -> None:
    cubes, calls, ledger = pair
    f = Filters(since=T0 + 0.5 * HOUR, until=T0 + 60.2 * HOUR)
    (top, groups), (want, want_groups) = cubes.top("tenant", f, 2), calls.top("tenant", f, 2)
    assert _exact(top) == _exact(want) and groups == want_groups
    groupings = [(), ("model",), ("tag:feature",), ("user",), ("cache",)]
    for got, want in zip(cubes.aggregate_sets(groupings, f), calls.aggregate_sets(groupings, f), strict=True):
        assert _exact(got) == _exact(want)
    assert build_report(cubes, f) == build_report(ledger, f)
    unit = ["users", "rated", "good", "ok_output_tokens"]  # distinct users and feedback from the calls, the rest from a cube
    for group_by in (["tag:feature"], ["model"], []):
        got = cubes.aggregate(group_by, f, extra=unit, good_score=0.8)
        assert _exact(got) == _exact(calls.aggregate(group_by, f, extra=unit, good_score=0.8)), group_by
        assert sum(r["rated"] for r in got) > 0


def test_what_no_cube_holds_is_asked_of_the_calls() -> None:
    assert plan(["user"], Filters()) is None  # as many groups per hour as calls
    assert plan(["model"], Filters(tags={"env": "prod"})) is None
    assert plan(["tenant"], Filters(), extra=["users"]) is None  # distinct users do not add up
    assert plan(["tag:feature"], Filters(tenant="acme")) is None
    assert plan(["tenant", "model"], Filters()) is None
    p = plan(["model"], Filters(since=T0 + 90, until=T0 + 3 * HOUR))
    assert p is not None and p.cube.name == "model" and (p.first_hour, p.end_hour) == (int(T0 // HOUR) + 1, int(T0 // HOUR) + 3)
    assert [(e.since, e.until) for e in p.edges] == [(T0 + 90, T0 + HOUR)]


def test_late_calls_land_in_hours_already_rolled_up(pair: tuple) -> None:
    cubes, calls, ledger = pair
    ledger.write(varied_records(300, seed=5, start=50_000, days=DAYS))  # into the same 72 hours
    ledger.write(varied_records(20, seed=6, start=60_000, t0=T0 - 2 * DAY, days=1))  # older than any held
    assert cubes.sync() == calls.sync() == 320
    for group_by in (["tenant"], ["tag:feature"], ["hour"], ["deployment", "provider", "model"]):
        assert _exact(cubes.aggregate(group_by, Filters())) == _exact(calls.aggregate(group_by, Filters()))
    assert _exact([cubes.totals(Filters())]) == _exact([ledger.totals(Filters())])
    keys = "hour, day, month, tenant"  # merged: one row per hour and key, not one per sync
    sql = "SELECT count(*) = count(DISTINCT ({keys})) FROM {table}"
    if cubes.name == "duckdb":
        assert cubes._con.execute(sql.format(keys=keys, table="roll_tenant")).fetchone()[0]
    else:
        assert cubes._client.rows(sql.format(keys=f"tuple({keys})", table=f"{cubes.db}.roll_tenant"))[0][0]


@pytest.mark.parametrize("pair", ["chdb://"], indirect=True)  # DuckDB reads each ledger row once (by rowid)
def test_a_repeated_clickhouse_delivery_counts_once_in_the_cubes(pair: tuple) -> None:
    """ClickHouse delivery may repeat (a stream, then a sync of the same rows): the cubes are summed
    again from the deduplicated calls for the hours a delivery touches, so they still equal the ledger."""
    cubes, calls, ledger = pair
    assert cubes.name == "clickhouse"
    again = varied_records(RECORDS, days=DAYS)[::5]  # the same request ids and hours as already held
    cubes.stream(again)
    cubes.stream(again)
    f = Filters(since=T0 + 0.5 * HOUR, until=T0 + 60.2 * HOUR)
    for group_by in (["tenant"], ["tag:feature"], ["day"], ["model", "price_source"]):
        assert cubes._plan(group_by, f) is not None
        assert _exact(cubes.aggregate(group_by, f)) == _exact(ledger.aggregate(group_by, f)), group_by
    assert _exact(cubes.aggregate(["hour"], f)) == _exact(calls.aggregate(["hour"], f))
    assert _exact([cubes.totals(Filters())]) == _exact([ledger.totals(Filters())])


PRICES = """
prices:
  - model: acme-private
    input: "0.35"
    output: "1.4"
"""


def test_a_kept_engine_sees_reprice(ledger: LedgerStore, tmp_path: Path) -> None:
    store, url = ledger, _url(ledger)
    store.write(varied_records(RECORDS, days=DAYS))
    kept = f"duckdb:///{tmp_path}/analytics.duckdb"
    engine = open_engine(kept, url, rollups=True)
    engine.sync()
    before = engine.totals(Filters())
    assert _exact([before]) == _exact([store.totals(Filters())])
    engine.close()

    (tmp_path / "costops.yaml").write_text(PRICES)
    result = CliRunner().invoke(reprice_command, ["--db", url, "--config", str(tmp_path / "costops.yaml"), "--all"])
    assert result.exit_code == 0, result.output
    store.write(varied_records(40, seed=11, start=70_000, days=DAYS))  # and new calls after it
    after = store.totals(Filters())
    assert after["cost_nanos"] != before["cost_nanos"]

    engine = open_engine(kept, url, rollups=True)
    assert engine.sync() == 40  # only the new calls are new; the re-priced hours were read again
    assert _exact([engine.totals(Filters())]) == _exact([after])
    f = Filters(since=T0 + 2.5 * HOUR, until=T0 + 40.5 * HOUR)
    assert _exact(engine.aggregate(["model"], f)) == _exact(store.aggregate(["model"], f))
    assert _exact(engine.aggregate(["tag:feature"], f)) == _exact(store.aggregate(["tag:feature"], f))
    assert engine.sync() == 0 and _exact([engine.totals(Filters())]) == _exact([after])  # nothing read twice
    engine.close()


def test_every_engine_dimension_is_planned_or_refused_by_name() -> None:
    for dim in ENGINE_DIMENSIONS:
        plan([dim], Filters())  # no dimension the engine knows trips the planner
    with pytest.raises(ValueError, match="cannot group by 'colour'"):
        plan(["colour"], Filters())


@pytest.fixture
def weeks(ledger: LedgerStore) -> Iterator[tuple[object, object]]:
    """Three weeks of calls and a burst on the last day (anomalies to find), through an engine
    that reads its cubes and one that reads the calls alone."""
    ledger.write(varied_records(RECORDS, days=21))
    ledger.write(varied_records(400, seed=9, start=90_000, t0=T0 + 20 * DAY, days=1))
    engines = [open_engine("duckdb://", _url(ledger), rollups=r) for r in (True, False)]
    for engine in engines:
        engine.sync()
    yield engines[0], engines[1]
    for engine in engines:
        engine.close()


@pytest.mark.parametrize("filters", [
    Filters(since=T0 + 3.5 * HOUR, until=T0 + 20 * DAY + 9.25 * HOUR),  # the page's period, off the hour
    Filters(),  # no period: the last 30 days
    Filters(since=T0 + 19.5 * DAY, tenant="acme"),  # under two days: hourly
    Filters(tags={"feature": "search"}),  # no cube: every pass over the calls
], ids=["period", "open", "hourly", "tag"])
def test_the_dashboards_shared_passes_equal_each_question_asked_alone(weeks: tuple, filters: Filters) -> None:
    """The dashboard asks the series and the rejections in the breakdowns' scan, the forecast's
    history and the anomalies' baselines in one pass of whole days, and the top users' and keys'
    sums in one scan: each panel is exactly what its question asked alone returns."""
    from dataclasses import replace

    from costops.analysis import experiments, spend
    from costops.web.panels import _rejections, panels

    now = T0 + 20 * DAY + 9.25 * HOUR
    period = filters if filters.since is not None else replace(filters, since=now - 30 * DAY)
    bucket = "hour" if (now - period.since) <= 2 * DAY else "day"
    answers = []
    for engine in weeks:
        asked: list[str] = []
        run = engine._all
        engine._all = lambda sql, run=run, asked=asked: asked.append(sql) or run(sql)  # type: ignore[method-assign]
        got = panels(engine, filters, now=now, options_cache=dict)
        del engine._all
        assert got["spend_over_time"] == spend.series(engine, period, stack="model", bucket=bucket, top=8)
        assert got["rejections"] == _rejections(engine, period)
        assert got["forecast"] == spend.forecast(engine, filters, now=now, horizon=14)
        assert got["anomalies"] == spend.anomalies(engine, "tenant", filters, now=now)["anomalies"][:20]
        for dim in ("user", "key"):
            assert got["top"][dim] == spend.by(engine, dim, filters, top=10)
        assert got["experiments"] == [{"policy": p, **b} for p, b in experiments.build(engine.arms(filters)).items()]
        if engine is weeks[1]:  # the calls alone: 1 breakdowns' scan (+1 for another period), 1 of days,
            # 2 for the top users and keys, unit economics, the month's spend, the experiments' arms; the cubes
            # ask more, smaller questions
            assert len(asked) == 7 + (period != filters), asked
        answers.append(got)
    assert answers[0] == answers[1]  # the cubes answer what the calls answer, to the nano-dollar
    assert answers[0]["rejections"]["days"] and answers[0]["forecast"]["history"]
    if not filters.tags and filters.tenant is None:
        assert answers[0]["anomalies"], "the last day's burst is found"
