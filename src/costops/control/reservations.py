"""Where budget spend and reservations live: one small protocol, an in-process implementation
here and a Redis one (shared by replicas) in :mod:`costops.control.redis_state`.

An admission *claims* from every budget that applies to the request: all of them must fit, and
then the estimate is held in all of them, or in none. A hold (reservation) is released when the
request settles with its actual cost, or when it expires (the process crashed, the call hung),
so a lost request cannot hold a budget forever. State also keeps, per budget, spend per UTC
hour (the spike detector's input) and the alert deduplication keys.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from costops.control.admission import Level
from costops.control.windows import HOUR


class StateLost(Exception):
    """The shared state answered, but not as the state this replica knew: its marker is
    ``current`` (empty: gone, the state was lost; else another replica rebuilt it)."""

    def __init__(self, current: str) -> None:
        super().__init__(f"budget state lost (epoch now {current or 'missing'})")
        self.current = current


@dataclass(frozen=True, slots=True)
class Claim:
    """One budget's part in an admission."""

    name: str
    limit: int
    """Nano-dollars; ``None``-like ``-1`` for a budget that only alerts and never refuses."""
    buckets: tuple[str, ...]
    current: str
    keep_s: int
    """How long this budget's state must outlive its last write (its window length and a margin)."""
    ceiling: int = field(default=0, init=False, repr=False, compare=False)
    """``limit``, or 2**62 for "no limit": the level's limit (:func:`level_limit`), found once."""
    single: str | None = field(default=None, init=False, repr=False, compare=False)
    """The one bucket of a calendar or fixed window (None: a rolling window's many)."""
    solo: bool = field(default=False, init=False, repr=False, compare=False)
    """``single`` is ``current``: the bucket a settle adds to holds the whole window's spend."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "ceiling", self.limit if self.limit >= 0 else 2**62)
        object.__setattr__(self, "single", self.buckets[0] if len(self.buckets) == 1 else None)
        object.__setattr__(self, "solo", self.single is not None and self.single == self.current)


class Admission(NamedTuple):
    """One reservation's outcome: a named tuple (built in C), one per request."""

    admitted: bool
    levels: tuple[Level, ...]
    refused_by: int | None = None
    """Index of the first claim that did not fit."""
    held: int = 0
    """Nanos held in every claim: the estimate, or less (never below ``least``) when the room is smaller."""


class BudgetState(Protocol):
    shared: bool

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def reserve(
        self, rid: str, claims: list[Claim], estimate: int, now: float, expires_at: float, least: int | None = None
    ) -> Admission:
        """Hold ``estimate`` in every claim when all fit; or, given ``least``, the smallest room
        left among them when that is less than ``estimate`` but at least ``least``."""
        ...
    async def settle(self, rid: str, claims: list[Claim], actual: int, now: float) -> tuple[Level, ...]: ...
    async def renew(self, holds: list[tuple[str, list[Claim], int]], expires_at: float, restore: bool = False) -> None:
        """Push the expiry of the holds of calls still in flight to ``expires_at``; with
        ``restore`` (the state was lost), put back a hold that is gone while its call still runs."""
        ...
    async def levels(self, claims: list[Claim], now: float) -> tuple[Level, ...]: ...
    async def seed(self, name: str, bucket: str, nanos: int, keep_s: int) -> bool: ...
    async def hourly(self, name: str, hours: list[int]) -> list[int]: ...
    async def prune(self, name: str, stale: list[str]) -> None: ...
    async def buckets(self, name: str) -> list[str]: ...
    async def once(self, key: str, ttl_s: int) -> bool: ...
    async def definitions(self) -> dict[str, bytes]: ...
    async def define(self, name: str, raw: bytes) -> None: ...


new_level = tuple.__new__
new_admission = tuple.__new__
"""``new_admission(Admission, (admitted, levels, refused_by, held))``: likewise for an Admission."""
"""``new_level(Level, (spent, reserved, limit))``: a Level built in C, where ``Level(...)`` runs the
named tuple's ``__new__`` in bytecode (four per request on the reserve and settle path)."""


_COMPACT_MIN = 4096
"""Heap entries below which :meth:`MemoryState._compact` never runs."""


def level_limit(claim: Claim) -> int:
    return claim.limit if claim.limit >= 0 else 2**62


