"""The request path built in one place: which handlers, in which order.

    route (the model and deployment the call goes to: a policy, arbitrage, or the name's route)
      -> admit (rate limits and the priority queue, then budgets)
      -> cache (exact, then semantic)
      -> shape (provider prompt-cache markers)
      -> arms (an experiment's or a bandit's arm: checked, booked, learned from; ``routing.arms``)
      -> cascade (cheapest model first, escalating when its answer fails the checks; ``routing.policies``)
      -> fallbacks (the next target when one fails before answering: the route's plan, ``routing.fallbacks``)
      -> observe (each attempt's latency and failures, for the breaker and arbitrage)
      -> attempt (one provider call; the innermost handler)

Authentication and reading the body happen before, at the HTTP edge (:mod:`costops.gateway.app`):
they read only headers and bytes, and a refused key is refused before its body is read. A step is
built only when its config section asks for it, so a gateway with no ``limits:``, ``budgets:`` or
``cache:`` runs route -> attempt and nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from costops.config import Config
from costops.errors import CostopsError
from costops.pipeline.contract import Call, Handler, Next, Reply, Shared, Stage
from costops.routing.route import Route


def build_stages(config: Config, clock: Callable[[], float], shared: Shared | None = None) -> list[Stage]:
    """The two-method stages in the order a request meets them: admission (rate limits and the
    priority queue, then budgets), then the caches (exact, semantic), then prompt shaping for
    provider prompt caching."""
    sections = config.sections
    stages: list[Stage | None] = []
    budgets: Any = None
    if "limits" in sections or "queue" in sections:
        from costops.control.limits import limits_stage

        stages.append(limits_stage(config, clock, shared.redis if shared is not None else None))
    if "budgets" in sections:
        from costops.control.budgets import budgets_stage

        stages.append(budgets := budgets_stage(config, clock, shared))
    cache = sections.get("cache") or {}
    exact: Any = None
    semantic: Any = None
    if cache.get("exact") is not None:
        from costops.cache.stage import exact_cache_stage

        stages.append(exact := exact_cache_stage(config, clock))
    if cache.get("semantic") is not None:
        from costops.cache.semantic.stage import semantic_cache_stage

        stages.append(semantic := semantic_cache_stage(config, clock, shared))
    if exact is not None and semantic is not None:  # one invalidation clears both caches
        exact.also_invalidate.append(semantic.invalidate)
    if cache.get("prompt") is not None:
        from costops.cache.prompt import prompt_cache_stage

        stages.append(prompt := prompt_cache_stage(config, clock))
        if budgets is not None:  # budgets reserve for the cache writes the breakpoints cause
            budgets.prompt_cache = prompt
    return [s for s in stages if s is not None]


class StageHandler:
    """A two-method stage as a handler: ``before`` may answer or refuse; its ``after`` is owed
    from then on, and the edge pays it once the answer is out (so a stage settles on the final
    record, whatever happened further in)."""

    __slots__ = ("stage", "name")

    def __init__(self, stage: Stage) -> None:
        self.stage, self.name = stage, stage.name

    async def start(self) -> None:
        await self.stage.start()

    async def stop(self) -> None:
        await self.stage.stop()

    async def handle(self, call: Call, next: Next) -> Reply | None:
        call.entered.append(self.stage)
        reply = await self.stage.before(call)
        return reply if reply is not None else await next(call)


def compose(handlers: Sequence[Handler], innermost: Handler) -> Next:
    """``handlers[0]`` outermost; each one's ``next`` is the rest of the chain.

    Every await further in (each upstream read) resumes through every coroutine frame of the
    chain, so the chain keeps few: ``next`` calls the handler without a frame of its own, and
    consecutive two-method stages run their ``before``s in one frame (:class:`_Stages`)."""
    steps: list[Handler] = []
    for handler in handlers:
        if type(handler) is StageHandler:
            if steps and isinstance(steps[-1], _Stages):
                steps[-1] = _Stages((*steps[-1].stages, handler.stage))
            else:
                steps.append(_Stages((handler.stage,)))
        else:
            steps.append(handler)
    chain: Next = _Link(innermost, _end)
    for step in reversed(steps):
        chain = _Link(step, chain)
    return chain


class _Link:
    """``next`` for the rest of the chain: the handler's coroutine, returned as it is (an
    ``async def`` wrapper around it would be one more frame in every resumption)."""

    __slots__ = ("handler", "rest")

    def __init__(self, handler: Handler, rest: Next) -> None:
        self.handler, self.rest = handler, rest

    def __call__(self, call: Call) -> Awaitable[Reply | None]:
        return self.handler.handle(call, self.rest)


class _Stages:
    """Consecutive two-method stages as one handler: each ``before`` in order, as nested
    :class:`StageHandler` s would run them (an answer or a refusal stops the rest), in one frame."""

    __slots__ = ("stages",)
    name = "stages"

    def __init__(self, stages: tuple[Stage, ...]) -> None:
        self.stages = stages

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def handle(self, call: Call, next: Next) -> Reply | None:
        for i, stage in enumerate(self.stages):
            call.entered.append(stage)
            try:
                reply = await stage.before(call)
            except CostopsError:
                await give_back(self.stages[:i], call)
                raise
            if reply is not None:
                return reply
        return await next(call)


async def _end(call: Call) -> Reply | None:
    raise AssertionError("the innermost handler has no next")


def readmission(stages: Sequence[Stage]) -> Callable[[Call], Awaitable[None]]:
    """Admission for a call's further attempt at a new target (an escalation, a fallback): each
    admitting stage's ``readmit`` in chain order (rate limits, then budgets), which settles what
    the attempts so far took and takes again for the new target, or refuses in its own words."""
    admitting = tuple(s for s in stages if callable(getattr(s, "readmit", None)))

    async def admit(call: Call) -> None:
        for i, stage in enumerate(admitting):
            try:
                await stage.readmit(call)  # type: ignore[attr-defined]
            except CostopsError:
                await give_back(admitting[:i], call)
                raise

    return admit


async def give_back(stages: Sequence[Stage], call: Call) -> None:
    """A stage refused the call's target after ``stages`` admitted it: that attempt never runs,
    so each gives back at once what it took for it (``giveback``: the rate limits' tokens,
    request units and slots), instead of holding it to the request's end."""
    for stage in stages:
        hook = getattr(stage, "giveback", None)
        if hook is not None:
            await hook(call)


