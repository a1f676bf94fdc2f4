"""Fallbacks over real HTTP: a deployment that fails before answering (unreachable, 429, 5xx,
timeout, context too long) hands the call to the next target; every failed attempt is a row of
its own; a failure that is the client's (a plain 400) is not retried elsewhere; an open circuit
skips a dead deployment at once."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

from costops.config import ConfigError
from costops.errors import UpstreamStatus, UpstreamTimeout, UpstreamUnavailable
from costops.routing.breaker import Breaker, BreakerSettings
from costops.routing.failures import failure_kind
from costops.serving import BackgroundServer, free_port

HI = [{"role": "user", "content": "What is the capital of France?"}]


def failing_upstream(status: int, message: str, delay: float = 0.0):
    """An OpenAI-compatible server that always fails the same way (and counts its calls)."""
    calls = {"n": 0}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        calls["n"] += 1
        if delay:
            await asyncio.sleep(delay)
        body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": None}}).encode()
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    app.calls = calls
    return app


def config(primary_url: str, *, breaker: str = "", timeout: float = 5.0) -> str:
    return f"""
deployments:
  - {{name: primary, kind: openai, base_url: "{primary_url}/v1", models: ["gpt-4o-mini"], max_retries: 0, timeout_s: {timeout}}}
routing:
  fallbacks:
    gpt-4o-mini: [backup/gpt-4o-mini, claude-haiku-4-5]
{breaker}
"""


def backup(sim_url: str) -> str:
    return f'  - {{name: backup, kind: openai, base_url: "{sim_url}/v1", models: ["backup-only"]}}\n'


def _with_backup(text: str, sim_url: str) -> str:
    return text.replace("routing:", backup(sim_url) + "routing:", 1)


def _call(gw):
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    raw = oa.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HI)
    return raw.headers["x-costops-request-id"], raw.parse()


def test_an_unreachable_deployment_falls_back_and_both_attempts_are_rows(make_gateway, simulator) -> None:
    gw = make_gateway(_with_backup(config(f"http://127.0.0.1:{free_port()}"), simulator.url))
    request_id, answer = _call(gw)
    assert answer.choices[0].message.content
    rows = gw.by_id(2)
    failed, served = rows[f"{request_id}.1"], rows[request_id]
    assert (failed.deployment, failed.status, failed.attempt, failed.attempt_reason) == ("primary", 503, 1, "primary")
    assert failed.cost.total == 0 and failed.parent_id == request_id
    assert (served.deployment, served.status, served.attempt, served.attempt_reason) == ("backup", 200, 2, "fallback")
    assert served.cost.total > 0


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        (429, "Rate limit reached for requests", "rate_limit"),
        (500, "The server had an error", "server_error"),
        (400, "This model's maximum context length is 128000 tokens. However, you requested 130000 tokens", "context_length"),
    ],
)
def test_provider_failures_fall_back(make_gateway, simulator, status, message, kind) -> None:
    upstream = failing_upstream(status, message)
    with BackgroundServer(upstream) as srv:
        gw = make_gateway(_with_backup(config(srv.url), simulator.url))
        request_id, _ = _call(gw)
        rows = gw.by_id(2)
    assert upstream.calls["n"] == 1
    assert rows[f"{request_id}.1"].status == status and rows[request_id].deployment == "backup"
    assert failure_kind(UpstreamStatus(status, message)) == kind


def test_a_timeout_falls_back_and_the_timed_out_attempt_is_priced_as_an_estimate(make_gateway, simulator) -> None:
    with BackgroundServer(failing_upstream(200, "", delay=3)) as srv:
        gw = make_gateway(_with_backup(config(srv.url, timeout=0.3), simulator.url))
        request_id, _ = _call(gw)
        rows = gw.by_id(2)
    timed_out = rows[f"{request_id}.1"]
    assert timed_out.status == 504 and timed_out.cost.total > 0 and "estimated" in timed_out.price_source
    assert rows[request_id].status == 200


def test_a_bad_request_is_the_clients_to_see_not_a_fallback(make_gateway, simulator) -> None:
    upstream = failing_upstream(400, "Invalid value for 'temperature'")
    with BackgroundServer(upstream) as srv:
        gw = make_gateway(_with_backup(config(srv.url), simulator.url))
        oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.BadRequestError) as info:
            oa.chat.completions.create(model="gpt-4o-mini", messages=HI)
        (row,) = gw.records(1)
    assert "temperature" in info.value.message and row.deployment == "primary" and row.attempt == 1


def test_the_last_target_can_be_another_provider_and_model(make_gateway, simulator) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    text = config(dead).replace("[backup/gpt-4o-mini, claude-haiku-4-5]", "[claude-haiku-4-5]")
    gw = make_gateway(text)
    request_id, answer = _call(gw)  # an OpenAI client, answered by Claude through the translation
    assert answer.choices[0].message.content
    row = gw.by_id(2)[request_id]
    assert (row.model_requested, row.model, row.provider) == ("gpt-4o-mini", "claude-haiku-4-5", "anthropic")


def test_an_open_circuit_skips_the_dead_deployment(make_gateway, simulator) -> None:
    upstream = failing_upstream(503, "overloaded")
    with BackgroundServer(upstream) as srv:
        breaker = "  circuit_breaker: {failures: 2, cooldown_s: 600}"
        gw = make_gateway(_with_backup(config(srv.url, breaker=breaker), simulator.url))
        for _ in range(4):
            _call(gw)
        rows = gw.records(6)
    assert upstream.calls["n"] == 2  # after two failures in a row, no more calls to it
    served = [r for r in rows if r.parent_id is None]
    assert [r.deployment for r in served] == ["backup"] * 4
    assert [r.attempt_reason for r in served] == ["fallback"] * 4  # the last two went there directly
    assert sum(r.parent_id is not None for r in rows) == 2


def test_the_breaker_opens_half_opens_and_closes() -> None:
    b = Breaker(BreakerSettings(failures=2, cooldown_s=10))
    assert b.allows("d", 0)
    b.failure("d", 0)
    assert b.state("d", 1) == "closed" and b.allows("d", 1)
    b.failure("d", 1)
    assert b.state("d", 2) == "open" and not b.allows("d", 2)
    assert b.state("d", 11) == "half-open"
    assert b.allows("d", 11) and not b.allows("d", 11)  # one probe at a time
    b.failure("d", 12)  # the probe failed: open for another cooldown
    assert not b.allows("d", 21) and b.allows("d", 22.5)
    b.success("d")
    assert b.state("d", 23) == "closed" and b.allows("d", 23)


def test_errors_are_classified_by_kind() -> None:
    assert failure_kind(UpstreamTimeout("t")) == "timeout"
    assert failure_kind(UpstreamUnavailable("u")) == "connection"
    assert failure_kind(UpstreamStatus(400, "bad temperature")) is None
    assert failure_kind(UpstreamStatus(400, "prompt is too long: 210000 tokens > 200000 maximum")) == "context_length"


def test_a_fallback_to_a_model_no_deployment_serves_is_refused_at_start(make_gateway) -> None:
    with pytest.raises(ConfigError, match=r"routing.fallbacks.gpt-4o-mini: 'no-such-model'"):
        make_gateway("routing:\n  fallbacks:\n    gpt-4o-mini: [no-such-model]\n")
    with pytest.raises(ConfigError, match="routing.fallback_on"):
        make_gateway("routing:\n  fallback_on: [sometimes]\n")
