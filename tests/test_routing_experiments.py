"""A/B experiments over real HTTP: each user always meets the same arm, the split follows the
weights, and every row says which experiment and arm served it (and whether the automatic
checks passed its answer)."""

from __future__ import annotations

from collections import Counter

import anthropic
import openai
import pytest

from costops.config import ConfigError
from costops.routing.experiments import assign, unit_hash
from tests.pinned import PINNED

AB = PINNED + """
keys:
  - {id: a, key: sk-acme, tenant: acme}
  - {id: g, key: sk-globex, tenant: globex}
routing:
  policies:
    support:
      kind: experiment
      arms: {control: gpt-4o, cheap: gpt-4o-mini}
      sticky: user
      accept: {truncated: false}
    by-tenant:
      kind: experiment
      arms: {control: gpt-4o, cheap: gpt-4o-mini}
      split: {control: 0, cheap: 1}
      sticky: tenant
"""


def _ask(client, model: str, user: str | None = None, **kw):
    extra = {"user": user} if user else {}
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "Where is my invoice?"}], max_tokens=300, **extra, **kw
    )
    return raw.headers.get("x-costops-arm"), raw.parse(), raw.headers["x-costops-request-id"]


def test_each_user_meets_the_same_arm_every_time_and_the_split_is_even(make_gateway) -> None:
    gw = make_gateway(AB)
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-acme", max_retries=0)
    arms: dict[str, set[str]] = {}
    models: dict[str, str] = {}
    for round_ in range(3):
        for i in range(40):
            arm, answer, _ = _ask(client, "support", f"user-{i}", stream=False) if round_ != 1 else _stream(client, f"user-{i}")
            arms.setdefault(f"user-{i}", set()).add(arm)
            if answer is not None:
                models[arm] = answer.model
    assert all(len(seen) == 1 for seen in arms.values()), arms  # sticky: one arm per user, streamed or not
    split = Counter(next(iter(seen)) for seen in arms.values())
    assert set(split) == {"support/control", "support/cheap"} and min(split.values()) >= 10, split  # 40 users, 50/50
    assert models == {"support/control": "gpt-4o", "support/cheap": "gpt-4o-mini"}
    rows = gw.records(120)
    assert {(r.route, r.policy, r.arm, r.model) for r in rows} == {
        ("experiment", "support", "control", "gpt-4o"), ("experiment", "support", "cheap", "gpt-4o-mini")}
    assert all(r.accepted is True for r in rows)  # the checks judged every answer, streamed ones too


def _stream(client, user: str):
    with client.chat.completions.with_streaming_response.create(
        model="support", messages=[{"role": "user", "content": "Where is my invoice?"}], max_tokens=300, user=user,
        stream=True,
    ) as resp:
        arm = resp.headers.get("x-costops-arm")
        for _ in resp.iter_lines():
            pass
    return arm, None, None


