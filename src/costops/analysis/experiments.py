"""The experiments report: per experiment (or bandit) and arm, what it cost and how good it was.

Per arm: requests, errors, spend (exact), mean cost and latency per request, quality from
feedback scores and from the automatic checks, each with a 95 % confidence interval, and the
difference from the control arm (the arm named ``control``, else the first) with its own
interval, so "cheaper at the same quality" is a claim with error bars. Means use the normal
approximation (Welch for differences); rates use the Wilson interval, which stays inside
[0, 1] and behaves with few observations.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from costops.money import from_nanos

Z = 1.959963984540054
"""The two-sided 95 % normal quantile."""
_SUMMED = ("requests", "errors", "cost_nanos", "cost_squares", "answered", "answered_cost_nanos", "latency_n",
           "latency_sum", "latency_squares", "feedback_n", "feedback_sum", "feedback_squares", "accepted_n",
           "accepted_sum")


def mean_ci(n: int, total: float, squares: float) -> tuple[float, float, float] | None:
    """(mean, low, high) of a sample from its count, sum and sum of squares; None when empty."""
    if n <= 0:
        return None
    mean = total / n
    if n == 1:
        return mean, mean, mean
    variance = max(squares - total * total / n, 0.0) / (n - 1)
    half = Z * math.sqrt(variance / n)
    return mean, mean - half, mean + half


def wilson(successes: int, n: int) -> tuple[float, float, float] | None:
    """(rate, low, high): the Wilson score interval."""
    if n <= 0:
        return None
    p = successes / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return p, max(0.0, centre - half), min(1.0, centre + half)


def difference(a: tuple[int, float, float], b: tuple[int, float, float]) -> tuple[float, float, float] | None:
    """(mean_a - mean_b, low, high), Welch's normal approximation, from (n, sum, squares) pairs."""
    (na, sa, qa), (nb, sb, qb) = a, b
    if na < 2 or nb < 2:
        return None
    ma, mb = sa / na, sb / nb
    va = max(qa - sa * sa / na, 0.0) / (na - 1)
    vb = max(qb - sb * sb / nb, 0.0) / (nb - 1)
    half = Z * math.sqrt(va / na + vb / nb)
    return ma - mb, ma - mb - half, ma - mb + half


def merge(rows: Iterable[Mapping[str, Any]], by_task: bool = False) -> list[dict[str, Any]]:
    """The ledger's (policy, arm, task) rows summed per (policy, arm), or kept per task."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = (row["policy"], row["arm"], row["task"] if by_task else None)
        into = out.setdefault(key, {"policy": key[0], "arm": key[1], "task": key[2], **{k: 0 for k in _SUMMED}})
        for name in _SUMMED:
            into[name] += row[name]
    return list(out.values())


def arm_metrics(row: Mapping[str, Any]) -> dict[str, Any]:
    n = row["requests"]
    return {
        "policy": row["policy"], "arm": row["arm"], "task": row["task"], "requests": n, "errors": row["errors"],
        "error_rate": wilson(row["errors"], n),
        "spend_usd": str(from_nanos(row["cost_nanos"])),
        "cost_per_request_usd": _scaled(mean_ci(n, row["cost_nanos"], row["cost_squares"]), 1e-9),
        "latency_ms": mean_ci(row["latency_n"], row["latency_sum"], row["latency_squares"]),
        "feedback_n": row["feedback_n"],
        "feedback_quality": mean_ci(row["feedback_n"], row["feedback_sum"], row["feedback_squares"]),
        "checked_n": row["accepted_n"],
        "accepted_rate": wilson(row["accepted_sum"], row["accepted_n"]),
    }


def _scaled(ci: tuple[float, float, float] | None, factor: float) -> tuple[float, float, float] | None:
    return None if ci is None else (ci[0] * factor, ci[1] * factor, ci[2] * factor)


def build(rows: Iterable[Mapping[str, Any]], *, by_task: bool = False) -> dict[str, Any]:
    """``{policy: {"control": arm, "arms": [metrics...]}}`` with differences from the control arm."""
    report: dict[str, Any] = {}
    merged = merge(rows, by_task)
    for policy in sorted({r["policy"] for r in merged}, key=lambda p: (p is None, str(p))):  # NULL (an arm without a policy) last
        mine = [r for r in merged if r["policy"] == policy]
        arms = sorted({r["arm"] for r in mine})
        control = "control" if "control" in arms else arms[0]
        out = []
        for row in sorted(mine, key=lambda r: (r["task"] or "", r["arm"] != control, r["arm"])):
            metrics = arm_metrics(row)
            base = next((r for r in mine if r["arm"] == control and r["task"] == row["task"]), None)
            if base is not None and row["arm"] != control:
                metrics["vs_control"] = {
                    "quality": difference(_triple(row, "feedback"), _triple(base, "feedback")),
                    "cost_per_request_usd": _scaled(difference(
                        (row["requests"], row["cost_nanos"], row["cost_squares"]),
                        (base["requests"], base["cost_nanos"], base["cost_squares"])), 1e-9),
                }
            out.append(metrics)
        report[policy] = {"control": control, "arms": out}
    return report


def _triple(row: Mapping[str, Any], name: str) -> tuple[int, float, float]:
    return row[f"{name}_n"], row[f"{name}_sum"], row[f"{name}_squares"]


def render(report: Mapping[str, Any]) -> str:
    from costops.analysis.report import money, table

    if not report:
        return ("No experiment or bandit has served a request in this ledger: bind one to a model name under "
                "routing.policies (kind: experiment or bandit) and send traffic through it.")
    parts = []
    for policy, body in report.items():
        rows: list[list[str]] = []
        for m in body["arms"]:
            vs = m.get("vs_control") or {}
            rows.append([
                m["arm"] + (f" ({m['task']})" if m["task"] else ""), f"{m['requests']:,}", _rate(m["error_rate"]),
                money(Decimal(m["spend_usd"])), _ci(m["cost_per_request_usd"], "${:.5f}"), _ci(m["latency_ms"], "{:.0f}"),
                f"{m['feedback_n']:,}", _ci(m["feedback_quality"], "{:.3f}"), _rate(m["accepted_rate"]),
                "control" if m["arm"] == body["control"] else _ci(vs.get("quality"), "{:+.3f}"),
                "" if m["arm"] == body["control"] else _ci(vs.get("cost_per_request_usd"), "${:+.5f}"),
            ])
        headers = ["arm", "requests", "errors", "spend", "cost/request", "latency ms", "scored", "quality",
                   "accepted", "Δ quality", "Δ cost/request"]
        parts.append(f"== {policy} ==  (95 % confidence intervals; Δ: against {body['control']})\n" + table(headers, rows))
    return "\n\n".join(parts)


def _ci(ci: Sequence[float] | None, fmt: str) -> str:
    if ci is None:
        return "-"
    return f"{fmt.format(ci[0])} [{fmt.format(ci[1])}, {fmt.format(ci[2])}]"


def _rate(ci: Sequence[float] | None) -> str:
    if ci is None:
        return "-"
    return f"{ci[0] * 100:.1f}% [{ci[1] * 100:.1f}, {ci[2] * 100:.1f}]"
