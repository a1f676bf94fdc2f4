"""Every provider attempt is in the books: a retried attempt is a row of its own under the
logical request, and one that timed out after the provider had the request is priced (its input,
an estimate) because the provider may bill it. Reports count the request once and sum its attempts."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import openai
import pytest

from costops.analysis.report import build_report
from costops.serving import BackgroundServer

HI = [{"role": "user", "content": "How many moons does Jupiter have? Answer in one sentence."}]
COMPLETION = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "flaky-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Ninety-five."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23},
}


def flaky_upstream(script: list[str]):
    """Answers the n-th request as ``script[n]`` says: ``hang`` (never in time), ``500``, or ``ok``."""
    seen = {"n": 0}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        step = script[min(seen["n"], len(script) - 1)]
        seen["n"] += 1
        if step == "hang":
            await asyncio.sleep(3)
        status, body = (500, {"error": {"message": "boom", "type": "server_error"}}) if step == "500" else (200, COMPLETION)
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    app.seen = seen
    return app


CONFIG = """
deployments:
  - name: flaky
    kind: openai
    base_url: "%s/v1"
    models: ["flaky-*"]
    timeout_s: 0.4
    max_retries: %d
    prices: [{model: "flaky-*", input: 1, output: 2}]
"""


def test_a_timed_out_attempt_is_recorded_and_priced_as_an_estimate(make_gateway) -> None:
    upstream = flaky_upstream(["hang", "ok"])
    with BackgroundServer(upstream) as srv:
        gw = make_gateway(CONFIG % (srv.url, 1))
        oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
        raw = oa.chat.completions.with_raw_response.create(model="flaky-model", messages=HI)
        request_id = raw.headers["x-costops-request-id"]
        rows = gw.by_id(2)
    assert upstream.seen["n"] == 2
    answer, first = rows[request_id], rows[f"{request_id}.1"]
    assert (answer.status, answer.attempt, answer.parent_id, answer.attempt_reason) == (200, 2, None, "retry")
    assert (first.status, first.attempt, first.parent_id, first.attempt_reason) == (504, 1, request_id, "primary")
    assert first.error_type == "upstream_timeout"
    assert first.usage.input_tokens > 0 and first.usage.output_tokens == 0
    assert first.priced and first.cost.total == Decimal(first.usage.input_tokens) / 10**6
    assert "estimated" in first.price_source and "timed out" in first.price_source
    report = build_report(gw.gateway.store)
    assert report["requests"] == 1
    assert Decimal(report["total_cost_usd"]) == answer.cost.total + first.cost.total


def test_a_final_timeout_is_not_recorded_as_free(make_gateway) -> None:
    with BackgroundServer(flaky_upstream(["hang"])) as srv:
        gw = make_gateway(CONFIG % (srv.url, 0))
        oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.APIStatusError) as info:
            oa.chat.completions.create(model="flaky-model", messages=HI)
        assert info.value.status_code == 504
        (row,) = gw.records(1)
    assert row.status == 504 and row.usage.input_tokens > 0 and row.cost.total > 0 and "estimated" in row.price_source


def test_a_refused_attempt_is_recorded_and_costs_nothing(make_gateway) -> None:
    with BackgroundServer(flaky_upstream(["500", "ok"])) as srv:
        gw = make_gateway(CONFIG % (srv.url, 2))
        oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
        raw = oa.chat.completions.with_raw_response.create(model="flaky-model", messages=HI)
        request_id = raw.headers["x-costops-request-id"]
        rows = gw.by_id(2)
    first = rows[f"{request_id}.1"]
    assert (first.status, first.attempt_reason, first.cost.total, first.usage.input_tokens) == (500, "primary", 0, 0)
    assert rows[request_id].usage.input_tokens == 20 and rows[request_id].attempt == 2
