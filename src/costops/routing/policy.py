"""The routing policy protocol, and what a policy sees: the request's needs and a snapshot.

    class Policy(Protocol):
        name: str                      # the virtual model name clients send (or the key binding's)
        kind: str                      # recorded as the row's ``route``
        def choose(self, view: View) -> Decision: ...

``choose`` is a pure function of its :class:`View`: the request as routing reads it
(:class:`Request`: the needs, tags, caller, prompt text) and a :class:`Snapshot` of the state
(now, health per deployment, the fullest budget's level), plus the catalog's static facts. No
I/O, no clock: the same view gives the same decision, so a replay of recorded traffic decides
alike. A policy names models; :meth:`View.choices` turns names into :class:`Choice` values
(the model's deployments, ranked by arbitrage, with what each can do and costs), already
filtered to the models the request's key may use and whose capabilities fit; :meth:`View.refuse`
is the 400 when none does.

**How an experiment arm or a new policy plugs in:** implement ``choose(view)``; to wrap
another policy (an A/B split, a bandit), call ``arm.choose(view)`` and return its decision with
``arm`` set (``decision._replace(arm="b")``, or ``decide(..., arm="b")``); the row records ``arm``, ``policy``
and ``route``. Register a kind in :func:`costops.routing.policies.parse_policy`'s table.
The Route step applies the decision: ``targets[0]`` is called, the rest are the fallbacks in
order (other deployments of the same model).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from operator import attrgetter
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from costops.errors import BadRequest
from costops.routing.arbitrage import ArbitrageSettings, rank
from costops.routing.catalog import Candidates, Target
from costops.routing.health import HEALTHY, DeploymentHealth
from costops.routing.needs import Needs, lacks

ASSUMED_OUTPUT = 300
"""Output tokens priced for a request that names no ``max_tokens``, to compare models' costs."""


class NoCapableModel(BadRequest):
    code = "no_capable_model"


def allow_all(name: str) -> bool:
    """The model restriction of a key that has none (a view skips calling it)."""
    return True


class Request(NamedTuple):
    """The request as routing reads it (a tuple: built in one step, once per routed request)."""

    api: str
    requested: str
    needs: Needs
    tags: Mapping[str, str] = MappingProxyType({})
    key_id: str = ""
    allowed: Callable[[str], bool] = allow_all
    """The key's model restriction: a policy never routes a key to a model it may not use."""
    text: Callable[[], str] = lambda: ""
    """The prompt's text (read on demand: only the policies that classify need it)."""
    tenant: str = ""
    user: str | None = None
    """What an experiment's assignment sticks to (with ``key_id`` and ``tenant``)."""
    request_id: str = ""
    """Seeds a bandit's draw, so a replay of the request draws alike."""


class Snapshot:
    """The state a decision reads: ``now``, the health of each deployment, and the fullest budget
    covering the caller (committed spend as % of its limit, or None).

    Given as values (a replay, a test) or, by the Route step, as readers of the live state: a
    reader runs at the first read and its answer is kept, so every read within one decision sees
    the same state, and a decision that ranks no deployments and reads no budget (most do
    neither) pays for neither."""

    __slots__ = ("now", "_health", "_budget_pct", "_read_health", "_read_budget_pct")

    def __init__(
        self, now: float, health: Mapping[str, DeploymentHealth] | None = None, budget_pct: float | None = None, *,
        read_health: Callable[[], Mapping[str, DeploymentHealth]] | None = None,
        read_budget_pct: Callable[[], float | None] | None = None,
    ) -> None:
        self.now = now
        self._health, self._read_health = health, read_health
        self._budget_pct, self._read_budget_pct = budget_pct, read_budget_pct

    @property
    def health(self) -> Mapping[str, DeploymentHealth]:
        if self._read_health is not None:
            self._health, self._read_health = self._read_health(), None
        return self._health if self._health is not None else _NO_HEALTH

    @property
    def budget_pct(self) -> float | None:
        if self._read_budget_pct is not None:
            self._budget_pct, self._read_budget_pct = self._read_budget_pct(), None
        return self._budget_pct


_NO_HEALTH: Mapping[str, DeploymentHealth] = MappingProxyType({})


class Choice(NamedTuple):
    """One model a policy may pick, with its deployments best first."""

    name: str
    targets: tuple[Target, ...]
    cost_key: float
    """What this request costs at the best deployment, in nanos, cheapest first; an unpriced
    model (``inf``) after every priced one."""

    @property
    def best(self) -> Target:
        return self.targets[0]

    @property
    def tier(self) -> str | None:
        return self.targets[0].tier


by_cost = attrgetter("cost_key")
"""``min(choices, key=by_cost)``: the cheapest choice, the first of equals."""
_UNPRICED = float("inf")


class Decision(NamedTuple):
    targets: tuple[Target, ...]
    """``targets[0]`` is called; the rest are tried in order if it fails before answering."""
    route: str
    """The policy kind (or ``arbitrage``): the row's ``route``."""
    reason: str = ""
    """Why, for a person: the ``x-costops-route`` response header."""
    arm: str | None = None
    task: str | None = None
    """The task type a bandit chose the arm for (the row's ``task``)."""
    plan: Any = None
    """A multi-attempt plan for a handler further in (a cascade's models)."""


class Policy(Protocol):
    name: str
    kind: str

    def choose(self, view: View) -> Decision: ...


