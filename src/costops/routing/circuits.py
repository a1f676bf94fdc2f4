"""Live health shared by the replicas through the gateway's one Redis client, best effort: open
circuits, and the latency and error-rate moving averages arbitrage ranks deployments by.

A replica whose breaker opens a deployment's circuit writes ``{prefix}:<deployment>`` = the wall
time it opened, expiring with the cooldown. Every replica reads those keys every ``sync_s`` (one
MGET, off the request path) and opens its own circuit where another replica opened one more
recently than it knows of, for the rest of that cooldown; then its own half-open probe decides,
as for a circuit it opened itself. A successful probe deletes the key. So a dead deployment costs
the fleet one replica's ``failures`` attempts, not every replica's.

The averages live in one hash per deployment, ``{prefix}-avg:<deployment>`` (latency, error rate,
attempts; expiring 10 minutes after the last update). In the same round trip every ``sync_s``, a
replica folds in what its attempts saw since its last sync (a script applies them as that many
observations of the moving average) and adopts the fleet's averages that come back, for every
deployment; between syncs its own attempts move its copy. So a replica routes by what all of
them measured, at one pipelined round trip per ``sync_s``, never on the request path.

With Redis away each replica keeps its own breaker and averages (logged once per outage), as
with no Redis at all; what its attempts saw meanwhile is kept and shared by the first sync that
gets through (the observations of a failed sync go back into the next batch). A round trip
that failed after Redis ran the merge (the reply lost, not the request) counts that batch
twice: at least once, never lost.
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

AVERAGES_TTL_MS = 600_000

# KEYS[1]: one deployment's averages. ARGV: alpha, successes, their mean latency (ms), failures, ttl ms.
# Applies the batch as that many observations (successes and failures evenly interleaved) and
# returns the averages: latency (nil before the first success), error rate, attempts.
_MERGE = """
local a, ok, mean, bad = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local h = redis.call('HMGET', KEYS[1], 'lat', 'err', 'n')
local lat, err, n = tonumber(h[1]), tonumber(h[2]) or 0, tonumber(h[3]) or 0
local k = ok + bad
if k > 0 then
  local keep = (1 - a) ^ k
  err = err * keep + (1 - keep) * bad / k
  if ok > 0 then
    if lat == nil then lat = mean else local kept = (1 - a) ^ ok; lat = lat * kept + (1 - kept) * mean end
    redis.call('HSET', KEYS[1], 'lat', tostring(lat))
  end
  n = n + k
  redis.call('HSET', KEYS[1], 'err', tostring(err), 'n', n)
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return {lat and tostring(lat) or false, tostring(err), n}
"""


class SharedCircuits:
    def __init__(
        self, redis: Callable[[], Any], breaker: Breaker, names: Sequence[str], *, prefix: str, sync_s: float,
        clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
        adopt: Callable[[str, float | None, float, int], None] | None = None, alpha: float = 0.2,
    ) -> None:
        self.redis, self.breaker, self.names = redis, breaker, tuple(names)
        self.prefix, self.sync_s, self.clock, self.wall = prefix, sync_s, clock, wall
        self.keys = [self._key(n) for n in self.names]
        self.adopt, self.alpha = adopt, alpha
        """Takes the fleet's averages of a deployment (:meth:`Health.adopt <costops.routing.health.Health.adopt>`)."""
        self.pending: dict[str, list[float]] = {}
        """Per deployment, what its attempts saw since the last sync: [successes, their latency sum, failures]."""
        self._merge: Any = None
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

    def observed(self, name: str, latency_ms: float | None) -> None:
        """One attempt at ``name``: a success and its latency, or a failure (None); shared at the next sync."""
        seen = self.pending.get(name)
        if seen is None:
            seen = self.pending[name] = [0, 0.0, 0]
        if latency_ms is None:
            seen[2] += 1
        else:
            seen[0] += 1
            seen[1] += latency_ms

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
        """Adopt the circuits other replicas opened (pure merge: :meth:`Breaker.adopt`), and share
        and adopt the moving averages, in one pipelined round trip."""
        client = self.redis()
        batch, self.pending = self.pending, {}
        averages = self.adopt is not None
        try:
            async with client.pipeline(transaction=False) as pipe:
                pipe.mget(self.keys)
                if averages:
                    if self._merge is None:
                        self._merge = client.register_script(_MERGE)
                    for name in self.names:
                        ok, total, bad = batch.get(name) or (0, 0.0, 0)
                        await self._merge(keys=[f"{self.prefix}-avg:{name}"], client=pipe, args=[
                            repr(self.alpha), ok, repr(total / ok if ok else 0.0), bad, AVERAGES_TTL_MS])
                values, *fleet = await pipe.execute()
        except BaseException:
            self._keep(batch)  # not shared: folded in with the next sync's
            raise
        now, wall = self.clock(), self.wall()
        for name, value in zip(self.names, values, strict=True):
            if value is not None:
                self.breaker.adopt(name, now - max(0.0, wall - float(value)))
        if self.adopt is not None:
            for name, (latency, error_rate, attempts) in zip(self.names, fleet, strict=True):
                if int(attempts):
                    self.adopt(name, None if latency is None else float(latency), float(error_rate), int(attempts))

    def _keep(self, batch: dict[str, list[float]]) -> None:
        """Put back the observations of a sync whose round trip failed, with those made since."""
        for name, (ok, total, bad) in batch.items():
            seen = self.pending.get(name)
            if seen is None:
                self.pending[name] = [ok, total, bad]
            else:
                seen[0] += ok
                seen[1] += total
                seen[2] += bad

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
