"""Budget windows as pure functions of (spec, now): which spend counts, and when it resets.

A window never needs a job to reset it. Spend is kept in *buckets* named after the time they
cover (``d2026-11-25``, ``m2026-11``, ``h493512``...), and the window at ``now`` is simply the set
of buckets that count at ``now``: when the calendar turns, the new window's bucket is empty, so
the budget has reset, whether or not any process was running at midnight.

- calendar windows (daily, weekly, monthly) are one bucket each, in the budget's time zone;
- a fixed period is one bucket, and applies only between its start and end;
- a rolling window of N days is the last N x 24 hourly buckets (hours in UTC), so spend leaves
  it an hour at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

KINDS = ("daily", "weekly", "monthly", "rolling", "fixed")
HOUR = 3600


@dataclass(frozen=True, slots=True)
class WindowSpec:
    kind: str = "monthly"
    timezone: str = "UTC"
    days: int = 0
    """Length of a ``rolling`` window."""
    start: float | None = None
    """Start (inclusive) and end (exclusive) of a ``fixed`` period, Unix seconds."""
    end: float | None = None

    def describe(self) -> str:
        if self.kind == "rolling":
            return f"rolling {self.days}-day"
        if self.kind == "fixed":
            return f"fixed {iso(self.start or 0, self.timezone)} to {iso(self.end or 0, self.timezone)}"
        return f"{self.kind} ({self.timezone})" if self.timezone != "UTC" else self.kind


@dataclass(frozen=True, slots=True)
class Window:
    """The window in force at one instant."""

    id: str
    """Names the window for alert deduplication: ``m2026-11``, ``r7:h493512``..."""
    start: float
    end: float
    """When this window's spend stops counting (the reset time told to blocked clients). For a
    rolling window, the next hour boundary, when the oldest hour's spend leaves it."""
    buckets: tuple[str, ...]
    """Every bucket whose spend counts now."""
    current: str
    """The bucket new spend goes into."""

    @property
    def length(self) -> float:
        return self.end - self.start

    @property
    def keep_s(self) -> int:
        """How long state written in this window must outlive its last write (Redis keys,
        alert dedupe keys): the window, plus a day's margin."""
        return int(self.length) + 86400


def hour_bucket(now: float) -> str:
    return f"h{int(now // HOUR)}"


def current_window(spec: WindowSpec, now: float) -> Window | None:
    """The window at ``now``, or None when a fixed period is not in force."""
    if spec.kind == "rolling":
        hour = int(now // HOUR)
        hours = spec.days * 24
        buckets = tuple(f"h{h}" for h in range(hour - hours + 1, hour + 1))
        return Window(f"r{spec.days}:h{hour}", (hour - hours + 1) * HOUR, (hour + 1) * HOUR, buckets, buckets[-1])
    if spec.kind == "fixed":
        assert spec.start is not None and spec.end is not None
        if not spec.start <= now < spec.end:
            return None
        bucket = f"f{int(spec.start)}-{int(spec.end)}"
        return Window(bucket, spec.start, spec.end, (bucket,), bucket)
    tz = ZoneInfo(spec.timezone)
    local = datetime.fromtimestamp(now, tz)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if spec.kind == "daily":
        start, end, bucket = day, _add_days(day, 1), f"d{day:%Y-%m-%d}"
    elif spec.kind == "weekly":  # ISO weeks: Monday to Monday
        start = _add_days(day, -day.weekday())
        end, bucket = _add_days(start, 7), f"w{start:%Y-%m-%d}"
    elif spec.kind == "monthly":
        start = day.replace(day=1)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
        bucket = f"m{start:%Y-%m}"
    else:
        raise ValueError(f"unknown window kind {spec.kind!r}")
    s, e = _instant(start), _instant(end)
    return Window(bucket, s, e, (bucket,), bucket)


def _add_days(day: datetime, n: int) -> datetime:
    """Local midnight ``n`` days later: calendar arithmetic, so a 23- or 25-hour DST day is one day."""
    return (day.replace(tzinfo=None) + timedelta(days=n)).replace(tzinfo=day.tzinfo)


def _instant(local: datetime) -> float:
    """Unix seconds of a local wall-clock time (the earlier one when DST makes it ambiguous)."""
    return local.astimezone(UTC).timestamp()


def iso(ts: float, timezone: str = "UTC") -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(timezone)).isoformat(timespec="seconds")


def stale_buckets(present: list[str], window: Window) -> list[str]:
    """Buckets kept in state that no window at or after ``window`` can count again: safe to prune.
    Bucket names sort by time within a kind, so anything older than the oldest counted bucket goes."""
    oldest = window.buckets[0]
    out = []
    for name in present:
        if name in window.buckets or name[:1] != oldest[:1]:
            continue
        if name[:1] == "h":
            if int(name[1:]) < int(oldest[1:]):
                out.append(name)
        elif name < oldest:
            out.append(name)
    return out