def test_the_arm_sticks_to_the_tenant_and_a_zero_weight_arm_gets_nobody(make_gateway) -> None:
    gw = make_gateway(AB)
    for key in ("sk-acme", "sk-globex"):
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0)
        assert {_ask(client, "by-tenant", f"u{i}")[0] for i in range(5)} == {"by-tenant/cheap"}
    # the Anthropic SDK's calls go through the same experiment
    claude = anthropic.Anthropic(base_url=gw.url, api_key="sk-acme", max_retries=0)
    raw = claude.messages.with_raw_response.create(model="by-tenant", max_tokens=300, messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-costops-arm"] == "by-tenant/cheap"


def test_a_checked_answer_that_fails_is_booked_as_not_accepted(make_gateway) -> None:
    gw = make_gateway(AB.replace("accept: {truncated: false}", "accept: {regex: '^NEVER THIS$'}"))
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-acme", max_retries=0)
    _, _, request_id = _ask(client, "support", "someone")
    assert gw.record(request_id).accepted is False


def test_changing_a_weight_moves_only_the_units_at_the_boundary() -> None:
    units = [f"user:{i}" for i in range(2000)]
    before = {u: assign("exp", u, ["a", "b"], [50, 50]) for u in units}
    after = {u: assign("exp", u, ["a", "b"], [60, 40]) for u in units}
    moved = [u for u in units if before[u] != after[u]]
    assert all(before[u] == "b" and after[u] == "a" for u in moved)  # nobody leaves a for b
    assert 120 < len(moved) < 280  # about a tenth of everyone
    assert unit_hash("exp", "user:1") != unit_hash("other", "user:1")  # each experiment shuffles anew


@pytest.mark.parametrize(
    ("policy", "says"),
    [
        ("{kind: experiment, arms: {a: gpt-4o}}", "at least two arms"),
        ("{kind: experiment, arms: {a: gpt-4o, b: no-such-model}}", "routing.policies.x.arms.b: 'no-such-model'"),
        ("{kind: experiment, arms: [gpt-4o, gpt-4o-mini], split: {gpt-4o: 1}}", "one weight per arm"),
        ("{kind: experiment, arms: [gpt-4o, gpt-4o-mini], sticky: cookie}", "use one of user, key, tenant, request"),
        ("{kind: experiment, arms: [gpt-4o, gpt-4o-mini], splt: {}}", "routing.policies.x.splt: unknown setting"),
    ],
)
def test_a_bad_experiment_is_refused_at_start_naming_the_setting(make_gateway, policy, says) -> None:
    with pytest.raises(ConfigError, match=says.replace("[", r"\[").replace(".", r"\.")):
        make_gateway(f"routing:\n  policies:\n    x: {policy}\n")


def test_the_experiments_report_shows_each_arms_cost_and_quality_with_intervals(make_gateway, tmp_path) -> None:
    import json
    from decimal import Decimal

    from click.testing import CliRunner

    from costops.cli import main
    from tests import rawhttp

    db = f"sqlite:///{tmp_path}/ab.db"
    gw = make_gateway(AB, db=db)
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-acme", max_retries=0)
    scores: dict[str, list[float]] = {"control": [], "cheap": []}
    for i in range(30):
        arm, _, request_id = _ask(client, "support", f"user-{i}")
        arm = arm.split("/")[1]
        if i % 3:  # two calls in three get a score: control good, cheap worse
            score = (0.8 if arm == "control" else 0.5) + (i % 5) * 0.04
            scores[arm].append(score)
            reply = rawhttp.post(f"{gw.url}/v1/feedback", json={"request_id": request_id, "score": score},
                                 headers={"authorization": "Bearer sk-acme"})
            assert reply.status == 200
    rows = gw.records(30)
    result = CliRunner().invoke(main, ["experiments", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)["support"]
    assert report["control"] == "control"
    by_arm = {m["arm"]: m for m in report["arms"]}
    for arm in ("control", "cheap"):
        mine = [r for r in rows if r.arm == arm]
        m = by_arm[arm]
        assert m["requests"] == len(mine) and m["errors"] == 0
        assert Decimal(m["spend_usd"]) == sum((r.cost.total for r in mine), Decimal(0))  # exact
        assert m["feedback_n"] == len(scores[arm])
        mean, low, high = m["feedback_quality"]
        assert mean == pytest.approx(sum(scores[arm]) / len(scores[arm]))
        assert low < mean < high
        assert m["checked_n"] == len(mine) and m["accepted_rate"][0] == 1.0
    diff, low, high = by_arm["cheap"]["vs_control"]["quality"]
    assert diff == pytest.approx(by_arm["cheap"]["feedback_quality"][0] - by_arm["control"]["feedback_quality"][0])
    assert high < 0  # the cheap arm is worse, and the interval says so
    assert by_arm["cheap"]["vs_control"]["cost_per_request_usd"][2] < 0  # and cheaper
    table = CliRunner().invoke(main, ["experiments", "--db", db])
    assert "== support ==" in table.output and "control" in table.output and "Δ quality" in table.output
    missing = CliRunner().invoke(main, ["experiments", "--db", db, "--policy", "nope"])
    assert missing.exit_code != 0 and "policy 'nope' has served no request" in missing.output


def test_an_arm_on_a_reasoning_model_gets_the_clients_max_tokens_as_max_completion_tokens(make_gateway) -> None:
    gw = make_gateway(PINNED + """
routing:
  policies:
    mixed: {kind: experiment, arms: {chat: gpt-4o, reasoning: gpt-5.4}, sticky: request}
""")
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    seen = Counter()
    for _ in range(16):  # gpt-5.4 refuses max_tokens; the gateway renames it when routing changed the model
        arm, answer, _ = _ask(client, "mixed")
        seen[(arm, answer.model)] += 1
    assert set(seen) == {("mixed/chat", "gpt-4o"), ("mixed/reasoning", "gpt-5.4")}
    direct = client.chat.completions.with_raw_response  # a client naming gpt-5.4 itself gets the provider's answer
    with pytest.raises(openai.BadRequestError, match="max_completion_tokens"):
        direct.create(model="gpt-5.4", messages=[{"role": "user", "content": "hi"}], max_tokens=50)
