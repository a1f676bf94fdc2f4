"""Forecast, anomalies, unit economics and spend series: pure rules on made-up series, then the
same questions through an engine over a ledger whose answers the test knows."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from costops.analysis import anomalies, forecast, spend
from costops.analysis.engine import open_engine
from costops.ledger.query import Filters
from costops.ledger.store import open_store
from costops.pricing import CostBreakdown
from tests.ledger_fixtures import DAY, T0, make_record

WEEK = [1.3, 1.25, 1.2, 1.15, 1.1, 0.5, 0.5]  # Monday first: a working week


def _weekly(n: int, first: date, level: float, slope: float, noise: float, seed: int) -> list[int]:
    rnd = random.Random(seed)
    return [int(max(0.0, (level + slope * t) * WEEK[(first.weekday() + t) % 7] + rnd.gauss(0, noise))) for t in range(n)]


def test_forecast_learns_the_week_and_the_trend() -> None:
    first = date(2026, 9, 7)  # a Monday
    ys = _weekly(56 + 14, first, 1e9, 5e6, 2e7, seed=1)
    fitted, held_out = ys[:56], ys[56:]
    days = forecast.forecast(fitted, first, 14, level=0.9)
    assert [d.day for d in days] == [(first + timedelta(days=56 + i)).isoformat() for i in range(14)]
    for d, actual in zip(days, held_out, strict=True):
        assert abs(d.mean - actual) < 0.1 * actual
    # the interval covers the held-out days, and it is an interval, not the whole axis
    assert sum(d.low <= a <= d.high for d, a in zip(days, held_out, strict=True)) >= 11
    assert all(d.high - d.low < 0.5 * d.mean for d in days)
    saturday = next(d for d in days if date.fromisoformat(d.day).weekday() == 5)
    monday = next(d for d in days if date.fromisoformat(d.day).weekday() == 0)
    assert monday.mean > 2 * saturday.mean


def test_without_two_weeks_there_is_no_weekday_pattern() -> None:
    f = forecast.fit([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000], date(2026, 11, 2))
    assert f.seasonal == (1.0,) * 7
    assert forecast.forecast([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000], date(2026, 11, 2), 1)[0].mean == pytest.approx(1100)
    with pytest.raises(ValueError, match="interval level"):
        forecast.fit([1, 2, 3], date(2026, 11, 2)).half_width(4, 0.42)


def test_a_spike_is_judged_against_its_own_baseline() -> None:
    rnd = random.Random(3)
    days = [f"d{i}" for i in range(28)]
    big = [int(5e9 + rnd.gauss(0, 3e8)) for _ in days]  # large and noisy: no anomaly
    small = [int(2e7 + rnd.gauss(0, 2e6)) for _ in days]
    small[25] = int(1.6e8)  # eight times its usual day
    flat = [0] * 20 + [5_000_000] + [0] * 7  # from nothing to $0.005: over the floor, a spike
    tiny = [0] * 20 + [500] + [0] * 7  # from nothing to half a micro-dollar: under the floor
    found = anomalies.find({"big": big, "small": small, "flat": flat, "tiny": tiny}, days)
    assert [(a.value, a.bucket) for a in found] == [("small", "d25"), ("flat", "d20")]
    assert found[0].baseline == pytest.approx(2e7, rel=0.1) and found[0].excess > 1e8
    assert anomalies.find({"small": small}, days, last=2) == []  # only the last two days judged


def _ledger(tmp_path: Path) -> str:
    """60 days of one tenant spending $1 a weekday and $0.50 a weekend day, another spending
    $0.10 a day until it spends $5 on the last day; feedback on a few calls."""
    store = open_store(f"sqlite:///{tmp_path}/l.db")
    store.migrate()
    records = []
    for d in range(60):
        ts = T0 + d * DAY + 3600
        weekday = datetime.fromtimestamp(ts, UTC).weekday()
        a = Decimal("1") if weekday < 5 else Decimal("0.5")
        records.append(make_record(2 * d, ts=ts, tenant="steady", user=f"u{d % 3}", cost=CostBreakdown(input=a), list_cost=CostBreakdown(input=a),
                                   tags={"feature": "search" if d % 2 else "chat"}))
        b = Decimal("5") if d == 59 else Decimal("0.1")
        records.append(make_record(2 * d + 1, ts=ts + 60, tenant="jumpy", user="z", cost=CostBreakdown(input=b), list_cost=CostBreakdown(input=b),
                                   tags={"feature": "chat"}))
    store.write(records)
    for i in range(0, 20, 2):
        store.write_feedback(f"req-{i}", T0, 1.0 if i % 4 == 0 else 0.0, None, None)
    store.close()
    return f"sqlite:///{tmp_path}/l.db"


@pytest.fixture(params=["duckdb://", "chdb://"])
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    e = open_engine(request.param, _ledger(tmp_path))
    e.sync()
    yield e
    e.close()


NOW = T0 + 60 * DAY + 12 * 3600  # noon of the day after the last


def test_anomalies_through_the_engine(engine) -> None:
    found = spend.anomalies(engine, "tenant", Filters(), now=NOW)["anomalies"]
    assert [(a["value"], a["day"], a["cost_usd"], a["baseline_usd"]) for a in found] == [("jumpy", "2026-12-30", "5", "0.1")]


def test_forecast_through_the_engine(engine) -> None:
    out = spend.forecast(engine, Filters(tenant="steady"), now=NOW, horizon=7)
    assert out["seasonal"] is True and len(out["history"]) == 56
    by_day = {f["day"]: Decimal(f["cost_usd"]) for f in out["forecast"]}
    for day, usd in by_day.items():
        expected = Decimal("1") if date.fromisoformat(day).weekday() < 5 else Decimal("0.5")
        assert abs(usd - expected) < Decimal("0.01"), day
    assert out["month"]["month"] == "2026-12"


def test_unit_economics_through_the_engine(engine) -> None:
    rows = {r["value"]: r for r in spend.unit_economics(engine, "tenant", Filters(), good_score=0.5)["rows"]}
    steady = rows["steady"]
    weekdays = sum(1 for d in range(60) if datetime.fromtimestamp(T0 + d * DAY + 3600, UTC).weekday() < 5)
    total = Decimal(weekdays) + Decimal("0.5") * (60 - weekdays)
    assert Decimal(steady["cost_usd"]) == total
    assert Decimal(steady["cost_per_request_usd"]) == (total / 60).quantize(Decimal("1e-9"))
    assert Decimal(steady["cost_per_user_usd"]) == (total / 3).quantize(Decimal("1e-9"))
    assert steady["rated"] == 10 and steady["good_outcomes"] == 5 and steady["good_rate"] == 0.5
    assert Decimal(steady["cost_per_good_outcome_usd"]) == (total / 5).quantize(Decimal("1e-9"))
    assert rows["jumpy"]["cost_per_good_outcome_usd"] is None  # no feedback: no outcome to divide by
    per_feature = {r["value"] for r in spend.unit_economics(engine, "tag:feature", Filters())["rows"]}
    assert per_feature == {"search", "chat"}


def test_series_stacks_the_top_values_and_keeps_every_day(engine) -> None:
    out = spend.series(engine, Filters(since=T0, until=T0 + 10 * DAY), stack="tenant", top=1)
    assert len(out["buckets"]) == 10 and out["buckets"][0] == "2026-11-01"
    names = [s["name"] for s in out["series"]]
    assert names == ["steady", "(other)"]
    assert sum(Decimal(s["total_usd"]) for s in out["series"]) == Decimal(out["total_usd"])


def test_trend_names_the_biggest_movers(engine) -> None:
    out = spend.trend(engine, "tenant", Filters(), now=NOW, days=7)
    jumpy, steady = out["rows"]
    # the last 7 days (to noon after the last day) hold 6 ledger days: jumpy five at $0.10 and one
    # at $5, against seven at $0.10 the week before; steady a day fewer than the week before
    assert jumpy["value"] == "jumpy" and jumpy["cost_usd"] == "5.5" and jumpy["previous_usd"] == "0.7"
    assert jumpy["change_usd"] == "4.8" and jumpy["change_pct"] == 685.7
    assert steady["value"] == "steady" and steady["change_usd"].startswith("-") and steady["change_pct"] < 0


def test_spend_by_folds_the_tail_and_keeps_the_total(engine) -> None:
    out = spend.by(engine, "user", Filters(), top=2)
    assert sum(Decimal(r["cost_usd"]) for r in out["rows"]) == Decimal(out["total_cost_usd"])
    assert out["rows"][-1]["value"] == "(other)" and out["rows"][-1]["groups"] == 2


def test_cli_spend_views(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from costops.cli import main

    db = _ledger(tmp_path)
    run = CliRunner().invoke
    by = run(main, ["spend", "--db", db, "--by", "tenant", "--json"])
    assert by.exit_code == 0, by.output
    rows = {r["value"]: r for r in json.loads(by.output)["rows"]}
    assert set(rows) == {"steady", "jumpy"} and Decimal(rows["jumpy"]["cost_usd"]) == Decimal("10.9")
    for view in ("series", "trend", "forecast", "anomalies", "unit"):
        out = run(main, ["spend", "--db", db, "--view", view, "--by", "tag:feature"])
        assert out.exit_code == 0 and out.output.strip(), (view, out.output)
    on_ledger = run(main, ["spend", "--db", db, "--by", "tenant", "--json", "--engine", "ledger"])
    assert json.loads(on_ledger.output) == json.loads(by.output)
    bad = run(main, ["spend", "--db", db, "--by", "colour"])
    assert bad.exit_code == 2 and "cannot group by 'colour'" in bad.output
    bad = run(main, ["spend", "--db", db, "--engine", "mysql://x"])
    assert bad.exit_code == 1 and "--engine: unsupported analytics engine URL" in bad.output
    report = run(main, ["report", "--db", db, "--json"])
    direct = run(main, ["report", "--db", db, "--json", "--engine", "ledger"])
    assert json.loads(report.output) == json.loads(direct.output)
