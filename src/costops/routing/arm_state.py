"""Where a bandit keeps what it has learned: in this process, or in Redis for every replica.

Both keep the same two things: per (task, arm) the sufficient statistics of :class:`ArmStats`,
and per request (for ``feedback_window_s``) the task, the arm and the quality currently counted
for it, so that feedback replaces an automatic check's verdict (or an earlier score) instead of
counting twice, and a score that arrives before the call was settled is not lost.

Redis layout (one hash tag, so both keys of a script live in one Cluster slot)::

    {prefix}:stats      hash  <task>\\x1f<arm>\\x1f<n|s|q|f|c|k> -> quality count, sum, sum of
                              squares, fractional count; calls, cost nanos (never expires)
    {prefix}:r:<id>     hash  t, a, q: the request's task, arm and counted quality (expires)

In process, what is learned survives a restart because the gateway rebuilds it from the ledger
and the feedback table at start (:func:`stats_from_rows`); in Redis it survives as Redis does.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from costops.routing.bandit import ArmStats

Snapshot = dict[str, dict[str, ArmStats]]
"""task -> arm -> statistics."""
SEP = "\x1f"
RECENT = 100_000
FIELDS = {"n": "n", "s": "total", "q": "squares", "f": "fractional", "c": "calls", "k": "cost_nanos"}


class ArmState(Protocol):
    async def observe(self, request_id: str, task: str, arm: str, cost_nanos: int, quality: float | None) -> None:
        """A settled call: its cost, and its automatic quality unless a score already counts."""

    async def rescore(self, request_id: str, score: float, hint: tuple[str, str] | None) -> bool:
        """Feedback: the score replaces what counted for the request. ``hint`` (task, arm) names
        the request when the state may not know it yet. False: not a call of this bandit."""

    async def load(self) -> Snapshot: ...

    async def close(self) -> None: ...


def _stats(snapshot: Snapshot, task: str, arm: str) -> ArmStats:
    return snapshot.setdefault(task, {}).setdefault(arm, ArmStats())


def apply_observation(snapshot: Snapshot, task: str, arm: str, cost_nanos: int, quality: float | None) -> None:
    s = _stats(snapshot, task, arm)
    s.calls += 1
    s.cost_nanos += cost_nanos
    if quality is not None:
        s.add_quality(quality)


class MemoryArmState:
    """One process's state; the snapshot the bandit samples from is this very object."""

    def __init__(self, snapshot: Snapshot | None = None, recent: int = RECENT) -> None:
        self.snapshot: Snapshot = snapshot if snapshot is not None else {}
        self.recent = recent
        self._requests: OrderedDict[str, list[Any]] = OrderedDict()

    def remember(self, request_id: str, entry: list[Any]) -> None:
        self._requests[request_id] = entry
        if len(self._requests) > self.recent:
            self._requests.popitem(last=False)

    async def observe(self, request_id: str, task: str, arm: str, cost_nanos: int, quality: float | None) -> None:
        entry = self._requests.get(request_id)
        counted = entry[2] if entry is not None else None
        apply_observation(self.snapshot, task, arm, cost_nanos, quality if counted is None else None)
        self.remember(request_id, [task, arm, quality if counted is None else counted])

    async def rescore(self, request_id: str, score: float, hint: tuple[str, str] | None) -> bool:
        entry = self._requests.get(request_id)
        if entry is None:
            if hint is None:
                return False
            entry = [hint[0], hint[1], None]
            self.remember(request_id, entry)
        s = _stats(self.snapshot, entry[0], entry[1])
        if entry[2] is not None:
            s.add_quality(entry[2], -1)
        s.add_quality(score)
        entry[2] = score
        return True

    async def load(self) -> Snapshot:
        return self.snapshot

    async def close(self) -> None: ...


