"""Budget pacing: the allowance math (pure, on a controllable clock), the config grammar, and over
real HTTP a paced-out request refused with ``budget_paced`` and ``retry-after`` (no queue), or
waiting in the priority queue until the allowance covers it (high priority first, deadlines and a
full queue answered clearly); the hard limit still wins."""

from __future__ import annotations

import math
import re
import threading
import time
import uuid
from datetime import UTC, datetime

import openai
import pytest

from costops.config import ConfigError
from costops.control.budget_spec import BudgetsConfig, parse_budget
from costops.control.pacing import Pace, admits, allowance, wait_s
from costops.control.windows import WindowSpec, current_window
from tests.clock import Clock, next_day
from tests.test_budget_gateway import chat, client, keys_yaml

MIDNIGHT = datetime(2026, 11, 25, tzinfo=UTC).timestamp()


# -- the math ---------------------------------------------------------------------------------------


def test_allowance_is_the_elapsed_share_plus_a_burst_capped_at_the_limit() -> None:
    limit, pace = 1_000_000, Pace(5)
    assert allowance(limit, 0, 100, 0, pace) == 50_000  # the burst: the first requests are not held
    assert allowance(limit, 0, 100, 50, pace) == 550_000
    assert allowance(limit, 0, 100, 99, pace) == limit  # 990,000 + 50,000, capped
    assert allowance(limit, 0, 100, 250, pace) == limit
    assert allowance(limit, 0, 100, -5, pace) == 50_000  # a clock behind the window's start
    assert allowance(limit, 0, 100, 50, Pace(0)) == 500_000
    assert allowance(0, 0, 100, 50, pace) == 0


def test_wait_until_the_allowance_covers_the_request() -> None:
    limit, pace = 1_000_000, Pace(5)
    assert wait_s(limit, 0, 100, 10, pace, committed=0, estimate=100_000) == 0  # 150,000 allowed
    # 240,000 needed: limit x t / 100 + 50,000 reaches it at t = 19
    wait = wait_s(limit, 0, 100, 10, pace, committed=140_000, estimate=100_000)
    assert wait == pytest.approx(9.0, abs=0.01)
    assert not admits(140_000, 100_000, allowance(limit, 0, 100, 10 + wait - 0.01, pace))
    assert admits(140_000, 100_000, allowance(limit, 0, 100, 10 + wait, pace))
    assert wait_s(limit, 0, 100, 10, pace, committed=950_000, estimate=100_000) == math.inf  # over the limit
    assert wait_s(limit, 0, 100, 10, pace, committed=150_000, estimate=0) > 0  # a full allowance admits nothing


def test_allowance_over_calendar_windows_on_a_controllable_clock() -> None:
    clock = Clock(MIDNIGHT)
    limit, pace = 24_000_000, Pace(0)
    daily = WindowSpec("daily", "UTC")

    def allowed() -> int:
        window = current_window(daily, clock())
        assert window is not None
        return allowance(limit, window.start, window.end, clock(), pace)

    assert allowed() == 0
    clock.at("2026-11-25T06:00:00")
    assert allowed() == 6_000_000
    clock.at("2026-11-25T23:00:00")
    assert allowed() == 23_000_000
    clock.at("2026-11-26T01:00:00")  # a new day: the allowance starts over
    assert allowed() == 1_000_000
    monthly = current_window(WindowSpec("monthly", "UTC"), clock())  # November: 30 days
    assert monthly is not None
    assert allowance(30_000_000, monthly.start, monthly.end, clock(), Pace(10)) == 25_041_666 + 3_000_000


def test_pace_config_is_strict_and_names_the_key() -> None:
    defaults = BudgetsConfig()
    base = {"name": "b", "limit_usd": 10, "window": "daily"}
    assert parse_budget({**base, "pace": True}, defaults, "budgets.list[0]").pace == Pace(5)
    assert parse_budget({**base, "pace": {"burst_pct": 10}}, defaults, "budgets.list[0]").pace == Pace(10)
    assert parse_budget({**base, "pace": False}, defaults, "budgets.list[0]").pace is None
    assert parse_budget(base, defaults, "budgets.list[0]").pace is None
    bad = [
        ("budgets.list[0] (b).pace: true, or a mapping like {burst_pct: 10}", {**base, "pace": "yes"}),
        ("budgets.list[0] (b).pace.burst: unknown setting", {**base, "pace": {"burst": 10}}),
        ("budgets.list[0] (b).pace.burst_pct: a percentage of the limit", {**base, "pace": {"burst_pct": 150}}),
        ("budgets.list[0] (b).pace: only for daily, weekly, monthly or fixed", {**base, "window": "rolling", "days": 7, "pace": True}),
        ("budgets.list[0] (b).pace: only for a hard budget", {**base, "hard": False, "pace": True}),
    ]
    for message, raw in bad:
        with pytest.raises(ConfigError) as error:
            parse_budget(raw, defaults, "budgets.list[0]")
        assert message in str(error.value)


