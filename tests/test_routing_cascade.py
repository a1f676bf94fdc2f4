"""Cascades over real HTTP: the cheap model answers first; an answer that is visibly not good
enough (a refusal, invalid JSON...) escalates to the next model; the client gets the first good
answer, and every attempt is a row with its own cost."""

from __future__ import annotations

import json
from decimal import Decimal

import openai
import pytest

from costops.analysis.report import build_report
from costops.config import ConfigError
from costops.routing.acceptance import Acceptance, judge
from costops.serving import BackgroundServer
from tests.asgi_body import request_body

ANSWERS = {
    "cheap-model": "I'm sorry, but I can't help with that request.",
    "cheap-json": '{"city": "Paris"',  # cut off: not JSON
    "cheap-good": "Paris is the capital of France, on the Seine.",
    "strong-model": '{"city": "Paris", "country": "France"}',
}


def scripted_upstream():
    """An OpenAI-compatible server: each model always gives its line in ANSWERS (streamed if asked)."""
    seen: list[str] = []

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        raw = await request_body(receive)
        body = json.loads(raw)
        model = body["model"]
        seen.append(model)
        text = ANSWERS[model]
        usage = {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
        if body.get("stream"):
            chunks = [
                {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": model,
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": "stop"}]},
                {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [], "usage": usage},
            ]
            payload = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
            kind = b"text/event-stream"
        else:
            payload = json.dumps({
                "id": "c", "object": "chat.completion", "created": 1, "model": model, "usage": usage,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            }).encode()
            kind = b"application/json"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]})
        await send({"type": "http.response.body", "body": payload})

    app.seen = seen
    return app


CONFIG = """
deployments:
  - name: house
    kind: openai
    base_url: "%s/v1"
    models: ["cheap-*", "strong-*"]
    prices:
      - {model: "cheap-*", input: 0.1, output: 0.4}
      - {model: "strong-*", input: 2.5, output: 10}
routing:
  policies:
    support: {kind: cascade, models: [cheap-model, strong-model]}
    json-answers: {kind: cascade, models: [cheap-json, strong-model], accept: {required_fields: [city]}}
    easy: {kind: cascade, models: [cheap-good, strong-model]}
"""

HI = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def cascade(make_gateway):
    upstream = scripted_upstream()
    with BackgroundServer(upstream) as srv:
        gw = make_gateway(CONFIG % srv.url)
        yield gw, upstream, openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)


def test_a_refusal_escalates_and_both_attempts_are_booked(cascade) -> None:
    gw, upstream, oa = cascade
    raw = oa.chat.completions.with_raw_response.create(model="support", messages=HI)
    assert raw.parse().choices[0].message.content == ANSWERS["strong-model"]
    request_id = raw.headers["x-costops-request-id"]
    rows = gw.by_id(2)
    rejected, answer = rows[f"{request_id}.1"], rows[request_id]
    assert upstream.seen == ["cheap-model", "strong-model"]
    assert (rejected.model, rejected.status, rejected.error_type, rejected.attempt_reason) == ("cheap-model", 200, "rejected", "primary")
    assert "a refusal or hedge" in rejected.error_message and rejected.cost.total > 0
    assert (answer.model, answer.attempt, answer.attempt_reason, answer.policy) == ("strong-model", 2, "escalation", "support")
    assert Decimal(raw.headers["x-costops-cost-usd"]) == rejected.cost.total + answer.cost.total  # the request's
    assert Decimal(raw.headers["x-costops-attempt-cost-usd"]) == answer.cost.total
    report = build_report(gw.gateway.store)
    assert report["requests"] == 1 and Decimal(report["total_cost_usd"]) == rejected.cost.total + answer.cost.total


def test_a_good_cheap_answer_is_kept(cascade) -> None:
    gw, upstream, oa = cascade
    answer = oa.chat.completions.create(model="easy", messages=HI)
    assert answer.choices[0].message.content == ANSWERS["cheap-good"]
    (row,) = gw.records(1)
    assert upstream.seen == ["cheap-good"] and (row.model, row.attempt, row.policy) == ("cheap-good", 1, "easy")


