"""Fallbacks: when a deployment fails before answering, the next target in an ordered list.

    routing:
      fallbacks:                       # a requested model (or alias) -> targets tried in order after it
        gpt-4o: [azure/gpt-4o, claude-sonnet-4-5]
      fallback_on: [rate_limit, server_error, timeout, connection, context_length]   # the default: all
      circuit_breaker: {failures: 5, cooldown_s: 30}   # with redis: also sync_s (0.5; 0: not shared), redis_prefix

A target is anything a client could name (a model, an alias, ``deployment/model``), resolved the
same way. The request's own target is tried first, unless its circuit is open. A failure that
is not in ``fallback_on`` (a 400 for a bad request, say) is the client's to see: no fallback.
Only failures before the answer starts fall back: once a stream has begun, the client has it.
Each failed attempt is a ledger row of its own (``attempt_reason``: why the attempt was made).
A target after the first is admitted before it is tried (``admit``: the rate limits and budgets
reserve for it, :func:`costops.pipeline.chain.readmission`); a target they refuse is skipped, and
when it was the last, their refusal is the client's answer (the logical row names the target).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from costops.config import Config, ConfigError, Deployment, reject_unknown
from costops.errors import CostopsError, UpstreamUnavailable
from costops.gateway.resolve import resolve_model
from costops.ledger.record import UsageRecord
from costops.pipeline.attempts import close_failed_attempt
from costops.pipeline.contract import Call, Next, Reply
from costops.routing.breaker import Breaker, BreakerSettings
from costops.routing.failures import KINDS, failure_kind
from costops.routing.route import PLAN

SIDE_CALL = "routing.side_call"
"""``call.state`` key of a call a handler makes on the side (a cascade's judge): no stage admitted
it, so its fallbacks have nothing to readmit; what it spends is settled with its request."""
@dataclass(frozen=True, slots=True)
class FallbackSettings:
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    on: frozenset[str] = frozenset(KINDS)
    breaker: BreakerSettings = field(default_factory=BreakerSettings)


def parse_settings(raw: Any) -> FallbackSettings:
    where = "routing"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be a mapping with fallbacks, fallback_on, circuit_breaker")
    known = {"fallbacks", "fallback_on", "circuit_breaker", "policies", "keys", "models", "tiers", "arbitrage"}
    reject_unknown(raw, known, where)
    fallbacks: dict[str, tuple[str, ...]] = {}
    for model, targets in (raw.get("fallbacks") or {}).items():
        if isinstance(targets, str):
            targets = [targets]
        if not isinstance(targets, list) or not targets or not all(isinstance(t, str) and t for t in targets):
            raise ConfigError(f"{where}.fallbacks.{model}: a list of models to try in order, e.g. [azure/gpt-4o, claude-sonnet-4-5]")
        fallbacks[str(model)] = tuple(targets)
    on = raw.get("fallback_on", list(KINDS))
    if not isinstance(on, list) or any(k not in KINDS for k in on):
        raise ConfigError(f"{where}.fallback_on: a list of {', '.join(KINDS)}")
    breaker_raw = raw.get("circuit_breaker") or {}
    if not isinstance(breaker_raw, Mapping) or set(breaker_raw) - {"failures", "cooldown_s", "sync_s", "redis_prefix"}:
        raise ConfigError(f"{where}.circuit_breaker: {{failures: 5, cooldown_s: 30, sync_s: 0.5, redis_prefix: costops:circuit}}")
    failures, cooldown = breaker_raw.get("failures", 5), breaker_raw.get("cooldown_s", 30)
    sync, prefix = breaker_raw.get("sync_s", 0.5), breaker_raw.get("redis_prefix", "costops:circuit")
    if isinstance(sync, bool) or not isinstance(sync, (int, float)) or sync < 0:
        raise ConfigError(f"{where}.circuit_breaker.sync_s: seconds, 0 or more (0: each replica its own), not {sync!r}")
    if not isinstance(prefix, str) or not prefix:
        raise ConfigError(f"{where}.circuit_breaker.redis_prefix: a key prefix, e.g. costops:circuit")
    if isinstance(failures, bool) or not isinstance(failures, int) or failures < 1:
        raise ConfigError(f"{where}.circuit_breaker.failures: a whole number of at least 1, not {failures!r}")
    if isinstance(cooldown, bool) or not isinstance(cooldown, (int, float)) or cooldown <= 0:
        raise ConfigError(f"{where}.circuit_breaker.cooldown_s: seconds above 0, not {cooldown!r}")
    return FallbackSettings(fallbacks, frozenset(on), BreakerSettings(failures, float(cooldown), float(sync), prefix))


class Fallbacks:
    """The handler just outside the provider attempt: tries the call's targets in order."""

    name = "fallbacks"

    def __init__(
        self,
        config: Config,
        settings: FallbackSettings,
        record_attempt: Callable[[UsageRecord, Call, CostopsError], None],
        clock: Callable[[], float] = time.monotonic,
        *,
        breaker: Breaker | None = None,
        admit: Callable[[Call], Awaitable[None]] | None = None,
    ) -> None:
        self.config, self.settings, self.clock = config, settings, clock
        self.admit = admit
        """Admits a target after the first before it is tried (None: nothing to admit)."""
        self.record_attempt = record_attempt
        """Books a failed attempt's row (prices what it may have been billed, journals, queues)."""
        self.breaker = breaker or Breaker(settings.breaker)
        """Read here; fed by :class:`costops.routing.health.Observe`, which sees every attempt."""
        for model, targets in settings.fallbacks.items():  # a typo fails at start, not at 3 a.m.
            for target in targets:
                try:
                    resolve_model(config, target)
                except CostopsError as exc:
                    raise ConfigError(f"routing.fallbacks.{model}: {target!r}: {exc.message}") from None

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def targets(self, call: Call) -> list[tuple[Deployment, str]]:
        """The call's own target, the rest of the Route step's plan (the same model's other
        deployments, ranked), then the configured fallbacks (pure: config and the request)."""
        assert call.deployment is not None
        out = [(call.deployment, call.model)]
        plan = call.state.get(PLAN)
        if plan and plan[0] == out[0]:  # a stage in between (a downgrade) may have changed the target
            out.extend(t for t in plan[1:] if t not in out)
        for name in self.settings.fallbacks.get(call.record.model_requested) or self.settings.fallbacks.get(call.model) or ():
            target = resolve_model(self.config, name)
            if target not in out:
                out.append(target)
        return out

    def handle(self, call: Call, next: Next) -> Awaitable[Reply | None]:
        if not self.settings.fallbacks and PLAN not in call.state:  # one target: nothing to fall back to
            return next(call)  # the rest of the chain as it is: no coroutine frame of this step's
        return self._handle(call, next)

    async def _handle(self, call: Call, next: Next) -> Reply | None:
        targets = self.targets(call)
        if len(targets) == 1:
            return await next(call)
        last: CostopsError | None = None
        admitted = targets[0]
        for i, (deployment, model) in enumerate(targets):
            now = self.clock()
            if not self.breaker.allows(deployment.name, now) and i < len(targets) - 1:
                call.record.attempt_reason = "fallback"  # open circuit: straight to the next target
                continue
            call.deployment, call.model = deployment, model
            if self.admit is not None and (deployment, model) != admitted and SIDE_CALL not in call.state:
                try:
                    await self.admit(call)
                except CostopsError as refusal:
                    self.breaker.unprobe(deployment.name)
                    refusal.message = f"fallback to {deployment.name}/{model} refused: {refusal.message}"
                    if i == len(targets) - 1:
                        refused_target(call)
                        raise
                    last = refusal
                    continue
                admitted = (deployment, model)
            began = time.perf_counter()
            try:
                reply = await next(call)
            except CostopsError as error:
                kind = failure_kind(error)
                if kind not in self.settings.on or i == len(targets) - 1 or call.out is not None and call.out.started:
                    raise
                last = error
                row = close_failed_attempt(call, error, (time.perf_counter() - began) * 1000, "fallback")
                self.record_attempt(row, call, error)
                continue
            return reply
        raise last or UpstreamUnavailable("every deployment for this model is unavailable (circuits open)")


def refused_target(call: Call) -> None:
    """The logical row of an attempt admission refused names the target it was refused for."""
    assert call.deployment is not None
    call.record.deployment, call.record.provider, call.record.model = call.deployment.name, call.deployment.kind, call.model
