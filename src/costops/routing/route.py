"""The Route step: which model and deployment a call goes to, first in the chain.

1. the key may use the requested name (403 otherwise);
2. a policy, when the name is a virtual model bound to one (``routing.policies``) or the key is
   (``routing.keys``): the policy's pure ``choose(view)`` decides (:mod:`costops.routing.policy`);
   the row records ``policy``, ``route`` and ``arm``, and ``x-costops-route`` tells the client;
3. else, with ``routing.arbitrage`` on and several deployments serving the name, the ranked
   deployments (:mod:`costops.routing.arbitrage`);
4. else the name's one route (aliases, ``deployment/model``, patterns), memoized: a gateway with
   no routing pays a dict lookup;
5. then the ``retarget`` hooks, which may still change the target before admission (a budget past
   its soft limit downgrades the model: :meth:`costops.control.budgets.BudgetsStage.downgrade`),
   never to a model the catalog says cannot serve the request. So the rate limits and the budget
   reservation that follow judge the model actually called.

The chosen targets after the first are the plan the fallbacks step tries next (``PLAN``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from costops.config import Config, Deployment
from costops.control.estimate import PROMPT_TOKENS, call_input_tokens, input_tokens
from costops.errors import BadRequest, Forbidden
from costops.gateway.resolve import resolve_model
from costops.pipeline.contract import Call, Next, Reply
from costops.routing.arbitrage import ArbitrageSettings, rank
from costops.routing.capabilities import capabilities
from costops.routing.catalog import Catalog
from costops.routing.health import Health
from costops.routing.needs import lacks, needs_of, prompt_text
from costops.routing.policy import Decision, Request, Snapshot, View
from costops.tokens import counter

PLAN = "routing.plan"
"""``call.state`` key: the (deployment, model) targets in order, the first being the call's own."""
NO_ARBITRAGE = ArbitrageSettings()
POLICY = "routing.policy"
"""``call.state`` key: a decision's plan for a handler further in (a cascade's capable models)."""


class Route:
    name = "route"

    def __init__(
        self, config: Config, policies: Mapping[str, Any] | None = None, *, by_key: Mapping[str, Any] | None = None,
        catalog: Catalog | None = None, health: Health | None = None, arbitrage: ArbitrageSettings | None = None,
        budget_pct: Callable[[Call, float], float | None] | None = None,
        retarget: Sequence[Callable[..., None]] = (),
    ) -> None:
        self.config = config
        self.policies = policies or {}
        """Virtual model names bound to a routing policy."""
        self.by_key = by_key or {}
        self.catalog, self.health, self.arbitrage, self.budget_pct = catalog, health, arbitrage, budget_pct
        self.retarget = tuple(retarget)
        """``hook(call, fits)``: may change ``call.model`` / ``call.deployment``; ``fits(deployment,
        model)`` says whether a target can serve the request (None without a catalog)."""
        self._routes: dict[str, Any] = {}

    async def start(self) -> None:
        """Load the capability data and price every policy's models now, not on the first routed
        request (reading models.dev's data takes a fifth of a second): a start that cannot read
        it fails here, with the reason."""
        if self.catalog is None or not self.policies:
            return
        for policy in self.policies.values():
            names = [*getattr(policy, "models", ()), *([policy.model] if isinstance(getattr(policy, "model", None), str) else [])]
            self.catalog.warm([n for n in names if isinstance(n, str)])

    async def stop(self) -> None: ...

    async def handle(self, call: Call, next: Next) -> Reply | None:
        requested = call.record.model_requested
        if not call.key.allows(requested):
            raise Forbidden(f"key {call.key.id!r} may not use model {requested!r}")
        policy = self.policies.get(requested)
        if call.endpoint == "embeddings":  # policies choose chat models: an embedding names its model
            if policy is not None:
                raise BadRequest(f"{requested!r} is a routing policy for chat requests; embeddings need a model name, "
                                 "e.g. text-embedding-3-small", code="invalid_value")
        elif policy is None:
            policy = self.by_key.get(call.key.id)
        if policy is not None:
            decision = policy.choose(self.view(call, requested))
            call.record.policy, call.record.route, call.record.arm = policy.name, decision.route, decision.arm
            if decision.task is not None:
                call.record.task = decision.task
            if decision.plan is not None:
                call.state[POLICY] = decision.plan
            self._apply(call, decision)
        elif self.arbitrage is not None and self.catalog is not None and len(
            targets := self.catalog.targets(requested, call.now)
        ) > 1:
            view = self.view(call, targets[0].model)
            ranked = rank([view.priced(t) for t in targets], self.arbitrage)
            call.record.route = "arbitrage"
            self._apply(call, Decision(ranked, "arbitrage", ranked[0].label))
        else:
            route = self._routes.get(requested)
            if route is None:
                route = resolve_model(self.config, requested)
                if len(self._routes) < 10_000:
                    self._routes[requested] = route
            call.deployment, call.model = route
        for hook in self.retarget:
            hook(call, partial(self.fits, call) if self.catalog is not None else None)
        return await next(call)

    def fits(self, call: Call, deployment: Deployment, model: str) -> bool:
        """Whether a target can serve this request, by the catalog (asked only when a hook would
        retarget: most requests never are)."""
        assert self.catalog is not None
        needs = needs_of(call.api, call.body, call_input_tokens(call))
        return lacks(capabilities(model, deployment.catalog_provider, self.catalog.overrides), needs) is None

    def view(self, call: Call, count_as: str) -> View:
        """The request as routing reads it, and the state snapshot now (the only reads of state)."""
        tokens = input_tokens(call.api, call.endpoint, call.body, count_as)
        call.state[PROMPT_TOKENS] = (call.body, count_as, tokens)
        needs = needs_of(call.api, call.body, tokens)
        now, record = call.now, call.record
        request = Request(
            call.api, record.model_requested, needs, record.tags, call.key.id, call.key.allows,
            partial(prompt_text, call.api, call.body), record.tenant, record.user, record.request_id,
        )
        snapshot = Snapshot(
            now, read_health=self.health.snapshot if self.health is not None else None,
            read_budget_pct=partial(self.budget_pct, call, now) if self.budget_pct is not None else None,
        )
        assert self.catalog is not None
        return View(request, snapshot, partial(self.catalog.candidates, at=now), self.arbitrage or NO_ARBITRAGE)

    def _apply(self, call: Call, decision: Decision) -> None:
        first = decision.targets[0]
        call.deployment, call.model = first.deployment, first.model
        seen = call.state.get(PROMPT_TOKENS)  # counted as the name asked for: the stages count as the model called
        if seen is not None and seen[1] != first.model and counter(seen[1]).alike == counter(first.model).alike:
            call.state[PROMPT_TOKENS] = (seen[0], first.model, seen[2])  # the same count: not tokenized again
        if len(decision.targets) > 1:
            call.state[PLAN] = tuple((t.deployment, t.model) for t in decision.targets)
        label = f"{decision.route}; {decision.reason}" if decision.reason else decision.route
        call.response_headers.append((b"x-costops-route", label.encode("latin-1", "replace")))


def budget_pressure(stage: Any) -> Callable[[Call, float], float | None]:
    """The fullest budget covering the caller, from the budgets stage's last snapshot of each
    (what it saw at its latest reservation or settlement): committed spend as % of the limit."""

    def pct(call: Call, now: float) -> float | None:
        worst = None
        for budget, window in stage.applicable(call, now):
            seen = stage.last.get(budget.name)
            level = seen[1] if seen is not None and seen[0] == window.id else None
            value = 0.0 if level is None else level.pct
            worst = value if worst is None else max(worst, value)
        return worst

    return pct
