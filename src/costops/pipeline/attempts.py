"""Attempt rows: when a provider attempt fails and another follows (a retry, a fallback, a
cascade's escalation), the failed one becomes a row of its own under the logical request, and
the logical row moves on to the next attempt. One logical request, one request id; its
attempts are ``<request id>.<n>``, each with its own tokens and cost."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from costops.errors import CostopsError
from costops.ledger.record import UsageRecord
from costops.pipeline.contract import Call
from costops.pricing import CostBreakdown
from costops.usage import Usage


def close_failed_attempt(call: Call, error: CostopsError, duration_ms: float | None, next_reason: str) -> UsageRecord:
    """The failed attempt's row (the record as it stands, marked with the error); the call's
    record then stands for attempt n + 1, made for ``next_reason``."""
    return close_attempt(call, error.status, error.code or error.type, error.message, duration_ms, next_reason)


def close_attempt(
    call: Call, status: int, error_type: str | None, message: str | None, duration_ms: float | None, next_reason: str
) -> UsageRecord:
    """An attempt that is not the answer (failed, or answered and rejected): its row, with its
    own usage and cost as they stand; the call's record starts over for the next attempt."""
    r = call.record
    row = dataclasses.replace(
        r, request_id=f"{r.request_id}.{r.attempt}", parent_id=r.parent_id or r.request_id,  # a side call's: its request's
        attempt_reason=r.attempt_reason or "primary", status=status, error_type=error_type,
        error_message=message, latency_ms=duration_ms,
    )
    r.attempt += 1
    r.attempt_reason = next_reason
    r.usage, r.cost, r.list_cost, r.priced, r.price_source = Usage(), CostBreakdown(), CostBreakdown(), True, None
    call.state.setdefault(EARLIER, []).append(row)
    return row


EARLIER = "attempts.earlier"
"""``call.state`` key: the rows of the attempts that were not the answer, in order."""


def earlier_attempts(call: Call) -> Sequence[UsageRecord]:
    """The call's attempts before the answering one (priced by the time the stages settle), so
    the budgets and the token limits count what a retry, a fallback or a cascade spent too."""
    return call.state.get(EARLIER, ())


def spent_nanos(call: Call) -> int:
    """What every attempt of the call cost, in nanos: the answer's and the earlier ones'."""
    rows = [*earlier_attempts(call), call.record]
    return sum(r.cost.total_nanos() for r in rows if r.priced)


def used_tokens(call: Call) -> int:
    """Prompt plus output tokens of every attempt of the call."""
    return sum(r.usage.prompt_tokens + r.usage.output_tokens for r in (*earlier_attempts(call), call.record))
