"""The questions people ask of spend, over any reader (an analytics engine, or the ledger itself):
where it goes (by any dimension), how it moves (a series per bucket, stacked by a dimension),
where it is heading (forecast), what broke pattern (anomalies), and what a unit of work costs
(unit economics). Each answer is a JSON-ready dict; money leaves as exact decimal strings of USD,
summed as integer nano-dollars until then. The dashboard and ``costops spend`` print these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from costops.analysis import anomalies as anomaly_rules
from costops.analysis import forecast as forecasting
from costops.analysis.engine import Reader
from costops.ledger.query import Filters
from costops.money import from_nanos, usd_str

DAY = 86400


def usd(nanos: int) -> str:
    return usd_str(from_nanos(nanos))


def _ratio(nanos: int, count: int) -> str | None:
    """Exact dollars per unit, to the nano-dollar (half-even), or None when there is no unit."""
    if not count:
        return None
    return usd_str((from_nanos(nanos) / count).quantize(Decimal("0.000000001")))


def by(reader: Reader, dim: str, filters: Filters, top: int | None = None, *,
       totals: dict[str, Any] | None = None, ranked: tuple[list[dict[str, Any]], int] | None = None) -> dict[str, Any]:
    """Spend by one dimension, largest first, each with its share; ``top`` folds the rest into
    one ``(other)`` row so the total still adds up. An engine sends only the top rows out of
    SQL (a breakdown by user has as many groups as users); ``totals`` (the filter's, if the
    caller has them) saves it a scan, and so does ``ranked`` (the engine's ``top`` answer, asked
    for several dimensions at once)."""
    folded = ("cost_nanos", "list_cost_nanos", "requests", "errors", "avoided_cost_nanos")
    engine_top = getattr(reader, "top", None)
    if top is not None and engine_top is not None:
        shown, groups = ranked if ranked is not None else engine_top(dim, filters, top)
        whole = totals if totals is not None else reader.totals(filters)
        total = whole["cost_nanos"]
        rest = {k: whole[k] - sum(r[k] for r in shown) for k in folded}
        n_rest = groups - len(shown)
    else:
        rows = reader.aggregate([dim], filters)
        rows.sort(key=lambda r: (-r["cost_nanos"], -r["requests"], str(r[dim])))
        total = sum(r["cost_nanos"] for r in rows)
        shown = rows if top is None else rows[:top]
        rest = {k: sum(r[k] for r in rows[len(shown):]) for k in folded}
        n_rest = len(rows) - len(shown)
    out = [_row(r[dim], r, total) for r in shown]
    if n_rest:
        out.append(_row("(other)", rest, total) | {"groups": n_rest})
    return {"dimension": dim, "total_cost_usd": usd(total), "rows": out}


def _row(value: Any, r: dict[str, Any], total: int) -> dict[str, Any]:
    return {
        "value": value,
        "cost_usd": usd(r["cost_nanos"]),
        "list_cost_usd": usd(r["list_cost_nanos"]),
        "requests": r["requests"],
        "errors": r["errors"],
        "saved_usd": usd(r["avoided_cost_nanos"]),
        "share": round(r["cost_nanos"] / total, 4) if total else None,
    }


def trend(reader: Reader, dim: str, filters: Filters, *, now: float, days: int = 7, top: int = 10) -> dict[str, Any]:
    """Each value's spend in the last ``days`` against the ``days`` before: the change in dollars
    and per cent, biggest movers first (new spenders and ones that stopped included)."""
    end = filters.until if filters.until is not None else now
    span = days * DAY
    current = {r[dim]: r["cost_nanos"] for r in reader.aggregate([dim], replace(filters, since=end - span, until=end))}
    previous = {r[dim]: r["cost_nanos"] for r in reader.aggregate([dim], replace(filters, since=end - 2 * span, until=end - span))}
    rows = []
    for value in set(current) | set(previous):
        now_n, before_n = current.get(value, 0), previous.get(value, 0)
        rows.append({"value": value, "cost_usd": usd(now_n), "previous_usd": usd(before_n),
                     "change_usd": usd(now_n - before_n) if now_n >= before_n else "-" + usd(before_n - now_n),
                     "change_pct": round((now_n - before_n) / before_n * 100, 1) if before_n else None,
                     "_delta": now_n - before_n})
    rows.sort(key=lambda r: (-abs(r["_delta"]), str(r["value"])))
    for r in rows:
        del r["_delta"]
    return {"dimension": dim, "days": days, "total_usd": usd(sum(current.values())),
            "previous_total_usd": usd(sum(previous.values())), "rows": rows[:top]}


def _period(filters: Filters, rows: Sequence[dict[str, Any]], key: str) -> tuple[date, date]:
    """The days a series covers: the filter's period, else the days that have rows."""
    days = sorted(str(r[key]) for r in rows if r[key] is not None)
    start = _day(filters.since) if filters.since is not None else (date.fromisoformat(days[0][:10]) if days else None)
    end = _day(filters.until - 1e-6) + timedelta(days=1) if filters.until is not None else (
        date.fromisoformat(days[-1][:10]) + timedelta(days=1) if days else None)
    if start is None or end is None:
        today = datetime.now(UTC).date()
        return today, today
    return start, end


