"""How a router does on rows with known outcomes: its cost-quality curve and the baselines.

For every threshold: mean quality (the chosen model's score, averaged over scored rows), total
cost (the row's ``cost_usd`` for the chosen model where it carries one, else the router's
expected cost) and the share of prompts each model got. A row's candidates are the router's
models that have a measured score on it (a null outcome means "not available", as a capability
filter would say), so every choice is scored; rows that score none of them count only in the mix.

Baselines, on the same rows:

- ``always_strongest``: the model with the best mean score on these rows (where a row lacks it,
  the next best), the quality the router is measured against;
- ``always_cheapest``: the model with the lowest mean cost (likewise);
- ``random``: for each router point, mixing those two at random at the router's cost (the straight
  line between them, in expectation), which a router must beat to have learned anything;
- ``oracle``: per row the cheapest model with the row's best score, the ceiling.

Rows with prompts only get the mix per threshold; quality and cost are null and baselines empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from costops.routing.learned import Router, decide
from costops.routing.outcomes import OutcomeRow


def outcome_arrays(models: Sequence[str], rows: Sequence[OutcomeRow], estimated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Y, C): scores with NaN where unmeasured, and costs (the row's own where it has them)."""
    Y = np.full((len(rows), len(models)), np.nan)
    C = np.array(estimated, dtype=np.float64, copy=True)
    for i, r in enumerate(rows):
        for j, m in enumerate(models):
            if m in r.outcomes:
                Y[i, j] = r.outcomes[m]
            if m in r.cost_usd:
                C[i, j] = r.cost_usd[m]
    return Y, C


def evaluate(router: Router, rows: Sequence[OutcomeRow], thresholds: Sequence[float]) -> dict[str, Any]:
    pred = router.predict([r.prompt for r in rows])
    Y, C = outcome_arrays(router.models, rows, pred.cost_usd)
    return curve(router.models, pred.p_good, C, Y, thresholds, rule=router.rule, cost_scale=router.cost_scale)


def curve(
    models: Sequence[str],
    P: np.ndarray,
    C: np.ndarray,
    Y: np.ndarray,
    thresholds: Sequence[float],
    *,
    rule: str,
    cost_scale: float,
) -> dict[str, Any]:
    n, M = P.shape
    measured = ~np.isnan(Y)
    scored = measured.any(axis=1)
    available = np.where(scored[:, None], measured, True)
    Ys, Cs, As = Y[scored], C[scored], measured[scored]
    points = []
    for t in thresholds:
        chosen = decide(P, C, t, rule=rule, cost_scale=cost_scale, available=available)
        point: dict[str, Any] = {"threshold": t, "quality": None, "cost_usd": None, "mix": _mix(models, chosen)}
        if scored.any():
            q, c = _score(Ys, Cs, chosen[scored])
            point.update(quality=q, cost_usd=c)
        points.append(point)
    result: dict[str, Any] = {"rows": n, "scored_rows": int(scored.sum()), "rule": rule, "points": points, "baselines": {}}
    if not scored.any():
        return result
    strongest = _always(models, Ys, Cs, As, rank=-np.nanmean(Ys, axis=0))
    cheapest = _always(models, Ys, Cs, As, rank=np.nanmean(np.where(As, Cs, np.nan), axis=0))
    oracle_best = np.nanmax(Ys, axis=1, keepdims=True)
    oracle_choice = np.where(As & (Ys >= oracle_best - 1e-12), -Cs, -np.inf).argmax(axis=1)
    oq, oc = _score(Ys, Cs, oracle_choice)
    result["baselines"] = {
        "always_strongest": strongest,
        "always_cheapest": cheapest,
        "random": [_random_mix(p["cost_usd"], cheapest, strongest) for p in points],
        "oracle": {"quality": oq, "cost_usd": oc, "mix": _mix(models, oracle_choice)},
    }
    return result


def _score(Y: np.ndarray, C: np.ndarray, chosen: np.ndarray) -> tuple[float, float]:
    rows = np.arange(len(chosen))
    return round(float(Y[rows, chosen].mean()), 6), round(float(C[rows, chosen].sum()), 6)


def _mix(models: Sequence[str], chosen: np.ndarray) -> dict[str, float]:
    picked = chosen[chosen >= 0]
    if not len(picked):
        return {}
    counts = np.bincount(picked, minlength=len(models))
    order = np.argsort(-counts, kind="stable")
    return {models[j]: round(float(counts[j]) / len(picked), 4) for j in order if counts[j]}


def _always(models: Sequence[str], Y: np.ndarray, C: np.ndarray, A: np.ndarray, *, rank: np.ndarray) -> dict[str, Any]:
    """Always the first model by ``rank`` (lower is better); a row lacking it takes the next."""
    rank = np.where(np.isnan(rank), np.inf, rank)
    position = np.empty(len(rank))
    position[np.argsort(rank, kind="stable")] = np.arange(len(rank))
    chosen = np.where(A, -position[None, :], -np.inf).argmax(axis=1)
    q, c = _score(Y, C, chosen)
    return {"model": models[int(np.argmin(position))], "quality": q, "cost_usd": c, "mix": _mix(models, chosen)}


def _random_mix(cost: float, cheap: dict[str, Any], strong: dict[str, Any]) -> dict[str, Any]:
    span = strong["cost_usd"] - cheap["cost_usd"]
    share = 0.0 if span <= 0 else min(max((cost - cheap["cost_usd"]) / span, 0.0), 1.0)
    quality = cheap["quality"] + share * (strong["quality"] - cheap["quality"])
    return {
        "quality": round(quality, 6),
        "cost_usd": round(cheap["cost_usd"] + share * span, 6),
        "mix": {strong["model"]: round(share, 4), cheap["model"]: round(1 - share, 4)},
    }
