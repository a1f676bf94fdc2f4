"""Buckets, concurrency leases and deployment health shared by replicas through Redis.

Each admission is one Lua script: it refills every bucket the request meets, checks them and
the concurrency limits, and takes from all of them or none, so two replicas can never both
spend the last token. Levels are stored as (level, time); the time is the gateway's clock,
passed in, so replicas need synchronized clocks (NTP): a replica whose clock runs behind
refills nothing rather than going backwards.

Concurrency slots are *leases*: members of a sorted set scored by their expiry. A replica renews
the leases of its calls in flight every third of ``lease_ttl_s``; when a replica dies, its
leases lapse and the slots come back without anyone cleaning up.

All keys share the hash tag ``{costops-rl}`` so the multi-key scripts also run on Redis Cluster.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from costops.control.adaptive import Health
from costops.control.bucket import (
    ADMITTED,
    SLOT_RETRY_HINT_S,
    Bucket,
    Plan,
    Slots,
    Verdict,
    bucket_row,
    refill,
    slot_row,
)

PREFIX = "costops:{costops-rl}:"

# KEYS: bucket hashes, then slot sets. ARGV: now, #buckets, lease id, lease expiry,
# (capacity, rate, amount) per bucket, then the limit per slot set.
# Returns {0} when admitted, else {index of the refusing key (1-based), wait in seconds}.
_TAKE = """
local now, nb, lease, expires = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local levels, stamps = {}, {}
local worst, worst_wait = 0, 0
for i = 1, nb do
  local a = 4 + (i - 1) * 3
  local cap, rate, amount = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local h = redis.call('HMGET', KEYS[i], 'l', 't')
  local level, ts = tonumber(h[1]), tonumber(h[2])
  if level == nil then level, ts = cap, now end
  if now > ts then level, ts = math.min(cap, level + (now - ts) * rate), now end
  levels[i], stamps[i] = level, ts
  local need = math.min(amount, cap)
  if level < need then
    local wait = (need - level) / rate
    if wait > worst_wait then worst, worst_wait = i, wait end
  end
end
if worst > 0 then return {worst, tostring(worst_wait)} end
local base = 4 + nb * 3
for j = nb + 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[j], '-inf', now)
  if redis.call('ZCARD', KEYS[j]) >= tonumber(ARGV[base + j - nb]) then return {j, '-1'} end
end
for i = 1, nb do
  local a = 4 + (i - 1) * 3
  local cap, rate, amount = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local left = levels[i] - amount
  redis.call('HSET', KEYS[i], 'l', left, 't', stamps[i])
  redis.call('PEXPIRE', KEYS[i], math.ceil((cap - left) / rate * 1000) + 1000)
end
for j = nb + 1, #KEYS do
  redis.call('ZADD', KEYS[j], expires, lease)
  redis.call('PEXPIRE', KEYS[j], math.ceil((expires - now) * 1000) + 1000)
end
return {0}
"""

# KEYS: bucket hashes, then slot sets. ARGV: now, #buckets, lease id, (capacity, rate, extra)
# per bucket. Charges (or refunds, when negative) each bucket's extra and frees the slots.
_SETTLE = """
local now, nb, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for i = 1, nb do
  local a = 3 + (i - 1) * 3
  local cap, rate, extra = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local h = redis.call('HMGET', KEYS[i], 'l', 't')
  local level, ts = tonumber(h[1]), tonumber(h[2])
  if level == nil then level, ts = cap, now end
  if now > ts then level = math.min(cap, level + (now - ts) * rate); ts = now end
  level = math.min(cap, level - extra)
  redis.call('HSET', KEYS[i], 'l', level, 't', ts)
  redis.call('PEXPIRE', KEYS[i], math.ceil(math.max(0, cap - level) / rate * 1000) + 1000)
