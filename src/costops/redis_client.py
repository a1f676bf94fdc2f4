"""The one way costops opens an asyncio Redis client for shared state (budgets, limits).

A bounded, blocking pool: under a burst, requests wait a moment for one of a few connections
instead of each opening its own. Two hundred concurrent calls opening two hundred connections at
once on a loaded machine made connects time out, and budgets then fell back to ``on_state_error``
(admitting unchecked) exactly when they mattered most. After a Redis restart every pooled
connection is dead: a command that meets one retries on a fresh connection (a short backoff,
twice; the budget scripts are idempotent per request, so a retried one counts once), and idle connections are health-checked before use, so the first requests after the
restart do not fail on the old sockets.
"""

from __future__ import annotations

from typing import Any

POOL_SIZE = 32
WAIT_FOR_CONNECTION_S = 5.0
CONNECT_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 5.0


def async_redis(url: str, *, pool_size: int = POOL_SIZE) -> Any:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError

    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=WAIT_FOR_CONNECTION_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=COMMAND_TIMEOUT_S,
        health_check_interval=5,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
        retry_on_error=[ConnectionError],  # not a timeout: the command may have run (scripts are idempotent anyway)
    )
    return aioredis.Redis(connection_pool=pool)
