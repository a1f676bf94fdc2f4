"""A budget's spend as the ledger recorded it: the truth a window starts from, and the recent
daily pattern the forecast and the spike detector compare against.

The ledger's filters cover tenant, project, exact model, provider and tags; the other scope
fields (team, user, key, deployment, a model glob) become group-by columns picked out here. Either
way the database does the summing: a handful of aggregate rows come back, never the calls.
Synchronous, like the stores: the stage runs these in a thread.
"""

from __future__ import annotations

import fnmatch
from datetime import UTC, datetime
from typing import Any

from costops.control.budget_spec import Budget, Scope
from costops.control.forecast import DAY
from costops.control.windows import HOUR, Window
from costops.ledger.query import Filters

_GROUPED = {"team": "team", "user": "user", "key": "key", "deployment": "deployment"}


def _query(scope: Scope, since: float | None, until: float | None) -> tuple[list[str], Filters, dict[str, str]]:
    glob = scope.model is not None and any(c in scope.model for c in "*?[")
    filters = Filters(
        since=since, until=until, tenant=scope.tenant, project=scope.project,
        model=None if glob else scope.model, provider=scope.provider, tags=dict(scope.tags),
    )
    picks = {dim: getattr(scope, field) for field, dim in _GROUPED.items() if getattr(scope, field) is not None}
    if glob:
        picks["model"] = scope.model  # type: ignore[assignment]
    return sorted(picks), filters, picks


def _matches(row: dict[str, Any], picks: dict[str, str]) -> bool:
    for dim, wanted in picks.items():
        value = row.get(dim)
        if dim == "model":
            if value is None or not fnmatch.fnmatchcase(str(value), wanted):
                return False
        elif value != wanted:
            return False
    return True


def scope_spend(store: Any, scope: Scope, since: float, until: float) -> int:
    """Nano-dollars the scope spent in [since, until)."""
    dims, filters, picks = _query(scope, since, until)
    rows = store.aggregate(dims, filters) if dims else [store.totals(filters)]
    return sum(int(r["cost_nanos"]) for r in rows if _matches(r, picks))


def daily_spend(store: Any, scope: Scope, since: float, until: float) -> dict[str, int]:
    """Nano-dollars per UTC day (``YYYY-MM-DD``) the scope spent in [since, until)."""
    dims, filters, picks = _query(scope, since, until)
    out: dict[str, int] = {}
    for row in store.aggregate(["day", *dims], filters):
        if _matches(row, picks):
            out[row["day"]] = out.get(row["day"], 0) + int(row["cost_nanos"])
    return out


def ledger_parts(store: Any, budget: Budget, window: Window, now: float) -> dict[str, int]:
    """The window's spend so far as the ledger has it, per bucket (synchronous: run in a thread)."""
    if budget.window.kind == "rolling":
        per_day = daily_spend(store, budget.scope, window.start, now + 1)
        return {_last_hour_of(day, window): n for day, n in per_day.items()}
    return {window.current: scope_spend(store, budget.scope, window.start, now + 1)}


def _last_hour_of(day: str, window: Window) -> str:
    end = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() + DAY - 1
    return f"h{int(min(end, window.end - 1) // HOUR)}"
