"""The budgets stage's per-request shortcuts: the applicable budgets remembered per caller, model
and deployment (never when a budget scopes on tags), and no threshold check below the lowest
threshold. Each must answer what the full check answers."""

from __future__ import annotations

from dataclasses import replace

import pytest

import costops.control.budget_plans as plans_mod
import costops.control.budget_watch as budget_watch
from costops.config import load_config
from costops.control.admission import Level
from costops.control.budgets import BudgetsStage
from costops.gateway.resolve import resolve_model
from costops.ledger.record import UsageRecord
from costops.pipeline.contract import Call

NOW = 1_780_000_000.0
CONFIG = """
keys: [{id: bot, key: sk-bot, tenant: acme}, {id: other, key: sk-other, tenant: globex}]
budgets:
  list:
    - {name: acme, limit_usd: 10, scope: {tenant: acme}, window: daily}
    - {name: mini, limit_usd: 10, scope: {model: "gpt-4o-mini*"}, window: monthly}
"""
TAGGED = CONFIG + "    - {name: search, limit_usd: 10, scope: {tag: {feature: search}}, window: daily}\n"


def _stage(tmp_path, text: str) -> tuple[BudgetsStage, object]:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    config = load_config(path, env={"OPENAI_API_KEY": "sk-up"})
    return BudgetsStage(config, lambda: NOW), config


def _call(config, key_index: int, model: str, tags: dict[str, str] | None = None) -> Call:
    key = config.keys[key_index]
    deployment, resolved = resolve_model(config, model)
    record = UsageRecord(request_id="r", ts=NOW, endpoint="chat.completions", model_requested=model)
    record.tags = dict(tags or {})
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return Call("openai", "chat.completions", body, b"", key, record, {}, NOW, deployment, resolved)


def _names(stage: BudgetsStage, call: Call) -> list[str]:
    return [b.name for b, _ in stage.applicable(call, NOW)]


