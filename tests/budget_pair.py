"""Two `costops serve` replicas sharing one Redis and one PostgreSQL ledger, each budget scoped to
its own project (and virtual key), for the tests that prove a budget holds across replicas.

``BudgetPair.spent(name)`` is what Redis counts, ``ledger(project)`` what the ledger recorded;
``overspend(name)`` prints and returns how far the ledger's spend went past the limit.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from costops.ledger.query import Filters
from costops.ledger.store import open_store
from costops.money import from_nanos, to_nanos
from tests.pinned import PINNED
from tests.replicas import Replica

FOREVER = "window: fixed, start: 2000-01-01, end: 2100-01-01"
"""A window the wall clock never leaves: these tests run real processes on the real clock."""


class BudgetPair:
    def __init__(self, run: str, prefix: str, pg: str, replicas: tuple[Replica, Replica], limits: dict[str, str],
                 redis_url: str) -> None:
        self.run, self.prefix, self.pg, self.replicas, self.limits, self.redis_url = run, prefix, pg, replicas, limits, redis_url

    def key(self, project: str) -> str:
        return f"sk-{project}-{self.run}"

    def spent(self, name: str) -> tuple[int, int]:
        """(spent, reserved) nanos in Redis."""
        import redis

        state = redis.Redis.from_url(self.redis_url).hgetall(f"{{{self.prefix}}}:b:{name}")
        return sum(int(v) for k, v in state.items() if k.startswith(b"s:")), int(state.get(b"r", 0))

    def ledger(self, project: str, requests: int | None = None, timeout: float = 20) -> dict[str, Any]:
        """The ledger's totals for a project, once ``requests`` rows are in (the writer batches)."""
        store = open_store(self.pg)
        try:
            deadline = time.monotonic() + timeout
            while True:
                totals = store.totals(Filters(tenant=f"t-{self.run}", project=project))
                if requests is None or totals["requests"] >= requests or time.monotonic() > deadline:
                    return totals
                time.sleep(0.1)
        finally:
            store.close()

    async def ask(self, project: str, tag: str, i: int, *, delay: float) -> Any:
        """Call ``i`` of a wave, on replica ``i % 2``: a 1,000-token answer after ``delay`` seconds
        (about $0.0006 on gpt-4o-mini), on the project's own key."""
        import openai

        url = self.replicas[i % 2].url
        async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=self.key(project), max_retries=0) as client:
            return await client.chat.completions.create(
                model="gpt-4o-mini", max_tokens=1000,
                messages=[{"role": "user", "content": f"{tag} {i} [[sim:tokens=1000]] [[sim:delay={delay}]]"}])

    def overspend(self, name: str, spent: int) -> int:
        limit = to_nanos(Decimal(self.limits[name]))
        over = spent - limit
        print(f"\n[{name}] spent ${from_nanos(spent)} of ${self.limits[name]}: overspend ${from_nanos(max(0, over))}")
        return over


class PrivateRedis:
    """A ``redis-server`` of the test's own (no persistence) that it may kill and restart: a Redis
    restart that loses its state, without touching the Redis the other tests share."""

    def __init__(self, tmp: Path) -> None:
        import shutil

        from costops.serving import free_port

        if shutil.which("redis-server") is None:
            import pytest

            why = "needs redis-server on PATH (Debian's redis-server package)"
            if __import__("os").environ.get("CI"):
                pytest.fail(why)
            pytest.skip(why)
        self.port, self.tmp = free_port(), tmp
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: Any = None
        self.start()

    def start(self) -> None:
        import subprocess

        import redis

        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: every connection drops, every key is gone."""
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


def start_pair(simulator: Any, tmp: Path, pg_server: str, redis_url: str, budgets: dict[str, str], extra: str = "",
               section: str = "") -> Iterator[BudgetPair]:
    """``budgets``: name -> limit in USD; budget ``name`` covers project ``name``, whose key is
    ``pair.key(name)``. ``section``: more ``budgets:`` settings; ``extra``: more top-level config."""
    import psycopg
    import redis

    run = uuid.uuid4().hex[:8]
    prefix, schema = f"test-{run}", f"costops_test_{run}"
    pg = f"{pg_server}?schema={schema}"
    keys = ", ".join(f"{{id: {n}, key: sk-{n}-{run}, tenant: t-{run}, project: {n}}}" for n in budgets)
    listed = "".join(f"    - {{name: {n}, scope: {{project: {n}}}, limit_usd: {v}, {FOREVER}}}\n" for n, v in budgets.items())
    config = tmp / "costops.yaml"
    config.write_text(
        PINNED
        + "ledger: {flush_interval_s: 0.05}\n"
        + f"redis: {{url: '{redis_url}'}}\n"
        + f"keys: [{keys}]\n"
        + f"budgets:\n  redis_prefix: {prefix}\n{section}  list:\n{listed}"
        + extra
    )
    a = Replica(config, simulator.url, tmp, 0, db=pg)
    b = Replica(config, simulator.url, tmp, 1, db=pg)
    try:
        yield BudgetPair(run, prefix, pg, (a.wait_ready(), b.wait_ready()), budgets, redis_url)
    finally:
        a.stop()
        b.stop()
        try:
            client = redis.Redis.from_url(redis_url, socket_connect_timeout=1)
            for key in client.scan_iter(f"{{{prefix}}}:*"):
                client.delete(key)
        except redis.RedisError:
            pass  # a test's own Redis, already stopped
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def gather_calls(n: int, call: Callable[[int], Awaitable[Any]]) -> list[Any]:
    """``call(i)`` for i in 0..n-1 at once; each result or the exception it raised."""
    return list(await asyncio.gather(*(call(i) for i in range(n)), return_exceptions=True))
