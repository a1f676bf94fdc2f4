"""A/B experiments: a fixed split of traffic between arms, each user always in the same arm.

    routing:
      policies:
        support:                         # clients send "model": "support" (or the name they already use)
          kind: experiment
          arms: {control: gpt-4o, cheap: gpt-4o-mini}     # arm name -> model (any name a client could send)
          split: {control: 50, cheap: 50}                 # weights; default: equal
          sticky: user                   # user (else the key, else the tenant) | key | tenant | request
          accept: {refusal: true}        # optional: automatic checks recorded per answer (routing.acceptance)

Assignment is a pure function of (experiment, unit): the unit's hash, salted with the experiment's
name, falls in one arm's share of [0, 1). So a user meets the same arm on every replica and after
every restart, with no state at all, and changing one arm's weight moves only the users at the
boundary. Each answer's ledger row carries ``policy`` and ``arm`` (and ``accepted`` when checks
are configured); ``costops experiments`` reads cost, latency, errors and quality per arm from
the ledger and the feedback (``POST /v1/feedback``), with confidence intervals.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from costops.config import Config, ConfigError, reject_unknown
from costops.errors import CostopsError
from costops.gateway.resolve import resolve_model
from costops.routing.acceptance import Acceptance, parse_acceptance
from costops.routing.policy import Decision, Request, View, decide

STICKY = ("user", "key", "tenant", "request")


def unit_hash(salt: str, unit: str) -> float:
    """A uniform number in [0, 1) from (salt, unit): the same everywhere, every time."""
    digest = hashlib.blake2b(f"{salt}\x1f{unit}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def assign(salt: str, unit: str, arms: Sequence[str], weights: Sequence[float]) -> str:
    """The arm whose share of [0, 1) the unit's hash falls in (pure)."""
    point = unit_hash(salt, unit) * sum(weights)
    edge = 0.0
    for arm, weight in zip(arms, weights, strict=True):
        edge += weight
        if point < edge:
            return arm
    return arms[-1]


def unit_of(request: Request, sticky: str) -> str:
    """What the assignment sticks to. ``user`` is the request's user (``x-costops-tags: user=...``
    or the body's ``user``), else the virtual key, else the tenant: a call without a user still
    gets a stable arm."""
    if sticky == "request":
        return request.request_id
    if sticky == "tenant":
        return f"tenant:{request.tenant}"
    if sticky == "user" and request.user:
        return f"user:{request.tenant}:{request.user}"
    return f"key:{request.key_id}" if request.key_id else f"tenant:{request.tenant}"


@dataclass(frozen=True, slots=True)
class ExperimentPolicy:
    name: str
    arms: Mapping[str, str]
    """Arm name -> the model (or alias, ``deployment/model``) it sends the call to."""
    weights: tuple[float, ...]
    sticky: str
    accept: Acceptance | None
    salt: str
    kind: str = "experiment"

    def choose(self, view: View) -> Decision:
        """The unit's arm; its model must be able to serve the request (else a 400 saying why:
        moving the unit to another arm would spoil the experiment)."""
        arm = assign(self.salt, unit_of(view.request, self.sticky), list(self.arms), self.weights)
        choices = view.choices([self.arms[arm]])
        if not choices:
            raise view.refuse(self.name)
        return decide(choices[0], self.kind, f"arm {arm}: {choices[0].best.label}", arm=arm)


def parse_arms(raw: Any, config: Config, where: str) -> dict[str, str]:
    """``[model, ...]`` (each arm named after its model) or ``{arm: model}``; every model must resolve."""
    if isinstance(raw, list):
        raw = {m: m for m in raw} if all(isinstance(m, str) for m in raw) else None
    if not isinstance(raw, Mapping) or len(raw) < 2 or not all(isinstance(k, str) and k and isinstance(v, str) and v for k, v in raw.items()):
        raise ConfigError(f"{where}.arms: at least two arms, a list of models or a mapping arm -> model, e.g. {{control: gpt-4o, cheap: gpt-4o-mini}}")
    for arm, model in raw.items():
        try:
            resolve_model(config, model)
        except CostopsError as exc:
            raise ConfigError(f"{where}.arms.{arm}: {model!r}: {exc.message}") from None
    return {str(k): str(v) for k, v in raw.items()}


def parse_experiment(name: str, spec: Mapping[str, Any], config: Config, where: str) -> ExperimentPolicy:
    known = {"kind", "arms", "split", "sticky", "accept", "salt"}
    reject_unknown(spec, known, where)
    arms = parse_arms(spec.get("arms"), config, where)
    split = spec.get("split")
    if split is None:
        weights = tuple(1.0 for _ in arms)
    else:
        if not isinstance(split, Mapping) or set(split) != set(arms):
            raise ConfigError(f"{where}.split: one weight per arm ({', '.join(arms)}), e.g. {{{next(iter(arms))}: 50, ...}}")
        values = [split[a] for a in arms]
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in values) or not sum(values) > 0:
            raise ConfigError(f"{where}.split: weights are numbers >= 0, not all 0")
        weights = tuple(float(v) for v in values)
    sticky = spec.get("sticky", "user")
    if sticky not in STICKY:
        raise ConfigError(f"{where}.sticky: {sticky!r}: use one of {', '.join(STICKY)}")
    accept = parse_acceptance(spec["accept"], f"{where}.accept") if spec.get("accept") is not None else None
    salt = spec.get("salt", name)
    if not isinstance(salt, str):
        raise ConfigError(f"{where}.salt: a string (changing it reshuffles every unit)")
    return ExperimentPolicy(name, arms, weights, str(sticky), accept, salt)
