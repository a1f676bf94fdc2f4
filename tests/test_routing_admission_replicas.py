"""A hard budget holds a cascade's escalations across two replicas (one Redis, one PostgreSQL
ledger): every escalation reserves its own model's hold before it is sent, so concurrent
cascades that would each escalate to the dearer model cannot spend past the limit between them.
Before escalations were admitted, this wave spent about three times the limit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import openai
import pytest

from tests.budget_pair import BudgetPair, gather_calls, start_pair
from tests.ledger_fixtures import pg_server_fixture  # noqa: F401
from tests.replicas import redis_or_skip

LIMITS = {"cascade": "0.02"}
ROUTING = """routing:
  policies:
    always-up: {kind: cascade, models: [gpt-4o-mini, gpt-4o], accept: {min_chars: 100000}}
"""


@pytest.fixture(scope="module")
def pair(simulator, tmp_path_factory, pg_server) -> Iterator[BudgetPair]:
    yield from start_pair(simulator, tmp_path_factory.mktemp("cascade"), pg_server, redis_or_skip(), LIMITS, extra=ROUTING)


def test_concurrent_escalations_on_two_replicas_stay_within_the_hard_limit(pair: BudgetPair) -> None:
    clients = [openai.AsyncOpenAI(base_url=f"{r.url}/v1", api_key=pair.key("cascade"), max_retries=0) for r in pair.replicas]

    async def one(i: int):
        return await clients[i % 2].chat.completions.with_raw_response.create(
            model="always-up", max_tokens=200,
            messages=[{"role": "user", "content": f"{i} explain [[sim:tokens=200]] [[sim:delay=0.1]]"}])

    results = asyncio.run(gather_calls(32, one))
    answered = [r for r in results if not isinstance(r, Exception)]
    kept = [r for r in answered if "x-costops-cascade" in r.headers]
    for error in (r for r in results if isinstance(r, Exception)):
        assert isinstance(error, openai.RateLimitError) and error.code == "budget_exceeded", error
    escalated = [r for r in answered if "x-costops-cascade" not in r.headers]
    assert escalated and kept  # some escalations fit, the later ones were refused and kept the cheap answer
    assert all(r.headers["x-costops-cascade"].endswith("refused (budget_exceeded)") for r in kept)
    totals = pair.ledger("cascade", len(results))
    spent, reserved = pair.spent("cascade")
    assert reserved == 0 and spent == totals["cost_nanos"]  # Redis and the ledger agree to the nano-dollar
    assert pair.overspend("cascade", int(totals["cost_nanos"])) <= 0
