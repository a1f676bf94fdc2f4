"""Routing policies over real HTTP with the SDKs: fixed, cheapest-capable, tiered, budget-aware,
a key bound to a policy, and capability filtering (tools, images, JSON schema, context and output
room), with the 400 a request gets when no model of its policy can serve it.

Prices are the pinned ones (blended 3:1 USD/MTok: gpt-4o-mini 0.26 budget, gpt-4.1 3.50 and
gpt-4o 4.38 balanced, claude-sonnet-4-5 6.00 premium); capabilities come from the installed
models.dev data, overridden where a test needs a model to lack something."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anthropic
import openai
import pytest

from costops.config import ConfigError
from costops.routing.capabilities import from_data
from costops.routing.needs import Needs, lacks, needs_of
from costops.routing.policies import BudgetAware, nearest

MODELS = "[claude-sonnet-4-5, gpt-4o, gpt-4o-mini, gpt-4.1]"
CONFIG = f"""
keys:
  - {{id: app, key: app-secret, tenant: acme}}
  - {{id: bulk, key: bulk-secret, tenant: acme}}
  - {{id: narrow, key: narrow-secret, tenant: acme, models: ["gpt-4o", "gpt-4.1", "auto"]}}
routing:
  models:
    gpt-4o-mini: {{tools: false}}
    gpt-4.1: {{vision: false}}
    gpt-4.1-nano: {{context_window: 2000}}
  policies:
    auto: {{kind: cheapest-capable, models: {MODELS}}}
    pinned: {{kind: fixed, model: gpt-4o-mini}}
    small: {{kind: fixed, model: gpt-4.1-nano}}
    by-task:
      kind: tiered
      models: {MODELS}
      tiers: {{code: premium, classify: budget, default: balanced}}
  keys: {{bulk: auto}}
