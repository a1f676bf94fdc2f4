"""The budgets stage's periodic work, off the request path: load spend from the ledger, forecast
each window's end, watch for spend spikes, send the daily digest, prune old buckets, pick up
budgets other replicas defined through the admin API.

Every check reads the injected clock, so tests drive a day or a month in milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from costops.config import ConfigError
from costops.control.admission import Level
from costops.control.alerts import Alert
from costops.control.budget_spec import Budget, parse_budget
from costops.control.budgets_view import BudgetsView
from costops.control.forecast import DAY, daily_rate, forecast_nanos, is_spike
from costops.control.ledger_view import daily_spend, ledger_parts
from costops.control.reservations import Claim
from costops.control.windows import HOUR, current_window, iso, stale_buckets
from costops.money import from_nanos, usd_str

log = logging.getLogger("costops.budgets")
HISTORY_DAYS = 7


async def loop(stage: BudgetsView) -> None:
    last_refresh = stage.clock()
    while True:
        await asyncio.sleep(stage.settings.check_interval_s)
        try:
            await load_definitions(stage)
            now = stage.clock()
            if now - last_refresh >= HOUR:
                last_refresh = now
                await refresh(stage, initial=False)
            await check(stage)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("budget checks failed; retrying in %ss", stage.settings.check_interval_s)


async def load_definitions(stage: BudgetsView) -> None:
    """Budgets from the admin API (shared through Redis between replicas) over the config's."""
    try:
        defs = await stage.state.definitions()
    except Exception as exc:
        log.error("cannot read budget definitions: %s", exc)
        return
    budgets = dict(stage.configured)
    for name, raw in defs.items():
        data = orjson.loads(raw)
        if data is None:  # deleted through the admin API
            budgets.pop(name, None)
            continue
        try:
            budgets[name] = parse_budget(data, stage.settings, f"admin budget {name}", source="admin")
        except ConfigError as exc:
            log.error("ignoring stored budget %s: %s", name, exc)
    new = [b for n, b in budgets.items() if stage.budgets.get(n) != b]
    stage.budgets = budgets
    if new:
        await seed(stage, new)


async def refresh(stage: BudgetsView, *, initial: bool) -> None:
    """Recent daily history for every budget, and (on start) each window's spend so far."""
    budgets = list(stage.budgets.values())
    now = stage.clock()
    today = now - now % DAY
    try:
        days = await asyncio.to_thread(
            lambda: [daily_spend(stage.store(), b.scope, today - HISTORY_DAYS * DAY, today) for b in budgets]
        )
    except Exception as exc:
        log.error("cannot read the ledger for budget history: %s", exc)
        days = [{} for _ in budgets]
    for budget, per_day in zip(budgets, days, strict=True):
        series = [
            per_day.get(datetime.fromtimestamp(today - (HISTORY_DAYS - i) * DAY, UTC).strftime("%Y-%m-%d"), 0)
            for i in range(HISTORY_DAYS)
        ]
        while series and series[0] == 0:  # days before the scope's first spend are no pattern
            series.pop(0)
        stage.history[budget.name] = series
    if initial:
        await seed(stage, budgets)


async def seed(stage: BudgetsView, budgets: list[Budget]) -> None:
    """Start each window from the ledger's spend so far (Redis keeps its own count when it has one).
    A rolling window gets each day's spend in that day's last hour inside the window: spend then
    leaves the window up to a day late, never early, so the seed can only err on the safe side."""
    now = stage.clock()
    for budget in budgets:
        window = current_window(budget.window, now)
        if window is None or (budget.name, window.id) in stage.seeded:
            continue
        stage.seeded.add((budget.name, window.id))
        try:
            parts = await asyncio.to_thread(ledger_parts, stage.store(), budget, window, now)
            for bucket, nanos in parts.items():
                await stage.state.seed(budget.name, bucket, nanos, window.keep_s)
        except Exception as exc:
            log.error("budget %s: cannot load its spend so far from the ledger: %s", budget.name, exc)


