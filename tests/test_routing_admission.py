"""Admission covers every attempt, over real HTTP: a cascade's escalation and a fallback are
admitted (budget reserved, rate-limit tokens taken) for their own target before they are tried.

An escalation a hard budget cannot pay for is not sent: the client keeps the cheaper answer it
would have replaced (``x-costops-cascade`` says so, and so does its row), or, when there is no
cheaper answer, gets the budget's 429 in its API's shape. A fallback the budget refuses is not
sent either, nor is a judge it refuses. Prices here: cheap $0.1 / $0.4 and strong $2.5 / $10 per million tokens, so with
``max_tokens: 1000`` a cheap try holds about $0.0004 and a strong one about $0.01.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import anthropic
import openai
import pytest

from costops.serving import BackgroundServer
from tests import rawhttp
from tests.asgi_body import request_body
from tests.clock import Clock
from tests.replicas import REDIS_URL

ANSWERS = {
    "cheap-model": "I'm sorry, but I can't help with that request.",  # a refusal: the cascade escalates
    "strong-model": "Paris is the capital of France.",
    "good-cheap": "Paris.",
    "judge-pricey": "9",
}


def scripted_upstream():
    """An OpenAI-compatible server: ``cheap-model`` refuses, ``strong-model`` answers, and any
    model named ``broken-*`` fails with a 500; it counts the models it was asked for."""
    seen: list[str] = []

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        raw = await request_body(receive)
        model = json.loads(raw)["model"]
        seen.append(model)
        if model.startswith("broken-"):
            status, payload = 500, {"error": {"message": "the server had an error", "type": "server_error", "code": None}}
        else:
            status, payload = 200, {
                "id": "c", "object": "chat.completion", "created": 1, "model": model,
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWERS[model]}, "finish_reason": "stop"}],
            }
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(payload).encode()})

    app.seen = seen
    return app


def config(url: str, limit_usd: str, extra: str = "") -> str:
    return f"""
deployments:
  - name: house
    kind: openai
    base_url: "{url}/v1"
    models: ["cheap-*", "strong-*", "broken-*", "good-*", "judge-*"]
    max_retries: 0
    prices:
      - {{model: "cheap-*", input: 0.1, output: 0.4}}
      - {{model: "broken-*", input: 0.1, output: 0.4}}
      - {{model: "good-*", input: 0.1, output: 0.4}}
      - {{model: "judge-*", input: 100, output: 100}}
      - {{model: "strong-*", input: 2.5, output: 10}}
routing:
  policies:
    support: {{kind: cascade, models: [cheap-model, strong-model]}}
    shaky: {{kind: cascade, models: [broken-cheap, strong-model]}}
    judged: {{kind: cascade, models: [good-cheap, strong-model], accept: {{judge: {{model: judge-pricey, min_score: 7}}}}}}
  fallbacks:
    broken-model: [strong-model]
