"""Streaming and the exact cache: a streamed miss serves later hits as a stream and as JSON, a
JSON miss serves a streamed hit, in both APIs; replays are read with the SDKs' stream readers."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests import rawhttp

CONFIG = "cache: {exact: {default_ttl_s: 600}}"


@pytest.fixture
def gw(make_gateway):
    return make_gateway(CONFIG)


def oa(gw) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)


def an(gw) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)


def oa_stream(gw, body, include_usage: bool):
    opts = {"stream_options": {"include_usage": True}} if include_usage else {}
    with oa(gw).chat.completions.with_streaming_response.create(**body, stream=True, **opts) as resp:
        kind = resp.headers["x-costops-cache"]
        chunks = list(resp.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return kind, text, chunks


BODY = {"model": "gpt-4o-mini", "temperature": 0, "messages": [{"role": "user", "content": "Write a haiku about invoices."}]}


def test_openai_streamed_miss_then_stream_and_json_hits(gw) -> None:
    kind, text, chunks = oa_stream(gw, BODY, include_usage=True)
    assert kind == "miss" and text and chunks[-1].usage.completion_tokens > 0
    kind2, text2, chunks2 = oa_stream(gw, BODY, include_usage=True)
    assert kind2 == "exact" and text2 == text
    assert chunks2[-1].choices == [] and chunks2[-1].usage == chunks[-1].usage
    assert [c.choices[0].finish_reason for c in chunks2 if c.choices][-1] == "stop"
    kind3, text3, chunks3 = oa_stream(gw, BODY, include_usage=False)
    assert kind3 == "exact" and text3 == text and all(c.usage is None for c in chunks3)
    raw = oa(gw).chat.completions.with_raw_response.create(**BODY)
    assert raw.headers["x-costops-cache"] == "exact"
    completion = raw.parse()
    assert completion.choices[0].message.content == text
    assert completion.usage == chunks[-1].usage
    miss, *hits = gw.records(4)
    assert all(h.cache == "exact" and h.avoided_cost == miss.cost.total > 0 for h in hits)


def test_openai_json_miss_then_streamed_hit_is_well_formed(gw) -> None:
    body = {**BODY, "messages": [{"role": "user", "content": "Summarize the plot of Hamlet."}]}
    completion = oa(gw).chat.completions.create(**body)
    kind, text, chunks = oa_stream(gw, body, include_usage=True)
    assert kind == "exact" and text == completion.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[-1].usage == completion.usage
    resp = rawhttp.post(f"{gw.url}/v1/chat/completions", json={**body, "stream": True})
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.sse_data()[-1] == "[DONE]"


def test_openai_tool_calls_replay(gw) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    body = {**BODY, "tools": tools, "tool_choice": "required",
            "messages": [{"role": "user", "content": "Weather in Paris?"}]}
    stream = oa(gw).chat.completions.create(**body, stream=True)
    calls = [tc for c in stream if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    hit = oa(gw).chat.completions.create(**body)
    call = hit.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and call.id == calls[0].id
    assert call.function.arguments == "".join(c.function.arguments or "" for c in calls)
    assert hit.choices[0].finish_reason == "tool_calls"


# anthropic 2.x SDKs no longer take sampling parameters as arguments: temperature 0 rides in extra_body
ABODY = {"model": "claude-sonnet-4-6", "max_tokens": 200, "extra_body": {"temperature": 0},
         "messages": [{"role": "user", "content": "Explain DNS in two sentences."}]}


def test_anthropic_streamed_miss_then_stream_and_json_hits(gw) -> None:
    with an(gw).messages.stream(**ABODY) as stream:
        first = stream.get_final_message()
    with an(gw).messages.with_streaming_response.create(**ABODY, stream=True) as resp:
        assert resp.headers["x-costops-cache"] == "exact"
    with an(gw).messages.stream(**ABODY) as stream:
        replayed = stream.get_final_message()
    assert replayed.model_dump() == first.model_dump()
    raw = an(gw).messages.with_raw_response.create(**ABODY)
    assert raw.headers["x-costops-cache"] == "exact"
    assert raw.parse().model_dump() == first.model_dump()
    miss, *hits = gw.records(4)
    assert miss.cache == "miss" and all(h.avoided_cost == miss.cost.total > 0 for h in hits)


def test_anthropic_json_miss_then_streamed_hit(gw) -> None:
    body = {**ABODY, "messages": [{"role": "user", "content": "Name three prime numbers."}]}
    message = an(gw).messages.create(**body)
    with an(gw).messages.stream(**body) as stream:
        events = [e.type for e in stream]
        replayed = stream.get_final_message()
    assert replayed.model_dump() == message.model_dump()
    assert events[0] == "message_start" and events[-1] == "message_stop" and "content_block_stop" in events


def test_anthropic_tool_use_replay(gw) -> None:
    tools = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    body = {**ABODY, "tools": tools, "tool_choice": {"type": "any"},
            "messages": [{"role": "user", "content": "Weather in Oslo?"}]}
    message = an(gw).messages.create(**body)
    with an(gw).messages.stream(**body) as stream:
        replayed = stream.get_final_message()
    assert replayed.content == message.content and replayed.stop_reason == "tool_use"


def test_openai_client_on_a_claude_model_streams_from_the_cache(gw) -> None:
    body = {**BODY, "model": "claude-sonnet-4-6"}
    kind, text, _ = oa_stream(gw, body, include_usage=False)
    kind2, text2, _ = oa_stream(gw, body, include_usage=True)
    assert (kind, kind2) == ("miss", "exact") and text2 == text
    assert oa(gw).chat.completions.create(**body).choices[0].message.content == text