class MemoryState:
    """One process's state. Each operation runs without an ``await`` inside, so on the event loop
    it is atomic: no other request can read between the check and the hold."""

    shared = False

    def __init__(self) -> None:
        self.spent: dict[str, dict[str, int]] = defaultdict(dict)
        self.reserved: dict[str, int] = defaultdict(int)
        self.holds: dict[str, tuple[int, list[Claim], float]] = {}
        """Per request id: the nanos it holds, the claims (budgets) it holds them in, and when it
        expires (its latest renewal: an older entry of the heap is skipped)."""
        self._expiry: list[tuple[float, str]] = []
        """(expires at, request id) per hold and renewal, a heap. A settled hold leaves its entry
        behind (taking it out of a heap costs O(n)): :meth:`_compact` drops them."""
        self._compact_at = _COMPACT_MIN
        self.hours: dict[str, dict[int, int]] = defaultdict(dict)
        self._once: dict[str, float] = {}
        self._defs: dict[str, bytes] = {}
        self._totals: dict[str, tuple[tuple[str, ...], frozenset[str], int]] = {}
        """Per budget, the spend summed over a many-bucket (rolling) window's buckets: kept up to
        date by settle and seed, dropped by prune, recomputed when the window's buckets change."""

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _purge(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] <= now:
            at, rid = heapq.heappop(self._expiry)
            hold = self.holds.get(rid)
            if hold is not None and hold[2] == at:
                self._release(rid)

    def _compact(self) -> None:
        """The heap rebuilt from the holds still held, at their latest expiry: the entries of
        settled holds and superseded renewals gone (else a busy gateway keeps every request id of
        the last ``reservation_ttl_s``: ~1.8 million at 3,000 requests a second). Run when the heap
        has doubled since (amortized O(1) per reservation); :meth:`_purge` then releases exactly
        the holds it released before."""
        self._expiry = [(at, rid) for rid, (_, _, at) in self.holds.items()]
        heapq.heapify(self._expiry)
        self._compact_at = 2 * len(self._expiry) + _COMPACT_MIN

    def _release(self, rid: str) -> None:
        hold = self.holds.pop(rid, None)
        if hold is not None:
            held, claims, _ = hold
            reserved = self.reserved
            for c in claims:
                reserved[c.name] -= held

    def _level(self, claim: Claim) -> Level:
        return Level(self._spent(claim.name, claim.buckets), self.reserved[claim.name], claim.ceiling)

    def _spent(self, name: str, buckets: tuple[str, ...]) -> int:
        if len(buckets) == 1:  # a calendar or fixed window is one bucket: read it
            return self.spent[name].get(buckets[0], 0)
        # a rolling window of 24 x N hourly buckets: their running total while they are the same
        memo = self._totals.get(name)
        if memo is not None and (memo[0] is buckets or memo[0] == buckets):
            return memo[2]
        spent = self.spent[name]
        total = sum(spent.get(b, 0) for b in buckets)
        self._totals[name] = (buckets, frozenset(buckets), total)
        return total

    def _add(self, name: str, bucket: str, nanos: int) -> None:
        spent = self.spent[name]
        spent[bucket] = spent.get(bucket, 0) + nanos
        memo = self._totals.get(name)
        if memo is not None and bucket in memo[1]:
            self._totals[name] = (memo[0], memo[1], memo[2] + nanos)

    async def reserve(
        self, rid: str, claims: list[Claim], estimate: int, now: float, expires_at: float, least: int | None = None
    ) -> Admission:
        return self.reserve_now(rid, claims, estimate, now, expires_at, least)

    def reserve_now(
        self, rid: str, claims: list[Claim], estimate: int, now: float, expires_at: float, least: int | None = None
    ) -> Admission:
        """:meth:`reserve` without the coroutine: the budgets stage calls it directly."""
        expiry = self._expiry
        if expiry and expiry[0][0] <= now:
            self._purge(now)
        if least is None:
            least = estimate
        # one pass: read each claim's spend and holds once, check it fits (fits(), inlined), find
        # the room; when the hold is the estimate (least == estimate), hold it there and then
        # (taken back from the claims before, should a later one not fit) and make its level
        reserved, spent = self.reserved, self.spent
        fixed = estimate == least
        add = estimate if fixed and estimate > 0 else 0
        levels: list[Level] = []
        room = estimate
        for c in claims:
            name = c.name
            bucket = c.single
            total = spent[name].get(bucket, 0) if bucket is not None else self._spent(name, c.buckets)
            held_now = reserved[name]
            limit = c.ceiling
            committed = total + held_now
            if committed >= limit or committed + least > limit:
                if add:
                    for taken in claims[: len(levels)]:
                        reserved[taken.name] -= add
                return Admission(False, tuple([self._level(c) for c in claims]), len(levels))
            if limit - committed < room:
                room = limit - committed
            if add:
                held_now += add
                reserved[name] = held_now
            levels.append(new_level(Level, (total, held_now, limit)))
        if fixed:
            held = estimate
        else:  # costops sets the cap: as much as the smallest room pays for, never below least
            held = max(least, room)
            if held > 0:
                levels = [new_level(Level, (t, r + held, lim)) for t, r, lim in levels]
                for c in claims:
                    reserved[c.name] += held
        if held <= 0:
            return new_admission(Admission, (True, tuple(levels), None, held))
        self.holds[rid] = (held, claims, expires_at)
        heapq.heappush(expiry, (expires_at, rid))
        if len(expiry) > self._compact_at:
            self._compact()
        return new_admission(Admission, (True, tuple(levels), None, held))

    async def settle(self, rid: str, claims: list[Claim], actual: int, now: float) -> tuple[Level, ...]:
        return self.settle_now(rid, claims, actual, now)

    def settle_now(self, rid: str, claims: list[Claim], actual: int, now: float) -> tuple[Level, ...]:
        """:meth:`settle` without the coroutine: the budgets stage calls it directly."""
        hold = self.holds.pop(rid, None)  # _release(), inlined: a hold that already expired is simply gone
        reserved = self.reserved
        release = 0  # the hold, released in the pass below when it was made in these very claims
        if hold is not None:
            if hold[1] is claims:
                release = hold[0]
            else:
                held = hold[0]
                for c in hold[1]:
                    reserved[c.name] -= held
        expiry = self._expiry
        if expiry and expiry[0][0] <= now:
            self._purge(now)
        # one pass: add the spend to each claim's current bucket and hour, read its level after
        spent = self.spent
        levels = []
        if actual:
            hours_of = self.hours
            hour = int(now // HOUR)
            for c in claims:
                name = c.name
                by_bucket = spent[name]
                current = c.current
                total = by_bucket.get(current, 0) + actual  # _add(), inlined
                by_bucket[current] = total
                if not c.solo:  # that bucket is not the whole window's spend
                    bucket = c.single
                    if bucket is None:  # only a rolling window's hourly buckets have a running total
                        memo = self._totals.get(name)
                        if memo is not None and current in memo[1]:
                            self._totals[name] = (memo[0], memo[1], memo[2] + actual)
                        total = self._spent(name, c.buckets)
                    else:
                        total = by_bucket.get(bucket, 0)
                hours = hours_of[name]
                hours[hour] = hours.get(hour, 0) + actual
                held_now = reserved[name] - release
                if release:
                    reserved[name] = held_now
                levels.append(new_level(Level, (total, held_now, c.ceiling)))
        else:
            for c in claims:
                name = c.name
                bucket = c.single
                total = spent[name].get(bucket, 0) if bucket is not None else self._spent(name, c.buckets)
                held_now = reserved[name] - release
                if release:
                    reserved[name] = held_now
                levels.append(new_level(Level, (total, held_now, c.ceiling)))
        return tuple(levels)

    async def renew(self, holds: list[tuple[str, list[Claim], int]], expires_at: float, restore: bool = False) -> None:
        mine = self.holds
        for rid, claims, held in holds:
            hold = mine.get(rid)
            if hold is None:
                if not restore:
                    continue
                for c in claims:
                    self.reserved[c.name] += held
                mine[rid] = (held, claims, expires_at)
            else:
                mine[rid] = (hold[0], hold[1], expires_at)
            heapq.heappush(self._expiry, (expires_at, rid))

    async def levels(self, claims: list[Claim], now: float) -> tuple[Level, ...]:
        self._purge(now)
        return tuple(self._level(c) for c in claims)

    async def seed(self, name: str, bucket: str, nanos: int, keep_s: int) -> bool:
        self._add(name, bucket, nanos)
        return True

    async def hourly(self, name: str, hours: list[int]) -> list[int]:
        mine = self.hours[name]
        return [mine.get(h, 0) for h in hours]

    async def prune(self, name: str, stale: list[str]) -> None:
        self._totals.pop(name, None)
        for bucket in stale:
            self.spent[name].pop(bucket, None)
        cutoff = max(self.hours[name], default=0) - 24 * 8
        for hour in [h for h in self.hours[name] if h < cutoff]:
            del self.hours[name][hour]

    async def buckets(self, name: str) -> list[str]:
        return list(self.spent[name])

    async def once(self, key: str, ttl_s: int) -> bool:
        import time

        now = time.monotonic()
        if self._once.get(key, 0) > now:
            return False
        if len(self._once) > 10_000:
            self._once = {k: t for k, t in self._once.items() if t > now}
        self._once[key] = now + ttl_s
        return True

    async def definitions(self) -> dict[str, bytes]:
        return dict(self._defs)

    async def define(self, name: str, raw: bytes) -> None:
        self._defs[name] = raw
