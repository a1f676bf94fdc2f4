"""Budget pacing as pure functions of (limit, window, now): how much of a budget may be committed
by now, and how long a request waits until its estimate fits.

A paced budget spreads its spend over its window instead of letting the first hours of a month
take it all. At time ``t`` of a window ``[start, end)`` the *allowance* is

    limit x (t - start) / (end - start)  +  burst

capped at the limit, where ``burst`` (``burst_pct`` of the limit, 5 % by default) lets the first
requests of a window through at once. A request whose ``spent + reserved + estimate`` fits
under the hard limit but not under the allowance waits until the allowance grows to cover it;
that time always falls inside the window, since the allowance reaches the limit by its end.

Admission applies the allowance exactly as it applies the hard limit (the allowance is the
claim's limit in the atomic reservation, in process or in the Redis script), so pacing adds no
race. Money is integer nano-dollars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from costops.money import from_nanos, usd_str

DEFAULT_BURST_PCT = 5.0


@dataclass(frozen=True, slots=True)
class Pace:
    burst_pct: float = DEFAULT_BURST_PCT
    """Share of the limit allowed at the window's start, on top of the time-proportional part."""

    def describe(self, limit_nanos: int, window: str) -> str:
        return (
            f"paced: ${usd_str(from_nanos(limit_nanos))} spread over the {window} window, "
            f"{self.burst_pct:g}% burst"
        )


def burst_nanos(limit: int, pace: Pace) -> int:
    return math.floor(limit * pace.burst_pct / 100)


def allowance(limit: int, start: float, end: float, now: float, pace: Pace) -> int:
    """Nano-dollars that may be committed (spent + reserved) by ``now``, never above ``limit``."""
    if limit <= 0:
        return 0
    if end <= start or now >= end:
        return limit
    elapsed = min(1.0, max(0.0, (now - start) / (end - start)))
    return min(limit, math.floor(limit * elapsed) + burst_nanos(limit, pace))


def admits(committed: int, estimate: int, allowed: int) -> bool:
    """The same rule as the hard limit's (:func:`costops.control.admission.fits`), against the allowance."""
    return committed < allowed and committed + estimate <= allowed


def wait_s(limit: int, start: float, end: float, now: float, pace: Pace, committed: int, estimate: int) -> float:
    """Seconds from ``now`` until the allowance admits ``estimate`` on top of ``committed``: 0 when
    it does now, ``inf`` when it never will in this window (the hard limit refuses it anyway)."""
    if admits(committed, estimate, allowance(limit, start, end, now, pace)):
        return 0.0
    need = max(committed + estimate, committed + 1)
    if limit <= 0 or need > limit or end <= start:
        return math.inf
    # smallest t with floor(limit * (t - start) / length) + burst >= need
    t = start + (need - burst_nanos(limit, pace)) * (end - start) / limit
    # a millisecond more so the floor in allowance() has surely reached it
    return min(max(0.0, t - now) + 0.001, end - now)
