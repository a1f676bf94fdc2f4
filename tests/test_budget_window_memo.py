"""The budgets stage keeps each budget's current window between requests: it must still turn
at the window's end, follow a clock that goes back, and follow a budget that was redefined."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from costops.config import load_config
from costops.control.budgets import BudgetsStage
from costops.control.windows import current_window
from costops.gateway.resolve import resolve_model
from costops.ledger.record import UsageRecord
from costops.pipeline.contract import Call

CONFIG = """
keys: [{id: bot, key: sk-bot, tenant: acme}]
budgets:
  list:
    - {name: acme-daily, limit_usd: 10, scope: {tenant: acme}, window: daily, timezone: Europe/Berlin}
    - {name: bot-rolling, limit_usd: 10, scope: {key: bot}, window: rolling, days: 1}
"""


def _stage(tmp_path) -> tuple[BudgetsStage, Call]:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    config = load_config(path, env={"OPENAI_API_KEY": "sk-up"})
    stage = BudgetsStage(config, lambda: 0.0)
    key = config.keys[0]
    deployment, model = resolve_model(config, "gpt-4o-mini")
    record = UsageRecord(request_id="r", ts=0.0, endpoint="chat.completions", model_requested=model)
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return stage, Call("openai", "chat.completions", body, b"", key, record, {}, 0.0, deployment, model)


def _ids(stage: BudgetsStage, call: Call, now: float) -> dict[str, str]:
    return {budget.name: window.id for budget, window in stage.applicable(call, now)}


def _expected(stage: BudgetsStage, now: float) -> dict[str, str]:
    return {b.name: current_window(b.window, now).id for b in stage.budgets.values()}  # type: ignore[union-attr]


def test_windows_turn_at_their_end_and_follow_the_clock_back(tmp_path):
    stage, call = _stage(tmp_path)
    midnight_berlin = datetime(2026, 3, 28, 23, 0, tzinfo=UTC).timestamp()  # 2026-03-29 00:00 in Berlin
    instants = [
        midnight_berlin - 7200.5,  # an hour boundary (UTC) before Berlin's midnight
        midnight_berlin - 3600.0,
        midnight_berlin - 0.001,
        midnight_berlin,  # the daily window turns; the rolling one turns every hour
        midnight_berlin + 3599.999,
        midnight_berlin + 3600.0,
        midnight_berlin - 10.0,  # the clock went back: yesterday's window again
        midnight_berlin + 86400 + 1,
    ]
    seen = set()
    for now in instants:
        ids = _ids(stage, call, now)
        assert ids == _expected(stage, now), now
        seen.add(ids["acme-daily"])
    assert seen == {"d2026-03-28", "d2026-03-29", "d2026-03-30"}


def test_a_redefined_budget_gets_its_own_window(tmp_path):
    stage, call = _stage(tmp_path)
    now = datetime(2026, 5, 14, 12, 0, tzinfo=UTC).timestamp()
    assert _ids(stage, call, now)["acme-daily"] == "d2026-05-14"
    daily = stage.budgets["acme-daily"]
    stage.budgets["acme-daily"] = replace(daily, window=replace(daily.window, kind="monthly"))
    assert _ids(stage, call, now)["acme-daily"] == "m2026-05"


def test_a_threshold_alert_is_built_once_not_on_every_request(tmp_path):
    from costops.control.admission import Level

    stage, call = _stage(tmp_path)
    now = datetime(2026, 5, 14, 12, 0, tzinfo=UTC).timestamp()
    plan = stage._plan(call, now)
    assert plan is not None
    active = plan.active
    emitted: list[str] = []
    stage.watch.emit = lambda budget, window, event, key, text, **data: emitted.append(key)  # type: ignore[method-assign]
    at_80_pct = tuple(Level(8 * 10**9, 0, b.limit_nanos) for b, _ in active)  # $8 of $10
    for _request in range(3):
        stage._observe(plan, at_80_pct)
        stage.alerts.seen.update(emitted)  # what AlertDispatcher.emit records when it queues one
    hour = int(now // 3600)
    assert sorted(emitted) == [  # every threshold crossed (50 and 75), each once, not once a request
        "threshold:acme-daily:d2026-05-14:50", "threshold:acme-daily:d2026-05-14:75",
        f"threshold:bot-rolling:r1:h{hour}:50", f"threshold:bot-rolling:r1:h{hour}:75"]