budgets:
  list:
    - {{name: tight, limit_usd: {limit_usd}, window: monthly}}
{extra}"""


HI = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def upstream():
    app = scripted_upstream()
    with BackgroundServer(app) as srv:
        app.url = srv.url
        yield app


def _client(gw):
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)


def _budget(gw) -> dict:
    (status,) = rawhttp.get(f"{gw.url}/admin/budgets/status").json()["budgets"]
    return status


def test_an_escalation_the_budget_cannot_pay_for_is_not_sent_and_the_cheaper_answer_is_kept(make_gateway, upstream) -> None:
    gw = make_gateway(config(upstream.url, "0.005"))
    raw = _client(gw).chat.completions.with_raw_response.create(model="support", messages=HI, max_tokens=1000)
    assert raw.parse().choices[0].message.content == ANSWERS["cheap-model"]
    assert raw.headers["x-costops-cascade"] == "kept cheap-model; escalation to strong-model refused (budget_exceeded)"
    assert upstream.seen == ["cheap-model"]  # the strong model was never called
    (row,) = gw.records(1)
    assert (row.model, row.status, row.attempt, row.accepted, row.error_type) == ("cheap-model", 200, 1, False, "escalation_refused")
    assert "a refusal or hedge" in row.error_message and "budget 'tight'" in row.error_message
    status = _budget(gw)
    assert Decimal(status["spent_usd"]) == row.cost.total > 0 and Decimal(status["reserved_usd"]) == 0


def test_an_escalation_that_fits_is_reserved_and_spent(make_gateway, upstream) -> None:
    gw = make_gateway(config(upstream.url, "0.05"))
    raw = _client(gw).chat.completions.with_raw_response.create(model="support", messages=HI, max_tokens=1000)
    assert raw.parse().choices[0].message.content == ANSWERS["strong-model"] and "x-costops-cascade" not in raw.headers
    rows = gw.records(2)
    status = _budget(gw)
    assert Decimal(status["spent_usd"]) == sum(r.cost.total for r in rows) and Decimal(status["reserved_usd"]) == 0
    assert Decimal(raw.headers["x-costops-cost-usd"]) == sum(r.cost.total for r in rows)


def test_with_no_cheaper_answer_the_refused_escalation_is_the_budget_error(make_gateway, upstream) -> None:
    gw = make_gateway(config(upstream.url, "0.005"))
    with pytest.raises(openai.RateLimitError) as refused:
        _client(gw).chat.completions.create(model="shaky", messages=HI, max_tokens=1000)
    assert refused.value.code == "budget_exceeded" and "escalation to strong-model refused" in refused.value.message
    assert upstream.seen == ["broken-cheap"]
    rows = {r.attempt: r for r in gw.records(2)}
    assert (rows[1].status, rows[1].model) == (500, "broken-cheap")
    assert (rows[2].status, rows[2].error_type, rows[2].model, rows[2].attempt_reason) == (
        429, "budget_exceeded", "strong-model", "escalation")


def test_a_fallback_the_budget_cannot_pay_for_is_refused_in_the_clients_api_shape(make_gateway, upstream) -> None:
    gw = make_gateway(config(upstream.url, "0.005"))
    client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as refused:
        client.messages.create(model="broken-model", max_tokens=1000, messages=HI)
    assert refused.value.body["error"]["type"] == "rate_limit_error"
    assert "fallback to house/strong-model refused: budget 'tight'" in refused.value.body["error"]["message"]
    assert upstream.seen == ["broken-model"]
    rows = {r.attempt: r for r in gw.records(2)}
    assert (rows[1].status, rows[1].deployment) == (500, "house")
    assert (rows[2].status, rows[2].error_type, rows[2].model, rows[2].attempt_reason) == (
        429, "budget_exceeded", "strong-model", "fallback")
    assert Decimal(_budget(gw)["reserved_usd"]) == 0


def test_a_fallback_that_fits_is_reserved_for_its_own_price(make_gateway, upstream) -> None:
    gw = make_gateway(config(upstream.url, "0.05"))
    answer = _client(gw).chat.completions.create(model="broken-model", messages=HI, max_tokens=1000)
    assert answer.choices[0].message.content == ANSWERS["strong-model"]
    rows = gw.records(2)
    assert Decimal(_budget(gw)["spent_usd"]) == sum(r.cost.total for r in rows) > 0


def test_an_escalation_past_the_next_models_rate_limit_keeps_the_cheaper_answer(make_gateway, upstream) -> None:
    gw = make_gateway(config(upstream.url, "1", "limits:\n  - {scope: model, id: strong-model, rpm: 1}\n"), clock=Clock())
    client = _client(gw)
    first = client.chat.completions.create(model="support", messages=HI, max_tokens=50)
    assert first.choices[0].message.content == ANSWERS["strong-model"]  # took the strong model's one request
    raw = client.chat.completions.with_raw_response.create(model="support", messages=HI, max_tokens=50)
    assert raw.parse().choices[0].message.content == ANSWERS["cheap-model"]
    assert raw.headers["x-costops-cascade"] == "kept cheap-model; escalation to strong-model refused (rate_limit_exceeded)"
    assert upstream.seen == ["cheap-model", "strong-model", "cheap-model"]


def test_a_judge_the_budget_cannot_pay_for_is_not_called_and_the_outcome_says_so(make_gateway, upstream) -> None:
    # the cheap try fits ($0.0004 held), the judge does not (~200 tokens at $100 per million, $0.02),
    # and neither does the escalation the unjudged answer leads to: the cheap answer is kept, and said so
    gw = make_gateway(config(upstream.url, "0.005"))
    raw = _client(gw).chat.completions.with_raw_response.create(model="judged", messages=HI, max_tokens=1000)
    assert raw.parse().choices[0].message.content == ANSWERS["good-cheap"]
    assert upstream.seen == ["good-cheap"]  # neither the judge nor the strong model was called
    assert raw.headers["x-costops-cascade"] == "kept good-cheap; escalation to strong-model refused (budget_exceeded)"
    (row,) = gw.records(1)
    assert (row.model, row.accepted, row.error_type) == ("good-cheap", False, "escalation_refused")
    assert "the judge judge-pricey was refused" in row.error_message and "budget 'tight'" in row.error_message
    status = _budget(gw)
    assert Decimal(status["spent_usd"]) == row.cost.total > 0 and Decimal(status["reserved_usd"]) == 0


def test_a_judge_that_fits_is_reserved_and_its_row_spent(make_gateway, upstream) -> None:
    gw = make_gateway(config(upstream.url, "0.5"))
    raw = _client(gw).chat.completions.with_raw_response.create(model="judged", messages=HI, max_tokens=1000)
    assert raw.parse().choices[0].message.content == ANSWERS["good-cheap"] and "x-costops-cascade" not in raw.headers
    assert upstream.seen == ["good-cheap", "judge-pricey"]
    rows = gw.records(2)
    assert sorted(r.attempt_reason or "" for r in rows)[-1] == "judge"
    status = _budget(gw)
    assert Decimal(status["spent_usd"]) == sum(r.cost.total for r in rows) and Decimal(status["reserved_usd"]) == 0
    assert Decimal(raw.headers["x-costops-cost-usd"]) == sum(r.cost.total for r in rows)


RPM_ON_STRONG = "limits:\n  - {scope: model, id: strong-model, rpm: 1}\n"


@pytest.mark.parametrize("shared", [False, True], ids=["local", "redis"])
def test_an_escalation_the_budget_refuses_gives_its_rate_limit_back_at_once(make_gateway, upstream, shared) -> None:
    # the key may make 2 requests a minute: the cheap try takes one, the escalation's admission the
    # other; the budget then refuses the escalation, so it never runs and its request comes back at
    # once: the key's next call is admitted (before, it was 429'd for an attempt that never ran)
    run = uuid.uuid4().hex[:8]  # fresh buckets in a Redis that outlives test runs
    extra = f"""keys:
  - {{id: app-{run}, key: sk-app}}
