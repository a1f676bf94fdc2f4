"""The semantic cache's LLM check over real HTTP with the SDKs: on a route with ``llm_check`` a
cheap model (the simulator, answering like one) confirms each candidate before it is served. A
confirmed hit is served; a refused, failed or timed-out check is a miss that goes upstream. The
check is a ledger row of its own under the request, its cost reaches the budget, and the savings
report nets it."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from decimal import Decimal

import anthropic
import openai
import orjson
import pytest
from click.testing import CliRunner

from costops.analysis.report import build_report, render_table
from costops.cache.semantic.config import parse_semantic
from costops.cache.semantic.llm_check import confirmed, messages
from costops.cli.report import report_command
from costops.config import ConfigError
from costops.providers.simulator import Host, SimConfig, create_simulator
from costops.providers.simulator.checks import verdict
from costops.serving import BackgroundServer

ASKED = "How do I upgrade my subscription to the annual plan?"
SAME = "Hi! How can I upgrade my subscription to the annual plan? Thanks"
"""The same request up to greetings and auxiliaries: the simulator's check confirms it."""
OTHER = "How do I update the credit card on file?"
SYNONYM = "How can I change the credit card on file?"
"""A real paraphrase the judge lets through (the tests check every gated candidate, so this does
not depend on the judge's calibration) and the simulator's cautious check refuses."""
SYSTEM = {"role": "system", "content": "You are the billing assistant of Acme Cloud."}


@pytest.fixture(scope="module")
def sim() -> Iterator[BackgroundServer]:
    """A simulator of its own: the requests it counts are this module's, and ``/h/broken/`` fails every call."""
    app = create_simulator(SimConfig(latency_scale=0, hosts=(Host("broken", error_rate_5xx=1.0),)))
    with BackgroundServer(app) as srv:
        srv.sim = app  # type: ignore[attr-defined]
        yield srv


@pytest.fixture(scope="module")
def stalled() -> Iterator[int]:
    """A port that takes connections and never answers: a check sent there times out."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield s.getsockname()[1]


def config(sim_url: str, check: str, stalled_port: int = 1, extra: str = "", verifier: str = "judge") -> str:
    return f"""
keys:
  - {{id: acme, key: sk-acme, tenant: acme}}
deployments:
  - {{name: openai, kind: openai, base_url: '{sim_url}/v1', api_key: sk-sim, models: ['gpt-*']}}
  - {{name: anthropic, kind: anthropic, base_url: '{sim_url}', api_key: sk-sim, models: ['claude-*']}}
  - {{name: broken, kind: openai, base_url: '{sim_url}/h/broken/v1', api_key: sk-sim, models: [], max_retries: 0}}
  - {{name: stalled, kind: openai, base_url: 'http://127.0.0.1:{stalled_port}/v1', api_key: sk-sim, models: [], max_retries: 0}}
cache:
  semantic:
    min_score: 0.75
    verifier: {verifier}
    routes:
      payments: {{llm_check: {check}}}
