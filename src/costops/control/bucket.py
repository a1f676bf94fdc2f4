"""Token buckets and concurrency slots: the pure math, and the in-process store that applies it.

A bucket holds up to ``capacity`` units and refills continuously at ``rate`` units per second,
so a limit of 60 requests per minute admits a burst of 60 and then one a second. Admission is
*all or nothing* over every limit that applies to a request: a request refused by its tenant's
bucket must not have spent a token of its key's bucket, or a refused client would drain its own
quota by retrying.

A request that needs more than a bucket can ever hold (a prompt estimated above a whole
tokens-per-minute limit) waits for a *full* bucket and then takes it all, leaving the level
negative: the debt is paid back by refill before anyone else gets in. Refusing it forever would
be a limit nobody can meet; letting it through for free would be no limit. Settling against the
actual usage after the call may also push a level below zero, for the same reason.

The Redis store (:mod:`costops.control.bucket_redis`) runs the same rules in one Lua script.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SLOT_RETRY_HINT_S = 1.0
"""What ``retry-after`` says when only a concurrency limit is full: a slot frees when some call
ends, which nobody can predict; one second is a polite guess."""


@dataclass(frozen=True, slots=True)
class Bucket:
    ident: str
    """Stable name, also the Redis key's suffix: ``tenant:acme:rpm``."""
    label: str
    """What a person reads in the 429: ``tenant acme: 60 requests per minute``."""
    capacity: float
    rate: float
    """Units per second."""
    scope: str = ""


