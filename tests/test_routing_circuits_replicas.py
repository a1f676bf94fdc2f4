"""Open circuits are shared by the replicas through their one Redis: replica B skips a
deployment whose circuit replica A opened, without paying the failures A paid; with Redis away
each replica keeps its own breaker, and traffic still falls back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import openai
import pytest

from costops.ledger.query import Filters
from costops.ledger.store import open_store
from costops.providers.simulator import Host, SimConfig, create_simulator
from costops.serving import BackgroundServer, free_port
from tests import replicas
from tests.replicas import redis_or_skip

HI = [{"role": "user", "content": "Say hello. [[sim:tokens=5]]"}]


@pytest.fixture
def sim() -> Iterator[str]:
    hosts = (Host("failing", latency_scale=0, error_rate_5xx=1.0),)
    with BackgroundServer(create_simulator(SimConfig(latency_scale=0, hosts=hosts))) as server:
        yield server.url


def config(sim: str, redis_url: str, prefix: str) -> str:
    return f"""
redis: {{url: '{redis_url}'}}
ledger: {{flush_interval_s: 0.05}}
deployments:
  - {{name: flaky, kind: openai, base_url: '{sim}/h/failing/v1', api_key: k, models: [gpt-4o-mini], max_retries: 0}}
  - {{name: steady, kind: openai, base_url: '{sim}/v1', api_key: k, models: [backup-only]}}
routing:
  fallbacks:
    gpt-4o-mini: [steady/gpt-4o-mini]
  circuit_breaker: {{failures: 2, cooldown_s: 600, sync_s: 0.1, redis_prefix: '{prefix}'}}
"""


def ask(url: str) -> str:
    oa = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=30)
    raw = oa.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HI, max_tokens=5)
    assert raw.parse().choices[0].message.content
    return raw.headers["x-costops-request-id"]


def rows_of(db: str, request_id: str, expected: int) -> list:
    store = open_store(db)
    try:
        deadline = time.monotonic() + 20
        while True:
            rows = [r for r in store.iter_records(Filters()) if request_id in (r.request_id, r.parent_id)]
            if len(rows) >= expected or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)
    finally:
        store.close()


def test_replica_b_skips_a_deployment_whose_circuit_replica_a_opened(sim, tmp_path) -> None:
    import redis

    url, prefix = redis_or_skip(), f"costops:test:circuit:{uuid.uuid4().hex[:8]}"
    db = f"sqlite:///{tmp_path}/shared.db"
    try:
        with replicas.pair(config(sim, url, prefix), sim, tmp_path, db=db) as (a, b):
            for _ in range(2):  # A pays two failures, then its circuit for flaky opens
                rows = rows_of(db, ask(a.url), 2)
                assert sorted((r.deployment, r.status) for r in rows) == [("flaky", 500), ("steady", 200)]
            assert redis.Redis.from_url(url).exists(f"{prefix}:flaky")
            time.sleep(0.5)  # B reads the shared circuits every 0.1 s
            request_id = ask(b.url)
            time.sleep(0.3)  # a failed first attempt's row would land with the answer's
            (row,) = rows_of(db, request_id, 1)
            assert (row.deployment, row.status, row.attempt, row.attempt_reason) == ("steady", 200, 1, "fallback")
    finally:
        redis.Redis.from_url(url).delete(f"{prefix}:flaky")


def test_with_redis_away_each_replica_keeps_its_own_breaker(make_gateway, sim) -> None:
    gw = make_gateway(config(sim, f"redis://127.0.0.1:{free_port()}/0", "costops:test:circuit:away"))
    for expected in (2, 2, 1):  # two failures open the circuit here; the third call skips flaky
        rows = rows_of(gw.gateway.config.ledger.db, ask(gw.url), expected)
        assert len(rows) == expected
    assert rows[0].deployment == "steady" and rows[0].attempt == 1
