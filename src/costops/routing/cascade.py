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

An escalation is admitted before it is tried (``admit``: the rate limits and the budgets reserve
for the next model as they did for the first). Refused, the client gets the cheaper answer it
would have replaced, with ``x-costops-cascade: kept <model>; escalation to <model> refused
(<code>)``, and its row says so (``accepted`` false, ``error_type`` ``escalation_refused``, the
refusal in ``error_message``); when there is no cheaper answer (the cheaper model failed), the
refusal itself is the client's answer, in its API's shape.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson

from costops.config import Config, ConfigError, reject_unknown
from costops.errors import CostopsError
from costops.gateway.resolve import resolve_model
from costops.ledger.record import UsageRecord
from costops.pipeline.attempts import EARLIER, close_attempt, earlier_attempts
from costops.pipeline.contract import Call, Next, Reply
from costops.pricing import CostBreakdown
from costops.routing.acceptance import (
    Acceptance,
    Judge,
    Verdict,
    answer_parts,
    judge,
    judge_request,
    judge_score,
    parse_acceptance,
    without_logprobs,
)
from costops.routing.failures import failure_kind
from costops.routing.fallback import SIDE_CALL, refused_target
from costops.routing.policy import Decision, View, decide
from costops.routing.route import PLAN, POLICY
from costops.usage import Usage


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
    reject_unknown(spec, {"kind", "models", "accept"}, where)
    models = spec.get("models")
    if not isinstance(models, list) or len(models) < 2 or not all(isinstance(m, str) and m for m in models):
        raise ConfigError(f"{where}.models: at least two models, cheapest first, e.g. [gpt-4o-mini, gpt-4o]")
    for model in models:
        try:
            resolve_model(config, model)
        except CostopsError as exc:
            raise ConfigError(f"{where}.models: {model!r}: {exc.message}") from None
    accept = parse_acceptance(spec.get("accept"), f"{where}.accept")
    if accept.judge is not None:
        try:
            resolve_model(config, accept.judge.model)
        except CostopsError as exc:
            raise ConfigError(f"{where}.accept.judge.model: {accept.judge.model!r}: {exc.message}") from None
    return CascadePolicy(name, tuple(models), accept)