"""
HI = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def gw(pinned_gateway):
    return pinned_gateway(CONFIG)


def client(gw: Any, key: str = "app-secret") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0, timeout=30)


def routed(gw: Any, key: str = "app-secret", **kw: Any) -> tuple[str, Any]:
    """(the model that answered, by its ledger row), with the route header checked."""
    kw.setdefault("messages", HI)
    raw = client(gw, key).chat.completions.with_raw_response.create(**kw)
    row = gw.record(raw.headers["x-costops-request-id"])
    assert raw.headers["x-costops-route"].startswith(f"{row.route}; ") and row.model in raw.headers["x-costops-route"]
    return row.model, row


def test_cheapest_capable_takes_the_cheapest_model_that_has_what_the_request_needs(gw) -> None:
    model, row = routed(gw, model="auto")
    assert model == "gpt-4o-mini" and (row.policy, row.route, row.model_requested) == ("auto", "cheapest-capable", "auto")
    weather = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}}}
    # gpt-4o-mini is configured without tools: the next cheapest (gpt-4.1, $3.50 blended) answers
    assert routed(gw, model="auto", tools=[weather])[0] == "gpt-4.1"
    # an image rules gpt-4.1 out as well (configured without vision)
    image = [{"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                          {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]
    assert routed(gw, model="auto", tools=[weather], messages=image)[0] == "gpt-4o"
    # max_tokens beyond gpt-4o-mini's, gpt-4.1's and gpt-4o's output caps (models.dev: 16,384 / 32,768 / 16,384)
    caps = {m: from_data("openai", m).max_output for m in ("gpt-4o-mini", "gpt-4.1", "gpt-4o")}
    above = max(c for c in caps.values() if c) + 1
    assert routed(gw, model="auto", max_tokens=above)[0] == "claude-sonnet-4-5"


def test_a_request_no_model_can_serve_gets_a_400_in_its_own_api_shape(gw) -> None:
    weather = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}}}
    with pytest.raises(openai.BadRequestError) as caught:
        client(gw).chat.completions.create(model="pinned", messages=HI, tools=[weather])
    error = caught.value
    assert error.code == "no_capable_model" and "gpt-4o-mini: no tool calling" in error.message
    assert "policy 'pinned'" in error.message and "needs tools" in error.message
    row = gw.record(error.response.headers["x-costops-request-id"])
    assert (row.status, row.error_type, row.cost.total) == (400, "no_capable_model", Decimal(0))
    ac = anthropic.Anthropic(base_url=gw.url, api_key="app-secret", max_retries=0)
    tool = {"name": "weather", "input_schema": {"type": "object", "properties": {}}}
    with pytest.raises(anthropic.BadRequestError) as refused:
        ac.messages.create(model="pinned", max_tokens=50, messages=HI, tools=[tool])
    assert refused.value.body["error"]["type"] == "invalid_request_error"
    assert "no tool calling" in refused.value.body["error"]["message"]


def test_policies_are_listed_as_models(gw) -> None:
    listed = {m.id: m.owned_by for m in client(gw).models.list()}
    assert {name: listed.get(name) for name in ("auto", "pinned", "by-task")} == dict.fromkeys(("auto", "pinned", "by-task"), "costops")


def test_fixed_pins_one_model_and_checks_its_context_and_output_room(gw) -> None:
    model, row = routed(gw, model="pinned")
    assert model == "gpt-4o-mini" and (row.policy, row.route) == ("pinned", "fixed")
    cap = from_data("openai", "gpt-4o-mini").max_output
    assert cap and cap >= 4096
    with pytest.raises(openai.BadRequestError, match=f"gpt-4o-mini: max output {cap:,} < max_tokens {cap + 1:,}"):
        client(gw).chat.completions.create(model="pinned", messages=HI, max_tokens=cap + 1)
    assert routed(gw, model="small", max_tokens=1000)[0] == "gpt-4.1-nano"  # 14 + 1,000 tokens fit its 2,000
    long = [{"role": "user", "content": "lorem ipsum dolor " * 400}]  # about 1,200 tokens
    with pytest.raises(openai.BadRequestError, match=r"gpt-4.1-nano: context window 2,000 < [\d,]+ tokens \(prompt \+ max_tokens\)"):
        client(gw).chat.completions.create(model="small", messages=long, max_tokens=1000)


def test_tiered_reads_the_task_from_a_tag_or_the_prompt(gw) -> None:
    code = client(gw).chat.completions.with_raw_response.create(
        model="by-task", messages=HI, extra_headers={"x-costops-tags": "task=code"}
    )
    assert code.headers["x-costops-route"] == "tiered; anthropic/claude-sonnet-4-5 (task code -> premium)"
    classify = [{"role": "user", "content": "Classify the sentiment of this review: 'great value, fast delivery'."}]
    assert routed(gw, model="by-task", messages=classify)[0] == "gpt-4o-mini"
    model, row = routed(gw, model="by-task")  # chat -> default: balanced, the cheapest of which is gpt-4.1
    assert model == "gpt-4.1" and row.route == "tiered"


def test_a_key_bound_to_a_policy_is_routed_whatever_model_it_names(gw) -> None:
    model, row = routed(gw, key="bulk-secret", model="gpt-4o")
    assert model == "gpt-4o-mini" and (row.model_requested, row.policy) == ("gpt-4o", "auto")
    # ... its embeddings are not chat requests: they go to the model named, and a policy name is refused
    embedded = client(gw, "bulk-secret").embeddings.create(model="text-embedding-3-small", input="hello")
    assert embedded.data and embedded.model == "text-embedding-3-small"
    with pytest.raises(openai.BadRequestError, match="'auto' is a routing policy for chat requests"):
        client(gw).embeddings.create(model="auto", input="hello")
    # a key restricted to some models is never routed to another: gpt-4.1 is its cheapest allowed
    assert routed(gw, key="narrow-secret", model="auto")[0] == "gpt-4.1"


def test_budget_aware_shifts_to_cheaper_tiers_as_the_budget_fills(pinned_gateway) -> None:
    limit = Decimal("0.02")
    gw = pinned_gateway(
        CONFIG.replace("  keys: {bulk: auto}\n", "")
        + f"    thrifty: {{kind: budget-aware, models: {MODELS}, tier: premium, shift: {{50: balanced, 80: budget}}}}\n"
        + f"budgets:\n  list:\n    - {{name: acme-day, limit_usd: {limit}, scope: {{tenant: acme}}, hard: false}}\n"
    )
    rows = []
    for _ in range(14):  # ~$0.003 of claude-sonnet-4-5 each (200 output tokens), less once shifted
        _, row = routed(gw, model="thrifty", max_tokens=200, messages=[{"role": "user", "content": "hi [[sim:tokens=200]]"}])
        rows.append(row)
    spent = Decimal(0)
    seen = []
    for row in rows:  # each decision from the spend before it: premium < 50 % <= balanced < 80 % <= budget
        pct = spent * 100 / limit
        want = "claude-sonnet-4-5" if pct < 50 else "gpt-4.1" if pct < 80 else "gpt-4o-mini"
        assert (row.model, row.route) == (want, "budget-aware"), (pct, row.model)
        seen.append(row.model)
        spent += row.cost.total
    assert {"claude-sonnet-4-5", "gpt-4.1", "gpt-4o-mini"} <= set(seen)


def test_needs_and_lacks_are_pure() -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}], "max_tokens": 10,
            "output_format": {"type": "json_schema", "schema": {}}, "tools": [{"name": "t"}]}
    needs = needs_of("anthropic", body, 50)
    assert needs == Needs(tools=True, vision=True, json_schema=True, input_tokens=50, output_tokens=10)
    caps = from_data("anthropic", "claude-sonnet-4-5")
    assert caps.source.startswith("models.dev ") and caps.tools is True and caps.vision is True
    assert lacks(caps, needs) is None or "JSON schema" in lacks(caps, needs)
    assert from_data("openai", "gpt-4o-2024-08-06").context_window == from_data("openai", "gpt-4o").context_window
    assert from_data(None, "no-such-model-anywhere").source == "unknown"
    unknown = from_data(None, "no-such-model-anywhere")
    assert lacks(unknown, Needs(tools=True, vision=True, json_schema=True, input_tokens=10**9)) is None  # unknown never excludes


def test_tier_choice_is_pure() -> None:
    policy = BudgetAware("b", ("x",), "premium", ((50.0, "balanced"), (80.0, "budget")))
    assert [policy.allowed_tier(p) for p in (None, 0, 49.9, 50, 79, 80, 100)] == [
        "premium", "premium", "premium", "balanced", "balanced", "budget", "budget"]
    assert nearest([], "budget") is None


def test_bad_policy_config_names_the_setting(pinned_gateway) -> None:
    cases = {
        "    p: {kind: fastest, models: [gpt-4o]}\n": r"routing.policies.p.kind: 'fastest'",
        "    p: {kind: fixed, model: nope-9}\n": r"routing.policies.p.model: 'nope-9'",
        "    p: {kind: tiered, models: [gpt-4o], tiers: {code: premium}}\n": r"routing.policies.p.tiers: .*default",
        "    p: {kind: tiered, models: [gpt-4o], tiers: {default: gold}}\n": r"routing.policies.p.tiers.default: one of",
        "    p: {kind: budget-aware, models: [gpt-4o], shift: {150: budget}}\n": r"routing.policies.p.shift.150",
        "    p: {kind: cheapest-capable, models: [gpt-4o], extra: 1}\n": r"routing.policies.p.extra: unknown",
    }
    for policy, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            pinned_gateway("routing:\n  policies:\n" + policy)
    with pytest.raises(ConfigError, match=r"routing.models.gpt-4o.tools: true or false"):
        pinned_gateway("routing:\n  models: {gpt-4o: {tools: maybe}}\n")
    with pytest.raises(ConfigError, match=r"routing.keys.ghost: no virtual key"):
        pinned_gateway("routing:\n  policies: {a: {kind: fixed, model: gpt-4o}}\n  keys: {ghost: a}\n")


def test_router_catalog_prints_what_routing_knows(tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from costops.cli import main

    path = tmp_path / "c.yaml"
    path.write_text(
        "deployments:\n  - {name: azure, kind: openai, base_url: 'https://azure.example/v1', api_key: k, models: [gpt-4o], "
        "discount_pct: 20}\nrouting:\n  models: {gpt-4o: {tools: false}}\n"
    )
    result = CliRunner().invoke(main, ["router", "catalog", "--config", str(path), "--json"], env={"OPENAI_API_KEY": "sk-x"})
    assert result.exit_code == 0, result.output
    rows = {r["deployment"]: r for r in map(json.loads, result.output.splitlines())}
    assert set(rows) == {"azure", "openai"}  # the built-in OpenAI deployment serves gpt-4o too, with its key
    assert Decimal(rows["azure"]["usd_per_mtok_blended"]) == Decimal(rows["openai"]["usd_per_mtok_blended"]) * Decimal("0.8")
    assert rows["azure"]["tools"] is False and rows["azure"]["source"].endswith("; config")
    assert rows["azure"]["context_window"] == from_data("openai", "gpt-4o").context_window


def test_a_streamed_anthropic_request_is_routed_and_translated(gw) -> None:
    ac = anthropic.Anthropic(base_url=gw.url, api_key="app-secret", max_retries=0)
    raw = ac.messages.with_raw_response.create(model="auto", max_tokens=50, messages=HI, stream=True)
    request_id = raw.headers["x-costops-request-id"]
    text = "".join(e.delta.text for e in raw.parse() if e.type == "content_block_delta" and e.delta.type == "text_delta")
    assert text
    row = gw.record(request_id)
    assert (row.model, row.provider, row.policy, row.route, row.stream) == ("gpt-4o-mini", "openai", "auto", "cheapest-capable", True)
    assert row.cost.total > 0


def test_a_budget_downgrade_is_decided_before_admission_and_only_to_a_capable_model(pinned_gateway) -> None:
    from tests.clock import Clock

    gw = pinned_gateway(
        "budgets:\n  list:\n    - {name: cap, limit_usd: 0.02, window: monthly, downgrade: default, downgrade_at: 25}\n"
        "limits:\n  - {scope: model, id: gpt-4o-mini, rpm: 1}\n"
        "routing:\n  models: {gpt-4o-mini: {tools: false}}\n",
        clock=Clock(ticking=True),
    )
    oa = client(gw, "unused")

    def ask(**kw: Any) -> Any:
        messages = [{"role": "user", "content": "hi [[sim:tokens=300]]"}]
        raw = oa.chat.completions.with_raw_response.create(model="gpt-4o", messages=messages, max_tokens=300, **kw)
        gw.record(raw.headers["x-costops-request-id"])  # booked: the budget has settled it, for the next decision
        return raw

    for _ in range(2):  # $0.003 of gpt-4o each: 0 % -> 15 % -> 30 %, past the soft limit
        assert "x-costops-budget" not in ask().headers
    weather = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}}}
    kept = ask(tools=[weather])  # the cheaper model cannot call tools: no downgrade for this one
    assert "x-costops-budget" not in kept.headers
    down = ask()
    assert down.headers["x-costops-budget"].startswith("cap=")
    # the rate limit on gpt-4o-mini judges the downgraded calls (it was checked against gpt-4o before)
    with pytest.raises(openai.RateLimitError, match="gpt-4o-mini"):
        ask()
    rows = gw.records(5)
    assert [(r.model, r.status) for r in rows[:4]] == [("gpt-4o", 200)] * 3 + [("gpt-4o-mini", 200)]
    assert rows[4].status == 429 and "gpt-4o-mini" in rows[4].error_message
