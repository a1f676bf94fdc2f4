"""The OpenAI-compatible surface, driven by the official openai SDK over real HTTP."""

from __future__ import annotations

from decimal import Decimal

import orjson

from costops.pricing import PriceCatalog
from costops.usage import Usage
from tests import rawhttp

catalog = PriceCatalog()


def expected_cost(model: str, provider: str, usage: Usage) -> Decimal:
    return catalog.lookup(model, provider).cost(usage).total


def test_chat_completion_is_costed_exactly_and_says_so_in_headers(openai_client, gateway) -> None:
    raw = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "What is the capital of France?"}], temperature=0
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    request_id = raw.headers["x-costops-request-id"]
    record = gateway.record(request_id)
    usage = Usage.from_openai(completion.usage.model_dump())
    assert record.usage == usage and usage.input_tokens > 0 and usage.output_tokens > 0
    assert record.cost.total == expected_cost("gpt-4o-mini", "openai", usage)
    assert Decimal(raw.headers["x-costops-cost-usd"]) == record.cost.total
    assert record.priced and record.provider == "openai" and record.deployment == "openai"
    assert record.status == 200 and not record.stream and record.latency_ms > 0
    assert record.price_source.startswith("genai-prices")


def test_stream_with_usage_requested_gets_the_usage_chunk(openai_client, gateway) -> None:
    stream = openai_client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Write a haiku about invoices."}],
        stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    (record,) = gateway.records(1)
    assert record.stream and record.usage == Usage.from_openai(chunks[-1].usage.model_dump())
    assert record.cost.total == expected_cost("gpt-4o", "openai", record.usage) > 0
    assert record.ttft_ms is not None and record.ttft_ms <= record.latency_ms


def test_stream_without_usage_is_still_costed_but_the_client_sees_no_usage(gateway) -> None:
    body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "Tell me a long story."}]}
    resp = rawhttp.post(f"{gateway.url}/v1/chat/completions", json=body)
    assert resp.status == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    lines = ["data: " + d for d in resp.sse_data()]
    assert lines[-1] == "data: [DONE]"
    chunks = [orjson.loads(line[6:]) for line in lines[:-1]]
    assert all("usage" not in c for c in chunks), "the client did not ask for usage"
    assert all(c["choices"] for c in chunks)
    (record,) = gateway.records(1)
    assert record.usage.output_tokens > 0 and record.priced
    assert record.cost.total == expected_cost("gpt-4o-mini", "openai", record.usage)


def test_tools_round_trip(openai_client) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    completion = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Use get_weather for Paris"}], tools=tools,
        tool_choice="required",
    )
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and "city" in orjson.loads(call.function.arguments)
    assert completion.choices[0].finish_reason == "tool_calls"


def test_json_mode_and_parameters_pass_through(openai_client) -> None:
    completion = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "List three colors as JSON"}],
        response_format={"type": "json_object"}, max_tokens=400, seed=7, temperature=0.2,
    )
    assert isinstance(orjson.loads(completion.choices[0].message.content), dict)
    short = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Write an essay about the sea."}], max_tokens=3
    )
    assert short.choices[0].finish_reason == "length" and short.usage.completion_tokens <= 3


def test_embeddings_are_costed(openai_client, gateway) -> None:
    result = openai_client.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta gamma"])
    assert len(result.data) == 2 and len(result.data[0].embedding) > 0
    (record,) = gateway.records(1)
    assert record.endpoint == "embeddings" and record.usage.input_tokens == result.usage.prompt_tokens
    assert record.cost.total == expected_cost("text-embedding-3-small", "openai", record.usage) > 0


def test_models_and_health(openai_client, gateway) -> None:
    ids = {m.id for m in openai_client.models.list()}
    assert {"gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"} <= ids
    health = rawhttp.get(f"{gateway.url}/health").json()
    assert health["status"] == "ok" and "pending" in health["ledger"]