class Cascade:
    name = "cascade"

    def __init__(
        self, config: Config, record_attempt: Callable[[UsageRecord], None], *,
        admit: Callable[[Call], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.record_attempt = record_attempt
        self.admit = admit
        """Admits an escalation before it is tried (None: nothing to admit)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def handle(self, call: Call, next: Next) -> Reply | None:
        policy: CascadePolicy | None = call.state.get(POLICY)
        if policy is None:
            return await next(call)
        wants_delivery = call.deliver
        last = len(policy.models) - 1
        held: tuple[Reply, str, float] | None = None
        """The last answer rejected (its row not yet closed), its reason, when its attempt began."""
        for i, name in enumerate(policy.models):
            if i > 0:  # the first model's target is the Route step's (its deployments ranked, admitted)
                previous = call.deployment, call.model
                call.deployment, call.model = resolve_model(self.config, name)
                call.state.pop(PLAN, None)
                if self.admit is not None:
                    try:
                        await self.admit(call)
                    except CostopsError as refusal:
                        if held is None:
                            refusal.message = f"escalation to {call.model} refused: {refusal.message}"
                            refused_target(call)
                            raise
                        call.deployment, call.model = previous
                        return self._keep(call, held, refusal, name, wants_delivery)
                if held is not None:
                    reply, reason, began = held
                    row = close_attempt(call, reply.status, "rejected", f"rejected by the cascade: {reason}",
                                        (time.perf_counter() - began) * 1000, "escalation")
                    self.record_attempt(row)
                    held = None
            call.deliver = wants_delivery if i == last else False
            began = time.perf_counter()
            if i == last:
                return await next(call)
            asked, body = self._ask_logprobs(call, policy.accept)
            try:
                answer = await next(call)
            except CostopsError as error:
                if failure_kind(error) is None:
                    raise
                row = close_attempt(call, error.status, error.code or error.type, error.message,
                                    (time.perf_counter() - began) * 1000, "escalation")
                self.record_attempt(row)
                continue
            finally:
                if asked:
                    call.body, call.raw = body, orjson.dumps(body)
            assert answer is not None, "a cheaper attempt is never delivered, so it returns its reply"
            reply = answer
            verdict = judge(policy.accept, call.api, call.body, reply.body)
            if asked:  # the client did not ask for them: it does not get them
                reply = replace(reply, body=without_logprobs(reply.body))
            if verdict.ok and policy.accept.judge is not None:
                verdict = await self._judged(call, next, reply, policy.accept.judge)
            if verdict.ok:
                call.deliver = wants_delivery
                return reply
            held = (reply, verdict.reason or "rejected", began)
        raise AssertionError("unreachable: the last model returns or raises")

    @staticmethod
    def _ask_logprobs(call: Call, accept: Acceptance) -> tuple[bool, dict[str, Any]]:
        """Ask for logprobs on a cheaper attempt when the checks read them and the provider gives
        them (an OpenAI or Gemini deployment, whose answer comes back in OpenAI's shape; an
        OpenAI-format client that did not ask itself): (asked, the body to restore after the attempt)."""
        body = call.body
        if (accept.min_confidence is None or call.api != "openai" or call.deployment is None
                or call.deployment.kind not in ("openai", "gemini") or "logprobs" in body):
            return False, body
        call.body = {**body, "logprobs": True}
        call.raw = orjson.dumps(call.body)
        return True, body

    async def _judged(self, call: Call, next: Next, reply: Reply, spec: Judge) -> Verdict:
        """The judge grades the held-back answer: a side call through the rest of the chain
        (fallbacks, health, one attempt) with a row of its own under the logical request
        (``<request id>.<attempt>j``, ``attempt_reason: judge``), counted in its cost and, at
        settle, in its budgets and token limits. It is admitted first like any attempt (the request's
        hold moves to the judge's target); a judge admission refuses is not called, and the answer
        counts as ungraded: escalate (or keep it, when that escalation is refused too). A judge that
        fails keeps nothing: escalate."""
        deployment, model = resolve_model(self.config, spec.model)
        r = call.record
        record = dataclasses.replace(
            r, request_id=f"{r.request_id}.{r.attempt}j", parent_id=r.request_id, model_requested=spec.model,
            attempt_reason="judge", usage=Usage(), cost=CostBreakdown(), list_cost=CostBreakdown(), priced=True,
            price_source=None, status=200, error_type=None, error_message=None, stream=False, ttft_ms=None,
            accepted=None, cache=None,
        )
        body = judge_request(call.api, call.body, answer_parts(call.api, reply.body)[0], spec)
        raw = orjson.dumps(body)
        if self.admit is not None:  # the judge is admitted like any attempt: the request's hold becomes its
            saved = call.deployment, call.model, call.body, call.raw
            call.deployment, call.model, call.body, call.raw = deployment, model, body, raw
            try:
                await self.admit(call)
                body, raw = call.body, call.raw
            except CostopsError as refusal:
                return Verdict(False, f"the judge {spec.model} was refused: {refusal.message}"[:300])
            finally:
                call.deployment, call.model, call.body, call.raw = saved
        side = Call(call.api, call.endpoint, body, raw, call.key, record, call.headers, call.now,
                    deployment=deployment, model=model, client_credential=call.client_credential,
                    client_headers=call.client_headers, deliver=False, started=time.perf_counter(),
                    state={SIDE_CALL: True})
        try:
            graded = await next(side)
            assert graded is not None
            verdict = judge_score(call.api, graded.body, spec)
            record.accepted = verdict.ok
        except CostopsError as error:
            record.status, record.error_type, record.error_message = error.status, error.code or error.type, error.message
            verdict = Verdict(False, f"the judge {spec.model} failed: {error.message}"[:300])
        record.latency_ms = (time.perf_counter() - side.started) * 1000
        call.state.setdefault(EARLIER, []).extend([*earlier_attempts(side), record])
        self.record_attempt(record)
        return verdict

    @staticmethod
    def _keep(call: Call, held: tuple[Reply, str, float], refusal: CostopsError, to: str, deliver: bool) -> Reply:
        """Admission refused the escalation: the client gets the cheaper answer it would have
        replaced, and the row (the cheaper attempt's) says why."""
        reply, reason, _began = held
        record = call.record
        record.accepted, record.error_type = False, "escalation_refused"
        record.error_message = (f"kept the cheaper answer (rejected by the cascade: {reason}): escalation to {to} "
                                f"refused: {refusal.message}")[:1000]
        label = f"kept {call.model}; escalation to {to} refused ({refusal.code or refusal.type})"
        call.response_headers.append((b"x-costops-cascade", label.encode("latin-1", "replace")))
        call.deliver = deliver
        return reply
