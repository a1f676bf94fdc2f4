"""What the budgets stage's helpers see of it: the stage (:mod:`costops.control.budgets`) uses
its admin API, its periodic checks and its recovery, and they read and write the stage's state
back through this view, so none of them imports the stage (no import circle) and each can be
driven by anything that has these attributes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from costops.config import Config
from costops.control.alerts import AlertDispatcher, AlertsConfig
from costops.control.budget_spec import Budget, BudgetsConfig
from costops.control.reservations import BudgetState, Claim


class BudgetsView(Protocol):
    config: Config
    clock: Callable[[], float]
    settings: BudgetsConfig
    state: BudgetState
    alerts: AlertDispatcher
    alerts_config: AlertsConfig
    configured: dict[str, Budget]
    """The config file's budgets."""
    budgets: dict[str, Budget]
    """The budgets in force: the config file's, then the admin API's over them."""
    seeded: set[tuple[str, str]]
    """(budget, window id) pairs already started from the ledger."""
    history: dict[str, list[int]]
    """Recent full days' spend per budget, from the ledger."""
    in_flight: dict[str, tuple[str, list[Claim], int]]
    """The holds of admitted calls not yet settled."""

    def store(self) -> Any:
        """The ledger store the spend is read from."""
        ...
