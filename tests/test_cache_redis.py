"""Two gateway replicas, each with its own in-process tier, share answers through one Redis."""

from __future__ import annotations

import time
import uuid

import openai
import pytest

from tests import rawhttp
from tests.replicas import redis_or_skip


@pytest.fixture
def replicas(make_gateway):
    redis_or_skip()
    tenant = f"t-{uuid.uuid4().hex[:8]}"  # a fresh namespace: runs never see each other's entries
    config = f"""
redis: {{url: "redis://127.0.0.1:6379/0"}}
keys: [{{id: k, key: sk-r, tenant: {tenant}}}]
cache: {{exact: {{default_ttl_s: 60}}}}
server: {{admin_key: adm}}
"""
    return make_gateway(config), make_gateway(config)


def ask(gw, **body) -> str | None:
    c = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-r", max_retries=0)
    body = {"model": "gpt-4o-mini", "temperature": 0, "messages": [{"role": "user", "content": "What is SSO?"}], **body}
    return c.chat.completions.with_raw_response.create(**body).headers.get("x-costops-cache")


def stage(gw):
    return gw.gateway.stages[0]


def test_a_replica_reads_what_the_other_stored(replicas) -> None:
    a, b = replicas
    assert ask(a) == "miss"
    assert ask(b) == "exact"
    assert stage(b).counts["hits_l2"] == 1
    assert ask(b) == "exact" and stage(b).counts["hits_l1"] == 1, "the L2 hit filled B's L1"
    (hit,) = [r for r in b.records(2) if r.cache == "exact"][:1]
    assert hit.avoided_cost == a.records(1)[0].cost.total > 0


def test_invalidation_on_one_replica_clears_both(replicas) -> None:
    a, b = replicas
    ask(a)
    ask(b)  # now in B's L1 too
    tenant = b.gateway.config.keys[0].tenant
    resp = rawhttp.post(f"{a.url}/admin/cache/invalidate", json={"tenant": tenant}, headers={"authorization": "Bearer adm"})
    assert resp.status == 200 and resp.json()["removed"] == {"l1": 1, "l2": 1}
    deadline = time.monotonic() + 3
    while len(stage(b).l1) and time.monotonic() < deadline:  # the message travels by pub/sub
        time.sleep(0.02)
    assert len(stage(b).l1) == 0
    assert ask(b) == "miss"


def test_streams_are_shared_too(replicas) -> None:
    a, b = replicas
    oa = openai.OpenAI(base_url=f"{a.url}/v1", api_key="sk-r", max_retries=0)
    body = {"model": "gpt-4o-mini", "temperature": 0, "messages": [{"role": "user", "content": "Define latency."}]}
    text = "".join(c.choices[0].delta.content or "" for c in oa.chat.completions.create(**body, stream=True) if c.choices)
    ob = openai.OpenAI(base_url=f"{b.url}/v1", api_key="sk-r", max_retries=0)
    raw = ob.chat.completions.with_raw_response.create(**body)
    assert raw.headers["x-costops-cache"] == "exact" and raw.parse().choices[0].message.content == text
