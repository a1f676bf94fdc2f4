"""Which budgets cover a call, in which windows, and what to reserve against them: the budgets
stage's pure part (no I/O, no state store), memoized per kind of call and window so a request
reads one memo instead of matching scopes, finding windows and making claims. The stage
(:mod:`costops.control.budgets`) does the reserving, settling and alerting with it."""

from __future__ import annotations

from typing import Any

from costops.control.admission import Subject, applies
from costops.control.budget_spec import Budget
from costops.control.reservations import Claim
from costops.control.windows import Window, current_window
from costops.pipeline.contract import Call

_MEMO_MAX = 4096


class Plan:
    """What every request matching the same budgets reserves against in the windows in force
    from ``built`` until ``until`` (the first of them to turn): see :meth:`Plans.plan`."""

    __slots__ = ("active", "claims", "limits", "built", "until", "hard", "paced", "downgrades", "observed", "lowest", "by_name")

    def __init__(self, active: list[tuple[Budget, Window]], claims: list[Claim], built: float) -> None:
        self.active, self.claims, self.built = active, claims, built
        self.limits = [b.limit_nanos for b, _ in active]
        self.observed = tuple((b.name, w.id, b.limit_nanos, lowest_threshold(b)) for b, w in active)
        """Per budget, what the stage's ``_observe`` reads after every reservation and settle:
        (name, window id, limit, nanos of its lowest threshold)."""
        self.lowest = tuple(o[3] for o in self.observed)
        """Per budget, the nanos of its lowest threshold: the one comparison ``_observe`` makes per level."""
        self.by_name = {b.name: (b, w) for b, w in active}
        self.until = min(w.end for _, w in active)
        self.hard = any(b.hard for b, _ in active)
        self.paced = any(b.pace is not None for b, _ in active)
        self.downgrades = any(b.downgrade for b, _ in active)


NEVER = 2**63
"""More nanos than any level reaches: the threshold of a budget that has none."""


def threshold_nanos(t: int, limit: int) -> int:
    """The fewest nanos that reach ``t`` % of ``limit``: ``n * 100 >= t * limit`` exactly when
    ``n >= threshold_nanos(t, limit)`` (the ceiling), as :func:`~costops.control.admission.crossed` decides."""
    return -(-t * limit // 100)


def lowest_threshold(budget: Budget) -> int:
    """Nanos of spend plus holds below which no threshold of the budget is reached."""
    return threshold_nanos(budget.thresholds[0], budget.limit_nanos) if budget.thresholds else NEVER


def claims_for(active: list[tuple[Budget, Window]], allowed: list[int] | None = None) -> list[Claim]:
    """What to reserve against: each hard budget's limit, or its paced allowance by now."""
    limits = allowed or [b.limit_nanos for b, _ in active]
    return [
        Claim(b.name, limit if b.hard else -1, w.buckets, w.current, w.keep_s)
        for (b, w), limit in zip(active, limits, strict=True)
    ]


class Plans:
    """The memos behind :meth:`plan`; any budget added, removed or redefined starts them afresh."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[Budget, float, Window]] = {}
        self._matched_for: tuple[Budget, ...] | None = None
        self._matched: dict[tuple[Any, ...], tuple[Budget, ...]] = {}
        self._plans: dict[tuple[Any, ...], Plan] = {}
        self._tag_scoped = False

    def plan(self, call: Call, now: float, budgets_by_name: dict[str, Budget]) -> Plan | None:
        """The budgets covering the call in the windows in force now, with what to reserve against
        them: built once per kind of call and window (who calls, the model names, the deployment).
        Without a tag scope that depends only on the memo key; any budget added, removed or
        redefined (the admin API, in place) starts the memos afresh. None: no budget applies."""
        budgets = tuple(budgets_by_name.values())
        if budgets != self._matched_for:  # element by element, identity first: cheap for the same budgets
            self._matched_for, self._matched, self._plans = budgets, {}, {}
            self._tag_scoped = any(b.scope.tags for b in budgets)
        memo_key = None
        if not self._tag_scoped:
            record, key, deployment = call.record, call.key, call.deployment
            memo_key = (key.id, key.tenant, key.team, key.project, record.user, record.model_requested, call.model,
                        deployment.name if deployment else None, deployment.kind if deployment else None)
            plan = self._plans.get(memo_key)
            if plan is not None and plan.built <= now < plan.until:
                return plan
        active = []
        whole = True  # every matched budget has a window in force (a fixed period may start later)
        for budget in self._matching(call, memo_key):
            window = self.window(budget, now)
            if window is not None:
                active.append((budget, window))
            else:
                whole = False
        plan = Plan(active, claims_for(active), now) if active else None
        if memo_key is not None and plan is not None and whole:
            if len(self._plans) >= _MEMO_MAX:
                self._plans.clear()
            self._plans[memo_key] = plan
        return plan

    def _matching(self, call: Call, memo_key: tuple[Any, ...] | None) -> tuple[Budget, ...]:
        """The budgets whose scope covers the call; memoized under ``memo_key`` (None: a tag
        scope makes it depend on the request's tags, so matched each time)."""
        if memo_key is not None:
            found = self._matched.get(memo_key)
            if found is not None:
                return found
        record, key, deployment = call.record, call.key, call.deployment
        subject = Subject(
            tenant=key.tenant, team=key.team, project=key.project, key=key.id, user=record.user,
            models=(record.model_requested, call.model), provider=deployment.kind if deployment else None,
            deployment=deployment.name if deployment else None, tags=record.tags,
        )
        found = tuple(b for b in self._matched_for or () if applies(b.scope, subject))
        if memo_key is not None:
            if len(self._matched) >= _MEMO_MAX:
                self._matched.clear()
            self._matched[memo_key] = found
        return found

    def window(self, budget: Budget, now: float) -> Window | None:
        """``current_window`` memoized per budget: the window found at ``t0`` is the window at every
        instant from ``t0`` to its end (calendar, rolling and fixed alike), so a request pays for
        the time-zone arithmetic only when a window turns (or the clock goes back)."""
        memo = self._windows.get(budget.name)
        if memo is not None and memo[0] is budget and memo[1] <= now < memo[2].end:
            return memo[2]
        window = current_window(budget.window, now)
        if window is not None:
            self._windows[budget.name] = (budget, now, window)
        return window
