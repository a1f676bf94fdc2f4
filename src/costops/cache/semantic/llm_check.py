"""The LLM check: on a high-value route, a cheap model confirms a candidate hit before it is served.

    cache:
      semantic:
        routes:
          payments:
            target_precision: 0.995
            llm_check:
              model: gpt-4o-mini       # any model the gateway serves (resolved like a request's)
              deployment: openai       # optional: this deployment, not the one the model resolves to
              when: accepted           # accepted (default) | near | gated: which candidates are checked
              band: 0.1                # near: also candidates scoring up to this far below the acceptance score
              timeout_s: 5             # no answer by then: a miss
              max_tokens: 3

Which candidates are checked (``when``): ``accepted`` only the one the judge would serve anyway,
so the check can only lower the hit rate and raise precision; ``near`` also the best one whose
judge score is within ``band`` below the route's acceptance score (the judge's near-misses, which
the model may confirm: more recall); ``gated`` every candidate over the cosine gate (the model is
the judge). With ``verifier: rules`` (no score) ``near`` and ``gated`` act as ``accepted``. A
candidate with the very same text as the request is served without a check (it is the same
question in the same scope). One check per request at most: a refused candidate is a miss. A
verdict (yes or no, never an error) is kept per replica for the same route settings, candidate and
new text, so a confirmed paraphrase asked again is served without a second check (no check row).

The prompt (:func:`messages`) shows both questions and asks for one word; the answer
(:func:`confirmed`) is read strictly: ``yes`` (any case, a trailing full stop or !) confirms,
anything else (``no``, ``Yes, but...``, an empty or cut-off answer) refuses. A timeout or a
provider error is a miss too: an unconfirmed candidate is never served.

The check is one provider attempt (:class:`~costops.pipeline.attempt.ProviderAttempt`, the chain's
innermost handler: the same deployments, retries, format translation and pricing as any call).
Its ledger row is its own: ``request_id`` ``<request id>.check``, ``parent_id`` the request's id
(so it counts as an attempt, not a request), the request's tenant, key and tags, ``cache:
semantic-check``, ``attempt_reason: cache_check``, ``accepted`` the verdict (``error_message`` says
why an answer did not confirm). The savings report nets it (``analysis/cache_savings.py``). It
is also put among the call's earlier attempts, so budgets settle and token limits count it as
they do a retry (it runs inside the request's reservation, which covers the upstream call a
confirmed hit avoids; on a refusal the overspend is bounded by one check's cost).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from costops.config import Config, ConfigError, Deployment, reject_unknown
from costops.errors import CostopsError, UpstreamTimeout
from costops.ledger.record import UsageRecord
from costops.pipeline.attempts import EARLIER, earlier_attempts
from costops.pipeline.contract import Call

WHEN = ("accepted", "near", "gated")
CACHE_KIND = "semantic-check"
"""The ``cache`` value of a check's ledger row."""
REASON = "cache_check"
HEADER = b"x-costops-cache-check"
"""On a checked request: ``yes`` (served), ``no``, ``error`` or ``timeout`` (went upstream)."""
_KEYS = {"model", "deployment", "when", "band", "timeout_s", "max_tokens"}

SYSTEM = ("You check a response cache. Two questions follow: one answered before, one new. Reply with "
          "exactly one word: yes if the answer to the first question fully and correctly answers the "
          "second one too, otherwise no.")
TEMPLATE = ("Question answered before:\n<<<\n{stored}\n>>>\n\nNew question:\n<<<\n{new}\n>>>\n\n"
            "Does the answer to the question answered before also answer the new question? Reply yes or no.")
PATTERN = re.compile(r"\AQuestion answered before:\n<<<\n(.*)\n>>>\n\nNew question:\n<<<\n(.*)\n>>>\n\n"
                     r"Does the answer to the question answered before also answer the new question\? "
                     r"Reply yes or no\.\Z", re.S)
"""The template read back: how the provider simulator knows a check when it sees one."""


@dataclass(frozen=True, slots=True)
class LLMCheckSettings:
    model: str
    deployment: str | None = None
    when: str = "accepted"
    band: float = 0.1
    timeout_s: float = 5.0
    max_tokens: int = 3