def _day(ts: float) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def series(reader: Reader, filters: Filters, stack: str | None = None, bucket: str = "day", top: int = 8) -> dict[str, Any]:
    """Spend per ``bucket`` (hour, day, week, month), stacked by ``stack``: the ``top`` values
    by total and an ``(other)`` series, every bucket present (zero where nothing was spent)."""
    dims = [bucket] if stack is None else [bucket, stack]
    rows = reader.aggregate(dims, filters)
    labels = sorted({str(r[bucket]) for r in rows if r[bucket] is not None})
    if bucket == "day" and rows:
        start, end = _period(filters, rows, "day")
        labels = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days)]
    index = {label: i for i, label in enumerate(labels)}
    totals: dict[Any, int] = {}
    for r in rows:
        value = r[stack] if stack else "total"
        totals[value] = totals.get(value, 0) + r["cost_nanos"]
    ranked = sorted(totals, key=lambda v: (-totals[v], str(v)))
    kept = set(ranked[:top])
    nanos: dict[Any, list[int]] = {v: [0] * len(labels) for v in [*ranked[:top], *(["(other)"] if len(ranked) > top else [])]}
    for r in rows:
        label = str(r[bucket])
        if label not in index:
            continue
        value = r[stack] if stack else "total"
        nanos[value if value in kept else "(other)"][index[label]] += r["cost_nanos"]
    return {
        "bucket": bucket,
        "stack": stack,
        "buckets": labels,
        "series": [{"name": v, "total_usd": usd(sum(ys)), "cost_usd": [usd(y) for y in ys]} for v, ys in nanos.items()],
        "total_usd": usd(sum(totals.values())),
    }


def forecast(reader: Reader, filters: Filters, *, now: float, history_days: int = 56, horizon: int = 14,
             level: float = 0.9) -> dict[str, Any]:
    """Daily spend for the next ``horizon`` days from the last ``history_days`` full days before
    ``now``'s day, with a ``level`` interval; and the month's projected total: spent so far plus
    the forecast of its remaining days."""
    today = _day(now)
    first = today - timedelta(days=history_days)
    since, until = forecast_period(now, history_days)
    rows = reader.aggregate(["day"], replace(filters, since=since, until=until))
    daily = forecasting.dense_days(rows, first, today)
    while daily and daily[0] == 0:  # a ledger younger than the history asked for: fit from its first day
        daily.pop(0)
        first += timedelta(days=1)
    if not daily:
        return {"history": [], "forecast": [], "level": level, "seasonal": False, "month": None}
    month_start = today.replace(day=1)
    month_end = (month_start + timedelta(days=32)).replace(day=1)
    ahead = forecasting.forecast(daily, first, max(horizon, (month_end - today).days), level)  # from today on
    spent = reader.totals(replace(filters, since=_ts(month_start), until=now))["cost_nanos"]
    in_month = [d for d in ahead if d.day < month_end.isoformat()]
    today_left = 1 - (now - _ts(today)) / DAY  # today is part spent, part to come
    to_come = in_month[0].mean * today_left + sum(d.mean for d in in_month[1:])
    return {
        "level": level,
        "seasonal": len(daily) >= forecasting.MIN_SEASONAL_DAYS,
        "history": [{"day": (first + timedelta(days=i)).isoformat(), "cost_usd": usd(v)} for i, v in enumerate(daily)],
        "forecast": [{"day": d.day, "cost_usd": _est(d.mean), "low_usd": _est(d.low), "high_usd": _est(d.high)}
                     for d in ahead[:horizon]],
        "month": {"month": month_start.isoformat()[:7], "spent_usd": usd(spent), "projected_usd": _est(spent + to_come)},
    }


