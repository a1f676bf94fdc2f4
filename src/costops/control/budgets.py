"""The budgets stage: reserve a request's most likely-worst cost in every budget that covers it,
before the call; settle the actual cost after; downgrade or refuse when a budget runs out.

    route:  soft limit? downgrade the model (:meth:`BudgetsStage.downgrade`, called by the Route
            step, so admission judges the model actually called)
    before: budgets that apply -> estimate -> reserve in all
            (atomic: a lock-free event-loop step in one process, a Lua script across replicas)
            -> refused? 429 budget_exceeded naming the budget, spend, limit and reset time
            -> fits the limit but not a paced budget's allowance by now
               (:mod:`costops.control.pacing`)? wait in the priority queue when ``queue:`` is
               configured (re-trying the whole reservation; nothing is held while waiting), else
               429 budget_paced with ``retry-after`` = when the allowance covers it
    readmit: before a further attempt (a cascade's escalation, a fallback): settle what the
            attempts so far cost, then reserve for the new target as ``before`` did, so an attempt
            that would pass a hard limit is refused before it is tried
    after:  release the hold, add the actual cost (also after errors: an error costs nothing)

Thresholds, forecasts, spikes and the daily digest become alerts delivered in the background
(:mod:`costops.control.alerts`); the periodic checks live in :mod:`costops.control.monitor`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson

from costops.cache.prompt import PLAN, client_breakpoints, has_cache_control, memo_counter, write_tokens
from costops.config import Config, Deployment
from costops.control import monitor
from costops.control.admission import (
    Level,
    choose_downgrade,
    fits,
    refusal,
    retry_after,
)
from costops.control.alerts import AlertDispatcher, parse_alerts
from costops.control.bucket import ADMITTED, Verdict
from costops.control.budget_admin import admin_routes
from costops.control.budget_plans import Plan, Plans, claims_for
from costops.control.budget_spec import Budget, BudgetsConfig, parse_budgets
from costops.control.budget_watch import BudgetWatch
from costops.control.estimate import Hold, call_cap, call_input_tokens, hold_for
from costops.control.pacing import allowance, wait_s
from costops.control.queue import WaitQueue, parse_queue
from costops.control.recovery import Recovery
from costops.control.reservations import Admission, BudgetState, Claim, MemoryState, StateLost
from costops.control.windows import Window, iso
from costops.errors import CostopsError, RateLimited
from costops.gateway.resolve import resolve_model
from costops.money import from_nanos, usd_str
from costops.pipeline.attempts import EARLIER, spent_nanos
from costops.pipeline.contract import Call, Shared
from costops.providers.anthropic_client_format import is_reasoning_model

log = logging.getLogger("costops.budgets")


class BudgetExceeded(RateLimited):
    """HTTP 429 in both APIs' shapes; OpenAI clients see type and code ``budget_exceeded``."""

    type = "budget_exceeded"
    code = "budget_exceeded"


class BudgetPaced(RateLimited):
    """HTTP 429: the request fits the budget but not its pace yet; ``retry-after`` says when."""

    type = "budget_paced"
    code = "budget_paced"


SETTLED = "budgets.settled"
"""``call.state`` key: nanos of the call's attempts already settled by :meth:`BudgetsStage.readmit`."""
CAPPED = "budgets.capped"
"""``call.state`` key: the output-cap field costops set in the body (the client named none)."""

ROUTED = "budgets.routed"
"""``call.state`` key: (model, deployment, plan) the Route step's downgrade check found, handed to
``before``, which takes it while the call still goes to that target (the same ``call.now``)."""

PACE_REASON = "pacing holds back requests for"
PACE_FREES = "the budget's pace allows this request"


class BudgetStateUnavailable(CostopsError):
    status = 503
    type = "overloaded_error"
    code = "budget_state_unavailable"