def parse_llm_check(value: Any, where: str) -> LLMCheckSettings:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: a mapping, e.g. {{model: gpt-4o-mini, when: accepted, timeout_s: 5}}")
    reject_unknown(value, _KEYS, where)
    model = value.get("model")
    if not isinstance(model, str) or not model:
        raise ConfigError(f"{where}.model: the model that checks a candidate, e.g. gpt-4o-mini")
    deployment = value.get("deployment")
    if deployment is not None and (not isinstance(deployment, str) or not deployment):
        raise ConfigError(f"{where}.deployment: a configured deployment's name (or leave it out)")
    when = value.get("when", "accepted")
    if when not in WHEN:
        raise ConfigError(f"{where}.when: {when!r} is not one of {', '.join(WHEN)}")
    band = value.get("band", 0.1)
    if isinstance(band, bool) or not isinstance(band, (int, float)) or not 0 <= band < 1:
        raise ConfigError(f"{where}.band: {band!r} must be a number in [0, 1), e.g. 0.1")
    timeout = value.get("timeout_s", 5.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 120:
        raise ConfigError(f"{where}.timeout_s: {timeout!r} must be seconds in (0, 120], e.g. 5")
    max_tokens = value.get("max_tokens", 3)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= 64:
        raise ConfigError(f"{where}.max_tokens: {max_tokens!r} must be a whole number in [1, 64]")
    return LLMCheckSettings(model, deployment, str(when), float(band), float(timeout), max_tokens)


def target(config: Config, settings: LLMCheckSettings, where: str) -> tuple[Deployment, str]:
    """The deployment and upstream model name a route's check calls; a config error names the key."""
    from costops.gateway.resolve import resolve_model

    try:
        deployment, model = resolve_model(config, settings.model)
    except CostopsError as exc:
        raise ConfigError(f"{where}.model: {exc.message}") from None
    if settings.deployment is not None:
        named = config.deployment(settings.deployment)
        if named is None:
            known = ", ".join(d.name for d in config.deployments)
            raise ConfigError(f"{where}.deployment: no deployment {settings.deployment!r} (configured: {known})")
        deployment = named
    return deployment, model


def messages(stored: str, new: str) -> list[dict[str, str]]:
    """The check's chat messages for a candidate answered for ``stored``, asked as ``new``."""
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": TEMPLATE.format(stored=stored, new=new)}]


def confirmed(answer: str) -> bool:
    """Strict: only a bare yes confirms."""
    return answer.strip().rstrip(".!").strip().lower() == "yes"


def answer_text(body: bytes) -> str:
    """The first choice's text of an OpenAI chat completion ('' when there is none)."""
    try:
        content = orjson.loads(body)["choices"][0]["message"].get("content")
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
        return ""
    return content if isinstance(content, str) else ""


class LLMCheck:
    """Runs checks through the gateway's innermost provider attempt and books each one."""

    def __init__(self, attempt: Callable[[], Any], record_attempt: Callable[[UsageRecord], None],
                 clock: Callable[[], float]) -> None:
        self.attempt, self.record_attempt, self.clock = attempt, record_attempt, clock

    async def confirm(self, call: Call, settings: LLMCheckSettings, to: tuple[Deployment, str],
                      stored: str, new: str) -> str:
        """``yes`` (serve it), ``no``, ``timeout`` or ``error``: only ``yes`` serves the candidate."""
        deployment, model = to
        parent = call.record
        row = UsageRecord(
            request_id=f"{parent.request_id}.check", ts=self.clock(), endpoint="chat.completions",
            model_requested=settings.model, tenant=parent.tenant, team=parent.team, project=parent.project,
            user=parent.user, key_id=parent.key_id, tags=parent.tags, cache=CACHE_KIND,
            parent_id=parent.request_id, attempt=0, attempt_reason=REASON,
        )
        body = {"model": model, "messages": messages(stored, new), "max_tokens": settings.max_tokens,
                "temperature": 0}
        own_key = call.client_credential if call.deployment is not None and call.deployment.name == deployment.name else None
        check = Call("openai", "chat.completions", body, orjson.dumps(body), call.key, row, {}, row.ts,
                     deployment=deployment, model=model, deliver=False, started=time.perf_counter(),
                     client_credential=own_key)  # a caller's own provider key pays on its own deployment only
        attempt = self.attempt()
        verdict = "error"
        try:
            reply = await asyncio.wait_for(attempt.handle(check), settings.timeout_s)
            assert reply is not None, "a check is never delivered"
            text = answer_text(reply.body)
            verdict = "yes" if confirmed(text) else "no"
            row.accepted = verdict == "yes"
            if not row.accepted:
                row.error_message = f"cache check: the model did not confirm the candidate (it answered {text[:40]!r})"
        except TimeoutError:
            verdict = "timeout"
            error = UpstreamTimeout(f"cache check: {model} did not answer within {settings.timeout_s:g} s")
            self._failed(row, check, error, attempt)
        except CostopsError as error:
            self._failed(row, check, error, attempt)
        row.latency_ms = (time.perf_counter() - check.started) * 1000
        call.state.setdefault(EARLIER, []).extend([*earlier_attempts(check), row])
        self.record_attempt(row)
        return verdict

    @staticmethod
    def _failed(row: UsageRecord, check: Call, error: CostopsError, attempt: Any) -> None:
        row.status, row.error_type, row.error_message = error.status, error.code or error.type, error.message
        row.accepted = False
        if row.deployment is None and check.deployment is not None:  # timed out before the attempt named it
            row.deployment, row.provider, row.model = check.deployment.name, check.deployment.kind, check.model
        attempt.settle.failure(row, check, error)