end
for j = nb + 1, #KEYS do redis.call('ZREM', KEYS[j], lease) end
return 0
"""

# KEYS: one deployment's health hash. ARGV: blocked_until, strikes, share, since, ttl ms.
# The later block wins, so two replicas reporting one 429 burst agree on one state.
_HEALTH = """
local stored = tonumber(redis.call('HGET', KEYS[1], 'b') or '-1')
if tonumber(ARGV[1]) > stored then
  redis.call('HSET', KEYS[1], 'b', ARGV[1], 'k', ARGV[2], 's', ARGV[3], 'n', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


class RedisBuckets:
    def __init__(self, url: str, client: Any = None) -> None:
        from costops.redis_client import async_redis

        self.url = url
        self.owned = client is None
        """False: the gateway's shared client, which the gateway closes."""
        self.client = async_redis(url) if client is None else client
        self._take = self.client.register_script(_TAKE)
        self._settle = self.client.register_script(_SETTLE)
        self._health = self.client.register_script(_HEALTH)
        self.known: dict[str, Bucket | Slots] = {}

    async def close(self) -> None:
        if self.owned:
            await self.client.aclose()

    async def ping(self) -> None:
        await self.client.ping()

    async def take(self, now: float, plan: Plan, tokens: float, lease: str, lease_ttl_s: float) -> Verdict:
        demands = plan.demands(tokens)
        keys = [PREFIX + "b:" + b.ident for b, _ in demands] + [PREFIX + "c:" + s.ident for s in plan.slots]
        args: list[str | int | float] = [repr(now), len(demands), lease, repr(now + lease_ttl_s)]
        for bucket, amount in demands:
            args += [repr(float(bucket.capacity)), repr(bucket.rate), repr(float(amount))]
        args += [s.limit for s in plan.slots]
        result = await self._take(keys=keys, args=args)
        for bucket, _ in demands:
            self.known.setdefault(bucket.ident, bucket)
        for s in plan.slots:
            self.known.setdefault(s.ident, s)
        index = int(result[0])
        if index == 0:
            return ADMITTED
        if index <= len(demands):
            bucket, amount = demands[index - 1]
            each = min(float(amount), bucket.capacity) / bucket.rate if bucket.rate > 0 else 0.0
            return Verdict(False, bucket.ident, bucket.label, bucket.scope, float(result[1]), each=each)
        s = plan.slots[index - 1 - len(demands)]
        return Verdict(False, s.ident, s.label, s.scope, SLOT_RETRY_HINT_S, slot=True)

    async def settle(self, now: float, plan: Plan, extra_tokens: float, lease: str, requests: float = 0.0) -> None:
        """As :meth:`LocalBuckets.settle <costops.control.bucket.LocalBuckets.settle>`, in one script."""
        charges = [(b, extra) for buckets, extra in ((plan.token_buckets, extra_tokens), (plan.request_buckets, requests))
                   if extra for b in buckets]
        if not charges and not plan.slots:
            return
        keys = [PREFIX + "b:" + b.ident for b, _ in charges] + [PREFIX + "c:" + s.ident for s in plan.slots]
        args: list[str | int | float] = [repr(now), len(charges), lease]
        for bucket, extra in charges:
            args += [repr(float(bucket.capacity)), repr(bucket.rate), repr(float(extra))]
        await self._settle(keys=keys, args=args)

    async def renew(self, leases: Iterable[tuple[str, tuple[Slots, ...]]], now: float, ttl_s: float) -> None:
        """Push the expiry of the calls still in flight (only leases that still exist), and of
        their sets, which would otherwise lapse with the last admission's expiry."""
        keep_ms = math.ceil(ttl_s * 1000) + 1000
        async with self.client.pipeline(transaction=False) as pipe:
            for lease, slots in leases:
                for s in slots:
                    pipe.zadd(PREFIX + "c:" + s.ident, {lease: now + ttl_s}, xx=True)
                    pipe.pexpire(PREFIX + "c:" + s.ident, keep_ms)
            await pipe.execute()

    async def status(self, now: float) -> list[dict[str, object]]:
        known = sorted(self.known.items())
        async with self.client.pipeline(transaction=False) as pipe:
            for ident, limit in known:
                if isinstance(limit, Bucket):
                    pipe.hmget(PREFIX + "b:" + ident, "l", "t")
                else:
                    pipe.zcount(PREFIX + "c:" + ident, f"({now!r}", "+inf")
            results = await pipe.execute()
        rows: list[dict[str, object]] = []
        for (_, limit), result in zip(known, results, strict=True):
            if isinstance(limit, Bucket):
                level = limit.capacity if result[0] is None else refill(float(result[0]), float(result[1]), now, limit)
                rows.append(bucket_row(limit, level))
            else:
                rows.append(slot_row(limit, int(result)))
        return rows

    # -- deployment health (adaptive backoff) --------------------------------------------------

    async def publish_health(self, deployment: str, health: Health, now: float, recovery_s: float) -> None:
        ttl_ms = math.ceil((max(health.since, now) - now + recovery_s) * 1000) + 1000
        await self._health(
            keys=[PREFIX + "h:" + deployment],
            args=[repr(health.blocked_until), health.strikes, repr(health.share), repr(health.since), ttl_ms],
        )

    async def read_health(self, deployments: list[str]) -> dict[str, Health]:
        async with self.client.pipeline(transaction=False) as pipe:
            for name in deployments:
                pipe.hmget(PREFIX + "h:" + name, "b", "k", "s", "n")
            results = await pipe.execute()
        found: dict[str, Health] = {}
        for name, (b, k, s, n) in zip(deployments, results, strict=True):
            if b is not None:
                found[name] = Health(float(b), int(k), float(s), float(n))
        return found