class View:
    """A request and a state snapshot, with the catalog's static facts to read them against.

    :meth:`choices` reads only the prompt's token count, the output cap and the key's model
    restriction, unless a candidate rules out tools, images or a JSON schema; :attr:`request`
    and :attr:`snapshot` are read when a policy asks for them (the Route step's
    :class:`~costops.routing.route.LiveView` builds them from the call only then)."""

    __slots__ = ("_request", "_snapshot", "_candidates", "_now", "_arbitrage", "_rejected", "_tokens", "_output",
                 "_allowed")

    def __init__(
        self, request: Request, snapshot: Snapshot, candidates: Callable[[tuple[str, ...], float], Candidates],
        arbitrage: ArbitrageSettings,
    ) -> None:
        """``candidates(names, at)``: the catalog's models and targets for ``names`` at ``at``
        (:meth:`~costops.routing.catalog.Catalog.candidates`), read at the snapshot's ``now``."""
        self._request: Request | None = request
        self._snapshot: Snapshot | None = snapshot
        self._candidates, self._now, self._arbitrage = candidates, snapshot.now, arbitrage
        self._rejected: dict[str, str] = {}
        self._tokens, self._output = request.needs.input_tokens, request.needs.output_tokens
        self._allowed = request.allowed

    @property
    def request(self) -> Request:
        request = self._request
        if request is None:
            request = self._request = self._read_request()
        return request

    @property
    def snapshot(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            snapshot = self._snapshot = self._read_snapshot()
        return snapshot

    def _read_request(self) -> Request:
        raise AssertionError("a view is given its request")

    def _read_snapshot(self) -> Snapshot:
        raise AssertionError("a view is given its snapshot")

    def choices(self, names: Sequence[str]) -> list[Choice]:
        """The models among ``names`` this request may go to, in the order given."""
        out = []
        found = self._candidates(names if type(names) is tuple else tuple(names), self._now)
        tokens, cap = self._tokens, self._output
        if found.plain:  # no candidate rules out tools, images or a schema: only the sizes to check
            every = (cap or 0) <= found.max_output and tokens + (cap or 0) <= found.room
        else:
            every = lacks(found.least, self.request.needs) is None  # the usual request: nothing to check per target
        output = cap or ASSUMED_OUTPUT
        allowed = self._allowed
        rated = found.rated
        if every and rated is not None and allowed is allow_all:  # the usual request: two products a model
            for name, targets, per_input, per_output in rated:
                out.append(_choice((name, targets, tokens * per_input + output * per_output)))
            return out
        for name, targets in found.models:
            if allowed is not allow_all and not allowed(name):
                self._rejected[name] = f"key {self.request.key_id!r} may not use it"
                continue
            if not every:
                targets = tuple(t for t in targets if self._fits(name, t))
            if len(targets) == 1:
                tables = targets[0].tables
                if tables is None:
                    cost: float = _UNPRICED
                elif (rates := tables.rates) is not None:  # Tables.estimate_nanos, inline
                    cost = tokens * rates[0] + output * rates[1]
                else:
                    cost = tables.estimate_nanos(tokens, output)
                out.append(_choice((name, targets, cost)))
            elif targets:
                ranked = rank([self.priced(t) for t in targets], self._arbitrage)
                best = ranked[0].cost_nanos
                out.append(_choice((name, ranked, _UNPRICED if best is None else best)))
        return out

    def cheapest(self, names: Sequence[str]) -> Choice | None:
        """``min(self.choices(names), key=by_cost)``: the cheapest model this request may go to,
        the first of equals; None when none may. When one model costs least at every size
        (:attr:`Candidates.cheapest <costops.routing.catalog.Candidates.cheapest>`) and the
        request fits every model by size and may use any, that one, priced alone."""
        found = self._candidates(names if type(names) is tuple else tuple(names), self._now)
        best = found.cheapest
        tokens, cap = self._tokens, self._output or 0
        if best is not None and self._allowed is allow_all and cap <= found.max_output and tokens + cap <= found.room:
            return _choice((best[0], best[1], tokens * best[2] + (cap or ASSUMED_OUTPUT) * best[3]))
        choices = self.choices(names)
        return min(choices, key=by_cost) if choices else None

    def _fits(self, name: str, target: Target) -> bool:
        why = lacks(target.caps, self.request.needs)
        if why is not None:
            self._rejected.setdefault(name, why)
        return why is None

    def priced(self, target: Target) -> Target:
        """``target`` with the snapshot's health of its deployment and this request's cost there
        (what :func:`~costops.routing.arbitrage.rank` orders a model's deployments by)."""
        health = self.snapshot.health.get(target.deployment.name, HEALTHY)
        t = target  # field by field: dataclasses.replace() costs ~240 opcodes a target
        cost = None if t.tables is None else t.tables.estimate_nanos(self._tokens, self._output or ASSUMED_OUTPUT)
        return Target(t.deployment, t.model, t.caps, t.blended, t.tier, t.name, health, cost, t.tables)

    def refuse(self, policy: str) -> NoCapableModel:
        reasons = "; ".join(f"{name}: {why}" for name, why in self._rejected.items()) or "it lists none"
        return NoCapableModel(
            f"no model that policy {policy!r} may use can serve this request (it needs {self.request.needs.describe()}): "
            f"{reasons}. Remove what the request asks for that these models lack, or add a model that has it to the policy"
        )


_choice = partial(tuple.__new__, Choice)
"""``Choice(*fields)`` from one tuple, without the generated ``__new__``'s Python frame."""


def decide(
    choice: Choice, route: str, reason: str = "", plan: Any = None, *, arm: str | None = None, task: str | None = None,
) -> Decision:
    return Decision(choice.targets, route, reason or choice.targets[0].label, arm, task, plan)
