"""What the dashboard shows, as one JSON document per filter: every panel's data.

Each panel is an answer of :mod:`costops.analysis.spend` (or the report's cache and unpriced
sections) over the same reader and filters, so the dashboard, ``costops spend`` and ``costops
report`` can never disagree. The questions share passes
(:class:`~costops.analysis.engine.Prefetched`): the breakdowns, the series over time and the
rejections in one scan (or a cube read each); the forecast's history and the anomalies'
baselines in one pass over whole days; the top users' and keys' sums in one
(:meth:`~costops.analysis.answers.Answers.tops`); the experiments' arms in one query of
their own (:meth:`~costops.analysis.answers.Answers.arms`). Budgets come from the gateway's budgets (or
the config's, for ``costops dashboard``), their spend from the reader: a burn-down of the
current window, day by day, against the limit and the budgets' own forecast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from costops.analysis import experiments, spend
from costops.analysis.cache_savings import PROMPT_CACHE_DIMS, by_cache_kind, check_cost, prompt_cache
from costops.analysis.engine import Prefetched, Reader
from costops.ledger.query import Filters
from costops.money import from_nanos, usd_str

TOP_DIMS = ("tenant", "project", "user", "key", "model")
MANY_VALUES = ("user", "key")
"""Asked as a top-10 of their own (an engine keeps the tens of thousands of others in SQL)."""
ROUTING_DIMS = ("route", "policy", "arm")
STACKS = ("model", "provider", "deployment", "tenant", "team", "project", "user", "key", "cache", "route", "policy", "arm")
MAX_TAG_VALUES = 50


def panels(reader: Reader, filters: Filters, *, now: float, stack: str = "model", budgets: Sequence[Any] = (),
           catalog: Any = None, options_cache: Any = None) -> dict[str, Any]:
    """Every panel for ``filters``; ``options_cache()`` (if given) returns the filter choices
    (:func:`options`), which change far more slowly than the numbers."""
    if stack not in STACKS and not stack.startswith("tag:"):
        raise ValueError(f"stack by one of {', '.join(STACKS)} or tag:<name>, not {stack!r}")
    span = (filters.until or now) - (filters.since if filters.since is not None else now - 30 * 86400)
    bucket = "hour" if span <= 2 * 86400 else "day"
    period = filters if filters.since is not None else replace(filters, since=now - 30 * 86400)
    groupings = [(), *((d,) for d in (*TOP_DIMS, *ROUTING_DIMS, "cache") if d not in MANY_VALUES), ("status", "error_type"),
                 PROMPT_CACHE_DIMS, ("model", "price_source")]
    over_time = [(bucket, stack), ("status", "error_type"), ("day", "status", "error_type")]  # the series, the rejections
    r = Prefetched(reader, groupings + over_time if period == filters else groupings, filters)
    timed = r if period == filters else Prefetched(reader, over_time, period)
    # the forecast's history and the anomalies' baselines: whole days, one pass for both (unless cubes hold them)
    (f_since, f_until), (a_since, a_until) = spend.forecast_period(now), spend.anomaly_period(now)
    daily = Prefetched(reader, [("day",), ("tenant", "day")], replace(filters, since=min(f_since, a_since), until=max(f_until, a_until)),
                       wide=True)
    totals = r.totals(filters)
    kinds = by_cache_kind(r, filters)
    tops = getattr(reader, "tops", None)
    ranked = tops(MANY_VALUES, filters, 10) if tops is not None else {}
    return {
        "now": now,
        "filters": _describe(filters),
        "totals": {
            "cost_usd": spend.usd(totals["cost_nanos"]),
            "list_cost_usd": spend.usd(totals["list_cost_nanos"]),
            "saved_usd": usd_str(from_nanos(totals["avoided_cost_nanos"]) - check_cost(kinds)),  # net of LLM checks
            "requests": totals["requests"],
            "errors": totals["errors"],
            "unpriced": totals["unpriced"],
            "cache_hits": totals["cache_hits"],
        },
        "spend_over_time": spend.series(timed, period, stack=stack, bucket=bucket, top=8),
        "top": {d: spend.by(reader, d, filters, top=10, totals=totals, ranked=ranked.get(d)) if d in MANY_VALUES else spend.by(r, d, filters, top=10)
                for d in TOP_DIMS},
        "routing": {d: spend.by(r, d, filters, top=10) for d in ROUTING_DIMS},
        "cache": {"kinds": kinds, "prompt_cache": prompt_cache(r, filters, catalog)},
        "unpriced": _unpriced(r, filters),
        "rejections": _rejections(timed, period),
        "forecast": spend.forecast(daily, filters, now=now, horizon=14),
        "anomalies": spend.anomalies(daily, "tenant", filters, now=now)["anomalies"][:20],
        "unit": spend.unit_economics(reader, "tag:feature", filters),
        "experiments": _experiments(reader, filters),
        "budgets": [_budget(reader, b, now) for b in budgets],
        "options": options(reader) if options_cache is None else options_cache(),
    }


def _describe(filters: Filters) -> dict[str, Any]:
    return {"since": filters.since, "until": filters.until, "tenant": filters.tenant, "project": filters.project,
            "tags": dict(filters.tags)}


def _experiments(reader: Reader, filters: Filters) -> list[dict[str, Any]]:
    """Per experiment (or bandit) and arm: ``costops experiments``' numbers
    (:func:`costops.analysis.experiments.build`: requests, spend, cost per request, latency,
    error rate, feedback quality, each with its 95 % interval, and the difference from the
    control arm), one entry per policy; none from a reader that keeps no arms."""
    arms = getattr(reader, "arms", None)
    if arms is None:
        return []
    return [{"policy": policy, **body} for policy, body in experiments.build(arms(filters)).items()]


def _unpriced(r: Reader, filters: Filters) -> list[dict[str, Any]]:
    rows = [x for x in r.aggregate(("model", "price_source"), filters) if x["unpriced"]]
    rows.sort(key=lambda x: (-x["unpriced"], str(x["model"])))
    return [{"model": x["model"], "cause": "no usage reported" if x["price_source"] == "no_usage" else "no known price",
             "requests": x["unpriced"]} for x in rows]


def _rejections(r: Reader, filters: Filters) -> dict[str, Any]:
    """429s by kind (budget, pace, rate limit...): totals, and per day for the chart."""
    kinds = {str(x["error_type"]): x["requests"] for x in r.aggregate(("status", "error_type"), filters) if x["status"] == 429}
    days: dict[str, dict[str, int]] = {}
    if kinds:
        for x in r.aggregate(["day", "status", "error_type"], filters):
            if x["status"] == 429:
                days.setdefault(x["day"], {})[str(x["error_type"])] = x["requests"]
    labels = sorted(days)
    return {"by_kind": kinds, "days": labels,
            "series": [{"name": k, "requests": [days[d].get(k, 0) for d in labels]} for k in sorted(kinds)]}


def options(reader: Reader) -> dict[str, Any]:
    """Values the filters offer, from the unfiltered books (so a filter can be changed back):
    tenants, projects and each tag's values in one scan."""
    everything = Filters()
    keys = reader.tag_keys(everything)[:20]
    groupings = [("tenant",), ("project",), *((f"tag:{k}",) for k in keys)]
    sets = Prefetched(reader, groupings, everything)

    def values(dim: str) -> list[str]:
        return sorted(str(x[dim]) for x in sets.aggregate((dim,), everything) if x[dim] is not None)

    tags = {k: values(f"tag:{k}")[:MAX_TAG_VALUES] for k in keys}
    return {"tenants": values("tenant"), "projects": values("project"), "tags": tags,
            "stacks": [*STACKS, *(f"tag:{k}" for k in tags)]}