async def status(stage: BudgetsView) -> list[dict[str, Any]]:
    """Every budget now: spent, reserved, limit, forecast, reset time."""
    now = stage.clock()
    out = []
    for budget in stage.budgets.values():
        window = current_window(budget.window, now)
        row: dict[str, Any] = {
            "name": budget.name, "scope": budget.scope.to_dict(), "scope_text": budget.scope.describe(),
            "window": budget.window.describe(), "limit_usd": usd_str(from_nanos(budget.limit_nanos)),
            "hard": budget.hard, "thresholds": list(budget.thresholds), "source": budget.source,
        }
        if window is None:
            row.update(active=False, spent_usd="0", reserved_usd="0", pct=0.0, forecast_usd="0", resets_at=None)
        else:
            claim = Claim(budget.name, budget.limit_nanos, window.buckets, window.current, window.keep_s)
            level = (await stage.state.levels([claim], now))[0]
            level = Level(level.spent, level.reserved, budget.limit_nanos)
            forecast = forecast_nanos(level.spent, window, now, stage.history.get(budget.name, []),
                                      rolling=budget.window.kind == "rolling")
            row.update(
                active=True, window_id=window.id, window_start=iso(window.start, budget.window.timezone),
                spent_usd=usd_str(from_nanos(level.spent)), reserved_usd=usd_str(from_nanos(level.reserved)),
                pct=round(level.pct, 2), forecast_usd=usd_str(from_nanos(forecast)),
                resets_at=iso(window.end, budget.window.timezone), resets_in_s=int(window.end - now),
            )
            row["_level"], row["_window"], row["_forecast"] = level, window, forecast
        out.append(row)
    return out


def public(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]


async def check(stage: BudgetsView) -> None:
    """Forecast, spike and digest alerts, and pruning; each alert deduplicated by its key."""
    now = stage.clock()
    rows = await status(stage)
    hour = int(now // HOUR)
    cfg = stage.alerts_config
    for row in rows:
        if not row["active"]:
            continue
        budget = stage.budgets[row["name"]]
        level, window, forecast = row["_level"], row["_window"], row["_forecast"]
        if forecast >= budget.limit_nanos > level.spent:
            stage.alerts.emit(Alert(
                "forecast", f"forecast:{budget.name}:{window.id}", budget.name,
                f"budget '{budget.name}' ({budget.scope.describe()}) is forecast to spend "
                f"${usd_str(from_nanos(forecast))} by {row['resets_at']}, over its limit of ${row['limit_usd']} "
                f"(spent so far ${row['spent_usd']})",
                {"forecast_usd": row["forecast_usd"], "limit_usd": row["limit_usd"], "spent_usd": row["spent_usd"],
                 "window": window.id, "resets_at": row["resets_at"]},
                ttl_s=window.keep_s,
            ))
        hours = await stage.state.hourly(budget.name, list(range(hour - 24, hour + 1)))
        daily = daily_rate(stage.history.get(budget.name, []))
        if is_spike(hours[-1], hours[:-1], daily, cfg.spike_factor, cfg.spike_min_nanos):
            baseline = max(sum(hours[:-1]) / 24, (daily or 0) / 24)
            stage.alerts.emit(Alert(
                "spike", f"spike:{budget.name}:{hour}", budget.name,
                f"spend spike on budget '{budget.name}' ({budget.scope.describe()}): "
                f"${usd_str(from_nanos(hours[-1]))} this hour against a baseline of "
                f"${usd_str(from_nanos(int(baseline)))} per hour",
                {"hour_usd": usd_str(from_nanos(hours[-1])), "baseline_usd": usd_str(from_nanos(int(baseline)))},
                ttl_s=2 * 86400,
            ))
        present = await stage.state.buckets(budget.name)
        stale = stale_buckets(present, window)
        await stage.state.prune(budget.name, stale)
    digest(stage, rows, now)


def digest(stage: BudgetsView, rows: list[dict[str, Any]], now: float) -> None:
    cfg = stage.alerts_config
    if cfg.digest_at is None or not rows:
        return
    local = datetime.fromtimestamp(now, ZoneInfo(cfg.timezone))
    due = local.replace(hour=cfg.digest_at[0], minute=cfg.digest_at[1], second=0, microsecond=0)
    if local < due or local - due > timedelta(hours=12):
        return
    lines = [f"costops daily budget digest, {local:%Y-%m-%d}:"]
    for r in rows:
        if r["active"]:
            lines.append(f"- {r['name']} ({r['scope_text']}, {r['window']}): ${r['spent_usd']} of ${r['limit_usd']} "
                         f"({r['pct']}%), forecast ${r['forecast_usd']}, resets {r['resets_at']}")
        else:
            lines.append(f"- {r['name']}: not in force now ({r['window']})")
    stage.alerts.emit(Alert(
        "digest", f"digest:{local:%Y-%m-%d}", None, "\n".join(lines), {"budgets": public(rows)}, ttl_s=2 * 86400,
    ))