@pytest.fixture
def counted(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = plans_mod.applies
    monkeypatch.setattr(plans_mod, "applies", lambda scope, subject: calls.append(1) or real(scope, subject))
    return calls


def test_the_applicable_budgets_are_matched_once_per_caller_and_model(tmp_path, counted) -> None:
    stage, config = _stage(tmp_path, CONFIG)
    assert _names(stage, _call(config, 0, "gpt-4o-mini")) == ["acme", "mini"]
    matched = len(counted)
    assert _names(stage, _call(config, 0, "gpt-4o-mini")) == ["acme", "mini"]
    assert len(counted) == matched  # the second request of the same caller and model: remembered
    assert _names(stage, _call(config, 1, "gpt-4o-mini")) == ["mini"]  # another key: its own answer
    assert _names(stage, _call(config, 0, "gpt-4o")) == ["acme"]  # another model: its own answer


def test_a_new_or_redefined_budget_set_is_matched_again(tmp_path) -> None:
    stage, config = _stage(tmp_path, CONFIG)
    call = _call(config, 1, "gpt-4o")
    assert _names(stage, call) == []
    acme = stage.budgets["acme"]
    stage.budgets = {**stage.budgets, "globex": replace(acme, name="globex", scope=replace(acme.scope, tenant="globex"))}
    assert _names(stage, call) == ["globex"]  # a new dict (as the monitor installs)
    stage.budgets["mini"] = replace(stage.budgets["mini"], scope=replace(stage.budgets["mini"].scope, model="gpt-4o"))
    assert _names(stage, call) == ["globex", "mini"] or _names(stage, call) == ["mini", "globex"]
    del stage.budgets["globex"]  # an edit in place
    assert _names(stage, call) == ["mini"]


def test_with_a_tag_scoped_budget_every_request_is_matched_on_its_tags(tmp_path, counted) -> None:
    stage, config = _stage(tmp_path, TAGGED)
    assert _names(stage, _call(config, 1, "gpt-4o", {"feature": "search"})) == ["search"]
    assert _names(stage, _call(config, 1, "gpt-4o", {"feature": "chat"})) == []
    assert _names(stage, _call(config, 1, "gpt-4o", {"feature": "search"})) == ["search"]
    assert len(counted) == 9  # three budgets, three requests: nothing remembered


def test_no_threshold_check_below_the_lowest_threshold(tmp_path, monkeypatch) -> None:
    stage, config = _stage(tmp_path, CONFIG)
    seen: list[Level] = []
    real = budget_watch.crossed
    monkeypatch.setattr(budget_watch, "crossed", lambda thresholds, level: seen.append(level) or real(thresholds, level))
    emitted: list[str] = []
    monkeypatch.setattr(stage.watch, "emit", lambda budget, window, event, key, text, **data: emitted.append(key))
    plan = stage._plan(_call(config, 0, "gpt-4o-mini"), NOW)
    assert plan is not None
    active = plan.active
    limit = active[0][0].limit_nanos  # both budgets are $10, thresholds 50/75/90/100 %
    stage._observe(plan, (Level(limit // 2 - 2, 1, -1), Level(0, 0, -1)))
    assert seen == [] and emitted == []
    assert stage.last["acme"][1] == Level(limit // 2 - 2, 1, limit)  # the level is still remembered
    stage._observe(plan, (Level(limit // 2 - 1, 1, -1), Level(0, 0, -1)))  # exactly 50 %, with the hold
    assert len(seen) == 1 and emitted == [f"projected:acme:{active[0][1].id}:50"]


def test_alerts_fire_exactly_at_each_threshold_and_nothing_is_checked_between(tmp_path, monkeypatch) -> None:
    """Above a raised threshold the next one is remembered in nanos: levels in between check
    nothing, the first nano that reaches it raises it (projected with the holds, then settled)."""
    stage, config = _stage(tmp_path, CONFIG)
    checked: list[Level] = []
    real = budget_watch.crossed
    monkeypatch.setattr(budget_watch, "crossed", lambda thresholds, level: checked.append(level) or real(thresholds, level))
    plan = stage._plan(_call(config, 0, "gpt-4o-mini"), NOW)
    assert plan is not None
    window = plan.active[0][1].id
    limit = plan.active[0][0].limit_nanos  # $10, thresholds 50/75/90/100 %
    quiet = Level(0, 0, -1)

    def raised() -> list[str]:
        return [a.key for a in list(stage.alerts.queue._queue) if a.budget == "acme"]  # type: ignore[attr-defined]

    stage._observe(plan, (Level(limit // 2, 0, -1), quiet))  # settled exactly 50 %
    assert raised() == [f"threshold:acme:{window}:50"]
    checked.clear()
    for spent in (limit // 2 + 1, limit * 3 // 4 - 2):  # between 50 and 75 %: nothing to raise, nothing checked
        stage._observe(plan, (Level(spent, 1, -1), quiet))
    assert checked == [] and raised() == [f"threshold:acme:{window}:50"]
    stage._observe(plan, (Level(limit * 3 // 4 - 1, 1, -1), quiet))  # 75 % with the hold: projected
    assert raised()[-1] == f"projected:acme:{window}:75"
    checked.clear()
    stage._observe(plan, (Level(limit * 3 // 4 - 1, 5, -1), quiet))  # projected raised, settled not reached
    assert checked == [] and len(raised()) == 2
    stage._observe(plan, (Level(limit * 3 // 4, 0, -1), quiet))  # settled exactly 75 %
    assert raised()[-1] == f"threshold:acme:{window}:75"
    stage._observe(plan, (Level(limit, 0, -1), quiet))  # 90 and 100 % at once, each once
    assert raised()[-2:] == [f"threshold:acme:{window}:90", f"threshold:acme:{window}:100"]
    checked.clear()
    stage._observe(plan, (Level(limit * 2, 0, -1), quiet))  # every threshold raised: nothing checked
    assert checked == [] and len(raised()) == 5
    stage.alerts.seen.clear()  # forgotten (as the dispatcher does past 50,000 keys): checked again
    stage.alerts.version += 1
    stage._observe(plan, (Level(limit * 2, 0, -1), quiet))
    assert len(checked) == 1 and len(raised()) == 9


def test_the_snapshot_is_the_latest_level_of_each_budget_across_plans(tmp_path) -> None:
    """``_observe`` keeps the latest levels as they came and writes them per budget only when
    the plan changes or the snapshot is read: the snapshot is the same as if written each time."""
    stage, config = _stage(tmp_path, CONFIG)
    both = stage._plan(_call(config, 0, "gpt-4o-mini"), NOW)  # acme and mini
    mini = stage._plan(_call(config, 1, "gpt-4o-mini"), NOW)  # mini alone
    assert both is not None and mini is not None
    limit = both.active[0][0].limit_nanos
    stage._observe(both, (Level(1, 2, -1), Level(3, 4, limit)))
    stage._observe(both, (Level(5, 6, -1), Level(7, 8, limit)))
    stage._observe(mini, (Level(9, 10, limit),))  # another plan: both's levels are written first
    assert stage.last == {"acme": (both.active[0][1].id, Level(5, 6, limit)), "mini": (mini.active[0][1].id, Level(9, 10, limit))}
    stage._observe(both, (Level(11, 12, -1), Level(13, 14, limit)))
    assert stage.last["mini"][1] == Level(13, 14, limit) and stage.last["acme"][1] == Level(11, 12, limit)
    stage._observe(mini, (Level(15, 16, limit),))
    assert stage._last_level(*mini.active[0]) == Level(15, 16, limit)  # what the downgrade check reads
    assert stage.last["acme"][1] == Level(11, 12, limit)
