"""Budget decisions as pure functions of (request, state snapshot, now): which budgets apply,
whether a request fits, whether to downgrade, which thresholds are crossed, what a refusal says.

The in-process backend calls :func:`fits` under its critical section; the Redis script applies the
same rule (``spent + reserved + estimate <= limit``, and nothing more once the budget is full)
atomically across replicas. Money is integer nano-dollars throughout.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from costops.control.budget_spec import Budget, Scope
from costops.control.windows import Window, iso
from costops.money import from_nanos, usd_str


@dataclass(frozen=True, slots=True)
class Subject:
    """What budget scopes are matched against: who calls, for which model, where it goes."""

    tenant: str = "default"
    team: str | None = None
    project: str | None = None
    key: str | None = None
    user: str | None = None
    models: tuple[str, ...] = ()
    """The requested name and the resolved upstream name."""
    provider: str | None = None
    deployment: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


def applies(scope: Scope, s: Subject) -> bool:
    for name in ("tenant", "team", "project", "key", "user", "provider", "deployment"):
        wanted = getattr(scope, name)
        if wanted is not None and getattr(s, name) != wanted:
            return False
    if scope.model is not None and not any(fnmatch.fnmatchcase(m, scope.model) for m in s.models):
        return False
    return all(s.tags.get(k) == v for k, v in scope.tags.items())


class Level(NamedTuple):
    """One budget's state at one instant. A named tuple, not a frozen dataclass: six are made
    per request with two budgets, and a tuple is built in C (a frozen dataclass's ``__init__``
    sets each field through ``object.__setattr__``)."""

    spent: int
    reserved: int
    limit: int

    @property
    def committed(self) -> int:
        """Spent plus what admitted requests may still spend."""
        return self.spent + self.reserved

    @property
    def pct(self) -> float:
        return 100.0 if self.limit <= 0 else self.committed * 100 / self.limit


def fits(level: Level, estimate: int) -> bool:
    """The admission rule. A full budget admits nothing, not even a request priced at zero."""
    return level.committed < level.limit and level.committed + estimate <= level.limit


def crossed(thresholds: Sequence[int], level: Level) -> list[tuple[int, bool]]:
    """Thresholds (% of the limit, sorted) that spend plus holds has reached, each with whether the
    settled spend alone reached it (True) or only with the holds of calls in flight (False)."""
    out = []
    for t in thresholds:
        if level.limit > 0 and level.committed * 100 < t * level.limit:
            break
        out.append((t, level.limit <= 0 or level.spent * 100 >= t * level.limit))
    return out


@dataclass(frozen=True, slots=True)
class Downgrade:
    budget: str
    pct: float
    model: str


def choose_downgrade(model: str, budgets: Sequence[tuple[Budget, Level]]) -> Downgrade | None:
    """The cheaper model to use when a budget past its soft limit names one for ``model``; the
    fullest such budget decides. A soft decision: acting on a slightly stale snapshot only makes
    the downgrade start a request early or late, never lets the hard limit be passed."""
    best: Downgrade | None = None
    for budget, level in budgets:
        if level.pct < budget.downgrade_at:
            continue
        target = budget.cheaper(model)
        if target and (best is None or level.pct > best.pct):
            best = Downgrade(budget.name, level.pct, target)
    return best


def retry_after(window: Window, now: float) -> float:
    return max(1.0, window.end - now)


def refusal(budget: Budget, window: Window, level: Level, estimate: int) -> str:
    """The message a blocked client sees: which budget, spent, limit, and when it resets."""
    spent, limit = from_nanos(level.spent), from_nanos(level.limit)
    parts = [
        f"budget '{budget.name}' ({budget.scope.describe()}, {budget.window.describe()}) is exhausted: "
        f"spent ${usd_str(spent)} of ${usd_str(limit)}"
    ]
    if level.reserved:
        parts.append(f" plus ${usd_str(from_nanos(level.reserved))} held by requests in flight")
    if estimate and level.committed < level.limit:
        parts.append(f"; this request may cost up to ${usd_str(from_nanos(estimate))}")
    when = iso(window.end, budget.window.timezone)
    resets = "frees the oldest hour's spend at" if budget.window.kind == "rolling" else "resets at"
    parts.append(f". It {resets} {when}; lower max_tokens, or ask an admin to raise the limit.")
    return "".join(parts)
