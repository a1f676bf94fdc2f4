"""Budget state shared by gateway replicas through Redis: one Lua script per admission.

The reserve script checks *every* applicable budget's ``spent + reserved + estimate <= limit``
and holds the estimate in all of them inside one script, which Redis runs atomically: no
replica can read between another's check and its hold, so concurrency can never overspend.

Layout, per budget (all keys share the ``{prefix}`` hash tag, so they live in one Redis Cluster
slot and one script may touch several budgets):

    {prefix}:b:<name>   hash  s:<bucket> -> spent nanos,  p:<utc hour> -> spent nanos (spikes),
                              r -> nanos held,  x:<reservation> -> nanos held by it
    {prefix}:e:<name>   zset  reservation -> expiry (Unix seconds)
    {prefix}:once:<key> string, alert deduplication (SET NX EX)
    {prefix}:defs       hash  budget name -> JSON definition from the admin API
    {prefix}:epoch      string, the marker: which incarnation of the state this is
    {prefix}:rebuild    string, held (SET NX EX) by the replica rebuilding a lost state

The marker is how a replica notices that Redis lost its state (a restart without persistence, a
flush, a failover to an empty replica): every reserve, settle and renew names the epoch the
replica knows, and the script does nothing and answers "lost" when the marker is gone or
different. :mod:`costops.control.recovery` then rebuilds the windows from the ledger.

Money is integer nano-dollars; Lua's numbers are doubles, exact up to 2**53 nanos ($9M) per
budget window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from costops.control.admission import Level
from costops.control.reservations import Admission, Claim, StateLost, level_limit
from costops.control.windows import HOUR

_ALIVE = """
if redis.call('GET', KEYS[#KEYS]) ~= ARGV[#ARGV] then return {-1, redis.call('GET', KEYS[#KEYS]) or ''} end
"""
_PURGE = """
local function purge(b, e, now)
  local dead = redis.call('ZRANGEBYSCORE', e, '-inf', now)
  for _, id in ipairs(dead) do
    local amt = redis.call('HGET', b, 'x:' .. id)
    if amt then
      redis.call('HDEL', b, 'x:' .. id)
      redis.call('HINCRBY', b, 'r', -tonumber(amt))
    end
    redis.call('ZREM', e, id)
  end
end
local function spent(b, first, nb)
  if nb == 0 then return 0 end
  local fields = {}
  for j = 1, nb do fields[j] = 's:' .. ARGV[first + j - 1] end
  local vals = redis.call('HMGET', b, unpack(fields))
  local total = 0
  for j = 1, nb do if vals[j] then total = total + tonumber(vals[j]) end end
  return total
end
"""

# KEYS: b1, e1, b2, e2...  ARGV: now, expires_at, rid, estimate, n, least, then per budget:
# limit, keep_s, nbuckets, bucket...  Holds min(estimate, the smallest room) when that is >= least.
RESERVE = _ALIVE + _PURGE + """
local now, exp_at, rid, est, n = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local least = tonumber(ARGV[6])
local idx, out, refused, grant = 7, {}, 0, est
local again = redis.call('HGET', KEYS[1], 'x:' .. rid)
if again then grant, least = tonumber(again), tonumber(again) end  -- a retried reserve: the same hold
local keep = {}
for i = 1, n do
  local b, e = KEYS[2 * i - 1], KEYS[2 * i]
  purge(b, e, now)
  local limit, nb = tonumber(ARGV[idx]), tonumber(ARGV[idx + 2])
  keep[i] = ARGV[idx + 1]
  local s = spent(b, idx + 3, nb)
  idx = idx + 3 + nb
  local r = tonumber(redis.call('HGET', b, 'r') or '0')
  out[3 * i - 2], out[3 * i - 1], out[3 * i] = s, r, limit
  if refused == 0 and not (s + r < limit and s + r + least <= limit) then refused = i end
  if limit - s - r < grant then grant = limit - s - r end
end
if grant < least then grant = least end
if refused == 0 and grant > 0 and not again then
  for i = 1, n do
    local b, e = KEYS[2 * i - 1], KEYS[2 * i]
    redis.call('HSET', b, 'x:' .. rid, grant)
    redis.call('HINCRBY', b, 'r', grant)
    redis.call('ZADD', e, exp_at, rid)
    redis.call('EXPIRE', b, keep[i])
    redis.call('EXPIRE', e, keep[i])
    out[3 * i - 1] = out[3 * i - 1] + grant
  end
end
table.insert(out, 1, refused == 0 and grant or 0)
table.insert(out, 1, refused)
return out
"""

# KEYS: b1, e1..., done, epoch  ARGV: now, rid, actual, hour, n, then per budget: keep_s, current,
# nbuckets, bucket..., epoch. ``done`` (2 min) makes a retried settle (its reply lost) count once.
SETTLE = _ALIVE + _PURGE + """
local now, rid, actual, hour, n = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local idx, out = 6, {}
if not redis.call('SET', KEYS[#KEYS - 1], 1, 'NX', 'EX', 120) then actual = 0 end  -- settled already: a retry
for i = 1, n do
  local b, e = KEYS[2 * i - 1], KEYS[2 * i]
  local amt = redis.call('HGET', b, 'x:' .. rid)
  if amt then
    redis.call('HDEL', b, 'x:' .. rid)
    redis.call('HINCRBY', b, 'r', -tonumber(amt))
  end
  redis.call('ZREM', e, rid)
  purge(b, e, now)
  local keep, current, nb = ARGV[idx], ARGV[idx + 1], tonumber(ARGV[idx + 2])
  redis.call('HSETNX', b, 'seeded:' .. current, 1)
  if actual > 0 then
    redis.call('HINCRBY', b, 's:' .. current, actual)
    redis.call('HINCRBY', b, 'p:' .. hour, actual)
  end
  redis.call('EXPIRE', b, keep)
  out[2 * i - 1] = spent(b, idx + 3, nb)
  out[2 * i] = tonumber(redis.call('HGET', b, 'r') or '0')
  idx = idx + 3 + nb
end
return out
"""

# KEYS: b1, e1...  ARGV: now, n, then per budget: nbuckets, bucket...
LEVELS = _PURGE + """
local now, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local idx, out = 3, {}
for i = 1, n do
  local b, e = KEYS[2 * i - 1], KEYS[2 * i]
  purge(b, e, now)
  local nb = tonumber(ARGV[idx])
  out[2 * i - 1] = spent(b, idx + 1, nb)
  out[2 * i] = tonumber(redis.call('HGET', b, 'r') or '0')
  idx = idx + 1 + nb
end
return out
"""

# KEYS: b1, e1...  ARGV: expires_at, restore, n, then per hold: rid, held, nclaims, keep_s...  (the
# claims' keys in KEYS, in order): a hold still in flight gets its expiry pushed; one that is gone
# is put back only with ``restore`` (state lost), else it was settled meanwhile and stays gone.
RENEW = _ALIVE + """
local exp_at, restore, n = ARGV[1], ARGV[2] == '1', tonumber(ARGV[3])
local idx, k = 4, 1
for i = 1, n do
  local rid, held, nc = ARGV[idx], tonumber(ARGV[idx + 1]), tonumber(ARGV[idx + 2])
  for j = 1, nc do
    local b, e, keep = KEYS[k], KEYS[k + 1], ARGV[idx + 2 + j]
    local present = redis.call('HGET', b, 'x:' .. rid)
    if restore and not present then
      redis.call('HSET', b, 'x:' .. rid, held)
      redis.call('HINCRBY', b, 'r', held)
      present = held
    end
    if present then redis.call('ZADD', e, exp_at, rid) end
    redis.call('EXPIRE', b, keep)
    redis.call('EXPIRE', e, keep)
    k = k + 2
  end
  idx = idx + 3 + nc
end
return n
"""

# KEYS: b, epoch  ARGV: n, then bucket, nanos... , keep_s, epoch: a window rebuilt from the ledger
# after the state was lost: its buckets set (not added to) and marked as known.
REBUILD = """
local n = tonumber(ARGV[1])
for i = 1, n do
  redis.call('HSET', KEYS[1], 's:' .. ARGV[2 * i], ARGV[2 * i + 1], 'seeded:' .. ARGV[2 * i], 1)
end
redis.call('EXPIRE', KEYS[1], ARGV[2 * n + 2])
return n
"""

# KEYS: b  ARGV: bucket, nanos, keep_s: add the ledger's spend to a bucket Redis knows nothing of
# (fresh or lost Redis). Any settle marks its bucket as known, so a replica starting mid-window
# never adds the ledger's spend on top of what running replicas already counted.
SEED = """
if redis.call('HSETNX', KEYS[1], 'seeded:' .. ARGV[1], 1) == 1 then
  if tonumber(ARGV[2]) > 0 then redis.call('HINCRBY', KEYS[1], 's:' .. ARGV[1], ARGV[2]) end
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""


class RedisState:
    shared = True

    def __init__(self, url: str, prefix: str = "costops", *, client: Callable[[], Any] | None = None) -> None:
        self.url, self.prefix = url, prefix
        self.redis: Any = None
        self._client = client
        """The gateway's shared client (it closes it); None: this state opens and closes its own."""
        self.epoch: str | None = None
        """The incarnation of the state this replica counts in; None until joined."""

    @property
    def _marker(self) -> str:
        return f"{{{self.prefix}}}:epoch"

    async def join(self) -> bool:
        """Learn the state's epoch, creating it when there is none (a fresh Redis): True when this
        call created it, so the caller must load every window from the ledger."""
        import uuid

        created = bool(await self.redis.set(self._marker, uuid.uuid4().hex, nx=True))
        raw = await self.redis.get(self._marker)
        self.epoch = raw.decode() if raw else None
        return created

    async def _epoch(self) -> str:
        if self.epoch is None:
            await self.join()
        if self.epoch is None:
            raise StateLost("")
        return self.epoch

    @staticmethod
    def _check(out: Any) -> None:
        if isinstance(out, list) and out and out[0] == -1:
            raise StateLost(out[1].decode() if isinstance(out[1], bytes) else str(out[1]))

    async def rebuild_lock(self, ttl_s: int = 30) -> bool:
        return bool(await self.redis.set(f"{{{self.prefix}}}:rebuild", 1, nx=True, ex=ttl_s))

    async def rebuild(self, windows: list[tuple[str, dict[str, int], int]]) -> str:
        """Write each budget's buckets as the ledger has them, then a new epoch (released lock)."""
        import uuid

        for name, buckets, keep_s in windows:
            args: list[Any] = [len(buckets)]
            for bucket, nanos in buckets.items():
                args += [bucket, nanos]
            await self._rebuild(keys=[self._b(name), self._marker], args=[*args, keep_s])
        epoch = uuid.uuid4().hex
        await self.redis.set(self._marker, epoch)
        await self.redis.delete(f"{{{self.prefix}}}:rebuild")
        self.epoch = epoch
        return epoch

    async def current_epoch(self) -> str:
        raw = await self.redis.get(self._marker)
        return raw.decode() if raw else ""

    def _b(self, name: str) -> str:
        return f"{{{self.prefix}}}:b:{name}"

    def _e(self, name: str) -> str:
        return f"{{{self.prefix}}}:e:{name}"

    def _keys(self, claims: list[Claim]) -> list[str]:
        return [k for c in claims for k in (self._b(c.name), self._e(c.name))]

    async def start(self) -> None:
        from costops.redis_client import async_redis

        self.redis = self._client() if self._client is not None else async_redis(self.url)
        self._reserve = self.redis.register_script(RESERVE)
        self._settle = self.redis.register_script(SETTLE)
        self._levels = self.redis.register_script(LEVELS)
        self._seed = self.redis.register_script(SEED)
        self._renew = self.redis.register_script(RENEW)
        self._rebuild = self.redis.register_script(REBUILD)

    async def close(self) -> None:
        if self.redis is not None and self._client is None:
            await self.redis.aclose()

    async def reserve(
        self, rid: str, claims: list[Claim], estimate: int, now: float, expires_at: float, least: int | None = None
    ) -> Admission:
        least = estimate if least is None else least
        args: list[Any] = [repr(now), repr(expires_at), rid, estimate, len(claims), least]
        for c in claims:
            args += [level_limit(c), c.keep_s, len(c.buckets), *c.buckets]
        epoch = await self._epoch()
        out = await self._reserve(keys=[*self._keys(claims), self._marker], args=[*args, epoch])
        self._check(out)
        refused = int(out[0])
        levels = tuple(Level(int(out[2 + 3 * i]), int(out[3 + 3 * i]), int(out[4 + 3 * i])) for i in range(len(claims)))
        return Admission(refused == 0, levels, refused - 1 if refused else None, int(out[1]))

    async def settle(self, rid: str, claims: list[Claim], actual: int, now: float) -> tuple[Level, ...]:
        args: list[Any] = [repr(now), rid, actual, int(now // HOUR), len(claims)]
        for c in claims:
            args += [c.keep_s, c.current, len(c.buckets), *c.buckets]
        epoch = await self._epoch()
        done = f"{{{self.prefix}}}:done:{rid}"
        out = await self._settle(keys=[*self._keys(claims), done, self._marker], args=[*args, epoch])
        self._check(out)
        return tuple(Level(int(out[2 * i]), int(out[2 * i + 1]), level_limit(c)) for i, c in enumerate(claims))

    async def renew(self, holds: list[tuple[str, list[Claim], int]], expires_at: float, restore: bool = False) -> None:
        for start in range(0, len(holds), 200):  # one script per 200 holds: no long stall of Redis
            part = holds[start:start + 200]
            keys: list[str] = []
            args: list[Any] = [repr(expires_at), int(restore), len(part)]
            for rid, claims, held in part:
                keys += self._keys(claims)
                args += [rid, held, len(claims), *(c.keep_s for c in claims)]
            epoch = await self._epoch()
            self._check(await self._renew(keys=[*keys, self._marker], args=[*args, epoch]))

    async def levels(self, claims: list[Claim], now: float) -> tuple[Level, ...]:
        args: list[Any] = [repr(now), len(claims)]
        for c in claims:
            args += [len(c.buckets), *c.buckets]
        out = await self._levels(keys=self._keys(claims), args=args)
        return tuple(Level(int(out[2 * i]), int(out[2 * i + 1]), level_limit(c)) for i, c in enumerate(claims))

    async def seed(self, name: str, bucket: str, nanos: int, keep_s: int) -> bool:
        return bool(await self._seed(keys=[self._b(name)], args=[bucket, nanos, keep_s]))

    async def hourly(self, name: str, hours: list[int]) -> list[int]:
        values = await self.redis.hmget(self._b(name), [f"p:{h}" for h in hours])
        return [int(v) if v else 0 for v in values]

    async def buckets(self, name: str) -> list[str]:
        fields = await self.redis.hkeys(self._b(name))
        return [f.decode()[2:] for f in fields if f.startswith(b"s:")]

    async def prune(self, name: str, stale: list[str]) -> None:
        fields = await self.redis.hkeys(self._b(name))
        newest = max((int(f[2:]) for f in fields if f.startswith(b"p:")), default=0)
        drop = [f"s:{b}" for b in stale] + [f"seeded:{b}" for b in stale]
        drop += [f.decode() for f in fields if f.startswith(b"p:") and int(f[2:]) < newest - 24 * 8]
        if drop:
            await self.redis.hdel(self._b(name), *drop)

    async def once(self, key: str, ttl_s: int) -> bool:
        return bool(await self.redis.set(f"{{{self.prefix}}}:once:{key}", 1, nx=True, ex=max(1, int(ttl_s))))

    async def definitions(self) -> dict[str, bytes]:
        raw = await self.redis.hgetall(f"{{{self.prefix}}}:defs")
        return {k.decode(): v for k, v in raw.items()}

    async def define(self, name: str, raw: bytes) -> None:
        await self.redis.hset(f"{{{self.prefix}}}:defs", name, raw)
