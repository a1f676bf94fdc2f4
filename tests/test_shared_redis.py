"""One Redis client per gateway: the budgets and the rate limits share the one create_app made
(a bounded pool, so a burst does not open a connection per stage and per request), and the
gateway closes it once, after the stages stop."""

from __future__ import annotations

import uuid

import openai

from tests.replicas import REDIS_URL, redis_or_skip


def test_budgets_and_limits_share_the_gateways_redis_client(pinned_gateway) -> None:
    redis_or_skip()
    run = uuid.uuid4().hex[:8]  # fresh keys in a Redis that outlives test runs
    gw = pinned_gateway(
        f"redis: {{url: '{REDIS_URL}'}}\n"
        f"budgets:\n  redis_prefix: shared-{run}\n  list:\n    - {{name: b-{run}, limit_usd: 10, scope: {{tenant: t-{run}}}}}\n"
        f"keys:\n  - {{id: k-{run}, key: sk-{run}, tenant: t-{run}}}\n"
        f"limits:\n  - {{scope: tenant, id: t-{run}, rpm: 2}}\n"
    )
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=f"sk-{run}", max_retries=0)
    for _ in range(2):
        oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
    try:
        oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
        raise AssertionError("the third call in a minute should be refused by the shared limit")
    except openai.RateLimitError:
        pass
    budgets, limits = (next(s for s in gw.gateway.stages if s.name == name) for name in ("budgets", "limits"))
    client = gw.gateway._redis
    assert client is not None and budgets.state.redis is client and limits.shared.client is client
    assert budgets.state.shared and limits.shared.owned is False
    assert {r.status for r in gw.records(3)} == {200, 429}


def test_the_bandit_and_the_shared_circuits_use_the_same_client(pinned_gateway) -> None:
    redis_or_skip()
    run = uuid.uuid4().hex[:8]
    gw = pinned_gateway(
        f"redis: {{url: '{REDIS_URL}'}}\n"
        "routing:\n  policies:\n"
        f"    auto: {{kind: bandit, arms: [gpt-4o-mini, gpt-4o], redis_key: 'costops:test:shared:{run}'}}\n"
        f"  circuit_breaker: {{redis_prefix: 'costops:test:shared-circuit:{run}'}}\n"
    )
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    oa.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
    arms, observe = (next(h for h in gw.gateway.handlers if h.name == name) for name in ("arms", "observe"))
    client = gw.gateway._redis
    assert client is not None and arms._redis is None  # it opened no pool of its own
    assert all(state.client is client for state in arms.states.values())
    assert observe.health.shared.redis() is client
    import redis

    redis.Redis.from_url(REDIS_URL).delete(f"{{costops:test:shared:{run}}}:stats")
