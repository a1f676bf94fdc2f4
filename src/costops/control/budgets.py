"""The budgets stage: reserve a request's most likely-worst cost in every budget that covers it,
before the call; settle the actual cost after; downgrade or refuse when a budget runs out.

    before: budgets that apply -> soft limit? downgrade the model -> estimate -> reserve in all
            (atomic: a lock-free event-loop step in one process, a Lua script across replicas)
            -> refused? 429 budget_exceeded naming the budget, spend, limit and reset time
    after:  release the hold, add the actual cost (also after errors: an error costs nothing)

Thresholds, forecasts, spikes and the daily digest become alerts delivered in the background
(:mod:`costops.control.alerts`); the periodic checks live in :mod:`costops.control.monitor`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from costops.config import Config
from costops.control.admission import Level, Subject, applies, choose_downgrade, crossed, refusal, retry_after
from costops.control.alerts import Alert, AlertDispatcher, parse_alerts
from costops.control.budget_spec import Budget, BudgetsConfig, parse_budgets
from costops.control.estimate import estimate_nanos
from costops.control.reservations import BudgetState, Claim, MemoryState
from costops.control.windows import Window, current_window, iso
from costops.errors import CostopsError, RateLimited
from costops.gateway.resolve import resolve_model
from costops.gateway.stages import Call
from costops.money import from_nanos, usd_str

log = logging.getLogger("costops.budgets")


class BudgetExceeded(RateLimited):
    """HTTP 429 in both APIs' shapes; OpenAI clients see type and code ``budget_exceeded``."""

    type = "budget_exceeded"
    code = "budget_exceeded"


class BudgetStateUnavailable(CostopsError):
    status = 503
    type = "overloaded_error"
    code = "budget_state_unavailable"


def keep_seconds(budget: Budget, window: Window) -> int:
    """How long a budget's state must outlive its last write: the window, plus a day's margin."""
    return int(window.length) + 86400