_ADD = """
local function add(h, base, q, sign)
  redis.call('HINCRBY', h, base .. 'n', sign)
  redis.call('HINCRBYFLOAT', h, base .. 's', sign * q)
  redis.call('HINCRBYFLOAT', h, base .. 'q', sign * q * q)
  if q > 0 and q < 1 then redis.call('HINCRBY', h, base .. 'f', sign) end
end
"""
# KEYS: stats, request.  ARGV: task, arm, cost nanos, quality ('' none), ttl
OBSERVE = _ADD + """
local base = ARGV[1] .. '\\31' .. ARGV[2] .. '\\31'
redis.call('HINCRBY', KEYS[1], base .. 'c', 1)
redis.call('HINCRBY', KEYS[1], base .. 'k', ARGV[3])
if not redis.call('HGET', KEYS[2], 'q') and ARGV[4] ~= '' then
  add(KEYS[1], base, tonumber(ARGV[4]), 1)
  redis.call('HSET', KEYS[2], 'q', ARGV[4])
end
redis.call('HSET', KEYS[2], 't', ARGV[1], 'a', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return 1
"""
# KEYS: stats, request.  ARGV: score, task hint ('' none), arm hint, ttl
RESCORE = _ADD + """
local found = redis.call('HMGET', KEYS[2], 't', 'a', 'q')
local t, a, old = found[1], found[2], found[3]
if not t then
  if ARGV[2] == '' then return 0 end
  t, a = ARGV[2], ARGV[3]
  redis.call('HSET', KEYS[2], 't', t, 'a', a)
end
local base = t .. '\\31' .. a .. '\\31'
if old then add(KEYS[1], base, tonumber(old), -1) end
add(KEYS[1], base, tonumber(ARGV[1]), 1)
redis.call('HSET', KEYS[2], 'q', ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""


class RedisArmState:
    """The state every replica shares; each script runs atomically in Redis."""

    def __init__(self, client: Any, prefix: str, feedback_window_s: int = 7 * 86400) -> None:
        self.client, self.window = client, int(feedback_window_s)
        self.stats_key = f"{{{prefix}}}:stats"
        self.request_prefix = f"{{{prefix}}}:r:"
        self._observe = client.register_script(OBSERVE)
        self._rescore = client.register_script(RESCORE)

    async def observe(self, request_id: str, task: str, arm: str, cost_nanos: int, quality: float | None) -> None:
        await self._observe(
            keys=[self.stats_key, self.request_prefix + request_id],
            args=[task, arm, int(cost_nanos), "" if quality is None else repr(float(quality)), self.window],
        )

    async def rescore(self, request_id: str, score: float, hint: tuple[str, str] | None) -> bool:
        task, arm = hint or ("", "")
        found = await self._rescore(
            keys=[self.stats_key, self.request_prefix + request_id], args=[repr(float(score)), task, arm, self.window]
        )
        return bool(found)

    async def load(self) -> Snapshot:
        return parse_hash(await self.client.hgetall(self.stats_key))

    async def close(self) -> None: ...


def parse_hash(raw: Mapping[Any, Any]) -> Snapshot:
    snapshot: Snapshot = {}
    for name, value in raw.items():
        name = name.decode() if isinstance(name, bytes) else str(name)
        value = value.decode() if isinstance(value, bytes) else str(value)
        task, arm, kind = name.rsplit(SEP, 2) if name.count(SEP) >= 2 else ("", "", "")
        attribute = FIELDS.get(kind)
        if attribute is None:
            continue
        s = _stats(snapshot, task, arm)
        setattr(s, attribute, float(value) if attribute in ("total", "squares") else int(float(value)))
    return snapshot


def stats_from_rows(rows: Iterable[Mapping[str, Any]]) -> Snapshot:
    """A bandit's statistics rebuilt from the ledger's per-arm aggregates (:mod:`costops.ledger.arms`)."""
    snapshot: Snapshot = {}
    for row in rows:
        s = _stats(snapshot, row["task"] or "default", row["arm"])
        s.calls += int(row["answered"])
        s.cost_nanos += int(row["answered_cost_nanos"])
        s.n += int(row["quality_n"])
        s.total += float(row["quality_sum"])
        s.squares += float(row["quality_squares"])
        s.fractional += int(row["quality_fractional"])
    return snapshot
