"""Per-arm aggregates of experiments and bandits, written once as SQL for both dialects.

One row per (policy, arm, task) over logical requests that an arm served: counts, money as
integer nanos (each request's cost includes its earlier attempts'), and the sums and sums of
squares that means and confidence intervals need (floats: these are statistics, not books).
Quality has three views: the feedback scores, the automatic checks, and what a bandit learns
from (the score where there is one, else the check), over answered requests only.
``answered_cost_nanos`` is what a bandit counts: the answering attempt's own cost, as it sees it
live (a failed earlier attempt is usually free, and is priced after the bandit has settled).
"""

from __future__ import annotations

from typing import Any

from costops.ledger.query import Dialect, Filters, where

COLUMNS = (
    "policy", "arm", "task", "requests", "errors", "cost_nanos", "cost_squares",
    "answered", "answered_cost_nanos", "latency_n", "latency_sum", "latency_squares",
    "feedback_n", "feedback_sum", "feedback_squares", "accepted_n", "accepted_sum",
    "quality_n", "quality_sum", "quality_squares", "quality_fractional",
)
_FLOATS = frozenset({"cost_squares", "latency_sum", "latency_squares", "feedback_sum", "feedback_squares",
                     "quality_sum", "quality_squares"})


def arms_sql(filters: Filters, d: Dialect, policy: str | None = None) -> tuple[str, list[Any]]:
    where_sql, params = where(filters, d)
    conditions = ["u.parent_id IS NULL", "u.arm IS NOT NULL"]
    if where_sql:
        conditions.append(where_sql[len(" WHERE "):])
    if policy is not None:
        conditions.append(f"u.policy = {d.ph}")
        params.append(policy)
    inner = (
        "SELECT u.policy, u.arm, u.task, u.status, u.latency_ms, "
        "CASE WHEN u.status < 400 THEN u.accepted END AS accepted, "
        "CASE WHEN u.status < 400 THEN f.score END AS score, "
        "CASE WHEN u.status < 400 THEN COALESCE(f.score, u.accepted) END AS q, "
        "u.cost_nanos AS own, "
        "u.cost_nanos + COALESCE((SELECT SUM(a.cost_nanos) FROM usage a WHERE a.parent_id = u.request_id), 0) AS cost "
        "FROM usage u LEFT JOIN feedback f ON f.request_id = u.request_id "
        f"WHERE {' AND '.join(conditions)}"
    )
    sql = (
        "SELECT r.policy, r.arm, r.task, COUNT(*), "
        "SUM(CASE WHEN r.status >= 400 THEN 1 ELSE 0 END), SUM(r.cost), SUM(1.0 * r.cost * r.cost), "
        "SUM(CASE WHEN r.status < 400 THEN 1 ELSE 0 END), SUM(CASE WHEN r.status < 400 THEN r.own ELSE 0 END), "
        "COUNT(r.latency_ms), SUM(r.latency_ms), SUM(r.latency_ms * r.latency_ms), "
        "COUNT(r.score), SUM(r.score), SUM(r.score * r.score), COUNT(r.accepted), SUM(r.accepted), "
        "COUNT(r.q), SUM(r.q), SUM(r.q * r.q), SUM(CASE WHEN r.q > 0 AND r.q < 1 THEN 1 ELSE 0 END) "
        f"FROM ({inner}) r GROUP BY r.policy, r.arm, r.task ORDER BY r.policy, r.arm, r.task"
    )
    return sql, params


def shape(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in zip(COLUMNS, row, strict=True):
        if name in ("policy", "arm", "task"):
            out[name] = value
        elif name in _FLOATS:
            out[name] = float(value or 0)
        else:
            out[name] = int(value or 0)  # PostgreSQL's SUM(bigint) is numeric
    return out