class BudgetsStage:
    name = "budgets"

    def __init__(self, config: Config, clock: Callable[[], float], state: BudgetState | None = None) -> None:
        self.config, self.clock = config, clock
        self.settings: BudgetsConfig = parse_budgets(config.sections["budgets"])
        self.alerts_config = parse_alerts(config.sections.get("alerts"))
        self.configured: dict[str, Budget] = {b.name: b for b in self.settings.budgets}
        self.budgets: dict[str, Budget] = dict(self.configured)
        self.state: BudgetState = state or _state_for(config, self.settings)
        self.alerts = AlertDispatcher(self.alerts_config, lambda key, ttl: self.state.once(key, ttl))
        self.last: dict[str, tuple[str, Level]] = {}
        """Last level seen per budget and its window id: the snapshot soft decisions read."""
        self.history: dict[str, list[int]] = {}
        """Recent full days' spend per budget, from the ledger."""
        self.seeded: set[tuple[str, str]] = set()
        self.unpriced: set[str] = set()
        self._pricer: Any = None
        self._store: Any = None
        self._task: asyncio.Task[None] | None = None
        from costops.control.budget_admin import admin_routes

        self.admin_routes = admin_routes(self)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        from costops.control import monitor
        from costops.pricing import PriceCatalog
        from costops.pricing.quote import Pricer

        self._pricer = Pricer(PriceCatalog(self.config.prices))
        await self.state.start()
        if self.state.shared:  # an unreachable Redis is handled per request (budgets.on_state_error)
            try:
                await self.state.redis.ping()  # type: ignore[attr-defined]
            except Exception as exc:
                log.error("budget state (Redis) unreachable at start: %s", exc)
        await self.alerts.start()
        await monitor.load_definitions(self)
        await monitor.refresh(self, initial=True)
        self._task = asyncio.create_task(monitor.loop(self), name="costops-budgets")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.alerts.stop()
        await self.state.close()
        if self._store is not None:
            await asyncio.to_thread(self._store.close)

    def store(self) -> Any:
        """The ledger, opened on first use (in a thread: opening may touch the disk)."""
        if self._store is None:
            from costops.ledger.store import open_store

            self._store = open_store(self.config.ledger.db)
        return self._store

    # -- the request path ------------------------------------------------------------------

    def applicable(self, call: Call, now: float) -> list[tuple[Budget, Window]]:
        record, key = call.record, call.key
        subject = Subject(
            tenant=key.tenant, team=key.team, project=key.project, key=key.id, user=record.user,
            models=(record.model_requested, call.model), provider=call.deployment.kind if call.deployment else None,
            deployment=call.deployment.name if call.deployment else None, tags=record.tags,
        )
        out = []
        for budget in self.budgets.values():
            if applies(budget.scope, subject):
                window = current_window(budget.window, now)
                if window is not None:
                    out.append((budget, window))
        return out

    def claims(self, active: list[tuple[Budget, Window]]) -> list[Claim]:
        return [
            Claim(b.name, b.limit_nanos if b.hard else -1, w.buckets, w.current, keep_seconds(b, w)) for b, w in active
        ]

    async def before(self, call: Call) -> None:
        now = call.now
        active = self.applicable(call, now)
        if not active:
            return None
        # 1. soft limit: a cheaper model, decided on the last snapshot (a soft decision may be stale)
        snapshot = [(b, self._last_level(b, w)) for b, w in active]
        downgrade = choose_downgrade(call.model, snapshot)
        if downgrade is not None:
            try:
                call.deployment, call.model = resolve_model(self.config, downgrade.model)
            except CostopsError:
                log.warning("budget %s: downgrade target %r is not served; keeping %s", downgrade.budget, downgrade.model, call.model)
            else:
                pct = f"{downgrade.pct:.0f}"
                call.response_headers.append((b"x-costops-budget", f"{downgrade.budget}={pct}%".encode()))
                budget, window = next((b, w) for b, w in active if b.name == downgrade.budget)
                self._emit(budget, window, "downgrade", f"downgrade:{budget.name}:{window.id}",
                           f"budget '{budget.name}' is at {pct}% of ${usd_str(from_nanos(budget.limit_nanos))}: sending "
                           f"requests to cheaper models (first: {call.record.model_requested} -> {downgrade.model})")
        # 2. estimate, then reserve in every applicable budget at once
        estimate, priced = estimate_nanos(
            self._pricer, call.api, call.endpoint, call.body, call.deployment, call.model, self.settings.expected_output
        )
        if not priced and call.model not in self.unpriced:
            self.unpriced.add(call.model)
            log.warning("model %s has no price: its requests reserve nothing against budgets", call.model)
        claims = self.claims(active)
        rid = call.record.request_id
        try:
            admission = await self.state.reserve(rid, claims, estimate, now, now + self.settings.reservation_ttl_s)
        except Exception as exc:
            return self._state_failed(exc)
        self._observe(active, admission.levels)
        if not admission.admitted:
            assert admission.refused_by is not None
            budget, window = active[admission.refused_by]
            level = admission.levels[admission.refused_by]
            message = refusal(budget, window, level, estimate)
            self._emit(budget, window, "blocked", f"blocked:{budget.name}:{window.id}", f"blocking requests: {message}")
            raise BudgetExceeded(message, retry_after=retry_after(window, now))
        call.state["budgets"] = (rid, claims, active, estimate)
        return None

    async def after(self, call: Call) -> None:
        held = call.state.get("budgets")
        if held is None:
            return
        rid, claims, active, _estimate = held
        record = call.record
        actual = record.cost.nanos()["cost_nanos"] if record.priced else 0
        levels = await self.state.settle(rid, claims, actual, self.clock())
        self._observe(active, levels)

    # -- helpers ---------------------------------------------------------------------------

    def _last_level(self, budget: Budget, window: Window) -> Level:
        seen = self.last.get(budget.name)
        if seen is None or seen[0] != window.id:
            return Level(0, 0, budget.limit_nanos)
        return seen[1]

    def _observe(self, active: list[tuple[Budget, Window]], levels: tuple[Level, ...]) -> None:
        """Remember the levels and raise the threshold alerts they cross (once per window)."""
        for (budget, window), level in zip(active, levels, strict=True):
            level = Level(level.spent, level.reserved, budget.limit_nanos)
            self.last[budget.name] = (window.id, level)
            reached = crossed(budget.thresholds, level)
            for t in reached[:-1]:  # one alert for the highest level reached, none for those it skipped
                self.alerts.seen.add(f"threshold:{budget.name}:{window.id}:{t}")
            for t in reached[-1:]:
                self._emit(
                    budget, window, "threshold", f"threshold:{budget.name}:{window.id}:{t}",
                    f"budget '{budget.name}' ({budget.scope.describe()}) reached {t}% of "
                    f"${usd_str(from_nanos(budget.limit_nanos))} this {budget.window.describe()} window: spent "
                    f"${usd_str(from_nanos(level.spent))}, ${usd_str(from_nanos(level.reserved))} in flight; "
                    f"resets {iso(window.end, budget.window.timezone)}",
                    threshold=t,
                )

    def _emit(self, budget: Budget, window: Window, event: str, key: str, text: str, **data: Any) -> None:
        level = self._last_level(budget, window)
        self.alerts.emit(Alert(event, key, budget.name, text, {
            "scope": budget.scope.to_dict(), "window": window.id, "resets_at": iso(window.end, budget.window.timezone),
            "limit_usd": usd_str(from_nanos(budget.limit_nanos)), "spent_usd": usd_str(from_nanos(level.spent)),
            "reserved_usd": usd_str(from_nanos(level.reserved)), **data,
        }, ttl_s=keep_seconds(budget, window)))

    def _state_failed(self, exc: Exception) -> None:
        if self.settings.on_state_error == "block":
            raise BudgetStateUnavailable(
                f"budget state is unreachable ({type(exc).__name__}: {exc}); requests are held back "
                "(budgets.on_state_error: block)"
            ) from None
        log.error("budget state unreachable, admitting without a budget check: %s", exc)
        return None


def _state_for(config: Config, settings: BudgetsConfig) -> BudgetState:
    url = config.redis_url
    if settings.backend == "redis" or (settings.backend == "auto" and url):
        if not url:
            from costops.config import ConfigError

            raise ConfigError("budgets.backend: redis needs a 'redis: {url: redis://host:6379/0}' section")
        from costops.control.redis_state import RedisState

        return RedisState(str(url), settings.redis_prefix)
    return MemoryState()


def budgets_stage(config: Config, clock: Callable[[], float]) -> BudgetsStage:
    return BudgetsStage(config, clock)
