"""The priority queue: who waits for a limit, in what order, and for how long.

When a rate limit or a budget's pacing says "wait" and ``queue:`` is configured, a request waits
in this process's bounded queue instead of being refused (the limits and the budgets stage each
keep one, from the same ``queue:`` settings). Requests carry two optional headers:

``x-costops-priority``
    ``low`` (2), ``normal`` (5, the default), ``high`` (8), or a digit 0-9; higher goes first.
``x-costops-deadline``
    When the caller stops caring: a Unix time in seconds (``1767225600.5``) or milliseconds
    (``1767225600500``), or, for values below 10^9, seconds from now (``2.5``).

Order: among requests waiting on the same limit, the highest *effective* priority goes first,
then the earliest deadline, then the earliest arrival. The effective priority is the priority
plus one level for every ``aging_s`` seconds waited, so a low-priority request under a steady
stream of high ones is still served within a bounded time (no starvation). A request without a
deadline has ``max_wait_s`` after its arrival as its deadline.

A request never waits in silence: when its deadline passes, or when the limit's own refill time
says it cannot be served before its deadline, it gets a 429 naming the limit; a request whose
place in line shows it cannot make it (the requests ranked ahead of it, each taking the
limit's refill time for one request, after the wait of the first) gets that 429 at once, not at
its deadline; when the queue holds ``max_size`` requests, a new one gets a 503 at once.

The queue is per replica: replicas share the buckets (through Redis), not the waiting line, so
priority orders the requests waiting in one replica; across replicas each line's head competes
for the shared bucket by timing alone (a low request at the head of one replica's line may go
before a high one waiting in another's). The early answer counts only this replica's line, so
it never refuses a request that could have made it; with other replicas queueing on the same
limit some requests still wait until their deadline.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from costops.config import ConfigError, reject_unknown
from costops.control.bucket import Verdict
from costops.errors import BadRequest, CostopsError, RateLimited

PRIORITY_NAMES = {"low": 2, "normal": 5, "high": 8}
DEFAULT_PRIORITY = 5
_EPOCH_S = 1e9
_EPOCH_MS = 1e11


@dataclass(frozen=True, slots=True)
class QueueConfig:
    max_size: int
    max_wait_s: float
    aging_s: float = 5.0


def parse_queue(raw: Any) -> QueueConfig | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError("queue: must be a mapping like {max_size: 1000, max_wait_s: 30}")
    known = {"max_size", "max_wait_s", "aging_s"}
    reject_unknown(raw, known, "queue")
    for key in ("max_size", "max_wait_s"):
        if key not in raw:
            raise ConfigError(f"queue.{key}: required (e.g. queue: {{max_size: 1000, max_wait_s: 30}})")
    size = raw["max_size"]
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ConfigError(f"queue.max_size: must be a positive whole number, got {size!r}")
    values = {}
    for key in ("max_wait_s", "aging_s"):
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"queue.{key}: must be a positive number of seconds, got {value!r}")
            values[key] = float(value)
    return QueueConfig(size, **values)


def parse_priority(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_PRIORITY
    text = value.strip().lower()
    if text in PRIORITY_NAMES:
        return PRIORITY_NAMES[text]
    if len(text) == 1 and text.isdigit():
        return int(text)
    raise BadRequest(f"x-costops-priority: {value!r} is not high, normal, low or a digit 0-9 (9 first)", code="invalid_priority")


def parse_deadline(value: str | None, now: float) -> float | None:
    """An absolute time on the gateway's clock, or None."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise BadRequest(
            f"x-costops-deadline: {value!r} is not a Unix time (seconds or milliseconds) or seconds from now",
            code="invalid_deadline",
        )
    if number >= _EPOCH_MS:
        return number / 1000
    if number >= _EPOCH_S:
        return number
    return now + number


# -- ordering: pure ---------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class Waiter:
    priority: int
    deadline: float
    arrived: float
    seq: int
    line: str
    """The limit it waits for: only requests waiting for the same limit compete."""
    woken: asyncio.Event = field(default_factory=asyncio.Event)


def rank(waiter: Waiter, now: float, aging_s: float) -> tuple[float, float, int]:
    """Sort key, smallest first: effective priority (aged), then deadline, then arrival."""
    aged = waiter.priority + math.floor(max(0.0, now - waiter.arrived) / aging_s)
    return (-aged, waiter.deadline, waiter.seq)


class QueueFull(Exception):
    pass