class BudgetsStage:
    name = "budgets"

    def __init__(
        self, config: Config, clock: Callable[[], float], state: BudgetState | None = None, *, shared: Shared | None = None
    ) -> None:
        self.config, self.clock = config, clock
        self.shared = shared or Shared()
        self.settings: BudgetsConfig = parse_budgets(config.sections["budgets"])
        self.alerts_config = parse_alerts(config.sections.get("alerts"))
        self.configured: dict[str, Budget] = {b.name: b for b in self.settings.budgets}
        self.budgets: dict[str, Budget] = dict(self.configured)
        self.state: BudgetState = state or _state_for(config, self.settings, self.shared)
        self._memory = self.state if type(self.state) is MemoryState else None
        """The in-process state, called without a coroutine (its operations never await)."""
        self._ttl = self.settings.reservation_ttl_s
        self.alerts = AlertDispatcher(self.alerts_config, lambda key, ttl: self.state.once(key, ttl))
        queue_config = parse_queue(config.sections.get("queue"))
        self.queue = WaitQueue(queue_config) if queue_config else None
        """Requests a paced budget holds back wait here (this stage's own queue, from the same
        ``queue:`` settings as the limits stage's)."""
        self.watch = BudgetWatch(self.alerts)
        """The levels seen and the alerts they raise (:mod:`costops.control.budget_watch`)."""
        self._observe = self.watch.observe
        self._last_level = self.watch.level
        self.history: dict[str, list[int]] = {}
        """Recent full days' spend per budget, from the ledger."""
        self.seeded: set[tuple[str, str]] = set()
        self.unpriced: set[str] = set()
        self.plans = Plans()
        """What each kind of call reserves against (pure, memoized): :mod:`costops.control.budget_plans`."""
        self._pricer: Any = None
        self._store: Any = None
        self._task: asyncio.Task[None] | None = None
        self.prompt_cache: Any = None
        """The prompt-cache stage, when one runs after this one: the writes its breakpoints cause are priced here."""
        self._counters: dict[str, Any] = {}
        self._max_outputs: dict[tuple[str, str | None], int] = {}
        self.in_flight: dict[str, tuple[str, list[Claim], int]] = {}
        """The holds of admitted calls not yet settled, renewed while they run (a call may read
        for longer than ``reservation_ttl_s``, with retries), put back if the state lost them."""
        self._renewer: asyncio.Task[None] | None = None
        self.recovery = Recovery(self)
        self.admin_routes = admin_routes(self)

    @property
    def last(self) -> dict[str, tuple[str, Level]]:
        """Last level seen per budget and its window id: the snapshot soft decisions read."""
        return self.watch.last

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        from costops.pricing import PriceCatalog
        from costops.pricing.quote import Pricer

        self._pricer = self.shared.pricer or Pricer(PriceCatalog(self.config.prices))
        await self.state.start()
        if self.state.shared:  # an unreachable Redis is handled per request (budgets.on_state_error)
            try:
                await self.state.join()  # type: ignore[attr-defined]
            except Exception as exc:
                log.error("budget state (Redis) unreachable at start: %s", exc)
        await self.alerts.start()
        await monitor.load_definitions(self)
        await monitor.refresh(self, initial=True)
        self._task = asyncio.create_task(monitor.loop(self), name="costops-budgets")
        self._renewer = asyncio.create_task(self._renew_holds(), name="costops-budget-holds")

    async def stop(self) -> None:
        for task in (self._task, self._renewer):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.alerts.stop()
        await self.state.close()
        if self._store is not None:
            await asyncio.to_thread(self._store.close)

    def store(self) -> Any:
        """The gateway's ledger; standalone (offline tools), its own, opened on first use."""
        if self.shared.store is not None and (gateway_store := self.shared.store()) is not None:
            return gateway_store
        if self._store is None:
            from costops.ledger.store import open_store

            self._store = open_store(self.config.ledger.db)
        return self._store

    # -- the request path ------------------------------------------------------------------

    def applicable(self, call: Call, now: float) -> list[tuple[Budget, Window]]:
        plan = self._plan(call, now)
        return plan.active if plan is not None else []

    def _plan(self, call: Call, now: float) -> Plan | None:
        return self.plans.plan(call, now, self.budgets)

    def claims(self, active: list[tuple[Budget, Window]], allowed: list[int] | None = None) -> list[Claim]:
        return claims_for(active, allowed)

    def downgrade(self, call: Call, fits: Callable[[Deployment, str], bool] | None = None) -> None:
        """The soft limit: a cheaper model when a budget past its ``downgrade_at`` names one for
        ``call.model``, decided on the last snapshot (a soft decision may be stale). Called by the
        Route step once it has chosen the target, before admission, so the rate limits and this
        stage's reservation judge the model that is actually called. ``fits``: whether a target
        can serve the request (routing's capability catalog); an unfit one is not taken."""
        plan = self.plans.plan(call, call.now, self.budgets)  # _plan(), inlined: one frame fewer per request
        call.state[ROUTED] = (call.model, call.deployment, plan)
        if plan is None or not plan.downgrades:
            return
        active = plan.active
        snapshot = [(b, self._last_level(b, w)) for b, w in active if b.downgrade]
        downgrade = choose_downgrade(call.model, snapshot)
        if downgrade is None:
            return
        try:
            deployment, model = resolve_model(self.config, downgrade.model)
        except CostopsError:
            log.warning("budget %s: downgrade target %r is not served; keeping %s", downgrade.budget, downgrade.model, call.model)
            return
        if fits is not None and not fits(deployment, model):
            log.info("budget %s: downgrade target %s cannot serve this request; keeping %s", downgrade.budget, model, call.model)
            return
        call.deployment, call.model = deployment, model
        del call.state[ROUTED]  # found for the model the call no longer goes to
        pct = f"{downgrade.pct:.0f}"
        call.response_headers.append((b"x-costops-budget", f"{downgrade.budget}={pct}%".encode()))
        budget, window = next((b, w) for b, w in active if b.name == downgrade.budget)
        self.watch.emit(budget, window, "downgrade", f"downgrade:{budget.name}:{window.id}",
                   f"budget '{budget.name}' is at {pct}% of ${usd_str(from_nanos(budget.limit_nanos))}: sending "
                   f"requests to cheaper models (first: {call.record.model_requested} -> {downgrade.model})")

    async def before(self, call: Call) -> None:
        now = call.now
        routed = call.state.pop(ROUTED, None)  # the Route step's plan, while the target is the same
        if routed is not None and routed[0] == call.model and routed[1] is call.deployment:
            plan = routed[2]
        else:  # for the model actually called (a downgrade, or a limit's sibling deployment, moved it)
            plan = self._plan(call, now)
        if plan is None:
            return None
        # estimate (cache writes at their premium), then reserve in every applicable budget at once
        prompt = call_input_tokens(call)
        hold = hold_for(
            self._pricer, call.api, call.endpoint, call.body, call.deployment, call.model, self.settings.expected_output,
            self._max_output, prompt, self._cache_writes(call, prompt), at=now, capped=call_cap(call),
        )
        if hold.cap is not None and not plan.hard:  # nothing refuses: no cap to set
            hold = hold.uncapped()
        if not hold.priced and call.model not in self.unpriced:
            self.unpriced.add(call.model)
            log.warning("model %s has no price: its requests reserve nothing against budgets", call.model)
        if self._memory is not None and not plan.paced:  # in process, at each budget's limit: _admit() without its coroutine
            rid = call.record.request_id
            try:
                admission = self._memory.reserve_now(rid, plan.claims, hold.most, now, now + self._ttl, hold.least)
            except Exception as exc:
                verdict, detail = self._unchecked(call, hold, plan, rid, plan.claims, exc)
            else:
                verdict, detail = self._outcome(call, hold, now, plan, rid, plan.claims, admission, [], plan.limits)
        else:
            verdict, detail = await self._admit(call, hold, now, plan, queued=False)
        if verdict.ok:
            return None
        if self.queue is None:
            _retry_ms(call, verdict.wait)
            raise BudgetPaced(detail, retry_after=verdict.wait)

        async def attempt() -> Verdict:
            return (await self._admit(call, hold, self.clock(), None, queued=True))[0]

        try:
            await self.queue.wait(attempt, verdict, call.headers, self.clock, None, reason=PACE_REASON, frees=PACE_FREES)
        except BudgetExceeded:
            raise
        except CostopsError as error:
            _retry_ms(call, error.retry_after or 1.0)
            raise
        return None

    async def readmit(self, call: Call) -> None:
        """Admit the call's next attempt at its new target (``call.model`` / ``call.deployment``):
        the attempts so far are settled at what they cost, and the new target's hold is reserved
        under the attempt's own id, against the budgets that cover it. Refused: 429
        budget_exceeded (or budget_paced: an attempt in the middle of a request does not queue).
        The cap costops set for the earlier target is dropped first: the new model gets its own."""
        held = call.state.pop("budgets", None)
        spent = spent_nanos(call)
        if held is not None:
            rid, claims, plan, _held = held
            self.in_flight.pop(rid, None)
            levels = await self.recovery.settle(rid, claims, spent - call.state.get(SETTLED, 0), self.clock())
            call.state[SETTLED] = spent
            if levels is not None:
                self._observe(plan, levels)
        key = call.state.pop(CAPPED, None)
        if key is not None:
            call.body = {k: v for k, v in call.body.items() if k != key}
            call.raw = orjson.dumps(call.body)
        now = self.clock()
        plan = self._plan(call, now)
        if plan is None:
            return
        prompt = call_input_tokens(call)
        hold = hold_for(
            self._pricer, call.api, call.endpoint, call.body, call.deployment, call.model, self.settings.expected_output,
            self._max_output, prompt, self._cache_writes(call, prompt), at=now, capped=call_cap(call),
        )
        if hold.cap is not None and not plan.hard:
            hold = hold.uncapped()
        verdict, detail = await self._admit(call, hold, now, plan, queued=True,
                                            rid=f"{call.record.request_id}.{call.record.attempt}")
        if not verdict.ok:
            _retry_ms(call, verdict.wait)
            raise BudgetPaced(detail, retry_after=verdict.wait)

    async def _admit(
        self, call: Call, hold: Hold, now: float, plan: Plan | None, *, queued: bool, rid: str | None = None,
    ) -> tuple[Verdict, str]:
        """Reserve in every applicable budget at once, against each paced budget's allowance by
        ``now``: admitted (the hold is in ``call.state``), or 429 budget_exceeded at a hard limit,
        or a wait verdict for the pacing (with the message a client without a queue gets)."""
        if plan is None:  # queued: the window may have turned since the request arrived
            plan = self._plan(call, now)
            if plan is None:
                return ADMITTED, ""
        active = plan.active
        paced = [(i, b, w) for i, (b, w) in enumerate(active) if b.pace is not None] if plan.paced else []
        if paced and not queued and self.queue is not None and self.queue.lines:
            line = self.queue.busy(tuple(_line(b) for _, b, _ in paced))
            if line is not None:  # others already wait for this budget's pace: queue behind them
                budget = next(b for _, b, _ in paced if _line(b) == line)
                return Verdict(False, line, _pace_label(budget), "budget", 0.0), ""
        if paced:
            allowed = [
                allowance(b.limit_nanos, w.start, w.end, now, b.pace) if b.pace is not None else b.limit_nanos
                for b, w in active
            ]
            claims = self.claims(active, allowed)
        else:  # at each budget's limit: the plan's claims, made once per window
            allowed, claims = plan.limits, plan.claims
        rid = rid or call.record.request_id
        expires = now + self._ttl
        try:
            try:
                if self._memory is not None:
                    admission = self._memory.reserve_now(rid, claims, hold.most, now, expires, hold.least)
                else:
                    admission = await self.state.reserve(rid, claims, hold.most, now, expires, hold.least)
            except StateLost as lost:  # Redis lost its state: rebuild (or adopt) it, then once more
                if not await self.recovery.recover(lost):
                    raise
                admission = await self.state.reserve(rid, claims, hold.most, now, expires, hold.least)
        except Exception as exc:
            return self._unchecked(call, hold, plan, rid, claims, exc)
        return self._outcome(call, hold, now, plan, rid, claims, admission, paced, allowed)

    def _unchecked(self, call: Call, hold: Hold, plan: Plan, rid: str, claims: list[Claim], exc: Exception) -> tuple[Verdict, str]:
        """The state failed: block (503), or go in holding the least in flight (``on_state_error``)."""
        self._state_failed(exc)
        estimate = hold.least
        call.state["budgets"] = (rid, claims, plan, estimate)
        if estimate:
            self.in_flight[rid] = (rid, claims, estimate)
            self.recovery.restore_needed = True
        if hold.cap is not None:
            self._set_cap(call, hold.cap_for(estimate))
        return ADMITTED, ""

    def _outcome(
        self, call: Call, hold: Hold, now: float, plan: Plan, rid: str, claims: list[Claim], admission: Admission,
        paced: list[tuple[int, Budget, Window]], allowed: list[int],
    ) -> tuple[Verdict, str]:
        """What a reservation's answer means: admitted (the hold in ``call.state``), 429
        budget_exceeded at a hard limit, or a wait verdict for the pacing."""
        self._observe(plan, admission.levels)
        if admission.admitted:
            call.state["budgets"] = (rid, claims, plan, admission.held)
            if admission.held:
                self.in_flight[rid] = (rid, claims, admission.held)
            if hold.cap is not None:
                self._set_cap(call, hold.cap_for(admission.held))
            return ADMITTED, ""
        active, estimate = plan.active, hold.least
        levels = [Level(lv.spent, lv.reserved, b.limit_nanos) for (b, _), lv in zip(active, admission.levels, strict=True)]
        for (budget, window), level in zip(active, levels, strict=True):
            if budget.hard and not fits(level, estimate):  # the hard limit wins over any pacing
                message = refusal(budget, window, level, estimate)
                key = f"threshold:{budget.name}:{window.id}:100"
                if 100 in budget.thresholds and key not in self.alerts.seen:  # admission stops short of 100 %
                    self.watch.emit(budget, window, "threshold", key,
                               f"budget '{budget.name}' ({budget.scope.describe()}) reached 100% of "
                               f"${usd_str(from_nanos(budget.limit_nanos))}: it refuses requests from now on: {message}",
                               threshold=100, basis="refused")
                self.watch.emit(budget, window, "blocked", f"blocked:{budget.name}:{window.id}", f"blocking requests: {message}")
                raise BudgetExceeded(message, retry_after=retry_after(window, now))
        worst: tuple[float, int] | None = None
        for i, budget, window in paced:
            assert budget.pace is not None
            wait = wait_s(budget.limit_nanos, window.start, window.end, now, budget.pace, levels[i].committed, estimate)
            if wait > 0 and (worst is None or wait > worst[0]):
                worst = (wait, i)
        if worst is None:  # not refused by a pace after all (cannot happen: the same numbers decide)
            if not paced:
                raise AssertionError(f"budget admission refused by {admission.refused_by} without a reason")
            worst = (0.01, paced[0][0])
        wait, i = worst
        budget, window = active[i]
        verdict = Verdict(False, _line(budget), _pace_label(budget), "budget", wait)
        return verdict, _paced_message(budget, window, levels[i], allowed[i], estimate, now, wait)

    async def after(self, call: Call) -> None:
        held = call.state.get("budgets")
        if held is None:
            return
        rid, claims, plan, _held = held
        in_flight = self.in_flight
        if in_flight:
            in_flight.pop(rid, None)
        # every attempt's cost (a cascade's rejected tries, failed attempts), less what a readmit settled
        state = call.state
        if EARLIER in state or SETTLED in state:
            actual = spent_nanos(call) - state.get(SETTLED, 0)
        else:  # one attempt (spent_nanos(), inlined)
            record = call.record
            actual = record.cost.total_nanos() if record.priced else 0
        now = self.clock()
        if self._memory is not None:  # in process: nothing to ride out (recovery.settle is for Redis)
            levels: tuple[Level, ...] | None = self._memory.settle_now(rid, claims, actual, now)
        else:
            levels = await self.recovery.settle(rid, claims, actual, now)
        if levels is None:
            return
        self._observe(plan, levels)
        if self.queue is not None and self.queue.lines:  # a refund may let a paced waiter go
            for budget, _ in plan.active:
                if budget.pace is not None and _line(budget) in self.queue.lines:
                    self.queue.wake(_line(budget), now)

    async def _renew_holds(self) -> None:
        """Every third of ``reservation_ttl_s`` (at least every 2 s): push the expiry of every
        hold still in flight, put back holds the state lost, apply journaled settles."""
        ttl = self.settings.reservation_ttl_s
        while True:
            await asyncio.sleep(min(ttl / 3, 2.0))
            try:
                if self.in_flight and not self.recovery.restore_needed:
                    await self.state.renew(list(self.in_flight.values()), self.clock() + ttl)
                await self.recovery.tick()
            except asyncio.CancelledError:
                raise
            except StateLost as lost:
                await self.recovery.recover(lost)
            except Exception as exc:
                log.error("cannot renew %d budget holds: %s", len(self.in_flight), exc)

    # -- helpers ---------------------------------------------------------------------------

    def _cache_writes(self, call: Call, prompt_tokens: int) -> tuple[int, int]:
        """(5 min, 1 h) tokens the provider will write to its prompt cache: up to the client's own
        breakpoints, or those the prompt-cache stage (which runs later) will place."""
        deployment = call.deployment
        if deployment is None or deployment.kind != "anthropic" or call.endpoint == "embeddings":
            return (0, 0)
        body = call.body if self.prompt_cache is None else self.prompt_cache.unmarked(call)[0]  # the client's marks
        if has_cache_control(body):
            marks = client_breakpoints(call.api, body, memo_counter(self._counters, call.model))
        elif self.prompt_cache is not None and (placement := self.prompt_cache.planned(call)) is not None:
            marks = tuple((n, self.prompt_cache.cfg.ttl) for n in placement.prefix_tokens)
        else:
            return (0, 0)
        return write_tokens(marks, prompt_tokens)

    def _max_output(self, model: str, deployment: Any) -> int:
        """The most ``model`` writes in one answer: ``budgets.max_output_tokens``' entry, else the
        capability catalog's (models.dev's data, ``routing.models``), else its ``default``."""
        provider = deployment.catalog_provider if deployment is not None else None
        found = self._max_outputs.get((model, provider))
        if found is None:
            found = self.settings.max_output(model)
            if found is None:
                from costops.routing.capabilities import capabilities, parse_overrides

                overrides = parse_overrides((self.config.sections.get("routing") or {}).get("models"))
                found = capabilities(model, provider, overrides).max_output or self.settings.max_output_tokens
            if len(self._max_outputs) > 4096:
                self._max_outputs.clear()
            self._max_outputs[(model, provider)] = found
        return found

    @staticmethod
    def _set_cap(call: Call, tokens: int) -> None:
        """Send upstream the output cap the hold pays for (the client named none)."""
        key = "max_completion_tokens" if is_reasoning_model(call.model) else "max_tokens"
        call.state[CAPPED] = key
        old, call.body = call.body, {**call.body, key: tokens}
        call.raw = orjson.dumps(call.body)
        planned = call.state.get(PLAN)
        if planned is not None and planned[0] is old:  # the cap moves no breakpoint: keep the plan
            call.state[PLAN] = (call.body, *planned[1:])

    def _state_failed(self, exc: Exception) -> None:
        if self.settings.on_state_error == "block":
            raise BudgetStateUnavailable(
                f"budget state is unreachable ({type(exc).__name__}: {exc}); requests are held back "
                "(budgets.on_state_error: block)"
            ) from None
        log.error("budget state unreachable, admitting without a budget check: %s", exc)
        return None


