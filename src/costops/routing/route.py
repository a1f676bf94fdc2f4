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

from collections.abc import Awaitable, Callable, Mapping, Sequence
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
from costops.routing.policy import Decision, Request, Snapshot, View, allow_all
from costops.tokens import counter

PLAN = "routing.plan"
"""``call.state`` key: the (deployment, model) targets in order, the first being the call's own."""
NO_ARBITRAGE = ArbitrageSettings()
NEEDS = "routing.needs"
"""``call.state`` key: (body, input tokens, :class:`~costops.routing.needs.Needs`) for :meth:`Route.fits`."""
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
        self._counts_alike: dict[tuple[str, str], bool] = {}
        self._headers: dict[tuple[str, str], tuple[bytes, bytes]] = {}

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

    def handle(self, call: Call, next: Next) -> Awaitable[Reply | None]:
        """Chooses the target, then returns the rest of the chain's coroutine as it is: the step
        decides before any await, so it needs no coroutine frame of its own (a refusal raises
        here, inside the edge's ``await``)."""
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
            record = call.record
            record.policy, record.route, record.arm = policy.name, decision.route, decision.arm
            if decision.task is not None:
                record.task = decision.task
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
        if self.retarget:
            fits = partial(self.fits, call) if self.catalog is not None else None
            for hook in self.retarget:
                hook(call, fits)
        return next(call)

    def fits(self, call: Call, deployment: Deployment, model: str) -> bool:
        """Whether a target can serve this request, by the catalog (asked only when a hook would
        retarget: most requests never are). The request's needs are read once per (body, token
        count), however many targets a hook asks about."""
        assert self.catalog is not None
        tokens = call_input_tokens(call)
        seen = call.state.get(NEEDS)
        if seen is not None and seen[0] is call.body and seen[1] == tokens:
            needs = seen[2]
        else:
            needs = needs_of(call.api, call.body, tokens)
            call.state[NEEDS] = (call.body, tokens, needs)
        return lacks(capabilities(model, deployment.catalog_provider, self.catalog.overrides), needs) is None

    def view(self, call: Call, count_as: str) -> View:
        """The request as routing reads it, and the state snapshot now (the only reads of state)."""
        return LiveView(self, call, count_as)

    def _apply(self, call: Call, decision: Decision) -> None:
        first = decision.targets[0]
        call.deployment, call.model = first.deployment, first.model
        seen = call.state.get(PROMPT_TOKENS)  # counted as the name asked for: the stages count as the model called
        if seen is not None and seen[1] != first.model and (
            self._counts_alike.get((seen[1], first.model)) or self._alike(seen[1], first.model)
        ):
            call.state[PROMPT_TOKENS] = (seen[0], first.model, seen[2])  # the same count: not tokenized again
        if len(decision.targets) > 1:
            call.state[PLAN] = tuple((t.deployment, t.model) for t in decision.targets)
        header = self._headers.get(said := (decision.route, decision.reason))
        if header is None:
            label = f"{decision.route}; {decision.reason}" if decision.reason else decision.route
            header = (b"x-costops-route", label.encode("latin-1", "replace"))
            if len(self._headers) < 10_000:
                self._headers[said] = header
        call.response_headers.append(header)

    def _alike(self, a: str, b: str) -> bool:
        """Whether models ``a`` and ``b`` count tokens alike (memoized: a fact of the two names)."""
        found = counter(a).alike == counter(b).alike
        if len(self._counts_alike) < 10_000:
            self._counts_alike[(a, b)] = found
        return found


class LiveView(View):
    """The view of one call: its :class:`Request` (the needs read from the body, the caller, the
    prompt's text) and its :class:`Snapshot` (health, budget level) are built from the call when
    a policy first reads them. A cheapest-capable policy over models that rule out nothing reads
    neither: only the token count, the output cap and the key's model restriction."""

    __slots__ = ("_call", "_route")

    def __init__(self, route: Route, call: Call, count_as: str) -> None:
        """Counts the prompt's tokens as ``count_as`` would (the stages reuse the count)."""
        body = call.body
        tokens = self._tokens = input_tokens(call.api, call.endpoint, body, count_as)
        call.state[PROMPT_TOKENS] = (body, count_as, tokens)
        cap = body.get("max_completion_tokens") if call.api == "openai" else None  # control.estimate.client_cap, inline
        if cap is None:
            cap = body.get("max_tokens")
        self._output = cap if type(cap) is int and cap > 0 else None  # an int, not a bool
        self._call, self._route = call, route
        self._request = self._snapshot = None
        catalog = route.catalog
        assert catalog is not None
        self._candidates, self._now = catalog.candidates, call.now
        self._arbitrage = route.arbitrage or NO_ARBITRAGE
        self._rejected = {}
        key = call.key
        self._allowed = key.allows if key.models else allow_all

    def _read_request(self) -> Request:
        call = self._call
        record, key = call.record, call.key
        return Request(
            call.api, record.model_requested, needs_of(call.api, call.body, self._tokens), record.tags, key.id,
            key.allows, partial(prompt_text, call.api, call.body), record.tenant, record.user, record.request_id,
        )

    def _read_snapshot(self) -> Snapshot:
        route, call = self._route, self._call
        now = call.now
        return Snapshot(
            now, read_health=route.health.snapshot if route.health is not None else None,
            read_budget_pct=partial(route.budget_pct, call, now) if route.budget_pct is not None else None,
        )


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
