"""Latency and error-rate averages are shared by the replicas through their one Redis: replica B,
which has served nothing, ranks the deployments by what replica A measured (a deployment that
failed, one slower than the latency target) and sends its first call to the healthy one."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from costops.providers.simulator import Host, SimConfig, create_simulator
from costops.serving import BackgroundServer
from tests import replicas
from tests.replicas import redis_or_skip
from tests.test_routing_circuits_replicas import ask, rows_of


@pytest.fixture
def sim() -> Iterator[str]:
    hosts = (Host("failing", latency_scale=0, error_rate_5xx=1.0), Host("slow", latency_scale=5), Host("quick", latency_scale=0))
    with BackgroundServer(create_simulator(SimConfig(latency_scale=0, hosts=hosts))) as server:
        yield server.url


def config(sim: str, redis_url: str, prefix: str) -> str:
    def deployment(name: str, host: str, discount: int) -> str:
        return (f"  - {{name: {name}, kind: openai, base_url: '{sim}/h/{host}/v1', api_key: k, models: [gpt-4o-mini], "
                f"discount_pct: {discount}, max_retries: 0}}\n")

    return (f"redis: {{url: '{redis_url}'}}\nledger: {{flush_interval_s: 0.05}}\ndeployments:\n"
            + deployment("cheap-but-down", "failing", 50) + deployment("cheap-but-slow", "slow", 30)
            + deployment("quick", "quick", 0)
            + "routing:\n  arbitrage: {latency_target_ms: 400, max_error_rate: 0.3}\n"
            + f"  circuit_breaker: {{failures: 100, cooldown_s: 600, sync_s: 0.1, redis_prefix: '{prefix}'}}\n")


def test_replica_b_ranks_deployments_by_the_averages_replica_a_measured(sim, tmp_path) -> None:
    import redis

    url, prefix = redis_or_skip(), f"costops:test:circuit:{uuid.uuid4().hex[:8]}"
    db = f"sqlite:///{tmp_path}/shared.db"
    try:
        with replicas.pair(config(sim, url, prefix), sim, tmp_path, db=db) as (a, b):
            # A, cheapest first: the down one fails (error rate 0.2, still cheapest at 0.5 / 0.8), the slow
            # one answers (> 400 ms); then the down one again (0.36 > 0.3 now) and, the slow one being
            # past the target, the quick one answers
            first = rows_of(db, ask(a.url), 2)
            assert sorted((r.deployment, r.status) for r in first) == [("cheap-but-down", 500), ("cheap-but-slow", 200)]
            second = rows_of(db, ask(a.url), 2)
            assert sorted((r.deployment, r.status) for r in second) == [("cheap-but-down", 500), ("quick", 200)]
            shared = redis.Redis.from_url(url)
            deadline = time.monotonic() + 20  # A pushes every 0.1 s (a loaded machine may take longer)
            while float(shared.hget(f"{prefix}-avg:cheap-but-down", "err") or 0) < 0.3 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # B reads them every 0.1 s
            request_id = ask(b.url)
            time.sleep(0.3)  # a failed first attempt's row would land with the answer's
            rows = rows_of(db, request_id, 1)
            assert [(r.deployment, r.status, r.attempt) for r in rows] == [("quick", 200, 1)]  # nothing spent on the others
    finally:
        redis.Redis.from_url(url).delete(*(f"{prefix}-avg:{n}" for n in ("cheap-but-down", "cheap-but-slow", "quick")))
