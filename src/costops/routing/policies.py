"""The routing policies, and the ``routing.policies`` / ``routing.keys`` config that binds them.

    routing:
      policies:                        # the name is the virtual model clients send
        pinned:  {kind: fixed, model: gpt-4o}
        auto:    {kind: cheapest-capable, models: [gpt-4o-mini, gpt-4o, claude-sonnet-4-5]}
        by-task: {kind: tiered, models: [...], tag: task,
                  tiers: {code: premium, reasoning: premium, classify: budget, default: balanced}}
        thrifty: {kind: budget-aware, models: [...], tier: premium, shift: {50: balanced, 80: budget}}
        support: {kind: cascade, models: [gpt-4o-mini, gpt-4o], accept: {...}}   # routing.cascade
        learned: {kind: learned, router: ./router, threshold: 0.9}                 # routing.learned_policy
      keys: {batch-jobs: auto}         # every request of virtual key 'batch-jobs' goes through 'auto'

Every policy only ever picks among its ``models`` that the request's key may use and whose
capabilities fit the request (:mod:`costops.routing.needs`); when none does, the client gets a
400 ``no_capable_model`` saying what each model lacks. A name served by several deployments is
ranked by :mod:`costops.routing.arbitrage`.

- ``fixed``: always ``model`` (a pin that still checks capabilities and arbitrages deployments).
- ``cheapest-capable``: the capable model that costs this request least (its prompt and output
  cap priced at each deployment's effective price).
- ``tiered``: the task (the tag ``tag``, else :func:`costops.tasks.classify_task` on the prompt)
  names a tier; the cheapest capable model of that tier, else of the nearest tier above, else
  below.
- ``budget-aware``: the tier ``tier`` while the fullest budget covering the caller is below the
  lowest ``shift`` threshold (% of its limit committed, from the budgets stage's last snapshot);
  past each threshold, at most the tier it names. The budgets' own ``downgrade`` maps still
  apply after routing, as an override.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from costops.config import Config, ConfigError, reject_unknown
from costops.errors import CostopsError
from costops.gateway.resolve import resolve_model
from costops.routing.capabilities import TIERS
from costops.routing.policy import Choice, Decision, View, by_cost, decide
from costops.tasks import classify_task


def _models(spec: Mapping[str, Any], where: str, config: Config, *, at_least: int = 1) -> tuple[str, ...]:
    models = spec.get("models")
    if not isinstance(models, list) or len(models) < at_least or not all(isinstance(m, str) and m for m in models):
        raise ConfigError(f"{where}.models: a list of models to choose from, e.g. [gpt-4o-mini, gpt-4o]")
    for model in models:
        _check(config, model, f"{where}.models")
    return tuple(models)


def _check(config: Config, model: str, where: str) -> None:
    try:
        resolve_model(config, model)
    except CostopsError as exc:
        raise ConfigError(f"{where}: {model!r}: {exc.message}") from None


def _tier(value: Any, where: str) -> str:
    if value not in TIERS:
        raise ConfigError(f"{where}: one of {', '.join(TIERS)}, not {value!r}")
    return str(value)


def nearest(choices: list[Choice], tier: str) -> Choice | None:
    """The cheapest choice of ``tier``, else of the nearest tier above, else below (pure)."""
    rank = TIERS.index(tier)
    order = [tier, *TIERS[rank + 1:], *reversed(TIERS[:rank])]
    for wanted in order:
        found = [c for c in choices if c.tier == wanted]
        if found:
            return min(found, key=by_cost)
    untiered = [c for c in choices if c.tier is None]
    return min(untiered, key=by_cost) if untiered else None


@dataclass(frozen=True, slots=True)
class Fixed:
    name: str
    model: str
    kind: str = "fixed"

    def choose(self, view: View) -> Decision:
        choices = view.choices([self.model])
        if not choices:
            raise view.refuse(self.name)
        return decide(choices[0], self.kind)


@dataclass(frozen=True, slots=True)
class CheapestCapable:
    name: str
    models: tuple[str, ...]
    kind: str = "cheapest-capable"

    def choose(self, view: View) -> Decision:
        choice = view.cheapest(self.models)
        if choice is None:
            raise view.refuse(self.name)
        return decide(choice, self.kind)


@dataclass(frozen=True, slots=True)
class Tiered:
    name: str
    models: tuple[str, ...]
    tiers: Mapping[str, str]
    """Task -> tier; ``default`` for any task not named."""
    tag: str = "task"
    kind: str = "tiered"

    def task(self, view: View) -> str:
        tagged = view.request.tags.get(self.tag)
        return tagged if tagged else classify_task(view.request.text())

    def choose(self, view: View) -> Decision:
        task = self.task(view)
        tier = self.tiers.get(task) or self.tiers["default"]
        choice = nearest(view.choices(self.models), tier)
        if choice is None:
            raise view.refuse(self.name)
        return decide(choice, self.kind, f"{choice.best.label} (task {task} -> {tier})")


@dataclass(frozen=True, slots=True)
class BudgetAware:
    name: str
    models: tuple[str, ...]
    tier: str = "premium"
    shift: tuple[tuple[float, str], ...] = ((50.0, "balanced"), (80.0, "budget"))
    """(% of the fullest budget committed, the highest tier allowed from there), ascending."""
    kind: str = "budget-aware"

    def allowed_tier(self, pct: float | None) -> str:
        tier = self.tier
        for threshold, cap in self.shift:
            if pct is not None and pct >= threshold and TIERS.index(cap) < TIERS.index(tier):
                tier = cap
        return tier

    def choose(self, view: View) -> Decision:
        pct = view.snapshot.budget_pct
        tier = self.allowed_tier(pct)
        choices = view.choices(self.models)
        within = [c for c in choices if c.tier is None or TIERS.index(c.tier) <= TIERS.index(tier)]
        choice = nearest(within, tier) or nearest(choices, tier)
        if choice is None:
            raise view.refuse(self.name)
        budget = "no budget" if pct is None else f"budget at {pct:.0f}%"
        return decide(choice, self.kind, f"{choice.best.label} ({budget} -> {tier})")


def _fixed(name: str, spec: Mapping[str, Any], config: Config, where: str) -> Fixed:
    reject_unknown(spec, {"kind", "model"}, where)
    model = spec.get("model")
    if not isinstance(model, str) or not model:
        raise ConfigError(f"{where}.model: the model every request goes to, e.g. gpt-4o")
    _check(config, model, f"{where}.model")
    return Fixed(name, model)


def _cheapest(name: str, spec: Mapping[str, Any], config: Config, where: str) -> CheapestCapable:
    reject_unknown(spec, {"kind", "models"}, where)
    return CheapestCapable(name, _models(spec, where, config))


def _tiered(name: str, spec: Mapping[str, Any], config: Config, where: str) -> Tiered:
    reject_unknown(spec, {"kind", "models", "tiers", "tag"}, where)
    tiers = spec.get("tiers")
    if not isinstance(tiers, Mapping) or "default" not in tiers:
        raise ConfigError(f"{where}.tiers: task -> tier with a 'default', e.g. {{code: premium, classify: budget, default: balanced}}")
    for task, tier in tiers.items():  # a tag may name tasks of its own, beyond the classifier's TASKS
        _tier(tier, f"{where}.tiers.{task}")
    tag = spec.get("tag", "task")
    if not isinstance(tag, str) or not tag:
        raise ConfigError(f"{where}.tag: the tag that names a request's task (x-costops-tags: task=code)")
    return Tiered(name, _models(spec, where, config), {str(k): str(v) for k, v in tiers.items()}, tag)


def _budget_aware(name: str, spec: Mapping[str, Any], config: Config, where: str) -> BudgetAware:
    reject_unknown(spec, {"kind", "models", "tier", "shift"}, where)
    tier = _tier(spec.get("tier", "premium"), f"{where}.tier")
    raw = spec.get("shift", {50: "balanced", 80: "budget"})
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{where}.shift: % of the budget -> the highest tier from there, e.g. {{50: balanced, 80: budget}}")
    shift = []
    for pct, cap in raw.items():
        try:
            value = float(pct)
        except (TypeError, ValueError):
            value = -1.0
        if not 0 < value <= 100:
            raise ConfigError(f"{where}.shift.{pct}: a percentage above 0 and at most 100")
        shift.append((value, _tier(cap, f"{where}.shift.{pct}")))
    return BudgetAware(name, _models(spec, where, config), tier, tuple(sorted(shift)))


KINDS = {"fixed": _fixed, "cheapest-capable": _cheapest, "tiered": _tiered, "budget-aware": _budget_aware}


def parse_policy(name: str, spec: Mapping[str, Any], config: Config, where: str) -> Any:
    """One policy from its config; cascade and learned live in their own modules."""
    kind = spec.get("kind")
    if kind == "learned":
        from costops.routing.learned_policy import parse_learned

        return parse_learned(name, spec, config, where)
    if kind == "cascade":
        from costops.routing.cascade import parse_cascade

        return parse_cascade(name, spec, config, where)
    if kind == "experiment":
        from costops.routing.experiments import parse_experiment

        return parse_experiment(name, spec, config, where)
    if kind == "bandit":
        from costops.routing.bandit import parse_bandit

        return parse_bandit(name, spec, config, where)
    parse = KINDS.get(kind)  # type: ignore[arg-type]
    if parse is None:
        known = ", ".join([*KINDS, "cascade", "learned", "experiment", "bandit"])
        raise ConfigError(f"{where}.kind: {kind!r} is not a policy kind; use one of {known}")
    return parse(name, spec, config, where)


def parse_policies(raw: Any, config: Config) -> dict[str, Any]:
    """Virtual model names -> policies."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError("routing.policies: a mapping of policy name -> {kind, models, ...}")
    out: dict[str, Any] = {}
    for name, spec in raw.items():
        where = f"routing.policies.{name}"
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where}: {{kind: cheapest-capable, models: [...]}}")
        out[str(name)] = parse_policy(str(name), spec, config, where)
    return out


def parse_key_bindings(raw: Any, policies: Mapping[str, Any], config: Config) -> dict[str, Any]:
    """``routing.keys``: virtual key id -> the policy every request of that key goes through."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError("routing.keys: a mapping of virtual key id -> policy name, e.g. {batch-jobs: auto}")
    ids = {k.id for k in config.keys}
    out = {}
    for key_id, policy in raw.items():
        if key_id not in ids:
            raise ConfigError(f"routing.keys.{key_id}: no virtual key has that id (keys: {', '.join(sorted(ids)) or 'none'})")
        if policy not in policies:
            raise ConfigError(f"routing.keys.{key_id}: {policy!r} is not a policy under routing.policies")
        out[str(key_id)] = policies[policy]
    return out
