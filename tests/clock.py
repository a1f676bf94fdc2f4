"""The clock tests hand the gateway (``create_app(clock=...)``): no test reads the wall clock, so
the suite passes on any date, and expected dates are computed from the test's own clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()  # a Wednesday


class Clock:
    """Unix seconds, set and moved by the test (``clock.t += 31``, ``clock.at(iso)``).

    ``ticking=True``: the clock also runs on in real (monotonic) time from where it was set, for
    code that naps in real time and reads the clock when it wakes (the priority queue)."""

    def __init__(self, t: float = T0, *, ticking: bool = False) -> None:
        self.t = t
        self._since = time.monotonic() if ticking else None

    def __call__(self) -> float:
        if self._since is None:
            return self.t
        return self.t + (time.monotonic() - self._since)

    def at(self, iso: str) -> None:
        self.t = datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()
        if self._since is not None:
            self._since = time.monotonic()

    def stop(self) -> None:
        """Stop a ticking clock where it is (nothing that waits on it moves on until ``resume``)."""
        self.t, self._since = self(), None

    def resume(self) -> None:
        """Run on in real time from where the clock stands."""
        self._since = time.monotonic()


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def next_day(ts: float) -> str:
    """The ISO time the UTC day holding ``ts`` ends: when a daily window resets."""
    day = utc(ts).replace(hour=0, minute=0, second=0, microsecond=0)
    return datetime.fromtimestamp(day.timestamp() + 86_400, UTC).isoformat()


def next_month(ts: float) -> str:
    """The ISO time the UTC month holding ``ts`` ends: when a monthly window resets."""
    now = utc(ts)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).isoformat()
