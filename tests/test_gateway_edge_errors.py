"""No false successes: an exception inside costops is a 500 in the client's own API shape with
the request id, and the ledger row says 500; the fields the gateway reads are checked, so a
wrong type is a 400 naming the field; and the kind of answer (stream or JSON) follows what the
provider actually sent, converted to what the client asked for."""

from __future__ import annotations

import json
import logging

import anthropic
import openai
import pytest

from costops.providers import exchange as exchange_module
from costops.serving import BackgroundServer
from tests import rawhttp
from tests.sim_http import sse

HI = [{"role": "user", "content": "hi"}]


class Exploding:
    """A stage with a bug in it: what any unexpected exception on the request path looks like."""

    name = "exploding"

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def before(self, call):
        raise ZeroDivisionError("division by zero")

    async def after(self, call) -> None: ...


def test_an_unexpected_exception_is_a_500_in_each_api_shape_and_a_500_row(make_gateway, caplog) -> None:
    gw = make_gateway(stages=[Exploding()])
    caplog.set_level(logging.ERROR, logger="costops.gateway")

    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.InternalServerError) as info:
        oa.chat.completions.create(model="gpt-4o-mini", messages=HI)
    request_id = info.value.response.headers["x-costops-request-id"]
    assert info.value.body["code"] == "internal_error"
    assert request_id in info.value.message and "ZeroDivisionError" in info.value.message

    an = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    with pytest.raises(anthropic.InternalServerError) as ainfo:
        an.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=HI)
    assert ainfo.value.body["type"] == "error" and ainfo.value.body["error"]["type"] == "api_error"

    records = gw.records(2)
    assert [r.status for r in records] == [500, 500]
    assert all(r.error_type == "internal_error" and "ZeroDivisionError" in r.error_message for r in records)
    assert records[0].request_id == request_id
    assert any("Traceback" in (r.exc_text or "") or r.exc_info for r in caplog.records if request_id in r.getMessage())


def test_an_exception_mid_stream_ends_the_stream_with_an_error_event(gateway, monkeypatch) -> None:
    def feed(self, chunk: bytes) -> bytes:  # the response has started when the first chunk arrives
        raise KeyError("bug in a relay")

    monkeypatch.setattr(exchange_module._OpenAIRelay, "feed", feed)
    body = {"model": "gpt-4o-mini", "messages": HI, "stream": True}
    reply = rawhttp.post(f"{gateway.url}/v1/chat/completions", json.dumps(body).encode())
    assert reply.status == 200  # the stream had started
    events = sse(reply.body)
    assert events[-1] == (None, "[DONE]")
    assert events[-2][1]["error"]["code"] == "internal_error"
    (record,) = gateway.records(1)
    assert record.status == 500 and "KeyError" in record.error_message


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("stream", "false", "'stream' must be true or false, not a string 'false'"),
        ("stream", 1, "'stream' must be true or false"),
        ("stream_options", "yes", "'stream_options' must be an object"),
        ("max_tokens", "100", "'max_tokens' must be an integer"),
        ("max_tokens", 0, "'max_tokens' must be at least 1"),
        ("max_completion_tokens", 2.5, "'max_completion_tokens' must be an integer"),
        ("max_tokens", 1629.5, "'max_tokens' must be an integer, not a number 1629.5"),
        ("max_tokens", 1e300, "'max_tokens' must be an integer, not a number 1e+300"),
        ("n", -4.0, "'n' must be at least 1, not -4"),
        ("n", True, "'n' must be an integer"),
        ("n", 110771471, "'n' must be at most 128"),
        ("model", 5, "'model' must be a non-empty string"),
    ],
)
def test_fields_the_gateway_reads_are_checked(gateway, openai_client, field, value, says) -> None:
    body = {"model": "gpt-4o-mini", "messages": HI, field: value}
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.chat.completions.create(**body)
    assert says in info.value.message
    (record,) = gateway.records(1)
    assert record.status == 400 and record.cost.total == 0


def test_anthropic_clients_get_field_errors_in_their_shape(gateway, anthropic_client) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        anthropic_client.messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=HI, extra_body={"max_tokens": "ten"}
        )
    assert info.value.body["error"]["type"] == "invalid_request_error"
    assert "'max_tokens' must be an integer" in info.value.body["error"]["message"]


