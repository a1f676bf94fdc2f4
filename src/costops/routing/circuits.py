"""Open circuits shared by the replicas through the gateway's one Redis client, best effort.

A replica whose breaker opens a deployment's circuit writes ``{prefix}:<deployment>`` = the wall
time it opened, expiring with the cooldown. Every replica reads those keys every ``sync_s`` (one
MGET, off the request path) and opens its own circuit where another replica opened one more
recently than it knows of, for the rest of that cooldown; then its own half-open probe decides,
as for a circuit it opened itself. A successful probe deletes the key. So a dead deployment costs
the fleet one replica's ``failures`` attempts, not every replica's. With Redis away each replica
keeps its own breaker (logged once per outage), as with no Redis at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from costops.routing.breaker import Breaker

log = logging.getLogger("costops.routing")


class SharedCircuits:
    def __init__(
        self, redis: Callable[[], Any], breaker: Breaker, names: Sequence[str], *, prefix: str, sync_s: float,
        clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
    ) -> None:
        self.redis, self.breaker, self.names = redis, breaker, tuple(names)
        self.prefix, self.sync_s, self.clock, self.wall = prefix, sync_s, clock, wall
        self.keys = [self._key(n) for n in self.names]
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._down = False

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    async def start(self) -> None:
        if self.names:
            self._loop = asyncio.create_task(self._sync_loop(), name="costops-circuits")

    async def stop(self) -> None:
        for task in [*self._tasks, *([self._loop] if self._loop is not None else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def opened(self, name: str) -> None:
        """This replica's breaker opened ``name``'s circuit: tell the others (in the background)."""
        ttl_ms = max(1, int(self.breaker.settings.cooldown_s * 1000))
        self._spawn(lambda client: client.set(self._key(name), repr(self.wall()), px=ttl_ms))

    def closed(self, name: str) -> None:
        """A probe of ``name`` succeeded here: the others need not wait for their own."""
        self._spawn(lambda client: client.delete(self._key(name)))

    def _spawn(self, command: Callable[[Any], Any]) -> None:
        async def run() -> None:
            try:
                await command(self.redis())
                self._down = False
            except Exception as exc:
                self._failed(exc)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def sync(self) -> None:
        """Adopt the circuits other replicas opened (pure merge: :meth:`Breaker.adopt`)."""
        values = await self.redis().mget(self.keys)
        now, wall = self.clock(), self.wall()
        for name, value in zip(self.names, values, strict=True):
            if value is not None:
                self.breaker.adopt(name, now - max(0.0, wall - float(value)))

    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sync_s)
            try:
                await self.sync()
                self._down = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        if not self._down:
            log.warning("shared circuit state (Redis) unreachable (%s): each replica keeps its own breaker", exc)
        self._down = True