# -- over HTTP: no queue ------------------------------------------------------------------------------


def test_without_a_queue_a_paced_out_request_gets_budget_paced_with_retry_after(pinned_gateway) -> None:
    clock = Clock(MIDNIGHT)
    gw = pinned_gateway(
        keys_yaml(("acme", "acme", ""), ("tiny", "tiny", ""))
        + "budgets:\n  list:\n"
        "    - {name: acme-paced, limit_usd: 0.002, scope: {tenant: acme}, window: daily, pace: true}\n"
        "    - {name: tiny-paced, limit_usd: 0.00009, scope: {tenant: tiny}, window: daily, pace: true}\n",
        clock=clock,
    )
    acme = client(gw, "acme")
    assert chat(acme)[0] == 200  # the 5% burst ($0.0001) covers the window's first call (~$0.00006)
    status, error = chat(acme)
    assert status == 429 and error.code == "budget_paced" and error.type == "budget_paced"
    # the second call needs ~$0.000124 committed: ~$0.000024 past the burst, at $0.002 a day
    retry = int(error.response.headers["retry-after"])
    assert 700 < retry < 1400, retry
    assert abs(int(error.response.headers["retry-after-ms"]) / 1000 - retry) <= 1
    assert error.body["message"].startswith(
        "budget 'acme-paced' (tenant=acme, daily) is paced: $0.002 spread over the window with a 5% burst allows $0.0001 by now"
    )
    assert f"It can go in {retry - 1}" in error.message or f"It can go in {retry}" in error.message
    clock.t += retry - 60
    assert chat(acme)[0] == 429
    clock.t += 61
    assert chat(acme)[0] == 200
    # the hard limit wins: a budget that is both out of pace and spent answers budget_exceeded
    tiny = client(gw, "tiny")
    status, error = chat(tiny)
    assert status == 429 and error.code == "budget_paced"  # ~$0.0000056 allowed at 00:17
    clock.at("2026-11-25T23:30:00")
    assert chat(tiny)[0] == 200
    status, error = chat(tiny)
    assert status == 429 and error.code == "budget_exceeded" and "budget 'tiny-paced'" in error.message
    assert f"resets at {next_day(clock())}" in error.message
    assert [r.error_type for r in gw.records(7)].count("budget_paced") == 3


# -- over HTTP: with the queue -------------------------------------------------------------------------


def paced_gateway(pinned_gateway, queue: str, limit_usd: str = "0.004", budgets: str = ""):
    """A 60-second fixed window starting at MIDNIGHT, no burst, on a clock that stands at the
    window's start until the test calls ``gw.gateway.clock.resume()``; from then on it runs in real
    time (the queue naps in real time) and the allowance grows by $0.004 / 60 s: a ~$0.00006 call
    takes about 0.9 s of it. However slowly the machine starts the gateway, no allowance has grown."""
    clock = Clock(MIDNIGHT, ticking=True)
    clock.stop()
    return pinned_gateway(
        keys_yaml(("acme", "acme", ""))
        + "budgets:\n" + budgets + "  list:\n"
        f"    - {{name: paced, limit_usd: {limit_usd}, window: fixed, start: {MIDNIGHT}, end: {MIDNIGHT + 60}, "
        "pace: {burst_pct: 0}}\n"
        + queue,
        clock=clock,
    )


def budget_queue(gw):
    """The budgets stage's own wait queue, to see who waits in it."""
    [stage] = [s for s in gw.gateway.stages if s.name == "budgets"]
    return stage.queue


def wait_queued(gw, n: int) -> None:
    """Until ``n`` requests wait in the budgets queue (generous deadline: a loaded machine)."""
    queue = budget_queue(gw)
    deadline = time.monotonic() + 10
    while len(queue) < n:
        assert time.monotonic() < deadline, f"{len(queue)} requests queued, expected {n}"
        time.sleep(0.005)