class WaitQueue:
    """The waiting requests of this process. Only the best-ranked waiter of a line tries its
    limit; the others sleep until it leaves, so arrival order never beats priority."""

    def __init__(self, config: QueueConfig) -> None:
        self.config = config
        self.waiters: list[Waiter] = []
        self.lines: dict[str, int] = {}
        self.ready: dict[str, tuple[float, float]] = {}
        """Per line: when its limit lets the next request go, and its refill time for one more."""
        self._seq = 0

    def __len__(self) -> int:
        return len(self.waiters)

    def busy(self, idents: tuple[str, ...]) -> str | None:
        """The first of ``idents`` someone already waits for: a newcomer queues behind them."""
        if not self.lines:
            return None
        return next((i for i in idents if i in self.lines), None)

    def enter(self, priority: int, deadline: float, now: float, line: str) -> Waiter:
        if len(self.waiters) >= self.config.max_size:
            raise QueueFull
        self._seq += 1
        waiter = Waiter(priority, deadline, now, self._seq, line)
        self.waiters.append(waiter)
        self.lines[line] = self.lines.get(line, 0) + 1
        return waiter

    def head(self, line: str, now: float) -> Waiter | None:
        same = [w for w in self.waiters if w.line == line]
        return min(same, key=lambda w: rank(w, now, self.config.aging_s)) if same else None

    def move(self, waiter: Waiter, line: str, now: float) -> None:
        if waiter.line != line:
            old = waiter.line
            self._drop_line(old)
            waiter.line = line
            self.lines[line] = self.lines.get(line, 0) + 1
            self.wake(old, now)

    def leave(self, waiter: Waiter, now: float) -> None:
        self.waiters.remove(waiter)
        self._drop_line(waiter.line)
        self.wake(waiter.line, now)

    def wake(self, line: str, now: float) -> None:
        """Let the line's best waiter try again (after a departure or a freed slot)."""
        head = self.head(line, now)
        if head is not None:
            head.woken.set()

    async def wait(
        self,
        attempt: Callable[[], Awaitable[Verdict]],
        verdict: Verdict,
        headers: Mapping[str, str],
        clock: Callable[[], float],
        slot_poll_s: float | None,
        *,
        reason: str = "rate limit reached for",
        frees: str = "the limit frees up",
    ) -> None:
        """Wait in line until ``attempt()`` admits the request, or raise the 429 / 503 saying why
        not. ``verdict`` is the refusal that sent it here; ``slot_poll_s`` is how often to re-check
        a full concurrency limit whose slots other replicas may free (None: only this process
        frees them, and says so by waking the line). ``reason`` and ``frees`` word the errors:
        ``{reason} {verdict.label}; waited ... before {frees} (in Ns)`` (a budget's pacing says
        its own)."""
        words = (reason, frees)
        now = clock()
        priority = parse_priority(headers.get("x-costops-priority"))
        deadline = parse_deadline(headers.get("x-costops-deadline"), now)
        give_up = now + self.config.max_wait_s
        why = f"queue.max_wait_s ({self.config.max_wait_s:g}s) runs out"
        if deadline is not None and deadline < give_up:
            give_up, why = deadline, "its x-costops-deadline passes"
        if not verdict.slot and now + verdict.wait > give_up:
            raise _late(verdict, 0.0, why, words)
        if not verdict.slot and verdict.wait > 0:
            self.ready[verdict.ident] = (now + verdict.wait, verdict.each)
        try:
            waiter = self.enter(priority, give_up, now, verdict.ident)
        except QueueFull:
            raise _full(verdict, self.config.max_size, reason) from None
        try:
            if not verdict.slot and (late := self._hopeless(waiter, now)) is not None:
                raise _behind(verdict, late, why, words)
            while True:
                waiter.woken.clear()
                now = clock()
                nap = give_up - now
                if self.head(waiter.line, now) is waiter:
                    verdict = await attempt()
                    if verdict.ok:
                        return
                    now = clock()
                    self.move(waiter, verdict.ident, now)
                    if not verdict.slot and verdict.wait > 0:
                        self.ready[verdict.ident] = (now + verdict.wait, verdict.each)
                    if not verdict.slot and now + verdict.wait > give_up:
                        raise _late(verdict, now - waiter.arrived, why, words)
                    poll = verdict.wait if not verdict.slot else (slot_poll_s or verdict.wait)
                    nap = min(give_up - now, max(poll, 0.001))
                if nap <= 0:
                    raise _late(verdict, now - waiter.arrived, why, words)
                try:
                    await asyncio.wait_for(waiter.woken.wait(), nap)
                except TimeoutError:
                    pass
        finally:
            self.leave(waiter, clock())

    def depth(self) -> dict[str, int]:
        return dict(self.lines)

    def _hopeless(self, waiter: Waiter, now: float) -> tuple[int, float] | None:
        """(requests ahead, the limit's refill time for one) when its turn comes past its deadline."""
        ready = self.ready.get(waiter.line)
        if ready is None or ready[1] <= 0:
            return None
        mine = rank(waiter, now, self.config.aging_s)
        ahead = sum(1 for w in self.waiters if w.line == waiter.line and rank(w, now, self.config.aging_s) < mine)
        earliest = max(ready[0], now) + ahead * ready[1]
        return (ahead, ready[1]) if earliest > waiter.deadline else None

    def _drop_line(self, line: str) -> None:
        left = self.lines[line] - 1
        if left:
            self.lines[line] = left
        else:
            del self.lines[line]
            self.ready.pop(line, None)


def _late(verdict: Verdict, waited: float, why: str, words: tuple[str, str]) -> RateLimited:
    reason, frees = words
    if verdict.slot:
        frees = "a slot frees up"
    elif verdict.wait > 0:  # 0: it queued behind others, its own wait is not known yet
        frees = f"{frees} (in {verdict.wait:.1f}s)"
    return RateLimited(
        f"{reason} {verdict.label}; waited {waited:.1f}s in the queue and {why} before {frees}",
        retry_after=verdict.wait,
        code="queue_deadline_exceeded",
    )


def _behind(verdict: Verdict, late: tuple[int, float], why: str, words: tuple[str, str]) -> RateLimited:
    ahead, each = late
    reason, _ = words
    ready = f"{ahead} request{'s' if ahead != 1 else ''} ahead of it in the queue"
    return RateLimited(
        f"{reason} {verdict.label}; with {ready}, each taking the limit {each:.1f}s to refill, "
        f"{why} before its turn: answered now instead of at its deadline",
        retry_after=max(verdict.wait, 1.0),
        code="queue_deadline_exceeded",
    )


def _full(verdict: Verdict, max_size: int, reason: str) -> CostopsError:
    error = CostopsError(
        f"{reason} {verdict.label}, and the gateway's queue is full "
        f"({max_size} requests waiting, queue.max_size); retry later",
        status=503,
        code="queue_full",
    )
    error.retry_after = max(verdict.wait, 1.0)
    return error
