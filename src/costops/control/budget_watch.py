"""What the budgets stage has seen of each budget's level, and the alerts those levels raise.

The stage reserves and settles (:mod:`costops.control.budgets`); after each it hands the levels
here (:meth:`BudgetWatch.observe`), which keeps the latest per budget (the snapshot the downgrade
check and routing read) and raises each threshold alert once per window: ``threshold`` when the
settled spend reached it, ``projected`` when only spend plus the holds in flight did. Kept apart
from the stage because it is bookkeeping about levels, not admission: it never refuses a call.
"""

from __future__ import annotations

from typing import Any

from costops.control.admission import Level, crossed
from costops.control.alerts import Alert, AlertDispatcher
from costops.control.budget_plans import NEVER, Plan, threshold_nanos
from costops.control.budget_spec import Budget
from costops.control.reservations import new_level
from costops.control.windows import Window, iso
from costops.money import from_nanos, usd_str


class BudgetWatch:
    def __init__(self, alerts: AlertDispatcher) -> None:
        self.alerts = alerts
        self._last: dict[str, tuple[str, Level]] = {}
        """Last level seen per budget and its window id, up to the pending observation: :attr:`last`."""
        self._seen_plan: Plan | None = None
        self._seen_levels: tuple[Level, ...] | None = None
        """The latest observation, not yet written into ``_last``: see :meth:`observe`."""
        self._pending: dict[str, tuple[Window, int, int, tuple[int, ...]]] = {}
        """Per budget: (its window, the alerts' version, and what is left to raise in nanos:
        :func:`_unraised`): see :meth:`cross`."""

    @property
    def last(self) -> dict[str, tuple[str, Level]]:
        """Last level seen per budget and its window id: the snapshot soft decisions read."""
        if self._seen_levels is not None:
            self.flush()
        return self._last

    def level(self, budget: Budget, window: Window) -> Level:
        """The budget's last level seen in ``window`` (nothing spent or held if none yet)."""
        seen = self.last.get(budget.name)
        if seen is None or seen[0] != window.id:
            return Level(0, 0, budget.limit_nanos)
        return seen[1]

    def observe(self, plan: Plan, levels: tuple[Level, ...]) -> None:
        """Remember the levels and raise the alerts of every threshold they cross, once per window
        each: ``threshold`` when the settled spend reached it, ``projected`` when only spend plus
        the holds of calls in flight did (those calls may yet cost less). Runs after every
        reservation and settle, so it does per request only what it must: it keeps the levels
        as they came (written per budget into :attr:`last` when the plan changes or the snapshot
        is read, in the order they were seen) and compares each budget's spend plus holds with
        its lowest threshold (nanos, precomputed with the plan); only a level that reaches it is
        checked further."""
        if self._seen_plan is not plan:
            if self._seen_levels is not None:
                self.flush()
            self._seen_plan = plan
        self._seen_levels = levels
        for lowest, level in zip(plan.lowest, levels, strict=True):
            if level[0] + level[1] >= lowest:
                break
        else:
            return
        self.flush()
        for (name, _, _, lowest), level in zip(plan.observed, levels, strict=True):
            if level[0] + level[1] >= lowest:
                budget, window = plan.by_name[name]
                self.cross(budget, window, self._last[name][1])

    def flush(self) -> None:
        """Write the pending observation into ``_last``, each level at its budget's own limit
        (a budget that only alerts reserves against "no limit", a paced one its allowance)."""
        plan, levels = self._seen_plan, self._seen_levels
        self._seen_levels = None
        if plan is None or levels is None:
            return
        last = self._last
        for (name, window_id, limit, _), level in zip(plan.observed, levels, strict=True):
            if level[2] != limit:
                level = new_level(Level, (level[0], level[1], limit))
            last[name] = (window_id, level)

    def cross(self, budget: Budget, window: Window, level: Level) -> None:
        """The alerts of the thresholds ``level`` reaches that this process has not raised yet.
        Nothing is checked when none of them can be due (:func:`_unraised`: nanos, found again
        when an alert is raised or the window turns)."""
        alerts = self.alerts
        seen = alerts.seen
        pending = self._pending.get(budget.name)
        if pending is None or pending[0] is not window or pending[1] != alerts.version:
            pending = (window, alerts.version, *_unraised(budget, window, seen))
            self._pending[budget.name] = pending
        spent = level[0]
        if spent < pending[2]:  # no settled threshold due; a projected one only with spent < it <= committed
            committed = spent + level[1]
            for nanos in pending[3]:  # ascending
                if nanos > committed:
                    return
                if nanos > spent:
                    break
            else:
                return
        for t, settled in crossed(budget.thresholds, level):
            key = f"{'threshold' if settled else 'projected'}:{budget.name}:{window.id}:{t}"
            if key in seen:  # handed on already: skip building its text
                continue
            self.emit(budget, window, "threshold" if settled else "projected", key,
                       self.threshold_text(budget, window, level, t, settled), threshold=t,
                       basis="settled" if settled else "projected")

    def threshold_text(self, budget: Budget, window: Window, level: Level, t: int, settled: bool) -> str:
        head = f"budget '{budget.name}' ({budget.scope.describe()}) "
        limit = f"${usd_str(from_nanos(budget.limit_nanos))}"
        flight = f"${usd_str(from_nanos(level.reserved))} held by requests in flight"
        tail = f"; resets {iso(window.end, budget.window.timezone)}"
        if settled:
            return (f"{head}reached {t}% of {limit} this {budget.window.describe()} window: spent "
                    f"${usd_str(from_nanos(level.spent))}, {flight}{tail}")
        return (f"{head}is projected at {t}% of {limit} this {budget.window.describe()} window: spent "
                f"${usd_str(from_nanos(level.spent))} so far, plus {flight} (they may cost less){tail}")

    def emit(self, budget: Budget, window: Window, event: str, key: str, text: str, **data: Any) -> None:
        level = self.level(budget, window)
        self.alerts.emit(Alert(event, key, budget.name, text, {
            "scope": budget.scope.to_dict(), "window": window.id, "resets_at": iso(window.end, budget.window.timezone),
            "limit_usd": usd_str(from_nanos(budget.limit_nanos)), "spent_usd": usd_str(from_nanos(level.spent)),
            "reserved_usd": usd_str(from_nanos(level.reserved)), **data,
        }, ttl_s=window.keep_s))


def _unraised(budget: Budget, window: Window, seen: set[str]) -> tuple[int, tuple[int, ...]]:
    """What ``seen`` leaves to raise in this window, in nanos: the lowest threshold whose
    ``threshold`` alert is not raised (:data:`NEVER`: all are), and those whose ``projected``
    alert is not, ascending. A level raises something new only when its settled spend reaches
    the first, or when one of the others lies above its settled spend and within spend plus holds."""
    settled, projected = NEVER, []
    for t in budget.thresholds:
        key = f"{budget.name}:{window.id}:{t}"
        if settled == NEVER and f"threshold:{key}" not in seen:
            settled = threshold_nanos(t, budget.limit_nanos)
        if f"projected:{key}" not in seen:
            projected.append(threshold_nanos(t, budget.limit_nanos))
    return settled, tuple(projected)
