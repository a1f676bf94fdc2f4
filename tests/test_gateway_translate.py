"""One client, every provider: OpenAI-format calls reach Claude and Gemini; Anthropic-format calls
reach GPT models; usage is normalized at the provider edge and costed at the provider's prices."""

from __future__ import annotations

from decimal import Decimal

import orjson

from costops.pricing import PriceCatalog

catalog = PriceCatalog()
WEATHER = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def test_openai_client_reaches_claude(openai_client, gateway) -> None:
    raw = openai_client.chat.completions.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=200,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a prime number."}],
    )
    completion = raw.parse()
    assert completion.object == "chat.completion" and completion.choices[0].message.content
    record = gateway.record(raw.headers["x-costops-request-id"])
    assert record.provider == "anthropic" and record.usage.prompt_tokens == completion.usage.prompt_tokens
    expected = catalog.lookup("claude-haiku-4-5", "anthropic").cost(record.usage).total
    assert record.cost.total == expected == Decimal(raw.headers["x-costops-cost-usd"])


def test_openai_client_streams_from_claude_with_and_without_usage(openai_client, gateway) -> None:
    chunks = list(openai_client.chat.completions.create(
        model="claude-sonnet-4-6", max_tokens=300, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Explain caching in two sentences."}],
    ))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    plain = list(openai_client.chat.completions.create(
        model="claude-sonnet-4-6", max_tokens=300, stream=True,
        messages=[{"role": "user", "content": "Explain caching in two sentences."}],
    ))
    assert all(c.usage is None for c in plain) and all(c.choices for c in plain)
    first, second = gateway.records(2)
    assert first.usage.output_tokens == chunks[-1].usage.completion_tokens
    assert second.priced and second.usage.output_tokens > 0 and second.cost.total > 0


def test_openai_client_tool_call_on_claude(openai_client) -> None:
    completion = openai_client.chat.completions.create(
        model="claude-sonnet-4-6", max_tokens=200, tools=WEATHER, tool_choice="required",
        messages=[{"role": "user", "content": "Use get_weather for Oslo"}],
    )
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and "city" in orjson.loads(call.function.arguments)


def test_openai_client_reaches_gemini_streaming_and_not(openai_client, gateway) -> None:
    completion = openai_client.chat.completions.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": "Summarize: the sky is blue."}]
    )
    assert completion.choices[0].message.content and completion.usage.total_tokens > 0
    chunks = list(openai_client.chat.completions.create(
        model="gemini-2.5-flash", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Write a limerick."}],
    ))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage.completion_tokens > 0
    first, second = gateway.records(2)
    assert first.provider == second.provider == "gemini"
    table = catalog.lookup("gemini-2.5-flash", "google")
    assert first.cost.total == table.cost(first.usage).total > 0
    # thinking models bill thoughts as output: reasoning is inside output_tokens
    assert first.usage.output_tokens == completion.usage.completion_tokens


def test_gemini_tool_call(openai_client) -> None:
    completion = openai_client.chat.completions.create(
        model="gemini-2.5-flash", tools=WEATHER, tool_choice="required",
        messages=[{"role": "user", "content": "Use get_weather for Rome"}],
    )
    assert completion.choices[0].message.tool_calls[0].function.name == "get_weather"


def test_anthropic_client_native_with_prompt_cache_accounting(anthropic_client, gateway) -> None:
    system = [{"type": "text", "text": "Policy manual. " * 700, "cache_control": {"type": "ephemeral"}}]
    first = anthropic_client.messages.create(
        model="claude-sonnet-4-6", max_tokens=100, system=system, messages=[{"role": "user", "content": "Refunds?"}]
    )
    second = anthropic_client.messages.create(
        model="claude-sonnet-4-6", max_tokens=100, system=system, messages=[{"role": "user", "content": "Invoices?"}]
    )
    assert first.usage.cache_creation_input_tokens > 0 and second.usage.cache_read_input_tokens > 0
    r1, r2 = gateway.records(2)
    assert r1.usage.cache_write_5m_tokens == first.usage.cache_creation_input_tokens
    assert r2.usage.cache_read_tokens == second.usage.cache_read_input_tokens
    assert r2.usage.input_tokens == second.usage.input_tokens
    table = catalog.lookup("claude-sonnet-4-6", "anthropic")
    assert r1.cost.total == table.cost(r1.usage).total and r2.cost.total == table.cost(r2.usage).total
    assert r2.cost.total < r1.cost.total, "a cache read is cheaper than the write"


def test_anthropic_client_streams(anthropic_client, gateway) -> None:
    with anthropic_client.messages.stream(
        model="claude-haiku-4-5", max_tokens=200, messages=[{"role": "user", "content": "Count to five."}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.usage.output_tokens > 0
    (record,) = gateway.records(1)
    assert record.stream and record.usage.output_tokens == final.usage.output_tokens
    assert record.usage.input_tokens == final.usage.input_tokens


def test_anthropic_client_reaches_gpt_and_gemini(anthropic_client, gateway) -> None:
    message = anthropic_client.messages.create(
        model="gpt-4o-mini", max_tokens=100, messages=[{"role": "user", "content": "Say hi."}]
    )
    assert message.type == "message" and message.content[0].text and message.usage.output_tokens > 0
    with anthropic_client.messages.stream(
        model="gpt-4o-mini", max_tokens=100, messages=[{"role": "user", "content": "Say hi again."}]
    ) as stream:
        assert "".join(stream.text_stream)
        final = stream.get_final_message()
    gem = anthropic_client.messages.create(
        model="gemini-2.5-flash", max_tokens=4000, messages=[{"role": "user", "content": "Say hello."}]
    )
    assert gem.content[0].text
    r1, r2, r3 = gateway.records(3)
    assert (r1.provider, r2.provider, r3.provider) == ("openai", "openai", "gemini")
    assert r2.usage.output_tokens == final.usage.output_tokens > 0
    assert all(r.priced and r.cost.total > 0 for r in (r1, r2, r3))


def test_openai_embeddings_on_gemini_are_counted_not_free(openai_client, gateway) -> None:
    result = openai_client.embeddings.create(model="gemini-embedding-001", input=["the cat sat", "on the mat"])
    assert len(result.data) == 2 and len(result.data[0].embedding) > 10
    (record,) = gateway.records(1)
    assert record.provider == "gemini" and record.usage.input_tokens == result.usage.prompt_tokens > 0
    assert record.priced and record.cost.total > 0 and "tokens estimated" in record.price_source
