"""The capability catalog: every deployment that serves a model, with what it costs there (after
discounts and custom prices), what the model can do, its tier and the deployment's live health.

    routing:
      tiers: {budget: 1.0, balanced: 5.0}   # upper bounds in USD per million tokens, blended 3:1 input:output
      models: {...}                         # capability overrides, see costops.routing.capabilities

A tier comes from the effective blended price (three input tokens to one output, the usual mix
of chat traffic): below ``budget`` is budget, below ``balanced`` balanced, else premium;
``routing.models.<glob>.tier`` sets one by hand. A model with no price has no tier unless set.

:meth:`Catalog.targets` lists the deployments for a name: ``deployment/model`` pins one; a model
or alias lists every configured deployment whose ``models`` serve it (the arbitrage set), in
config order. :func:`describe` is what ``costops router catalog`` prints.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from costops.config import Config, ConfigError, Deployment
from costops.gateway.resolve import resolve_model
from costops.pricing.quote import Tables
from costops.routing.capabilities import Capabilities, Override, capabilities, least, parse_overrides
from costops.routing.health import HEALTHY, DeploymentHealth

DEFAULT_TIERS = (Decimal("1.0"), Decimal("5.0"))
"""Blended USD per million tokens: gpt-4o-mini ($0.26) is budget, gpt-4o ($4.38) balanced,
claude-sonnet-4 ($6.00) premium."""


@dataclass(frozen=True, slots=True)
class Target:
    """One model at one deployment, as routing sees it."""

    deployment: Deployment
    model: str
    """The name sent upstream."""
    caps: Capabilities
    blended: Decimal | None
    """Effective USD per million tokens, 3:1 input:output; None: unpriced."""
    tier: str | None
    name: str = ""
    """The name routing chose it by (a model, an alias, ``deployment/model``)."""
    health: DeploymentHealth = field(default=HEALTHY, compare=False)
    cost_nanos: int | None = field(default=None, compare=False)
    """What this request would cost here (its prompt and output cap or expectation), when priced
    (set, with ``health``, on the copies :meth:`costops.routing.policy.View.priced` makes to rank
    a model's deployments)."""
    tables: Tables | None = field(default=None, compare=False, repr=False)
    """The effective price tables here on the day the target was listed: what a request's cost
    is estimated from (``tables.estimate_nanos``; None: unpriced)."""

    @property
    def label(self) -> str:
        return f"{self.deployment.name}/{self.model}"


@dataclass(frozen=True, slots=True)
class Candidates:
    """Models with every deployment that serves each, as the catalog lists them on one day:
    what a policy's requests read, built once per (names, day), never per request."""

    models: tuple[tuple[str, tuple[Target, ...]], ...]
    least: Capabilities
    """The most restrictive facts among all the targets (:func:`~costops.routing.capabilities.least`):
    a request these can serve, every target can."""
    plain: bool = field(init=False)
    """No target rules out tools, images or a JSON schema: only a request's sizes (prompt and
    output cap) can rule one out, so its body need not be read for the rest."""
    rated: tuple[tuple[str, tuple[Target, ...], int, int], ...] | None = field(init=False)
    """(name, targets, nanos per input token, per output token) of each model, when each is
    served by one deployment with integer rates: a request's cost there is two products."""

    cheapest: tuple[str, tuple[Target, ...], int, int] | None = field(init=False)
    """With :attr:`plain`, the model of :attr:`rated` that costs least at any prompt and output
    size (no higher rate than any other, a lower output rate than every one listed before it:
    ``min`` over their costs, first of equals, picks it for every request with an output), or None."""
    max_output: int = field(init=False)
    room: int = field(init=False)
    """:attr:`least`'s output cap and context window (``sys.maxsize`` where unknown): a request
    within both fits every target by size."""

    def __post_init__(self) -> None:
        least = self.least
        object.__setattr__(self, "plain", least.tools is not False and least.vision is not False
                           and least.json_schema is not False)
        rated: list[tuple[str, tuple[Target, ...], int, int]] = []
        for name, targets in self.models:
            rates = targets[0].tables.rates if len(targets) == 1 and targets[0].tables is not None else None
            if rates is None:
                break
            rated.append((name, targets, *rates))
        every = tuple(rated) if len(rated) == len(self.models) else None
        object.__setattr__(self, "rated", every)
        object.__setattr__(self, "cheapest", _cheapest_everywhere(every) if every is not None and self.plain else None)
        object.__setattr__(self, "max_output", least.max_output or sys.maxsize)
        object.__setattr__(self, "room", least.context_window or sys.maxsize)


def _cheapest_everywhere(
    rated: tuple[tuple[str, tuple[Target, ...], int, int], ...],
) -> tuple[str, tuple[Target, ...], int, int] | None:
    for i, entry in enumerate(rated):
        if all(entry[2] <= other[2] and (entry[3] < other[3] if j < i else entry[3] <= other[3])
               for j, other in enumerate(rated) if j != i):
            return entry
    return None


def tier_of(blended: Decimal | None, bounds: tuple[Decimal, Decimal]) -> str | None:
    if blended is None:
        return None
    return "budget" if blended < bounds[0] else "balanced" if blended < bounds[1] else "premium"


def parse_tiers(raw: Any) -> tuple[Decimal, Decimal]:
    if raw is None:
        return DEFAULT_TIERS
    if not isinstance(raw, Mapping) or set(raw) - {"budget", "balanced"}:
        raise ConfigError("routing.tiers: {budget: 1.0, balanced: 5.0} (upper bounds, USD per million tokens)")
    try:
        budget = Decimal(str(raw.get("budget", DEFAULT_TIERS[0])))
        balanced = Decimal(str(raw.get("balanced", DEFAULT_TIERS[1])))
    except ArithmeticError:
        raise ConfigError("routing.tiers: the bounds must be numbers, e.g. {budget: 1.0, balanced: 5.0}") from None
    if not (budget.is_finite() and balanced.is_finite()) or not 0 < budget < balanced:
        raise ConfigError(f"routing.tiers: need 0 < budget < balanced, not budget={budget}, balanced={balanced}")
    return budget, balanced


class Catalog:
    """Targets per name, built once per (name, day): prices come from the gateway's pricer (so
    discounts and custom prices count), facts from :mod:`~costops.routing.capabilities`."""

    def __init__(self, config: Config, pricer: Any, raw: Mapping[str, Any] | None = None) -> None:
        raw = raw or {}
        self.config, self.pricer = config, pricer
        self.overrides: tuple[Override, ...] = parse_overrides(raw.get("models"))
        self.bounds = parse_tiers(raw.get("tiers"))
        self._targets: dict[tuple[str, int], tuple[Target, ...]] = {}
        self._candidates: dict[tuple[tuple[str, ...], int], Candidates] = {}

    def targets(self, name: str, at: float) -> tuple[Target, ...]:
        """Every deployment that serves ``name`` (raises UnknownModel like resolve_model)."""
        day = int(at // 86_400)
        found = self._targets.get((name, day))
        if found is None:
            found = self._targets[(name, day)] = tuple(self._target(d, m, name, at) for d, m in self._resolve_all(name))
            if len(self._targets) > 10_000:
                self._targets.clear()
        return found

    def candidates(self, names: tuple[str, ...], at: float) -> Candidates:
        """:meth:`targets` of each of ``names``, with the least capabilities among them."""
        day = int(at // 86_400)
        found = self._candidates.get((names, day))
        if found is None:
            models = tuple((name, self.targets(name, at)) for name in names)
            found = Candidates(models, least(t.caps for _, targets in models for t in targets))
            if len(self._candidates) > 1_000:
                self._candidates.clear()
            self._candidates[(names, day)] = found
        return found

    def warm(self, names: list[str]) -> None:
        """Read the capability data for ``names`` at every deployment serving them (no prices:
        those depend on the day the request comes)."""
        for name in names:
            for deployment, model in self._resolve_all(name):
                capabilities(model, deployment.catalog_provider, self.overrides)

    def _resolve_all(self, name: str) -> list[tuple[Deployment, str]]:
        first = resolve_model(self.config, name)
        model = self.config.aliases.get(name, name)
        if "/" in model and self.config.deployment(model.split("/", 1)[0]) is not None:
            return [first]  # deployment/model: pinned
        out = [first]
        for d in self.config.deployments:
            if d is not first[0] and d.serves(model) and (d.api_key or not is_builtin(d)):
                out.append((d, model))
        return out

    def _target(self, deployment: Deployment, model: str, name: str, at: float) -> Target:
        caps = capabilities(model, deployment.catalog_provider, self.overrides)
        blended = None
        tables = self.pricer.tables(deployment, model, None, at) if self.pricer is not None else None
        if tables is not None:
            blended = (3 * tables.effective.input.base + tables.effective.output.base) / 4
        tier = caps.tier or tier_of(blended, self.bounds)
        return Target(deployment, model, caps, blended, tier, name, tables=tables)


def is_builtin(d: Deployment) -> bool:
    """A built-in provider deployment (made from the environment): without its API key it can
    serve only a caller's own key, so it joins a model's arbitrage set only when resolved first."""
    from costops.config import DEFAULT_MODEL_PATTERNS

    return d.name == d.kind and d.models == DEFAULT_MODEL_PATTERNS.get(d.kind)


def describe(target: Target) -> dict[str, Any]:
    caps = target.caps
    return {
        "name": target.name, "deployment": target.deployment.name, "model": target.model, "tier": target.tier,
        "usd_per_mtok_blended": None if target.blended is None else str(target.blended.normalize()),
        "context_window": caps.context_window, "max_output": caps.max_output, "tools": caps.tools,
        "vision": caps.vision, "json_schema": caps.json_schema, "reasoning": caps.reasoning, "source": caps.source,
        "circuit": target.health.circuit, "latency_ms": target.health.latency_ms, "error_rate": target.health.error_rate,
    }