def _budget(reader: Reader, budget: Any, now: float) -> dict[str, Any]:
    """The current window's burn-down: spend per day, cumulative, against the limit."""
    from costops.control.forecast import forecast_nanos
    from costops.control.ledger_view import daily_spend
    from costops.control.windows import current_window

    row: dict[str, Any] = {"name": budget.name, "scope": budget.scope.describe(), "window": budget.window.describe(),
                           "limit_usd": usd_str(from_nanos(budget.limit_nanos)), "hard": budget.hard}
    window = current_window(budget.window, now)
    if window is None:
        return row | {"active": False, "days": [], "spent_usd": "0", "forecast_usd": "0"}
    per_day = daily_spend(reader, budget.scope, window.start, now)
    days = sorted(per_day)
    cumulative, running = [], 0
    for d in days:
        running += per_day[d]
        cumulative.append(usd_str(from_nanos(running)))
    history = [per_day[d] for d in days[:-1]][-7:]
    forecast = forecast_nanos(running, window, now, history, rolling=budget.window.kind == "rolling")
    return row | {
        "active": True, "window_start": window.start, "window_end": window.end, "days": days, "cumulative_usd": cumulative,
        "spent_usd": usd_str(from_nanos(running)), "forecast_usd": usd_str(from_nanos(forecast)),
        "pct": round(running / budget.limit_nanos * 100, 1) if budget.limit_nanos else None,
    }
