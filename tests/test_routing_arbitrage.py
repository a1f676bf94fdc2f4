"""Arbitrage over real HTTP: when several deployments serve the same model, the call goes to
the one with the lowest effective price among the healthy ones within the latency target.

One simulator serves every deployment (``SimConfig.hosts``, under ``/h/<name>/``): one that fails
every call, one five times slower than the real model, and healthy ones; prices differ by the
deployments' discounts at the pinned prices."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest

from costops.config import load_config
from costops.providers.simulator import Host, SimConfig, create_simulator
from costops.routing.arbitrage import ArbitrageSettings, rank
from costops.routing.capabilities import UNKNOWN
from costops.routing.catalog import Target
from costops.routing.health import DeploymentHealth
from costops.serving import BackgroundServer

HI = [{"role": "user", "content": "Say hello. [[sim:tokens=5]]"}]


@pytest.fixture
def sims() -> Iterator[dict[str, str]]:
    """Base URLs of the deployments one simulator serves."""
    hosts = (Host("failing", latency_scale=0, error_rate_5xx=1.0), Host("slow", latency_scale=5), Host("quick", latency_scale=0))
    with BackgroundServer(create_simulator(SimConfig(latency_scale=0, hosts=hosts))) as server:
        yield {h.name: f"{server.url}/h/{h.name}" for h in hosts}


def deployment(name: str, url: str, discount: int = 0) -> str:
    return (f"  - {{name: {name}, kind: openai, base_url: '{url}/v1', api_key: k, models: [gpt-4o-mini], "
            f"discount_pct: {discount}, max_retries: 0}}\n")


def ask(gw: Any) -> Any:
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0, timeout=30)
    raw = oa.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HI, max_tokens=5)
    return raw, gw.record(raw.headers["x-costops-request-id"])


def test_the_cheapest_healthy_deployment_serves_and_pays_its_discount(pinned_gateway, simulator) -> None:
    gw = pinned_gateway("deployments:\n" + deployment("list", simulator.url) + deployment("discounted", simulator.url, 40)
                        + "routing:\n  arbitrage: true\n")
    raw, row = ask(gw)
    assert (row.deployment, row.route, row.status) == ("discounted", "arbitrage", 200)
    assert raw.headers["x-costops-route"] == "arbitrage; discounted/gpt-4o-mini"
    assert row.cost.total == row.list_cost.total * Decimal("0.6") > 0


def test_a_failing_deployment_falls_back_then_its_circuit_opens_and_it_is_skipped(pinned_gateway, sims, simulator) -> None:
    gw = pinned_gateway(
        "deployments:\n" + deployment("cheap-but-down", sims["failing"], 50) + deployment("steady", simulator.url)
        + "routing:\n  arbitrage: {max_error_rate: 0.9}\n  circuit_breaker: {failures: 2, cooldown_s: 600}\n"
    )
    for _ in range(2):  # still the cheapest: tried first, fails, the next in the ranking answers
        _, row = ask(gw)
        assert (row.deployment, row.attempt, row.attempt_reason) == ("steady", 2, "fallback")
    failed = [r for r in gw.records(4) if r.parent_id]
    assert [(r.deployment, r.status >= 500) for r in failed] == [("cheap-but-down", True)] * 2
    _, row = ask(gw)  # its circuit is open now: it ranks last, and nothing is wasted on it
    assert (row.deployment, row.attempt) == ("steady", 1)
    assert len([r for r in gw.records(5) if r.parent_id]) == 2


def test_a_deployment_slower_than_the_latency_target_gives_way(pinned_gateway, sims, simulator) -> None:
    gw = pinned_gateway(
        "deployments:\n" + deployment("cheap-but-slow", sims["slow"], 30) + deployment("quick", sims["quick"])
        + "routing:\n  arbitrage: {latency_target_ms: 400}\n"
    )
    _, first = ask(gw)  # not measured yet: counts as within the target, and it is the cheaper
    assert first.deployment == "cheap-but-slow" and first.latency_ms > 400
    _, second = ask(gw)
    assert second.deployment == "quick" and second.cost.total > first.cost.total


def _target(name: str, cost: int | None, **health: Any) -> Target:
    d = load_config(None, env={}).deployments[0]
    from dataclasses import replace

    return Target(replace(d, name=name), "m", UNKNOWN, None, None, name, DeploymentHealth(**health), cost)


def test_the_ranking_is_a_pure_function_of_prices_and_health() -> None:
    settings = ArbitrageSettings(latency_target_ms=1000, max_error_rate=0.5)
    targets = [
        _target("open", 1, circuit="open"),
        _target("erratic", 2, error_rate=0.6),
        _target("slow", 3, latency_ms=1500.0),
        _target("pricey", 10, latency_ms=100.0),
        _target("cheap", 5, latency_ms=900.0),
        _target("flaky-cheap", 4, error_rate=0.3),  # 4 / 0.7 = 5.7 expected: after "cheap"
        _target("unpriced", None),
    ]
    assert [t.name for t in rank(targets, settings)] == ["cheap", "flaky-cheap", "pricey", "unpriced", "slow", "erratic", "open"]
    assert [t.name for t in rank(targets[3:5], ArbitrageSettings())] == ["cheap", "pricey"]


def test_the_simulator_serves_deployments_of_their_own(sims) -> None:
    quick = openai.OpenAI(base_url=f"{sims['quick']}/v1", api_key="k", max_retries=0)
    assert quick.chat.completions.create(model="gpt-4o-mini", messages=HI).choices[0].message.content
    failing = openai.OpenAI(base_url=f"{sims['failing']}/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.InternalServerError):
        failing.chat.completions.create(model="gpt-4o-mini", messages=HI)
    with pytest.raises(ValueError, match="error_rate_5xx"):
        SimConfig(hosts=(Host("bad", error_rate_5xx=2.0),))
    from costops.cli.simulate import parse_host

    assert parse_host("slow:latency=5,5xx=0.2") == Host("slow", latency_scale=5.0, error_rate_5xx=0.2)
    assert parse_host("plain") == Host("plain")