def test_queued_requests_wait_for_the_allowance_high_priority_first(pinned_gateway) -> None:
    gw = paced_gateway(pinned_gateway, "queue: {max_size: 10, max_wait_s: 10}\n")
    clock = gw.gateway.clock
    acme = client(gw, "acme")
    clock.resume()
    started = time.monotonic()
    assert chat(acme)[0] == 200  # nothing allowed at the window's start: it waits ~0.9 s, then goes
    assert time.monotonic() - started > 0.5  # held back (a loaded machine only waits longer)
    clock.stop()  # while the three line up, the allowance stands still: however slowly they arrive
    finished: list[str] = []
    errors: dict[str, openai.APIStatusError] = {}

    def send(name: str, headers: dict[str, str]) -> None:
        status, raw = chat(acme, extra_headers=headers)
        if status == 200:
            finished.append(name)
        else:
            errors[name] = raw

    plan = [
        ("low", {"x-costops-priority": "low"}),
        ("high", {"x-costops-priority": "high"}),
        ("impatient", {"x-costops-priority": "0", "x-costops-deadline": "0.4"}),
    ]
    threads = []
    for n, (name, headers) in enumerate(plan, 1):  # each in the queue before the next arrives
        threads.append(threading.Thread(target=send, args=(name, headers)))
        threads[-1].start()
        wait_queued(gw, n)
    clock.resume()
    for t in threads:
        t.join()
    assert finished == ["high", "low"]  # low arrived first
    late = errors["impatient"]
    assert late.status_code == 429 and late.code == "queue_deadline_exceeded"
    assert late.body["message"].startswith(
        "pacing holds back requests for budget 'paced' (paced: $0.004 spread over the fixed "
    )
    waited = re.search(r"0% burst\); waited (\d+\.\d)s in the queue and its x-costops-deadline passes before the "
                       r"budget's pace", late.message)
    assert waited and float(waited[1]) >= 0.4, late.message  # it waited out its deadline, no less
    # a deadline the allowance cannot meet is refused at once (the gateway says it waited 0.0 s),
    # with the time it would take
    clock.stop()
    status, error = chat(acme, extra_headers={"x-costops-deadline": "0.2"})
    assert status == 429 and error.code == "queue_deadline_exceeded"
    assert "waited 0.0s in the queue" in error.message and "the budget's pace allows this request (in " in error.message
    assert "retry-after-ms" in error.response.headers


def test_a_full_queue_is_a_503_and_the_hard_limit_still_wins(pinned_gateway) -> None:
    gw = paced_gateway(pinned_gateway, "queue: {max_size: 1, max_wait_s: 10}\n", limit_usd="0.0001")
    acme = client(gw, "acme")
    # $0.0001 over 60 s: the first call fits at ~37 s, past max_wait_s is 10 s -> refused at once
    status, error = chat(acme)
    assert status == 429 and error.code == "queue_deadline_exceeded"
    assert "queue.max_wait_s (10s) runs out before the budget's pace allows this request (in 3" in error.message
    gw2 = paced_gateway(pinned_gateway, "queue: {max_size: 1, max_wait_s: 10}\n")
    acme2 = client(gw2, "acme")
    waited: list[int] = []
    waiter = threading.Thread(target=lambda: waited.append(chat(acme2)[0]))
    waiter.start()
    wait_queued(gw2, 1)  # the clock stands still: it waits until the test lets time run
    status, error = chat(acme2)
    assert status == 503 and error.code == "queue_full"
    assert error.body["message"].startswith("pacing holds back requests for budget 'paced' (paced: $0.004 spread")
    assert "and the gateway's queue is full (1 requests waiting, queue.max_size)" in error.message
    gw2.gateway.clock.resume()
    waiter.join()
    assert waited == [200]
    # a hard limit spent blocks with budget_exceeded, pace or not, queue or not
    gw3 = pinned_gateway(
        keys_yaml(("acme", "acme", ""))
        + "budgets:\n  list:\n    - {name: spent, limit_usd: 0.00009, window: daily, pace: {burst_pct: 100}}\n"
        + "queue: {max_size: 10, max_wait_s: 10}\n",
        clock=Clock(ticking=True),
    )
    acme3 = client(gw3, "acme")
    assert chat(acme3)[0] == 200
    started = time.monotonic()
    status, error = chat(acme3)
    assert status == 429 and error.code == "budget_exceeded" and "budget 'spent'" in error.message
    assert time.monotonic() - started < 5  # refused, not held in the queue for its 10 s


def test_pacing_in_the_shared_redis_state(pinned_gateway) -> None:
    """Across replicas the allowance is the claim's limit in the one Redis reservation script."""
    from tests.test_budget_concurrency import REDIS_URL, redis_or_skip

    redis_or_skip()
    prefix = f"pace-test-{uuid.uuid4().hex[:8]}"
    gw = paced_gateway(
        pinned_gateway, f"queue: {{max_size: 10, max_wait_s: 10}}\nredis: {{url: '{REDIS_URL}'}}\n",
        budgets=f"  backend: redis\n  redis_prefix: {prefix}\n",
    )
    assert gw.gateway.stages[-1].state.shared
    acme = client(gw, "acme")
    gw.gateway.clock.resume()
    started = time.monotonic()
    assert chat(acme)[0] == 200  # waited for the allowance, then reserved through the script
    assert time.monotonic() - started > 0.5
    gw.gateway.clock.stop()  # the allowance stands still: this deadline cannot be met
    status, error = chat(acme, extra_headers={"x-costops-deadline": "0.2"})
    assert status == 429 and error.code == "queue_deadline_exceeded" and "budget 'paced'" in error.message