def test_an_integral_float_is_the_integer_it_names(gateway, openai_client, anthropic_client) -> None:
    """JSON Schema, in which both APIs publish their request bodies, counts 1629.0 as an integer:
    the gateway takes it and sends the provider 1629 (the simulator refuses a float there)."""
    chat = openai_client.chat.completions.create(model="gpt-4o-mini", messages=HI, max_tokens=1629.0)  # type: ignore[arg-type]
    assert chat.choices[0].message.content
    reasoning = openai_client.chat.completions.create(model="o4-mini", messages=HI, max_completion_tokens=1629.0)  # type: ignore[arg-type]
    assert reasoning.usage is not None and reasoning.usage.completion_tokens <= 1629
    message = anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=1629.0, messages=HI)  # type: ignore[arg-type]
    assert message.content
    assert [r.status for r in gateway.records(3)] == [200, 200, 200]


def test_embeddings_do_not_stream(gateway) -> None:
    body = {"model": "text-embedding-3-small", "input": "hello", "stream": True}
    reply = rawhttp.post(f"{gateway.url}/v1/embeddings", json.dumps(body).encode())
    assert reply.status == 400 and "embeddings do not stream" in reply.json()["error"]["message"]


# -- the answer's kind follows the provider's content-type ---------------------------------------

COMPLETION = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "odd-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
}
STREAM = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"odd-model","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}\n\n'
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"odd-model","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n'
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"odd-model","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}\n\n'
    b"data: [DONE]\n\n"
)


def contrary_upstream(always: str):
    """An OpenAI-compatible server that answers every request as JSON or as a stream, whatever was asked."""

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        if always == "json":
            body, kind = json.dumps(COMPLETION).encode(), b"application/json"
        else:
            body, kind = STREAM, b"text/event-stream"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]})
        await send({"type": "http.response.body", "body": body})

    return app


CONFIG = """
deployments:
  - {name: odd, kind: openai, base_url: "%s/v1", models: ["odd-*"], prices: [{model: "odd-*", input: 1, output: 2}]}
"""


@pytest.mark.parametrize("always", ["json", "stream"])
def test_the_client_gets_the_kind_of_answer_it_asked_for(make_gateway, always) -> None:
    with BackgroundServer(contrary_upstream(always)) as upstream:
        gw = make_gateway(CONFIG % upstream.url)
        oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
        whole = oa.chat.completions.create(model="odd-model", messages=HI)
        assert whole.choices[0].message.content == "Hello there" if always == "json" else "Hello"
        chunks = list(oa.chat.completions.create(model="odd-model", messages=HI, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == ("Hello there" if always == "json" else "Hello")
        records = gw.records(2)
    assert [r.status for r in records] == [200, 200]
    assert [r.stream for r in records] == [False, True]
    for r in records:  # priced from the usage either way: 9 in, 2 out at $1 / $2 per million
        assert (r.usage.input_tokens, r.usage.output_tokens) == (9, 2)
        assert r.priced and str(r.cost.total) == "0.000013"


def test_a_malformed_event_in_a_translated_stream_is_the_providers_error(make_gateway) -> None:
    stream = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant",'
        b'"model":"claude-odd","content":[],"usage":{"input_tokens":5,"output_tokens":1}}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","content_block":5}\n\n'
    )

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": stream})

    with BackgroundServer(app) as upstream:
        gw = make_gateway(
            f'deployments:\n  - {{name: odd, kind: anthropic, base_url: "{upstream.url}", models: ["claude-odd"]}}\n'
        )
        body = {"model": "claude-odd", "messages": HI, "stream": True}
        reply = rawhttp.post(f"{gw.url}/v1/chat/completions", json.dumps(body).encode())
        events = sse(reply.body)
        (record,) = gw.records(1)
    assert events[-2][1]["error"]["code"] == "upstream_error"
    assert "cannot be read" in events[-2][1]["error"]["message"]
    assert record.status == 502 and record.error_type == "stream_interrupted"
