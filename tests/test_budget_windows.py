"""Budget decisions without I/O: windows, admission, downgrade choice, forecasts, config errors."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from costops.config import ConfigError
from costops.control.admission import Level, Subject, applies, choose_downgrade, crossed, fits
from costops.control.budget_spec import Scope, parse_budgets
from costops.control.forecast import forecast_nanos, is_spike
from costops.control.windows import WindowSpec, current_window, stale_buckets


def ts(text: str, tz: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def test_calendar_windows_in_a_time_zone():
    berlin = "Europe/Berlin"
    now = ts("2026-03-29T01:30:00", berlin)  # the night Berlin moves to summer time
    daily = current_window(WindowSpec("daily", berlin), now)
    assert daily.id == "d2026-03-29"
    assert daily.start == ts("2026-03-29T00:00:00", berlin)
    assert daily.end - daily.start == 23 * 3600  # a 23-hour day is still one day
    weekly = current_window(WindowSpec("weekly", berlin), now)
    assert weekly.id == "w2026-03-23" and weekly.end == ts("2026-03-30T00:00:00", berlin)
    monthly = current_window(WindowSpec("monthly", berlin), ts("2026-12-31T23:59:59", berlin))
    assert monthly.id == "m2026-12" and monthly.end == ts("2027-01-01T00:00:00", berlin)
    # 23:30 UTC on the 31st is already January in Berlin
    assert current_window(WindowSpec("monthly", berlin), ts("2026-12-31T23:30:00")).id == "m2027-01"
    assert current_window(WindowSpec("monthly"), ts("2026-12-31T23:30:00")).id == "m2026-12"


def test_rolling_and_fixed_windows():
    now = ts("2026-11-25T10:20:00")
    rolling = current_window(WindowSpec("rolling", days=2), now)
    assert len(rolling.buckets) == 48 and rolling.current == rolling.buckets[-1]
    assert rolling.end == ts("2026-11-25T11:00:00")  # the oldest hour leaves at the next hour
    later = current_window(WindowSpec("rolling", days=2), now + 3600)
    assert later.buckets[:-1] == rolling.buckets[1:]
    fixed = WindowSpec("fixed", start=ts("2026-11-01T00:00:00"), end=ts("2026-12-01T00:00:00"))
    assert current_window(fixed, ts("2026-10-31T23:59:59")) is None
    assert current_window(fixed, now).end == ts("2026-12-01T00:00:00")
    assert current_window(fixed, ts("2026-12-01T00:00:00")) is None
    assert stale_buckets(["d2026-11-24", "d2026-11-25"], current_window(WindowSpec("daily"), now)) == ["d2026-11-24"]
    assert stale_buckets(["h1", rolling.current], rolling) == ["h1"]


def test_admission_rule_and_thresholds():
    assert fits(Level(50, 20, 100), 30)
    assert not fits(Level(50, 20, 100), 31)
    assert not fits(Level(100, 0, 100), 0)  # a full budget admits nothing, even a free request
    assert crossed((50, 75, 90, 100), Level(60, 16, 100)) == [(50, True), (75, False)]  # 75: projected only
    assert crossed((50, 75, 90, 100), Level(95, 0, 100)) == [(50, True), (75, True), (90, True)]  # all at once


def test_scopes_match_every_given_field():
    who = Subject(tenant="acme", team="core", project="bot", key="k1", user="u1", models=("fast", "gpt-4o-mini"),
                  provider="openai", deployment="openai", tags={"feature": "search", "env": "prod"})
    assert applies(Scope(), who)
    assert applies(Scope(tenant="acme", tags={"feature": "search"}), who)
    assert applies(Scope(model="gpt-4o*"), who) and applies(Scope(model="fast"), who)
    assert not applies(Scope(tenant="acme", team="other"), who)
    assert not applies(Scope(tags={"feature": "chat"}), who)
    assert not applies(Scope(provider="anthropic"), who)


def test_downgrade_follows_the_fullest_soft_limited_budget():
    config = parse_budgets({"list": [
        {"name": "a", "limit_usd": 1, "downgrade": "default", "downgrade_at": 80},
        {"name": "b", "limit_usd": 1, "downgrade": {"gpt-4o": "gpt-4.1-nano"}, "downgrade_at": 50},
        {"name": "c", "limit_usd": 1},
    ]})
    a, b, c = config.budgets
    assert choose_downgrade("gpt-4o", [(a, Level(70, 0, 100)), (b, Level(40, 0, 100))]) is None
    choice = choose_downgrade("gpt-4o", [(a, Level(85, 0, 100)), (b, Level(60, 0, 100)), (c, Level(99, 0, 100))])
    assert (choice.budget, choice.model) == ("a", "gpt-4o-mini")
    assert choose_downgrade("claude-sonnet-4-6", [(a, Level(85, 0, 100))]).model == "claude-haiku-4-5"
    assert choose_downgrade("gpt-4o-mini", [(a, Level(99, 0, 100))]) is None


def test_forecast_blends_the_window_pace_with_recent_days():
    window = current_window(WindowSpec("monthly"), ts("2026-11-11T00:00:00"))  # 10 of 30 days gone
    assert forecast_nanos(100, window, ts("2026-11-11T00:00:00"), []) == 300
    # early in the month, the recent days (30 per day) weigh more than the window's own pace
    early = ts("2026-11-01T06:00:00")
    assert forecast_nanos(100, window, early, [30] * 7) < forecast_nanos(100, window, early, [])
    assert forecast_nanos(0, window, window.start, []) == 0
    assert is_spike(400, [10] * 24, None, 3.0, 100)
    assert not is_spike(400, [10] * 24, 24 * 200, 3.0, 100)  # the ledger's days say 200/h is normal
    assert not is_spike(400, [0] * 24, None, 3.0, 100)  # no baseline, no spike
    assert not is_spike(50, [10] * 24, None, 3.0, 100)  # too small to matter


@pytest.mark.parametrize("section, message", [
    ({"list": [{"name": "x"}]}, "budgets.list[0] (x).limit_usd: required"),
    ({"list": [{"name": "x", "limit_usd": 1, "window": "hourly"}]}, "budgets.list[0] (x).window: 'hourly'"),
    ({"list": [{"name": "x", "limit_usd": 1, "scope": {"tenat": "a"}}]}, "budgets.list[0] (x).scope.tenat: unknown"),
    ({"list": [{"name": "x", "limit_usd": 1, "window": "rolling"}]}, "budgets.list[0] (x).days: a whole number"),
    ({"list": [{"name": "x", "limit_usd": 1, "days": 3}]}, "(x).days: only for window: rolling"),
    ({"list": [{"name": "x", "limit_usd": 1, "timezone": "Mars/Base"}]}, "(x).timezone: 'Mars/Base'"),
    ({"list": [{"name": "x", "limit_usd": 1}, {"name": "x", "limit_usd": 2}]}, "two budgets are named 'x'"),
    ({"lists": []}, "budgets.lists: unknown setting"),
])
def test_config_errors_name_the_key(section, message):
    with pytest.raises(ConfigError, match=None) as info:
        parse_budgets(section)
    assert message in str(info.value)


def test_fixed_window_dates_are_local_to_the_budget():
    config = parse_budgets({"list": [{"name": "q1", "limit_usd": 5, "window": "fixed", "timezone": "Asia/Tokyo",
                                      "start": "2026-01-01", "end": "2026-04-01"}]})
    spec = config.budgets[0].window
    assert spec.start == datetime(2025, 12, 31, 15, tzinfo=UTC).timestamp()