@dataclass(frozen=True, slots=True)
class Slots:
    ident: str
    label: str
    limit: int
    scope: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    """Every limit one request meets, resolved for its key, model and deployment."""

    request_buckets: tuple[Bucket, ...] = ()
    """Take one unit each."""
    token_buckets: tuple[Bucket, ...] = ()
    """Take the request's estimated tokens each; settled against the actual tokens after."""
    slots: tuple[Slots, ...] = ()
    shape: tuple[tuple[Bucket, bool], ...] = field(default=(), init=False, repr=False, compare=False)
    """Every bucket once, request buckets first, with whether it takes tokens (else one unit):
    built with the plan, which is memoized, so a request does not rebuild it."""
    idents: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)
    """Every limit's ident (buckets, then slots): the lines a queued request waits in."""
    token_rows: tuple[tuple[str, float, float], ...] = field(default=(), init=False, repr=False, compare=False)
    """(ident, capacity, rate) of the token buckets: what a settle charges the tokens' difference to."""
    token_takes: tuple[tuple[str, float, float, Bucket], ...] = field(default=(), init=False, repr=False, compare=False)
    """(ident, capacity, rate, the bucket) of the token buckets: what the in-process take reads."""
    request_rows: tuple[tuple[str, float, float, float, Bucket], ...] = field(
        default=(), init=False, repr=False, compare=False)
    """(ident, capacity, rate, the units a take waits for: min(1, capacity), the bucket) of the
    request buckets: what the in-process take reads, and what a settle charges when an attempt
    that never ran gives its unit back."""
    buckets: dict[str, Bucket] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Every bucket by ident (the last of two with one ident, as the status lists them)."""

    def __post_init__(self) -> None:
        shape = tuple((b, False) for b in self.request_buckets) + tuple((b, True) for b in self.token_buckets)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "idents", tuple(b.ident for b, _ in shape) + tuple(s.ident for s in self.slots))
        object.__setattr__(self, "token_rows", tuple((b.ident, b.capacity, b.rate) for b in self.token_buckets))
        object.__setattr__(self, "token_takes", tuple((b.ident, b.capacity, b.rate, b) for b in self.token_buckets))
        object.__setattr__(self, "request_rows", tuple(
            (b.ident, b.capacity, b.rate, 1.0 if 1.0 < b.capacity else b.capacity, b) for b in self.request_buckets))
        object.__setattr__(self, "buckets", {b.ident: b for b, _ in shape})

    def demands(self, tokens: float) -> list[tuple[Bucket, float]]:
        return [(b, tokens if is_tokens else 1.0) for b, is_tokens in self.shape]


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    ident: str = ""
    """The limit that refused (the longest wait), empty when admitted."""
    label: str = ""
    scope: str = ""
    wait: float = 0.0
    """Seconds until the refusing bucket holds enough; for a full slot limit, a hint."""
    slot: bool = False
    """Refused by a concurrency limit: a release, not time, will free it."""
    each: float = 0.0
    """Seconds the refusing bucket takes to refill one such request: how fast a line behind it moves."""


ADMITTED = Verdict(True)


def refill(level: float, ts: float, now: float, bucket: Bucket) -> float:
    """The level at ``now``; a clock that went backwards (another replica's) refills nothing."""
    if now <= ts:
        return level
    return min(bucket.capacity, level + (now - ts) * bucket.rate)


def wait_for(level: float, amount: float, bucket: Bucket) -> float:
    """Seconds until ``amount`` can be taken (0 when it can now)."""
    need = min(amount, bucket.capacity)
    return 0.0 if level >= need else (need - level) / bucket.rate


def judge(levels: Sequence[float], demands: Sequence[tuple[Bucket, float]]) -> Verdict:
    """Admit when every bucket holds its demand; otherwise name the one that makes us wait longest."""
    worst: Verdict | None = None
    for level, (bucket, amount) in zip(levels, demands, strict=True):
        wait = wait_for(level, amount, bucket)
        if wait > 0 and (worst is None or wait > worst.wait):
            worst = Verdict(False, bucket.ident, bucket.label, bucket.scope, wait, each=_each(amount, bucket))
    return worst or ADMITTED


def _each(amount: float, bucket: Bucket) -> float:
    return min(amount, bucket.capacity) / bucket.rate if bucket.rate > 0 else 0.0


class LocalBuckets:
    """Bucket levels and slots held in this process: exact for one replica and free of I/O.

    Each operation runs without an ``await`` inside, so on one event loop it is atomic."""

    def __init__(self) -> None:
        self.levels: dict[str, tuple[float, float]] = {}
        self.in_use: dict[str, int] = {}
        self.known: dict[str, Bucket | Slots] = {}

    def level(self, bucket: Bucket, now: float) -> float:
        state = self.levels.get(bucket.ident)
        return bucket.capacity if state is None else refill(state[0], state[1], now, bucket)

    def take(self, now: float, plan: Plan, tokens: float) -> Verdict:
        """``judge`` over the plan's buckets and then the slots, in one pass over the buckets
        (the request buckets, then the token buckets, as ``Plan.shape`` orders them): the longest
        wait refuses (the first of equal waits), else every bucket is charged."""
        get = self.levels.get
        after: list[tuple[str, tuple[float, float]]] = []
        worst: tuple[float, Bucket, float] | None = None
        for ident, capacity, rate, need, bucket in plan.request_rows:  # refill() and wait_for(), inlined
            state = get(ident)
            if state is None:
                level = capacity
            else:
                level, ts = state
                if now > ts:
                    level = level + (now - ts) * rate
                    if level >= capacity:  # min(capacity, level), as refill() takes it
                        level = capacity
            if level < need:
                wait = (need - level) / rate
                if worst is None or wait > worst[0]:
                    worst = (wait, bucket, 1.0)
            after.append((ident, (level - 1.0, now)))
        for ident, capacity, rate, bucket in plan.token_takes:  # the same for the request's tokens
            state = get(ident)
            if state is None:
                level = capacity
            else:
                level, ts = state
                if now > ts:
                    level = level + (now - ts) * rate
                    if level >= capacity:
                        level = capacity
            need = tokens if tokens < capacity else capacity
            if level < need:
                wait = (need - level) / rate
                if worst is None or wait > worst[0]:
                    worst = (wait, bucket, tokens)
            after.append((ident, (level - tokens, now)))
        if worst is not None:
            wait, bucket, amount = worst
            return Verdict(False, bucket.ident, bucket.label, bucket.scope, wait, each=_each(amount, bucket))
        if plan.slots:
            for s in plan.slots:
                if self.in_use.get(s.ident, 0) >= s.limit:
                    return Verdict(False, s.ident, s.label, s.scope, SLOT_RETRY_HINT_S, slot=True)
        self.levels.update(after)
        known = self.known
        if not known.items() >= plan.buckets.items():  # the first take of these buckets (identity first)
            known.update(plan.buckets)
        for s in plan.slots:
            self.in_use[s.ident] = self.in_use.get(s.ident, 0) + 1
            known[s.ident] = s
        return ADMITTED

    def settle(self, now: float, plan: Plan, extra_tokens: float, requests: float = 0.0) -> None:
        """Charge (or refund, when negative) the difference between actual and estimated
        tokens, and free the request's slots. ``requests`` (-1: an attempt that never ran) is
        charged to the request buckets the same way."""
        if extra_tokens:  # the token buckets only: a request bucket's unit stays taken
            _charge(self.levels, plan.token_rows, extra_tokens, now)
        if requests:
            _charge(self.levels, plan.request_rows, requests, now)
        for s in plan.slots:
            self.in_use[s.ident] = max(0, self.in_use.get(s.ident, 0) - 1)

    def status(self, now: float) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for ident, limit in sorted(self.known.items()):
            if isinstance(limit, Bucket):
                rows.append(bucket_row(limit, self.level(limit, now)))
            else:
                rows.append(slot_row(limit, self.in_use.get(ident, 0)))
        return rows


def _charge(levels: dict[str, tuple[float, float]], rows: Sequence[tuple[Any, ...]], extra: float, now: float) -> None:
    """Take ``extra`` units more (fewer, when negative) from each bucket of ``rows`` at ``now``:
    rows that start (ident, capacity, rate), as ``Plan.token_rows`` and ``Plan.request_rows`` do."""
    for row in rows:  # level(), inlined
        ident, capacity, rate = row[0], row[1], row[2]
        state = levels.get(ident)
        if state is None:
            level = capacity
        else:
            level, ts = state
            if now > ts:
                level = level + (now - ts) * rate
                if level >= capacity:
                    level = capacity
        level -= extra
        levels[ident] = (level if level < capacity else capacity, now)


def bucket_row(bucket: Bucket, level: float) -> dict[str, object]:
    return {
        "limit": bucket.ident,
        "label": bucket.label,
        "level": round(level, 3),
        "capacity": bucket.capacity,
        "refill_per_s": round(bucket.rate, 6),
    }


def slot_row(slots: Slots, in_use: int) -> dict[str, object]:
    return {"limit": slots.ident, "label": slots.label, "in_use": in_use, "capacity": slots.limit}