def build_chain(
    config: Config,
    stages: Sequence[Stage],
    innermost: Handler,
    *,
    record_attempt: Callable[..., None],
    record_failed_attempt: Callable[..., None],
    shared: Shared | None = None,
) -> tuple[list[Handler], Next]:
    """The handlers in order and the chain that runs them. ``record_attempt`` books an attempt
    that is not the answer; ``record_failed_attempt`` also prices what a failed one may cost."""
    raw = config.sections.get("routing")
    budgets = next((s for s in stages if s.name == "budgets"), None)
    retarget = [budgets.downgrade] if budgets is not None and hasattr(budgets, "downgrade") else []  # type: ignore[attr-defined]
    if not raw:
        handlers: list[Handler] = [Route(config, retarget=retarget), *(StageHandler(s) for s in stages)]
        return handlers, compose(handlers, innermost)
    from costops.routing.arbitrage import parse_arbitrage
    from costops.routing.breaker import Breaker
    from costops.routing.cascade import Cascade
    from costops.routing.catalog import Catalog
    from costops.routing.fallback import Fallbacks, parse_settings
    from costops.routing.health import Health, Observe
    from costops.routing.policies import parse_key_bindings, parse_policies
    from costops.routing.route import budget_pressure

    settings = parse_settings(raw)
    policies = parse_policies(raw.get("policies"), config)
    by_key = parse_key_bindings(raw.get("keys"), policies, config)
    arbitrage = parse_arbitrage(raw.get("arbitrage"))
    health = Health(Breaker(settings.breaker))
    if shared is not None and shared.redis is not None and settings.breaker.sync_s > 0:  # open circuits, fleet-wide
        from costops.routing.circuits import SharedCircuits

        health.shared = SharedCircuits(shared.redis, health.breaker, [d.name for d in config.deployments],
                                       prefix=settings.breaker.redis_prefix, sync_s=settings.breaker.sync_s,
                                       adopt=health.adopt)
    catalog = Catalog(config, shared.pricer if shared is not None else None, raw)
    route = Route(config, policies, by_key=by_key, catalog=catalog, health=health, arbitrage=arbitrage,
                  budget_pct=budget_pressure(budgets) if budgets is not None else None, retarget=retarget)
    routing: list[Handler] = []
    from costops.routing.arms import Arms, arm_policies

    if arm_policies(policies):  # settles arm calls: just inside the caches, outside a cascade
        routing.append(Arms(config, policies, shared.store if shared is not None else None,
                            shared.redis if shared is not None else None))
    admit = readmission(stages)
    if any(p.kind == "cascade" for p in policies.values()):
        routing.append(Cascade(config, record_attempt, admit=admit))
    if settings.fallbacks or policies or arbitrage is not None:  # a plan of several targets falls back in order
        routing.append(Fallbacks(config, settings, record_failed_attempt, breaker=health.breaker, admit=admit))
    routing.append(Observe(health))
    handlers = [route, *(StageHandler(s) for s in stages), *routing]
    return handlers, compose(handlers, innermost)
