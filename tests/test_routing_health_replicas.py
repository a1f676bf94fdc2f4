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


def test_a_sync_that_cannot_reach_redis_keeps_its_observations_for_the_next() -> None:
    """The averages a replica shares: a sync whose round trip fails (Redis cut, then back) loses
    nothing. The attempts it carried are folded into the fleet's averages by the next sync that
    gets through, with those made in between: three observations, not the one made after."""
    import asyncio

    import redis.asyncio as aioredis

    from costops.routing.breaker import Breaker
    from costops.routing.circuits import SharedCircuits
    from tests.tcp_proxy import TcpProxy

    url, prefix = redis_or_skip(), f"costops:test:circuit:{uuid.uuid4().hex[:8]}"
    proxy = TcpProxy(int(url.rsplit(":", 1)[1].split("/")[0]))
    adopted: dict[str, tuple[float | None, float, int]] = {}

    async def scenario() -> None:
        client = aioredis.Redis.from_url(f"redis://127.0.0.1:{proxy.port}/0", socket_connect_timeout=2, socket_timeout=2)
        shared = SharedCircuits(lambda: client, Breaker(), ["d"], prefix=prefix, sync_s=60,
                                adopt=lambda name, *averages: adopted.__setitem__(name, averages))
        try:
            shared.observed("d", 100.0)
            shared.observed("d", None)  # a failure
            await asyncio.to_thread(proxy.down)
            with pytest.raises(Exception):  # noqa: B017  (whichever connection error the client raises)
                await shared.sync()
            assert adopted == {}
            shared.observed("d", 300.0)  # made while Redis was away
            await asyncio.to_thread(proxy.up)
            await shared.sync()
        finally:
            await client.aclose()

    try:
        asyncio.run(scenario())
        latency, error_rate, attempts = adopted["d"]
        assert attempts == 3  # all three; before, the failed sync's two were dropped (1)
        assert latency == pytest.approx(200.0)  # the two successes' mean, the first the key has seen
        assert error_rate == pytest.approx((1 - 0.8 ** 3) / 3)  # one failure in three observations
    finally:
        proxy.close()
        import redis

        redis.Redis.from_url(url).delete(f"{prefix}-avg:d")