def _line(budget: Budget) -> str:
    """The queue line of requests waiting for a budget's pace."""
    return f"budget:{budget.name}"


def _pace_label(budget: Budget) -> str:
    assert budget.pace is not None
    return f"budget '{budget.name}' ({budget.pace.describe(budget.limit_nanos, budget.window.describe())})"


def _paced_message(budget: Budget, window: Window, level: Level, allowed: int, estimate: int, now: float, wait: float) -> str:
    """What a client told to come back later reads: the budget, its pace, where it stands, when to retry."""
    assert budget.pace is not None
    return (
        f"budget '{budget.name}' ({budget.scope.describe()}, {budget.window.describe()}) is paced: "
        f"{_usd(budget.limit_nanos)} spread over the window with a {budget.pace.burst_pct:g}% burst allows "
        f"{_usd(allowed)} by now; spent {_usd(level.spent)} plus {_usd(level.reserved)} held by requests in "
        f"flight, and this request may cost up to {_usd(estimate)}. It can go in {wait:.1f}s (at "
        f"{iso(now + wait, budget.window.timezone)}); retry then, or configure a 'queue:' section to wait in the gateway."
    )


def _usd(nanos: int) -> str:
    return f"${usd_str(from_nanos(nanos))}"


def _retry_ms(call: Call, seconds: float) -> None:
    """``retry-after`` is whole seconds; both SDKs prefer the exact ``retry-after-ms``."""
    call.response_headers.append((b"retry-after-ms", str(max(1, round(seconds * 1000))).encode()))


def _state_for(config: Config, settings: BudgetsConfig, shared: Shared) -> BudgetState:
    url = config.redis_url
    if settings.backend == "redis" or (settings.backend == "auto" and url):
        if not url:
            from costops.config import ConfigError

            raise ConfigError("budgets.backend: redis needs a 'redis: {url: redis://host:6379/0}' section")
        from costops.control.redis_state import RedisState

        return RedisState(str(url), settings.redis_prefix, client=shared.redis)
    return MemoryState()


def budgets_stage(config: Config, clock: Callable[[], float], shared: Shared | None = None) -> BudgetsStage:
    return BudgetsStage(config, clock, shared=shared)
