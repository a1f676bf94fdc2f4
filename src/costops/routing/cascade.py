"""Cascades: the cheapest model first, a more capable one only when the answer is not good enough.

    routing:
      policies:
        support:                       # clients send "model": "support" (or an alias to it)
          kind: cascade
          models: [gpt-4o-mini, gpt-4o, claude-sonnet-4-6]   # tried in this order
          accept: {refusal: true, min_chars: 20}           # see costops.routing.acceptance

Every attempt but the last is held back (``call.deliver = False``) and judged by the pure
acceptance checks; the first that passes is what the client gets. A rejected attempt keeps its
own ledger row (``attempt_reason`` of the next: ``escalation``; its ``error_message`` says why
it was rejected) and its own cost, so the books show what the cascade spent to save. A streamed
request is buffered while a cheaper model is being judged (its answer is then replayed to the
client as a stream) and streams straight through on the last model. A provider failure on a
cheaper model escalates too; on the last one it is the client's answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from costops.config import Config, ConfigError
from costops.errors import CostopsError
from costops.gateway.resolve import resolve_model
from costops.ledger.record import UsageRecord
from costops.pipeline.attempts import close_attempt
from costops.pipeline.contract import Call, Next, Reply
from costops.routing.acceptance import Acceptance, judge, parse_acceptance
from costops.routing.fallback import failure_kind
from costops.routing.policy import Decision, View, decide
from costops.routing.route import PLAN, POLICY


@dataclass(frozen=True, slots=True)
class CascadePolicy:
    name: str
    models: tuple[str, ...]
    accept: Acceptance
    kind: str = "cascade"

    def choose(self, view: View) -> Decision:
        """The capable models only, in order: a model that cannot serve the request is skipped,
        not tried and rejected."""
        choices = view.choices(self.models)
        if not choices:
            raise view.refuse(self.name)
        plan = replace(self, models=tuple(c.name for c in choices))
        return decide(choices[0], self.kind, f"{choices[0].best.label} first of {len(choices)}", plan=plan)


def parse_cascade(name: str, spec: Mapping[str, Any], config: Config, where: str) -> CascadePolicy:
    unknown = set(spec) - {"kind", "models", "accept"}
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown setting (known: accept, kind, models)")
    models = spec.get("models")
    if not isinstance(models, list) or len(models) < 2 or not all(isinstance(m, str) and m for m in models):
        raise ConfigError(f"{where}.models: at least two models, cheapest first, e.g. [gpt-4o-mini, gpt-4o]")
    for model in models:
        try:
            resolve_model(config, model)
        except CostopsError as exc:
            raise ConfigError(f"{where}.models: {model!r}: {exc.message}") from None
    return CascadePolicy(name, tuple(models), parse_acceptance(spec.get("accept"), f"{where}.accept"))


class Cascade:
    name = "cascade"

    def __init__(self, config: Config, record_attempt: Callable[[UsageRecord], None]) -> None:
        self.config = config
        self.record_attempt = record_attempt

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def handle(self, call: Call, next: Next) -> Reply | None:
        policy: CascadePolicy | None = call.state.get(POLICY)
        if policy is None:
            return await next(call)
        wants_delivery = call.deliver
        last = len(policy.models) - 1
        for i, name in enumerate(policy.models):
            if i > 0:  # the first model's target is the Route step's (its deployments ranked, admitted)
                call.deployment, call.model = resolve_model(self.config, name)
                call.state.pop(PLAN, None)
            call.deliver = wants_delivery if i == last else False
            began = time.perf_counter()
            if i == last:
                return await next(call)
            try:
                reply = await next(call)
            except CostopsError as error:
                if failure_kind(error) is None:
                    raise
                row = close_attempt(call, error.status, error.code or error.type, error.message,
                                    (time.perf_counter() - began) * 1000, "escalation")
                self.record_attempt(row)
                continue
            assert reply is not None
            verdict = judge(policy.accept, call.api, call.body, reply.body)
            if verdict.ok:
                call.deliver = wants_delivery
                return reply
            row = close_attempt(call, reply.status, "rejected", f"rejected by the cascade: {verdict.reason}",
                                (time.perf_counter() - began) * 1000, "escalation")
            self.record_attempt(row)
        raise AssertionError("unreachable: the last model returns or raises")