""" + extra


def ask(c: openai.OpenAI, text: str, route: str = "payments") -> tuple[dict[str, str], str]:
    raw = c.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[SYSTEM, {"role": "user", "content": text}], temperature=0,
        extra_headers={"x-costops-tags": f"route={route}"})
    return dict(raw.headers), raw.parse().choices[0].message.content


def client(gw) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-acme", max_retries=0)


def upstream_calls(sim: BackgroundServer) -> int:
    return sim.sim.requests


def test_a_confirmed_candidate_is_served_and_its_check_is_booked_and_netted(make_gateway, sim) -> None:
    gw = make_gateway(config(sim.url, "{model: gpt-4o-mini, when: gated}", extra=(
        "budgets:\n  list:\n    - {name: acme-all, limit_usd: 10, scope: {tenant: acme}}\n")))
    c = client(gw)
    before = upstream_calls(sim)
    first, answer = ask(c, ASKED)
    hit, served = ask(c, SAME)
    assert first["x-costops-cache"] == "miss" and "x-costops-cache-check" not in first
    assert (hit["x-costops-cache"], hit["x-costops-cache-check"]) == ("semantic", "yes")
    assert served == answer
    assert Decimal(hit["x-costops-cost-usd"]) > 0  # not free: what the check cost
    assert upstream_calls(sim) - before == 2  # the first question, and the check: not the second question

    rows = {r.cache: r for r in gw.records(3)}
    miss, check, served_row = rows["miss"], rows["semantic-check"], rows["semantic"]
    assert served_row.request_id == hit["x-costops-request-id"] and served_row.cache == "semantic"
    assert served_row.cost.total == 0 and served_row.avoided_cost == miss.cost.total > 0
    assert (check.request_id, check.parent_id) == (f"{served_row.request_id}.check", served_row.request_id)
    assert (check.cache, check.attempt_reason, check.accepted, check.status) == ("semantic-check", "cache_check", True, 200)
    assert (check.tenant, check.key_id, check.model, check.deployment) == ("acme", "acme", "gpt-4o-mini", "openai")
    assert dict(check.tags) == {"route": "payments"}
    assert 0 < check.cost.total < miss.cost.total  # a one-word answer, but a real call
    assert Decimal(hit["x-costops-cost-usd"]) == check.cost.total
    assert check.usage.output_tokens == 1

    report = build_report(gw.gateway.store)
    semantic = next(k for k in report["cache_kinds"] if k["cache"] == "semantic")
    assert Decimal(semantic["avoided_usd"]) == miss.cost.total
    assert Decimal(semantic["check_cost_usd"]) == check.cost.total and semantic["checks"] == 1
    assert Decimal(semantic["saved_usd"]) == miss.cost.total - check.cost.total
    assert Decimal(report["saved_usd"]) == miss.cost.total - check.cost.total
    assert report["requests"] == 2 and Decimal(report["total_cost_usd"]) == miss.cost.total + check.cost.total
    assert "By cache kind (saved = avoided - LLM check cost)" in render_table(report)
    # `costops report` (the analytics engine over the same ledger) nets it the same way
    result = CliRunner().invoke(report_command, ["--db", gw.gateway.config.ledger.db, "--json"],
                                env={"COSTOPS_DB": None}, catch_exceptions=False)
    engine = json.loads(result.output)
    assert next(k for k in engine["cache_kinds"] if k["cache"] == "semantic") == semantic
    assert (engine["saved_usd"], engine["cache_check_cost_usd"]) == (report["saved_usd"], report["cache_check_cost_usd"])
    # the budget settled the check like an attempt: its spend is the ledger's, check included
    status = orjson.loads(urllib.request.urlopen(f"{gw.url}/admin/budgets/status").read())["budgets"]
    assert Decimal(status[0]["spent_usd"]) == miss.cost.total + check.cost.total


def test_a_verdict_is_kept_so_a_confirmed_paraphrase_asked_again_costs_no_second_check(make_gateway, sim) -> None:
    gw = make_gateway(config(sim.url, "{model: gpt-4o-mini, when: gated}"))
    c = client(gw)
    before = upstream_calls(sim)
    ask(c, ASKED)
    first, answer = ask(c, SAME)
    again, served = ask(c, SAME)
    assert (first["x-costops-cache-check"], again["x-costops-cache-check"]) == ("yes", "yes")
    assert again["x-costops-cache"] == "semantic" and served == answer
    assert upstream_calls(sim) - before == 2  # the first question and one check
    rows = gw.records(4)
    assert sorted(r.cache for r in rows) == ["miss", "semantic", "semantic", "semantic-check"]  # one check row
    second = next(r for r in rows if r.request_id == again["x-costops-request-id"])
    assert second.cache == "semantic" and second.cost.total == 0 and Decimal(again["x-costops-cost-usd"]) == 0


@pytest.mark.parametrize("verifier", ["judge", "cross-encoder"])
def test_a_refused_candidate_goes_upstream(make_gateway, sim, verifier: str) -> None:
    gw = make_gateway(config(sim.url, "{model: gpt-4o-mini, when: gated}", verifier=verifier))
    c = client(gw)
    before = upstream_calls(sim)
    ask(c, OTHER)
    refused, _ = ask(c, SYNONYM)
    assert (refused["x-costops-cache"], refused["x-costops-cache-check"]) == ("miss", "no")
    assert upstream_calls(sim) - before == 3  # first, check, and the second question after all
    rows = gw.records(3)
    check = next(r for r in rows if r.cache == "semantic-check")
    assert check.accepted is False and check.status == 200 and "did not confirm" in check.error_message
    assert check.parent_id == refused["x-costops-request-id"]
    assert [r.cache for r in rows if r.parent_id is None] == ["miss", "miss"]
    # its answer is stored: asked again word for word, it is served without a check
    again, _ = ask(c, SYNONYM)
    assert again["x-costops-cache"] == "semantic" and "x-costops-cache-check" not in again
    assert upstream_calls(sim) - before == 3
    semantic = next(k for k in build_report(gw.gateway.store)["cache_kinds"] if k["cache"] == "semantic")
    assert Decimal(semantic["saved_usd"]) == Decimal(semantic["avoided_usd"]) - check.cost.total


def test_other_routes_are_not_checked(make_gateway, sim) -> None:
    gw = make_gateway(config(sim.url, "{model: gpt-4o-mini, when: gated}"))
    c = client(gw)
    ask(c, ASKED, route="faq")
    hit, _ = ask(c, SAME, route="faq")
    assert hit["x-costops-cache"] == "semantic" and "x-costops-cache-check" not in hit
    assert not [r for r in gw.records(2) if r.cache == "semantic-check"]


@pytest.mark.parametrize(("deployment", "verdict_header", "status", "error_type"), [
    ("broken", "error", 500, None),        # the check model's provider fails (simulated 500 / 503)
    ("stalled", "timeout", 504, "upstream_timeout"),  # it never answers within timeout_s
])
def test_a_failed_check_is_a_miss_never_an_unconfirmed_hit(make_gateway, sim, stalled, deployment, verdict_header,
                                                              status, error_type) -> None:
    gw = make_gateway(config(sim.url, f"{{model: gpt-4o-mini, deployment: {deployment}, when: gated, timeout_s: 0.5}}",
                             stalled_port=stalled))
    c = client(gw)
    _, first = ask(c, ASKED)
    headers, second = ask(c, SAME)
    assert (headers["x-costops-cache"], headers["x-costops-cache-check"]) == ("miss", verdict_header)
    assert second  # answered by the provider
    rows = gw.records(3)
    check = next(r for r in rows if r.cache == "semantic-check")
    assert check.deployment == deployment and check.accepted is False and check.parent_id == headers["x-costops-request-id"]
    if error_type is None:
        assert check.status in (500, 503) and check.cost.total == 0  # refused by the provider: not billed
    else:
        assert (check.status, check.error_type) == (status, error_type)
        assert "did not answer within 0.5 s" in check.error_message
        assert check.usage.input_tokens > 0 and "estimated" in check.price_source  # it had the prompt: may bill it
    assert [r.cache for r in rows if r.parent_id is None] == ["miss", "miss"]


def test_the_anthropic_sdk_through_a_claude_check(make_gateway, sim) -> None:
    gw = make_gateway(config(sim.url, "{model: claude-haiku-4-5, when: gated}"))
    c = anthropic.Anthropic(base_url=gw.url, api_key="sk-acme", max_retries=0)

    def ask_claude(text: str):
        return c.messages.with_raw_response.create(
            model="claude-sonnet-4-6", max_tokens=200, extra_body={"temperature": 0}, system=SYSTEM["content"],
            messages=[{"role": "user", "content": text}], extra_headers={"x-costops-tags": "route=payments"})

    before = upstream_calls(sim)
    first = ask_claude(ASKED)
    hit = ask_claude(SAME)
    refused = ask_claude("How can I switch my subscription to the annual plan?")  # a synonym: the check is cautious
    assert hit.headers["x-costops-cache"] == "semantic" and hit.headers["x-costops-cache-check"] == "yes"
    assert hit.parse().content[0].text == first.parse().content[0].text
    assert refused.headers["x-costops-cache-check"] == "no" and refused.headers["x-costops-cache"] == "miss"
    assert upstream_calls(sim) - before == 4  # first, two checks, the swapped question
    checks = [r for r in gw.records(5) if r.cache == "semantic-check"]
    assert [(r.provider, r.model, r.accepted) for r in checks] == [("anthropic", "claude-haiku-4-5", True),
                                                                    ("anthropic", "claude-haiku-4-5", False)]
    assert all(r.cost.total > 0 for r in checks)


def test_the_check_answer_is_read_strictly() -> None:
    assert all(confirmed(a) for a in ("yes", "Yes", " YES. ", "yes!"))
    assert not any(confirmed(a) for a in ("no", "", "Yes, but only for the annual plan", "y", "yes yes", "maybe"))


def test_the_simulator_answers_checks_like_a_cheap_model_with_a_set_error_rate() -> None:
    def ask_sim(stored: str, new: str, error_rate: float = 0.0, seed: int = 0) -> str | None:
        return verdict(messages(stored, new)[1]["content"], seed, error_rate)

    assert ask_sim(ASKED, SAME) == "yes"
    assert ask_sim(ASKED, "How do I downgrade my subscription to the annual plan?") == "no"
    assert ask_sim("Convert 5 miles to km", "Convert 5 km to miles") == "no"  # order counts
    assert ask_sim(OTHER, SYNONYM) == "no"
    assert verdict("Is this a check?", 0, 0.0) is None  # any other prompt is answered as usual
    assert ask_sim(ASKED, SAME, error_rate=1.0) == "no"
    flipped = sum(ask_sim(ASKED, f"{SAME} {'!' * n}", error_rate=0.2, seed=7) == "no" for n in range(200))
    assert 20 <= flipped <= 60  # about a fifth of the verdicts, drawn per prompt
    assert flipped == sum(ask_sim(ASKED, f"{SAME} {'!' * n}", error_rate=0.2, seed=7) == "no" for n in range(200))


def test_config_errors_name_the_setting() -> None:
    def parse(check: str) -> None:
        import yaml

        parse_semantic({"cache": {"semantic": yaml.safe_load(f"routes: {{payments: {{llm_check: {check}}}}}")}})

    with pytest.raises(ConfigError, match=r"routes.payments.llm_check.model"):
        parse("{when: gated}")
    with pytest.raises(ConfigError, match=r"llm_check.when: 'sometimes' is not one of accepted, near, gated"):
        parse("{model: gpt-4o-mini, when: sometimes}")
    with pytest.raises(ConfigError, match=r"llm_check.timeout_s"):
        parse("{model: gpt-4o-mini, timeout_s: 0}")
    with pytest.raises(ConfigError, match=r"llm_check.colour: unknown setting"):
        parse("{model: gpt-4o-mini, colour: red}")


def test_an_unknown_check_model_or_deployment_is_refused_at_start(make_gateway, sim) -> None:
    with pytest.raises(ConfigError, match=r"cache.semantic.routes.payments.llm_check.model: model 'nope'"):
        make_gateway(config(sim.url, "{model: nope}"))
    with pytest.raises(ConfigError, match=r"llm_check.deployment: no deployment 'elsewhere'"):
        make_gateway(config(sim.url, "{model: gpt-4o-mini, deployment: elsewhere}"))


def test_which_candidates_are_checked_follows_when(make_gateway, sim) -> None:
    """With an acceptance score no rewording reaches, ``accepted`` checks nothing (a plain miss,
    no check paid for) and ``near`` with a wide band checks the judge's near-miss and serves it."""
    strict = "cache:\n  semantic:\n    min_score: 0.999\n    routes:\n      payments: {llm_check: %s}\n"
    base = config(sim.url, "{model: gpt-4o-mini}").split("cache:")[0]
    gw = make_gateway(base + strict % "{model: gpt-4o-mini, when: accepted}")
    ask(client(gw), ASKED)
    headers, _ = ask(client(gw), SAME)
    assert headers["x-costops-cache"] == "miss" and "x-costops-cache-check" not in headers
    gw = make_gateway(base + strict % "{model: gpt-4o-mini, when: near, band: 0.99}")
    ask(client(gw), ASKED)
    headers, _ = ask(client(gw), SAME)
    assert (headers["x-costops-cache"], headers["x-costops-cache-check"]) == ("semantic", "yes")


def test_a_streamed_request_is_checked_and_served_as_a_stream(make_gateway, sim) -> None:
    gw = make_gateway(config(sim.url, "{model: gpt-4o-mini, when: gated}"))
    c = client(gw)
    _, answer = ask(c, ASKED)
    with c.chat.completions.with_streaming_response.create(
            model="gpt-4o-mini", messages=[SYSTEM, {"role": "user", "content": SAME}], temperature=0, stream=True,
            extra_headers={"x-costops-tags": "route=payments"}) as raw:
        assert (raw.headers["x-costops-cache"], raw.headers["x-costops-cache-check"]) == ("semantic", "yes")
        text = "".join(chunk.choices[0].delta.content or "" for chunk in raw.parse() if chunk.choices)
    assert text == answer