def test_json_that_does_not_parse_escalates(cascade) -> None:
    gw, upstream, oa = cascade
    answer = oa.chat.completions.create(model="json-answers", messages=HI, response_format={"type": "json_object"})
    assert json.loads(answer.choices[0].message.content)["city"] == "Paris"
    rejected = next(r for r in gw.records(2) if r.parent_id)
    assert "not valid JSON" in rejected.error_message


def test_streamed_requests_cascade_too(cascade) -> None:
    gw, upstream, oa = cascade
    # the cheap try is buffered and judged; the last model streams straight through
    text = "".join(c.choices[0].delta.content or "" for c in oa.chat.completions.create(model="support", messages=HI, stream=True) if c.choices)
    assert text == ANSWERS["strong-model"]
    # an accepted cheap answer is replayed to the client as a stream
    text = "".join(c.choices[0].delta.content or "" for c in oa.chat.completions.create(model="easy", messages=HI, stream=True) if c.choices)
    assert text == ANSWERS["cheap-good"]
    assert upstream.seen == ["cheap-model", "strong-model", "cheap-good"]
    assert sum(r.parent_id is None for r in gw.records(3)) == 2


def test_a_policy_naming_an_unknown_model_is_refused_at_start(make_gateway) -> None:
    with pytest.raises(ConfigError, match=r"routing.policies.p.models: 'nope-9'"):
        make_gateway("routing:\n  policies:\n    p: {kind: cascade, models: [gpt-4o-mini, nope-9]}\n")
    with pytest.raises(ConfigError, match=r"routing.policies.p.accept.bogus"):
        make_gateway("routing:\n  policies:\n    p: {kind: cascade, models: [gpt-4o-mini, gpt-4o], accept: {bogus: 1}}\n")


def _openai(text: str, finish: str = "stop") -> bytes:
    return json.dumps({"choices": [{"message": {"content": text}, "finish_reason": finish}]}).encode()


@pytest.mark.parametrize(
    ("text", "finish", "ok"),
    [
        ("Paris.", "stop", True),
        ("I'm not sure I can answer that reliably.", "stop", False),
        ("As an AI language model, I cannot browse the web.", "stop", False),
        ("I do not have enough information to say.", "stop", False),
        ("Paris is the capital. " * 30 + "People often say 'I can't help loving it'.", "stop", True),  # quoted late
        ("Paris is the capital of", "length", False),
        ("", "stop", False),
    ],
)
def test_acceptance_checks(text, finish, ok) -> None:
    assert judge(Acceptance(), "openai", {}, _openai(text, finish)).ok is ok


def test_acceptance_reads_anthropic_answers_and_schemas() -> None:
    body = json.dumps({"content": [{"type": "text", "text": '{"a": 1}'}], "stop_reason": "end_turn"}).encode()
    assert judge(Acceptance(required_fields=("a",)), "anthropic", {}, body).ok
    assert judge(Acceptance(required_fields=("b",)), "anthropic", {}, body).reason == "JSON without required field 'b'"
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"required": ["b"]}}}
    assert not judge(Acceptance(), "openai", {"response_format": schema}, _openai('{"a": 1}')).ok


def test_the_budget_counts_every_attempt_of_a_cascade(make_gateway) -> None:
    from tests import rawhttp

    upstream = scripted_upstream()
    with BackgroundServer(upstream) as srv:
        gw = make_gateway(CONFIG % srv.url + "budgets:\n  list:\n    - {name: all, limit_usd: 100, window: monthly}\n")
        oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
        oa.chat.completions.create(model="support", messages=HI)  # rejected cheap try, then the strong model
        rows = gw.records(2)
        (status,) = rawhttp.get(f"{gw.url}/admin/budgets/status").json()["budgets"]
    assert len(rows) == 2 and all(r.cost.total > 0 for r in rows)
    assert Decimal(status["spent_usd"]) == sum(r.cost.total for r in rows)  # not only the answer's
