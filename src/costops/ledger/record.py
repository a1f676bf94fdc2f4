"""The usage record: one row of the books per call, whether it succeeded, failed or was free."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from costops.money import to_nanos
from costops.pricing import CostBreakdown
from costops.pricing.table import NO_COST
from costops.usage import NO_TOKENS, Usage


@dataclass(slots=True)
class UsageRecord:
    request_id: str
    ts: float
    """Request start, Unix seconds (UTC)."""
    endpoint: str
    """``chat.completions``, ``messages``, ``embeddings``..."""
    model_requested: str
    model: str = ""
    """The model name sent upstream (after aliases)."""
    deployment: str | None = None
    provider: str | None = None
    """The provider API family that served it: ``openai``, ``anthropic``, ``gemini``."""
    tenant: str = "default"
    team: str | None = None
    project: str | None = None
    user: str | None = None
    key_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    stream: bool = False
    status: int = 200
    error_type: str | None = None
    error_message: str | None = None
    usage: Usage = NO_TOKENS
    """Immutable values (this one and the costs) are shared defaults: a record is built per call."""
    service_tier: str | None = None
    priced: bool = True
    """False when no price was known: the row is *unpriced*, not free, and reports say so."""
    price_source: str | None = None
    list_cost: CostBreakdown = NO_COST
    cost: CostBreakdown = NO_COST
    """Effective cost, after configured discounts and custom deployment prices."""
    latency_ms: float | None = None
    ttft_ms: float | None = None
    cache: str | None = None
    """How the response was served: ``exact``, ``semantic``, ``miss``, ``bypass``, or None (no cache stage)."""
    avoided_cost: Decimal = Decimal(0)
    """What a cache hit would have cost at the provider."""
    parent_id: str | None = None
    """None on the row of a logical request; on an earlier attempt's row, that request's id."""
    attempt: int = 1
    """Which provider attempt this row is, from 1; the logical row is the one that answered."""
    attempt_reason: str | None = None
    """Why this attempt was made: ``retry``, ``fallback``, ``escalation``, ``experiment``..."""
    route: str | None = None
    policy: str | None = None
    arm: str | None = None
    """The experiment or bandit arm that served it (``routing.experiments``, ``routing.bandit``)."""
    task: str | None = None
    """The task type a bandit chose the arm for."""
    accepted: bool | None = None
    """Whether the answer passed the policy's automatic acceptance checks; None: not checked."""

    def row(self) -> dict[str, Any]:
        """Flat storage form: token kinds apart, money in integer nano-dollars."""
        u = self.usage
        eff = self.cost.nanos()
        return {
            "request_id": self.request_id,
            "ts": self.ts,
            "endpoint": self.endpoint,
            "model_requested": self.model_requested,
            "model": self.model,
            "deployment": self.deployment,
            "provider": self.provider,
            "tenant": self.tenant,
            "team": self.team,
            "project": self.project,
            "user_id": self.user,
            "key_id": self.key_id,
            "stream": int(self.stream),
            "status": self.status,
            "error_type": self.error_type,
            "error_message": self.error_message,
            "input_tokens": u.input_tokens,
            "cache_read_tokens": u.cache_read_tokens,
            "cache_write_5m_tokens": u.cache_write_5m_tokens,
            "cache_write_1h_tokens": u.cache_write_1h_tokens,
            "output_tokens": u.output_tokens,
            "reasoning_tokens": u.reasoning_tokens,
            "service_tier": self.service_tier,
            "priced": int(self.priced),
            "price_source": self.price_source,
            "list_cost_nanos": self.list_cost.nanos()["cost_nanos"],
            **eff,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "cache": self.cache,
            "avoided_cost_nanos": to_nanos(self.avoided_cost),
            "parent_id": self.parent_id,
            "attempt": self.attempt,
            "attempt_reason": self.attempt_reason,
            "route": self.route,
            "policy": self.policy,
            "arm": self.arm,
            "task": self.task,
            "accepted": None if self.accepted is None else int(self.accepted),
        }


ROW_COLUMNS: tuple[str, ...] = tuple(UsageRecord(request_id="", ts=0.0, endpoint="", model_requested="").row())
"""Column order of the ``usage`` table; tags live in ``usage_tags`` (request_id, key, value)."""