limits:
  - {{scope: key, id: app-{run}, rpm: 2}}
""" + (f'redis: {{url: "{REDIS_URL}"}}\n' if shared else "")
    gw = make_gateway(config(upstream.url, "0.005", extra), clock=Clock())
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-app", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="support", messages=HI, max_tokens=1000)
    assert raw.headers["x-costops-cascade"] == "kept cheap-model; escalation to strong-model refused (budget_exceeded)"
    limits = rawhttp.get(f"{gw.url}/admin/limits/status").json()
    assert limits["backend"] == ("redis" if shared else "local")
    assert [r["level"] for r in limits["limits"] if r["limit"] == f"key:app-{run}:rpm"] == [1]
    answer = client.chat.completions.create(model="strong-model", messages=HI, max_tokens=50)
    assert answer.choices[0].message.content == ANSWERS["strong-model"]
    assert upstream.seen == ["cheap-model", "strong-model"]
    with pytest.raises(openai.RateLimitError, match=f"key app-{run}: 2 requests per minute"):  # the limit still holds
        client.chat.completions.create(model="strong-model", messages=HI, max_tokens=50)


def test_a_fallback_or_a_request_the_budget_refuses_gives_its_rate_limit_back(make_gateway, upstream) -> None:
    gw = make_gateway(config(upstream.url, "0.005", RPM_ON_STRONG), clock=Clock())
    client = _client(gw)
    for model in ("broken-model", "strong-model"):  # a fallback to the strong model, then the model itself
        with pytest.raises(openai.RateLimitError) as refused:
            client.chat.completions.create(model=model, messages=HI, max_tokens=1000)
        assert refused.value.code == "budget_exceeded", (model, refused.value.message)
    answer = client.chat.completions.create(model="strong-model", messages=HI, max_tokens=50)
    assert answer.choices[0].message.content == ANSWERS["strong-model"]
    assert upstream.seen == ["broken-model", "strong-model"]


def test_a_429_the_budget_gives_does_not_count_as_the_provider_throttling(make_gateway, upstream) -> None:
    # adaptive backoff (on with any limits:) learns from the provider's 429s; the budget's refusal of a
    # fallback names the deployment it was refused for, and must not block that deployment for the next call
    gw = make_gateway(config(upstream.url, "0.005", "limits:\n  - {scope: model, id: cheap-model, rpm: 100}\n"), clock=Clock())
    client = _client(gw)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="broken-model", messages=HI, max_tokens=1000)
    assert refused.value.code == "budget_exceeded"
    answer = client.chat.completions.create(model="strong-model", messages=HI, max_tokens=50)
    assert answer.choices[0].message.content == ANSWERS["strong-model"]
    assert rawhttp.get(f"{gw.url}/admin/limits/status").json()["deployments"] == {}