def forecast_period(now: float, history_days: int = 56) -> tuple[float, float]:
    """The whole days :func:`forecast` fits on: ``history_days`` up to ``now``'s day."""
    today = _day(now)
    return _ts(today - timedelta(days=history_days)), _ts(today)


def anomaly_period(now: float, days: int = 28) -> tuple[float, float]:
    """The whole days :func:`anomalies` reads: ``days`` of baseline and ``now``'s day."""
    today = _day(now)
    return _ts(today - timedelta(days=days)), _ts(today + timedelta(days=1))


def _ts(d: date) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


def _est(nanos: float) -> str:
    """An estimate, in dollars to the micro-dollar (a forecast has no exact nano)."""
    return usd_str(from_nanos(int(round(nanos))).quantize(Decimal("0.000001")))


def anomalies(reader: Reader, dim: str, filters: Filters, *, now: float, days: int = 28, last: int = 7,
              **rules: Any) -> dict[str, Any]:
    """Days of the last ``last`` on which one value of ``dim`` spent far above its own baseline
    (the ``days`` before), biggest excess first."""
    first = _day(now) - timedelta(days=days)
    since, until = anomaly_period(now, days)
    rows = reader.aggregate([dim, "day"], replace(filters, since=since, until=until))
    labels = [(first + timedelta(days=i)).isoformat() for i in range(days + 1)]
    index = {label: i for i, label in enumerate(labels)}
    per: dict[Any, list[int]] = {}
    for r in rows:
        if r["day"] in index:
            per.setdefault(r[dim], [0] * len(labels))[index[r["day"]]] += r["cost_nanos"]
    found = anomaly_rules.find(per, labels, last=last, **rules)
    return {
        "dimension": dim,
        "anomalies": [
            {"value": a.value, "day": a.bucket, "cost_usd": usd(a.actual), "baseline_usd": usd(a.baseline),
             "excess_usd": usd(a.excess), "score": None if a.score == float("inf") else round(a.score, 1)}
            for a in found
        ],
    }


def unit_economics(reader: Any, dim: str | None, filters: Filters, *, good_score: float = 0.5) -> dict[str, Any]:
    """Cost per request, per user, per rated and per good outcome (feedback score >=
    ``good_score``), and token efficiency (output of calls that succeeded over every token
    billed, retries included), overall and by ``dim`` (``tag:feature`` gives cost per feature)."""
    extra = ["users", "rated", "good", "ok_output_tokens"]
    groups = reader.aggregate([dim] if dim else [], filters, extra=extra, good_score=good_score)
    out = [_unit(r, dim) for r in groups]
    out.sort(key=lambda r: (-Decimal(r["cost_usd"]), str(r.get("value"))))
    return {"dimension": dim, "good_score": good_score, "rows": out}


def _unit(r: dict[str, Any], dim: str | None) -> dict[str, Any]:
    billed = r["input_tokens"] + r["cache_read_tokens"] + r["cache_write_5m_tokens"] + r["cache_write_1h_tokens"] + r["output_tokens"]
    row = {
        "cost_usd": usd(r["cost_nanos"]),
        "requests": r["requests"],
        "users": r["users"],
        "good_outcomes": r["good"],
        "rated": r["rated"],
        "cost_per_request_usd": _ratio(r["cost_nanos"], r["requests"]),
        "cost_per_user_usd": _ratio(r["cost_nanos"], r["users"]),
        "cost_per_good_outcome_usd": _ratio(r["cost_nanos"], r["good"]),
        "good_rate": round(r["good"] / r["rated"], 4) if r["rated"] else None,
        "token_efficiency": round(r["ok_output_tokens"] / billed, 4) if billed else None,
    }
    return ({"value": r[dim]} | row) if dim else row
