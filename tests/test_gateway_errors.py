"""Bad input and failing upstreams: the right status, the caller's API shape, a message a person
can act on, and a ledger record (with no cost) for every one of them."""

from __future__ import annotations

import anthropic
import openai
import pytest

from costops.serving import free_port
from tests import rawhttp

HI = [{"role": "user", "content": "hi"}]


def _post(gateway, body: bytes, path: str = "/v1/chat/completions") -> rawhttp.Response:
    return rawhttp.post(f"{gateway.url}{path}", body)


def test_malformed_json_missing_model_and_unknown_model(gateway, openai_client) -> None:
    bad = _post(gateway, b'{"model": "gpt-4o-mini", "messages": [')
    assert bad.status == 400
    assert bad.json()["error"]["type"] == "invalid_request_error" and "not valid JSON" in bad.json()["error"]["message"]
    assert "x-costops-request-id" in bad.headers

    missing = _post(gateway, b'{"messages": []}')
    assert missing.status == 400 and "no 'model'" in missing.json()["error"]["message"]

    with pytest.raises(openai.NotFoundError) as exc:
        openai_client.chat.completions.create(model="no-such-model-9", messages=HI)
    assert "not served by any deployment" in exc.value.message

    records = gateway.records(3)
    assert [r.status for r in records] == [400, 400, 404]
    assert [r.error_type for r in records] == ["invalid_json", "missing_model", "model_not_found"]
    assert all(r.cost.total == 0 for r in records)
    assert records[2].model_requested == "no-such-model-9"


def test_anthropic_clients_get_errors_in_anthropic_shape(gateway) -> None:
    bad = _post(gateway, b"not json", path="/v1/messages")
    assert bad.status == 400
    assert bad.json() == {"type": "error", "error": {"type": "invalid_request_error", "message": bad.json()["error"]["message"]}}


def test_invalid_and_missing_virtual_keys(make_gateway) -> None:
    gw = make_gateway("keys:\n  - {id: team-a, key: sk-team-a, tenant: acme}\n")
    with pytest.raises(openai.AuthenticationError) as exc:
        openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-wrong", max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=HI
        )
    assert "invalid API key" in exc.value.message
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=gw.url, api_key="sk-wrong", max_retries=0).messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=HI
        )
    ok = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-team-a", max_retries=0).chat.completions.create(
        model="gpt-4o-mini", messages=HI
    )
    assert ok.choices
    records = gw.records(3)
    assert [r.status for r in records] == [401, 401, 200]
    assert records[2].tenant == "acme" and records[2].key_id == "team-a"


def test_body_over_the_limit_is_refused(make_gateway) -> None:
    gw = make_gateway("server: {max_body_bytes: 2048}\n")
    resp = _post(gw, b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "' + b"x" * 5000 + b'"}]}')
    assert resp.status == 413 and "max_body_bytes" in resp.json()["error"]["message"]
    (record,) = gw.records(1)
    assert record.status == 413 and record.error_type == "request_too_large"


def test_upstream_timeout_and_unreachable_deployment(make_gateway, simulator) -> None:
    dead = free_port()
    gw = make_gateway(
        "deployments:\n"
        f"  - {{name: slow, kind: openai, base_url: '{simulator.url}/v1', models: ['slow-*'], timeout_s: 0.5, max_retries: 0}}\n"
        f"  - {{name: down, kind: openai, base_url: 'http://127.0.0.1:{dead}/v1', models: ['down-*'], max_retries: 1}}\n"
        "aliases: {}\n"
    )
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model="slow/gpt-4o-mini", messages=[{"role": "user", "content": "[[sim:delay=3]] hi"}])
    assert exc.value.status_code == 504 and "did not answer within its timeout" in exc.value.message
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model="down/gpt-4o-mini", messages=HI)
    assert exc.value.status_code == 503 and "cannot reach deployment 'down'" in exc.value.message
    rows = gw.records(3)
    timeout, unreachable = (r for r in rows if r.parent_id is None)
    assert (timeout.status, timeout.error_type, timeout.deployment) == (504, "upstream_timeout", "slow")
    assert (unreachable.status, unreachable.error_type, unreachable.attempt) == (503, "upstream_unavailable", 2)
    # the provider had the timed-out request and may bill its input; an unreachable one bills nothing
    assert timeout.cost.total > 0 and "estimated" in timeout.price_source
    (retried,) = (r for r in rows if r.parent_id is not None)
    assert (retried.parent_id, retried.attempt, retried.status) == (unreachable.request_id, 1, 503)
    assert unreachable.cost.total == retried.cost.total == 0


def test_provider_rate_limit_and_server_errors_pass_through(make_gateway, simulator) -> None:
    gw = make_gateway(
        f"deployments:\n  - {{name: openai, kind: openai, base_url: '{simulator.url}/v1', models: ['gpt-*'], max_retries: 1}}\n"
    )
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.RateLimitError) as exc:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "[[sim:error=429]]"}])
    assert exc.value.response.headers.get("retry-after")
    with pytest.raises(openai.InternalServerError) as exc:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "[[sim:error=500]]"}])
    assert exc.value.status_code == 500
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "[[sim:error=400]]"}])
    rows = gw.records(5)  # the 429 and the 500 were retried once (max_retries: 1): an attempt row each
    records = [r for r in rows if r.parent_id is None]
    assert [r.status for r in records] == [429, 500, 400]
    assert [r.attempt for r in records] == [2, 2, 1]
    assert sorted(r.status for r in rows if r.parent_id is not None) == [429, 500]
    assert all(r.cost.total == 0 and r.error_message for r in rows)


def test_unpriced_model_is_flagged_not_free(make_gateway, simulator) -> None:
    gw = make_gateway(
        f"deployments:\n  - {{name: local, kind: openai, base_url: '{simulator.url}/v1', models: ['house-model'], price_provider: nobody}}\n"
    )
    raw = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="x").chat.completions.with_raw_response.create(
        model="house-model", messages=HI
    )
    assert raw.status_code == 200 and "x-costops-cost-usd" not in raw.headers
    (record,) = gw.records(1)
    assert not record.priced and record.usage.output_tokens > 0
