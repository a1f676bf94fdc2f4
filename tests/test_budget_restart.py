"""A Redis restart mid-load, with two replicas and ``on_state_error: block``: the replicas notice
the lost state (the marker key), one rebuilds the window from the PostgreSQL ledger, the calls
that were in flight settle into the rebuilt state, requests during the outage get 503, and the
budget still holds afterwards: what costops counts equals the ledger to the nano-dollar.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import openai
import pytest

from tests.budget_pair import BudgetPair, PrivateRedis, gather_calls, start_pair
from tests.ledger_fixtures import pg_server_fixture  # noqa: F401
from tests.tcp_proxy import TcpProxy

LIMITS = {"restart": "0.0075"}  # a call here costs about $0.0006: the budget affords 12


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pair(simulator, tmp_path_factory, pg_server, own_redis: PrivateRedis) -> Iterator[BudgetPair]:
    yield from start_pair(simulator, tmp_path_factory.mktemp("restart"), pg_server, own_redis.url, LIMITS,
                          section="  on_state_error: block\n", extra="alerts: {digest_at: null}\n")


def test_a_redis_restart_mid_load_keeps_the_books(pair: BudgetPair, own_redis: PrivateRedis) -> None:
    def call(tag: str, delay: float):  # noqa: ANN202
        return lambda i: pair.ask("restart", tag, i, delay=delay)

    async def scenario() -> tuple[list, list, list]:
        await gather_calls(6, call("before", 0.05))  # settled before the restart: in the ledger
        slow = asyncio.ensure_future(gather_calls(4, call("slow", 2.5)))  # in flight across it
        while pair.spent("restart")[1] < 4 * 600_000:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(own_redis.kill)
        during = await gather_calls(4, call("during", 0.05))  # Redis is down: block holds them back
        await asyncio.to_thread(own_redis.start)  # back, and empty
        in_flight = await slow
        after = []
        for _ in range(3):  # the rebuilt books admit only what is left (2 calls), wave after wave
            after += await gather_calls(6, call("after", 0.05))
        return during, in_flight, after

    during, in_flight, after = asyncio.run(scenario())
    answered = [r for r in after if not isinstance(r, Exception)]
    refused = [r for r in after if isinstance(r, openai.APIStatusError) and r.status_code == 429]
    totals = pair.ledger("restart", 6 + 4 + 4 + 18)
    over = pair.overspend("restart", int(totals["cost_nanos"]))
    assert all(isinstance(r, openai.APIStatusError) and r.status_code == 503 for r in during), during
    assert all("budget state is unreachable" in str(r) for r in during)
    assert not any(isinstance(r, Exception) for r in in_flight), in_flight
    assert len(answered) == 2 and len(refused) == 16, (len(answered), [str(r)[:120] for r in after if isinstance(r, Exception)][:3])
    assert over <= 0
    spent, reserved = pair.spent("restart")
    assert reserved == 0 and spent == totals["cost_nanos"]  # costops's books equal the ledger's after the restart




@pytest.fixture(scope="module")
def cut_pair(simulator, tmp_path_factory, pg_server) -> Iterator[tuple[BudgetPair, TcpProxy]]:
    """Two replicas that reach the shared Redis through a proxy the test can cut (state kept)."""
    from tests.replicas import REDIS_URL, redis_or_skip

    redis_or_skip()
    proxy = TcpProxy(int(REDIS_URL.rsplit(":", 1)[1].split("/")[0]))
    try:
        for pair in start_pair(simulator, tmp_path_factory.mktemp("cut"), pg_server, f"redis://127.0.0.1:{proxy.port}/0",
                               {"away": "0.0075"}, section="  on_state_error: allow\n", extra="alerts: {digest_at: null}\n"):
            yield pair, proxy
    finally:
        proxy.close()


def test_calls_admitted_while_redis_is_away_are_held_and_counted_when_it_is_back(cut_pair) -> None:
    """``on_state_error: allow``: four calls go in unchecked while Redis is unreachable; once it
    answers again their holds are put back and their spend counted, so the calls that follow are
    admitted only into what is really left."""
    pair, proxy = cut_pair

    def call(tag: str, delay: float):  # noqa: ANN202
        return lambda i: pair.ask("away", tag, i, delay=delay)

    async def scenario() -> tuple[list, list]:
        await gather_calls(4, call("before", 0.05))
        await asyncio.to_thread(proxy.down)
        away = asyncio.ensure_future(gather_calls(4, call("away", 4)))  # admitted unchecked
        await asyncio.sleep(0.5)
        await asyncio.to_thread(proxy.up)  # Redis answers again, its state intact
        deadline = asyncio.get_running_loop().time() + 3
        while pair.spent("away")[1] < 4 * 600_000 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)  # the holds of the calls still in flight are put back
        after = await gather_calls(12, call("after", 0.05))
        return await away, after

    away, after = asyncio.run(scenario())
    assert not any(isinstance(r, Exception) for r in away), away
    totals = pair.ledger("away", 4 + 4 + 12)
    over = pair.overspend("away", int(totals["cost_nanos"]))
    answered = [r for r in after if not isinstance(r, Exception)]
    assert len(answered) == 4, len(answered)  # $0.0075 - 8 x $0.0006 leaves room for four
    assert over <= 0
    spent, reserved = pair.spent("away")
    assert reserved == 0 and spent == totals["cost_nanos"]
