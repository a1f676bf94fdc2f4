"""Spend forecast: a trend with weekly seasonality, and a prediction interval.

LLM traffic follows the working week, so a forecast that ignores the weekday over-promises on
Saturdays and under-promises on Mondays. The model is the plainest that captures both and can be
explained in one line: ``spend(day) = (a + b * day) * s[weekday]``, a least-squares trend times
a weekday factor (the factors averaging 1: a quiet weekend is a share of the week, and stays one
as the trend grows), alternating between the trend and the factors until they settle. The
interval is the trend regression's prediction interval from the spread of the deseasonalized
residuals, widening with the distance from the fitted days, scaled by the day's factor, and
never below zero.

Pure: a list of daily nano-dollar totals in, floats of nano-dollars out; the caller turns them
into money at the edge. Fewer than two full weeks: no seasonality (a weekday seen once is noise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

Z = {0.8: 1.2816, 0.9: 1.6449, 0.95: 1.96, 0.99: 2.5758}
MIN_SEASONAL_DAYS = 14


@dataclass(frozen=True, slots=True)
class Fit:
    intercept: float
    slope: float
    seasonal: tuple[float, ...]
    """Seven weekday factors, Monday first, averaging 1 (all 1 without seasonality)."""
    sigma: float
    n: int
    t_mean: float
    t_ss: float
    first_weekday: int

    def factor(self, t: int) -> float:
        return self.seasonal[(self.first_weekday + t) % 7]

    def mean(self, t: int) -> float:
        return (self.intercept + self.slope * t) * self.factor(t)

    def half_width(self, t: int, level: float) -> float:
        z = Z.get(level)
        if z is None:
            raise ValueError(f"interval level {level} is not one of {', '.join(map(str, Z))}")
        spread = 1 + 1 / self.n + ((t - self.t_mean) ** 2 / self.t_ss if self.t_ss else 0.0)
        return z * self.sigma * math.sqrt(spread) * self.factor(t)


def _line(ts: Sequence[int], ys: Sequence[float]) -> tuple[float, float]:
    n = len(ts)
    tm = sum(ts) / n
    ym = sum(ys) / n
    ss = sum((t - tm) ** 2 for t in ts)
    slope = sum((t - tm) * (y - ym) for t, y in zip(ts, ys, strict=True)) / ss if ss else 0.0
    return ym - slope * tm, slope


def fit(daily: Sequence[int], first_day: date, *, seasonal: bool | None = None) -> Fit:
    """Fit ``daily`` (nano-dollars per consecutive UTC day from ``first_day``)."""
    if not daily:
        raise ValueError("no days to fit")
    ys = [float(v) for v in daily]
    ts = list(range(len(ys)))
    weekly = len(ys) >= MIN_SEASONAL_DAYS if seasonal is None else seasonal
    first_weekday = first_day.weekday()
    s = [1.0] * 7
    a, b = _line(ts, ys)
    for _ in range(10 if weekly else 0):
        ratios: list[list[float]] = [[] for _ in range(7)]
        for t, y in zip(ts, ys, strict=True):
            trend = a + b * t
            if trend > 0:
                ratios[(first_weekday + t) % 7].append(y / trend)
        means = [sum(r) / len(r) if r else 1.0 for r in ratios]
        centre = sum(means) / 7
        if centre <= 0:
            s = [1.0] * 7
            break
        s = [m / centre if m > 0 else 1e-9 for m in means]
        a, b = _line(ts, [y / s[(first_weekday + t) % 7] for t, y in zip(ts, ys, strict=True)])
    deseasonalized = [y / s[(first_weekday + t) % 7] - (a + b * t) for t, y in zip(ts, ys, strict=True)]
    dof = max(len(ys) - (2 + (6 if weekly else 0)), 1)
    sigma = math.sqrt(sum(e * e for e in deseasonalized) / dof)
    tm = sum(ts) / len(ts)
    return Fit(a, b, tuple(s), sigma, len(ys), tm, sum((t - tm) ** 2 for t in ts), first_weekday)


@dataclass(frozen=True, slots=True)
class DayForecast:
    day: str
    mean: float
    low: float
    high: float


def forecast(daily: Sequence[int], first_day: date, horizon: int, level: float = 0.9) -> list[DayForecast]:
    """The next ``horizon`` days after ``daily``: expected spend and a ``level`` interval."""
    f = fit(daily, first_day)
    out = []
    for h in range(horizon):
        t = len(daily) + h
        mean = max(f.mean(t), 0.0)
        w = f.half_width(t, level)
        out.append(DayForecast((first_day + timedelta(days=t)).isoformat(), mean, max(mean - w, 0.0), mean + w))
    return out


def dense_days(rows: Sequence[dict[str, object]], since: date, until: date, key: str = "cost_nanos") -> list[int]:
    """``rows`` of a ``day`` breakdown as one value per day ``since <= day < until`` (0 where none)."""
    by_day = {str(r["day"]): int(r[key]) for r in rows if r.get("day") is not None}  # type: ignore[call-overload]
    n = (until - since).days
    return [by_day.get((since + timedelta(days=i)).isoformat(), 0) for i in range(max(n, 0))]
