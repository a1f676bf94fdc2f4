"""Spend anomalies: a day (or hour) of one tenant, model, key... far above its own baseline.

Each series is judged against itself, not against the others: a big tenant's ordinary Tuesday is
not an anomaly, a small tenant's eightfold day is. The baseline is robust to the spikes it looks
for: the median of the preceding ``window`` buckets and their median absolute deviation (MAD,
scaled by 1.4826 to estimate a standard deviation). A bucket is a spike when it exceeds the
median by ``threshold`` deviations, is at least ``ratio`` times the median, and the excess is at
least ``floor`` nano-dollars (so a $0.00 to $0.01 jump is not news). Pure: series in, findings out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAD_SCALE = 1.4826


@dataclass(frozen=True, slots=True)
class Anomaly:
    value: str | None
    """The dimension's value (a tenant, a model, ...)."""
    bucket: str
    actual: int
    baseline: int
    """Median of the preceding buckets (nano-dollars)."""
    score: float
    """Deviations above the baseline (``inf`` for a flat series that jumps)."""

    @property
    def excess(self) -> int:
        return self.actual - self.baseline


def _median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return float(s[n // 2]) if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def find(
    series: Mapping[str | None, Sequence[int]],
    buckets: Sequence[str],
    *,
    window: int = 14,
    min_history: int = 7,
    threshold: float = 4.0,
    ratio: float = 2.0,
    floor: int = 1_000_000,
    last: int | None = None,
) -> list[Anomaly]:
    """Spikes in each series (aligned with ``buckets``), biggest excess first. ``last`` judges
    only the last that many buckets (the dashboard: did anything spike this week?)."""
    found: list[Anomaly] = []
    start = 0 if last is None else max(len(buckets) - last, 0)
    for value, ys in series.items():
        for i in range(max(start, min_history), len(ys)):
            history = ys[max(0, i - window) : i]
            if len(history) < min_history:
                continue
            med = _median(history)
            mad = _median([abs(h - med) for h in history]) * MAD_SCALE
            y = ys[i]
            if y - med < floor or y < ratio * med:
                continue
            score = (y - med) / mad if mad else float("inf")
            if score >= threshold:
                found.append(Anomaly(value, buckets[i], int(y), int(round(med)), score))
    found.sort(key=lambda a: (-a.excess, str(a.value), a.bucket))
    return found
