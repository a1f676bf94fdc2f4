"""A hard budget holds across two replicas (one Redis, one PostgreSQL ledger) in the cases a
client does not help with: no ``max_tokens``, prompt-cache writes (the client's breakpoints and
the ones costops's prompt-cache stage adds), calls that outlive a reservation's TTL; and its
alerts tell the truth (settled spend, projected apart, every threshold, 100 % at the first refusal).

Each case sends concurrent waves through both replicas with the official SDKs and checks the
ledger's spend against the limit: the overspend is printed (``-s``) and must be at most zero
here (the bound is one call's reservation; these calls never exceed theirs), and what Redis
counts equals what the ledger recorded, to the nano-dollar.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import anthropic
import openai
import pytest

from tests.budget_pair import BudgetPair, gather_calls, start_pair
from tests.hook_sink import HookSink
from tests.ledger_fixtures import pg_server_fixture  # noqa: F401
from tests.replicas import redis_or_skip

LIMITS = {"nomax": "0.02", "cachew": "0.1", "cachestage": "0.1", "long": "0.0025", "alerts": "0.01"}


@pytest.fixture(scope="module")
def hook() -> Iterator[HookSink]:
    sink = HookSink()
    yield sink
    sink.close()


@pytest.fixture(scope="module")
def pair(simulator, tmp_path_factory, pg_server, hook: HookSink) -> Iterator[BudgetPair]:
    yield from start_pair(
        simulator, tmp_path_factory.mktemp("holds"), pg_server, redis_or_skip(), LIMITS,
        extra=f"cache: {{prompt: {{ttl: 1h}}}}\nalerts: {{digest_at: null, backoff_s: 0.05, sinks: "
              f"[{{type: webhook, url: '{hook.url}', budgets: [alerts]}}]}}\n",
        section="  reservation_ttl_s: 1\n",  # holds lapse after 1 s unless renewed while their call runs
    )


def _settled(pair: BudgetPair, name: str, requests: int) -> int:
    totals = pair.ledger(name, requests)
    assert totals["requests"] == requests
    spent, reserved = pair.spent(name)
    assert reserved == 0 and spent == totals["cost_nanos"]  # Redis and the ledger agree to the nano-dollar
    return int(totals["cost_nanos"])


def _refused_by_budget(results: list, status_error: type[Exception]) -> int:
    refused = [r for r in results if isinstance(r, Exception)]
    for error in refused:
        assert isinstance(error, status_error) and error.status_code == 429, error  # type: ignore[attr-defined]
        assert "is exhausted" in str(error) and "budget" in str(error)
    return len(refused)


def test_no_max_tokens_reserves_the_models_most_and_caps_the_call(pair: BudgetPair) -> None:
    """Calls that name no cap and answer 3,000 tokens (a 1,024-token expectation reserved a third
    of that): each reserves gpt-4o-mini's 16,384-token maximum, or what the budget's room pays
    for, and that cap goes upstream, so the provider stops where the reservation ends."""
    clients = [openai.AsyncOpenAI(base_url=f"{r.url}/v1", api_key=pair.key("nomax"), max_retries=0) for r in pair.replicas]

    async def one(i: int) -> openai.types.chat.ChatCompletion:
        return await clients[i % 2].chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"{i} tell [[sim:tokens=3000]] [[sim:delay=0.1]]"}])

    async def waves() -> list:
        out = []
        for _ in range(2):
            out += await gather_calls(16, one)
        return out

    results = asyncio.run(waves())
    answered = [r for r in results if not isinstance(r, Exception)]
    refused = _refused_by_budget(results, openai.APIStatusError)
    assert answered and refused and len(answered) + refused == 32
    assert all(r.usage is not None and r.usage.completion_tokens <= 16384 for r in answered)
    spent = _settled(pair, "nomax", 32)
    assert pair.overspend("nomax", spent) <= 0


def _long_system(i: int) -> str:
    return f"Reference {i}. " + "The quick brown fox jumps over the lazy dog. " * 300


def test_cache_writes_are_reserved_at_their_premium(pair: BudgetPair) -> None:
    """Claude calls whose client marks a 1-hour ``cache_control`` breakpoint on a long system
    prompt (a fresh one per call, so every call writes): the write costs twice the input rate."""
    clients = [anthropic.AsyncAnthropic(base_url=r.url, api_key=pair.key("cachew"), max_retries=0) for r in pair.replicas]

    async def one(i: int) -> anthropic.types.Message:
        return await clients[i % 2].messages.create(
            model="claude-sonnet-4-6", max_tokens=50,
            system=[{"type": "text", "text": _long_system(i), "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
            messages=[{"role": "user", "content": "hi [[sim:delay=0.1]]"}],
        )

    results = asyncio.run(gather_calls(16, one))
    answered = [r for r in results if not isinstance(r, Exception)]
    refused = _refused_by_budget(results, anthropic.APIStatusError)
    assert answered and refused
    assert all(r.usage.cache_creation_input_tokens for r in answered)  # the calls did write
    spent = _settled(pair, "cachew", 16)
    assert pair.overspend("cachew", spent) <= 0


def test_breakpoints_the_prompt_cache_stage_adds_are_reserved(pair: BudgetPair) -> None:
    """The same calls with no breakpoint of their own: costops's prompt-cache stage (``ttl: 1h``)
    marks the system prompt after the budgets stage ran, and the budget reserved for it."""
    clients = [anthropic.AsyncAnthropic(base_url=r.url, api_key=pair.key("cachestage"), max_retries=0) for r in pair.replicas]

    async def one(i: int) -> anthropic.types.Message:
        return await clients[i % 2].messages.create(
            model="claude-sonnet-4-6", max_tokens=50, system=_long_system(1000 + i),
            messages=[{"role": "user", "content": "hi [[sim:delay=0.1]]"}],
        )

    results = asyncio.run(gather_calls(16, one))
    answered = [r for r in results if not isinstance(r, Exception)]
    refused = _refused_by_budget(results, anthropic.APIStatusError)
    assert answered and refused
    assert all(r.usage.cache_creation_input_tokens for r in answered)
    spent = _settled(pair, "cachestage", 16)
    assert pair.overspend("cachestage", spent) <= 0


def test_holds_are_renewed_while_long_streams_run(pair: BudgetPair) -> None:
    """Four streamed calls that take 3 s hold the whole budget; holds live 1 s unless renewed. A
    second wave sent 1.5 s after all four were held finds them still held and is refused (it used
    to find them lapsed, and went in)."""
    clients = [openai.AsyncOpenAI(base_url=f"{r.url}/v1", api_key=pair.key("long"), max_retries=0) for r in pair.replicas]

    async def streamed(i: int) -> int:
        stream = await clients[i % 2].chat.completions.create(
            model="gpt-4o-mini", max_tokens=1000, stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": f"{i} [[sim:tokens=1000]] [[sim:delay=3]]"}])
        tokens = 0
        async for chunk in stream:
            if chunk.usage is not None:
                tokens = chunk.usage.completion_tokens
        return tokens

    async def late(i: int) -> openai.types.chat.ChatCompletion:
        return await clients[i % 2].chat.completions.create(
            model="gpt-4o-mini", max_tokens=1000, messages=[{"role": "user", "content": f"late {i} [[sim:tokens=1000]]"}])

    async def both() -> tuple[list, list]:
        first = asyncio.ensure_future(gather_calls(4, streamed))
        while pair.spent("long")[1] < 4 * 600_000:  # all four held (each about $0.0006)
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # past the holds' TTL: only a renewal keeps them
        second = await gather_calls(4, late)
        return await first, second

    first, second = asyncio.run(both())
    over = pair.overspend("long", _settled(pair, "long", 8))
    assert first == [1000] * 4, first  # the long calls all ran to the end
    assert _refused_by_budget(second, openai.APIStatusError) == 4
    assert over <= 0


def test_alerts_judge_settled_spend_and_report_every_threshold(pair: BudgetPair, hook: HookSink) -> None:
    """Six calls in flight hold 72 % of the budget while nothing is spent: only "projected"
    alerts. Then one call spends 93 % at once: 50, 75 and 90 % each arrive, once across both
    replicas, with the spend that crossed them. The next call cannot fit: the 100 % alert."""
    from decimal import Decimal

    clients = [openai.AsyncOpenAI(base_url=f"{r.url}/v1", api_key=pair.key("alerts"), max_retries=0) for r in pair.replicas]

    def call(max_tokens: int, tokens: int, delay: float):  # noqa: ANN202
        async def one(i: int) -> openai.types.chat.ChatCompletion:
            return await clients[i % 2].chat.completions.create(
                model="gpt-4o-mini", max_tokens=max_tokens,
                messages=[{"role": "user", "content": f"{i} [[sim:tokens={tokens}]] [[sim:delay={delay}]]"}])
        return one

    async def scenario() -> list:
        await gather_calls(6, call(2000, 10, 0.5))  # each holds $0.0012 while it runs, costs ~$0.00001
        await gather_calls(1, call(16000, 15500, 0.05))  # $0.0093 at once
        return await gather_calls(2, call(2000, 10, 0.05))  # $0.0012 more cannot fit

    last = asyncio.run(scenario())
    assert _refused_by_budget(last, openai.APIStatusError) == 2
    thresholds = hook.wait_for("alerts", "threshold", 4)
    import time

    time.sleep(0.3)  # a duplicate from the other replica would have arrived by now
    thresholds = hook.events("alerts", "threshold")
    assert sorted(a["threshold"] for a in thresholds) == [50, 75, 90, 100]  # every one, each once
    for alert in thresholds:
        if alert["basis"] == "settled":  # the spend that crossed it, not spend plus holds
            assert Decimal(alert["spent_usd"]) * 100 >= alert["threshold"] * Decimal("0.01"), alert
    assert [a["basis"] for a in thresholds if a["threshold"] == 100] == ["refused"]
    projected = hook.events("alerts", "projected")
    assert 50 in [a["threshold"] for a in projected]
    assert all(Decimal(a["spent_usd"]) < Decimal("0.005") and "is projected at" in a["text"] for a in projected)
    _settled(pair, "alerts", 9)
