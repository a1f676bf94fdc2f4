"""Projections and anomalies, as pure functions of spend so far and recent history.

The forecast answers "at this pace, where will the window end?" early enough to act: it blends
the window's own pace with the recent daily pattern from the ledger, trusting the window's pace
more as more of the window has passed (a budget two hours into its month says little about
the month; the last week's days say a lot).
"""

from __future__ import annotations

from collections.abc import Sequence

from costops.control.windows import Window

DAY = 86400.0


def daily_rate(history: Sequence[int]) -> float | None:
    """Average spend per day (nanos) over the recent full days, or None with no history."""
    return sum(history) / len(history) if history else None


def forecast_nanos(spent: int, window: Window, now: float, history: Sequence[int], rolling: bool = False) -> int:
    """Projected spend at the end of the window.

    ``history`` is the spend of each of the recent full days (oldest first, ledger days before
    today). A rolling window never ends, so its forecast is its spend a day from now: what it
    holds now, plus a day at the projected pace, minus the average day that leaves it.
    """
    elapsed = max(now - window.start, 0.0)
    remaining = max(window.end - now, 0.0)
    recent = daily_rate(history)
    own = spent / elapsed * DAY if elapsed >= 60 else None
    if own is None and recent is None:
        return spent
    if own is None:
        rate = recent
    elif recent is None:
        rate = own
    else:
        trust = min(1.0, elapsed / min(window.length, 7 * DAY))
        rate = trust * own + (1 - trust) * recent
    assert rate is not None
    if rolling:
        leaving = spent / max(window.length / DAY, 1.0)
        return max(spent, int(spent + rate - leaving))
    return int(spent + rate * remaining / DAY)


def is_spike(current_hour: int, previous_hours: Sequence[int], daily: float | None, factor: float, floor: int) -> bool:
    """Whether this hour's spend runs ``factor`` times above its baseline, and above ``floor``.

    The baseline is the higher of the average of the previous hours (zeros included: a quiet
    night is part of the pattern) and the ledger's recent daily average spread over 24 hours,
    so one busy morning does not make every later hour look normal. No baseline, no spike:
    a budget's first hour is not an anomaly.
    """
    hourly = sum(previous_hours) / len(previous_hours) if previous_hours else 0.0
    baseline = max(hourly, (daily or 0.0) / 24)
    return baseline > 0 and current_hour >= floor and current_hour > factor * baseline
