"""OpenAI <-> Anthropic translation, checked against the SDKs' own types and stream readers."""

from __future__ import annotations

import copy

import anthropic

try:
    import httpx2 as httpx  # the SDKs moved to httpx2; older releases use httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]
import openai
import orjson
import pytest
from anthropic import types as at
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from costops.errors import BadRequest, UpstreamStatus
from costops.providers.anthropic_format import (
    DEFAULT_MAX_TOKENS,
    AnthropicStreamToOpenAI,
    OpenAIStreamToAnthropic,
    anthropic_to_openai_request,
    anthropic_to_openai_response,
    openai_to_anthropic_request,
    openai_to_anthropic_response,
)
from costops.providers.sse import SSEEvent, SSEParser, encode_event
from costops.usage import Usage

CLAUDE = "claude-sonnet-4-5"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def _call(id_: str, city: str) -> dict:
    return {"id": id_, "type": "function", "function": {"name": "get_weather", "arguments": orjson.dumps({"city": city}).decode()}}


# -- OpenAI request -> Anthropic request ----------------------------------------------------------

CONVERSATION = {
    "model": "claude",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "Weather in Paris and Oslo? Also this:"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [_call("call_a", "Paris"), _call("call_b", "Oslo")]},
        {"role": "tool", "tool_call_id": "call_a", "content": "18C sunny"},
        {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "4C rain"}]},
        {"role": "user", "content": "Thanks. Which is warmer?"},
        {"role": "user", "content": "Answer in one word."},
    ],
    "tools": [WEATHER],
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "max_completion_tokens": 300,
    "temperature": 0.2,
    "stop": "###",
    "user": "u-42",
    "seed": 7,
    "logprobs": False,
    "n": 1,
    "stream": True,
}


def test_conversation_with_tools_images_and_system() -> None:
    before = copy.deepcopy(CONVERSATION)
    out = openai_to_anthropic_request(CONVERSATION, CLAUDE)
    assert CONVERSATION == before  # never mutated
    assert out == {
        "model": CLAUDE,
        "system": [{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Use metric units."}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Weather in Paris and Oslo? Also this:"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            ]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_b", "name": "get_weather", "input": {"city": "Oslo"}},
            ]},
            {"role": "user", "content": [  # both results and the two user messages: one turn
                {"type": "tool_result", "tool_use_id": "call_a", "content": "18C sunny"},
                {"type": "tool_result", "tool_use_id": "call_b", "content": [{"type": "text", "text": "4C rain"}]},
                {"type": "text", "text": "Thanks. Which is warmer?"},
                {"type": "text", "text": "Answer in one word."},
            ]},
        ],
        "tools": [{
            "name": "get_weather",
            "description": "Current weather for a city",
            "input_schema": WEATHER["function"]["parameters"],
        }],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "max_tokens": 300,
        "temperature": 0.2,
        "stop_sequences": ["###"],
        "metadata": {"user_id": "u-42"},
        "stream": True,
    }
    assert anthropic.types.MessageCreateParams  # the shape above is what the SDK sends


USER = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, {"max_tokens": DEFAULT_MAX_TOKENS}),
        ({"max_tokens": 50}, {"max_tokens": 50}),
        ({"max_tokens": 50, "max_completion_tokens": 70}, {"max_tokens": 70}),
        ({"stop": ["a", "b"]}, {"stop_sequences": ["a", "b"]}),
        ({"top_p": 0.9, "top_k": 5}, {"top_p": 0.9, "top_k": 5}),
        ({"tools": [WEATHER], "tool_choice": "none"}, {"tool_choice": {"type": "none"}}),
        ({"tools": [WEATHER], "tool_choice": "required"}, {"tool_choice": {"type": "any"}}),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
            {"tool_choice": {"type": "tool", "name": "get_weather"}},
        ),
        ({"tool_choice": "required"}, {"tool_choice": None}),  # no tools: no tool_choice either
        (
            {"reasoning_effort": "medium", "max_tokens": 1000, "temperature": 0.5},
            {"thinking": {"type": "enabled", "budget_tokens": 4096}, "max_tokens": 5096, "temperature": None},
        ),
        ({"reasoning_effort": "high", "max_tokens": 20000}, {"thinking": {"type": "enabled", "budget_tokens": 16384}, "max_tokens": 20000}),
        ({"reasoning_effort": "low", "tools": [WEATHER], "tool_choice": "required"}, {"thinking": None}),
        ({"reasoning_effort": "minimal"}, {"thinking": None}),
        ({"response_format": {"type": "text"}}, {"system": None}),
        ({"frequency_penalty": 1, "presence_penalty": 1, "logit_bias": {"1": 2}, "store": True}, {"frequency_penalty": None}),
    ],
)
def test_parameters(extra: dict, expected: dict) -> None:
    out = openai_to_anthropic_request({"messages": USER, **extra}, CLAUDE)
    for key, value in expected.items():
        assert out.get(key) == value, key


def test_json_mode_becomes_a_system_instruction() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}
    out = openai_to_anthropic_request({"messages": [{"role": "system", "content": "Be brief."}, *USER], "response_format": fmt}, CLAUDE)
    assert out["system"][0] == {"type": "text", "text": "Be brief."}
    assert "JSON" in out["system"][1]["text"] and '{"type":"object"' in out["system"][1]["text"]
    out = openai_to_anthropic_request({"messages": USER, "response_format": {"type": "json_object"}}, CLAUDE)
    assert "single valid JSON object" in out["system"][0]["text"]


def test_cache_control_on_parts_is_kept_and_prefill_is_trimmed() -> None:
    big = {"type": "text", "text": "long document", "cache_control": {"type": "ephemeral"}}
    body = {"messages": [{"role": "system", "content": [big]}, {"role": "user", "content": "go"},
                         {"role": "assistant", "content": "The answer is "}]}
    out = openai_to_anthropic_request(body, CLAUDE)
    assert out["system"] == [big]
    assert out["messages"][-1] == {"role": "assistant", "content": [{"type": "text", "text": "The answer is"}]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": USER, "n": 3}, "n=3 is not supported"),
        ({"messages": [*USER, {"role": "tool", "tool_call_id": "call_x", "content": "1"}]}, "no earlier assistant message has a tool call"),
        ({"messages": [{"role": "system", "content": "only system"}]}, "no user or assistant message"),
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"role": "function", "content": "x"}]}, "is not one of"),
        ({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}]}]}, "not valid JSON"),
        ({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}, "cannot be sent to Claude"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}]}, "data: URL or an http"),
        ({"messages": USER, "tools": [{"type": "custom", "custom": {"name": "x"}}]}, "function tool"),
    ],
)
def test_bad_requests(body: dict, message: str) -> None:
    with pytest.raises(BadRequest, match=message) as info:
        openai_to_anthropic_request(body, CLAUDE)
    assert info.value.status == 400


# -- Anthropic response -> OpenAI response --------------------------------------------------------

ANTHROPIC_RESPONSE = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {"type": "thinking", "thinking": "User wants weather.", "signature": "EqQBCgIYAhIM"},
        {"type": "text", "text": "Let me check "},
        {"type": "text", "text": "both cities."},
        {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_01B", "name": "get_weather", "input": {"city": "Oslo", "unit": "°C"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 100,
        "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 5000,
        "cache_creation": {"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 80,
        "service_tier": "standard",
    },
}


def test_response_with_thinking_text_and_tools() -> None:
    at.Message.model_validate(ANTHROPIC_RESPONSE)  # the fixture is a real Message
    out = anthropic_to_openai_response(ANTHROPIC_RESPONSE, "claude-sonnet", created=1_700_000_000)
    ChatCompletion.model_validate(out)
    assert out["id"] == "chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL"
    assert out["created"] == 1_700_000_000 and out["model"] == "claude-sonnet"
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me check both cities."
    assert choice["message"]["reasoning_content"] == "User wants weather."
    assert [c["id"] for c in choice["message"]["tool_calls"]] == ["toolu_01A", "toolu_01B"]
    assert orjson.loads(choice["message"]["tool_calls"][1]["function"]["arguments"]) == {"city": "Oslo", "unit": "°C"}
    # cache reads and writes are inside prompt_tokens; cached_tokens counts the reads, cache_write_tokens the writes
    assert out["usage"] == {
        "prompt_tokens": 7100,
        "completion_tokens": 80,
        "total_tokens": 7180,
        "prompt_tokens_details": {"cached_tokens": 5000, "cache_write_tokens": 2000, "cache_write_1h_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
     ("refusal", "content_filter"), ("pause_turn", "stop"), ("model_context_window_exceeded", "length")],
)
def test_stop_reasons(stop_reason: str, finish: str) -> None:
    resp = {**ANTHROPIC_RESPONSE, "content": [{"type": "text", "text": "x"}], "stop_reason": stop_reason}
    out = anthropic_to_openai_response(resp, "m")
    ChatCompletion.model_validate(out)
    assert out["choices"][0]["finish_reason"] == finish


def test_round_trip_keeps_tool_call_ids_and_arguments() -> None:
    calls = [_call("call_9xQ", "Zürich"), {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}}]
    body = {"messages": [*USER, {"role": "assistant", "content": "Checking.", "tool_calls": calls}]}
    blocks = openai_to_anthropic_request(body, CLAUDE)["messages"][1]["content"]
    # Claude would answer with exactly these blocks; translate that answer back
    resp = {**ANTHROPIC_RESPONSE, "content": blocks, "stop_reason": "tool_use"}
    message = anthropic_to_openai_response(resp, "m")["choices"][0]["message"]
    assert message["content"] == "Checking."
    assert [c["id"] for c in message["tool_calls"]] == ["call_9xQ", "call_2"]
    assert [orjson.loads(c["function"]["arguments"]) for c in message["tool_calls"]] == [{"city": "Zürich"}, {}]


# -- Anthropic stream -> OpenAI chunks ------------------------------------------------------------

ANTHROPIC_STREAM = [
    ("message_start", {"type": "message_start", "message": {
        "id": "msg_stream1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 25, "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 3000, "output_tokens": 1}}}),
    ("ping", {"type": "ping"}),
    ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm."}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQB"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Héllo, "}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "world"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    ("content_block_start", {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_X", "name": "get_weather", "input": {}}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"city": "Pa'}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": 'ris"}'}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 2}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 42}}),
    ("message_stop", {"type": "message_stop"}),
]
ANTHROPIC_SSE = b"".join(encode_event(data, name) for name, data in ANTHROPIC_STREAM)


def _feed_events(translator, raw: bytes, cut: int | None = None) -> list:
    parser, out = SSEParser(), []
    pieces = [raw] if cut is None else [raw[:cut], raw[cut:]]
    for piece in pieces:
        for event in parser.feed(piece):
            out += translator.feed(event)
    for event in parser.close():
        out += translator.feed(event)
    return out


def test_anthropic_stream_to_openai_chunks() -> None:
    t = AnthropicStreamToOpenAI("claude-sonnet", include_usage=True, created=1)
    chunks = []
    for name, data in ANTHROPIC_STREAM:
        chunks += t.feed(SSEEvent(orjson.dumps(data), name))
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    assert t.done
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["id"] == "chatcmpl-msg_stream1" and c["created"] == 1 for c in chunks)
    assert all(c["usage"] is None for c in chunks[:-1])
    deltas = [c["choices"][0]["delta"] for c in chunks[1:-2]]
    assert deltas == [
        {"reasoning_content": "Hmm."},
        {"content": "Héllo, "},
        {"content": "world"},
        {"tool_calls": [{"index": 0, "id": "toolu_X", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Pa'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": 'ris"}'}}]},
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 4025
    assert chunks[-1]["usage"]["prompt_tokens_details"] == {"cached_tokens": 3000, "cache_write_tokens": 1000, "cache_write_1h_tokens": 0}
    assert t.usage == Usage(input_tokens=25, cache_read_tokens=3000, cache_write_5m_tokens=1000, output_tokens=42)


def test_anthropic_stream_without_usage_and_cut_at_every_byte() -> None:
    whole = _feed_events(AnthropicStreamToOpenAI("m", include_usage=False, created=1), ANTHROPIC_SSE)
    assert all("usage" not in c for c in whole) and whole[-1]["choices"][0]["finish_reason"] == "tool_calls"
    for cut in range(len(ANTHROPIC_SSE) + 1):
        assert _feed_events(AnthropicStreamToOpenAI("m", include_usage=False, created=1), ANTHROPIC_SSE, cut) == whole


def test_anthropic_stream_error_event_raises() -> None:
    t = AnthropicStreamToOpenAI("m", include_usage=True)
    t.feed(SSEEvent(orjson.dumps(ANTHROPIC_STREAM[0][1]), "message_start"))
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(UpstreamStatus) as info:
        t.feed(SSEEvent(orjson.dumps(error), "error"))
    assert (info.value.status, info.value.type, info.value.message) == (529, "overloaded_error", "Overloaded")


def _openai_client(sse: bytes) -> openai.OpenAI:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=sse, headers={"content-type": "text/event-stream"})

    return openai.OpenAI(api_key="k", base_url="http://gw/v1", http_client=httpx.Client(transport=httpx.MockTransport(answer)))


def test_openai_sdk_reads_the_translated_stream() -> None:
    chunks = _feed_events(AnthropicStreamToOpenAI("claude-sonnet", include_usage=True, created=1), ANTHROPIC_SSE)
    sse = b"".join(encode_event(c) for c in chunks) + b"data: [DONE]\n\n"
    with _openai_client(sse).chat.completions.stream(model="claude-sonnet", messages=USER) as stream:
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == ("toolu_X", "get_weather", '{"city": "Paris"}')
    assert final.choices[0].message.content == "Héllo, world"
    assert final.usage.prompt_tokens == 4025 and final.usage.completion_tokens == 42


# -- Anthropic request -> OpenAI request ----------------------------------------------------------

ANTHROPIC_REQUEST = {
    "model": "gpt",
    "system": [{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Metric units.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "Weather in Paris? See:"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        ]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "...", "signature": "x"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [
                {"type": "text", "text": "18C"},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/radar.png"}},
            ]},
            {"type": "text", "text": "And tomorrow?"},
        ]},
    ],
    "tools": [{"name": "get_weather", "description": "Weather", "input_schema": WEATHER["function"]["parameters"]}],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    "max_tokens": 500,
    "temperature": 0.3,
    "top_k": 40,
    "stop_sequences": ["END"],
    "metadata": {"user_id": "u-1"},
    "stream": True,
}


def test_anthropic_request_to_openai() -> None:
    before = copy.deepcopy(ANTHROPIC_REQUEST)
    out = anthropic_to_openai_request(ANTHROPIC_REQUEST, "gpt-4.1-mini")
    assert ANTHROPIC_REQUEST == before
    assert out == {
        "model": "gpt-4.1-mini",
        "messages": [
            {"role": "system", "content": "You are terse.\n\nMetric units."},
            {"role": "user", "content": [
                {"type": "text", "text": "Weather in Paris? See:"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            ]},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            ]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
            {"role": "user", "content": [  # the tool result's image follows as user content
                {"type": "image_url", "image_url": {"url": "https://example.com/radar.png"}},
                {"type": "text", "text": "And tomorrow?"},
            ]},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER["function"]["parameters"]}}],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "max_tokens": 500,
        "temperature": 0.3,
        "stop": ["END"],
        "user": "u-1",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@pytest.mark.parametrize(
    ("model", "extra", "expected"),
    [
        ("o3-mini", {"temperature": 0.1}, {"max_completion_tokens": 500, "temperature": None, "max_tokens": None}),
        ("gpt-5", {"thinking": {"type": "enabled", "budget_tokens": 10000}}, {"reasoning_effort": "high"}),
        ("azure/gpt-5-mini", {"thinking": {"type": "enabled", "budget_tokens": 1024}}, {"reasoning_effort": "low"}),
        ("gpt-4o", {"thinking": {"type": "enabled", "budget_tokens": 1024}}, {"reasoning_effort": None, "max_tokens": 500}),
        ("gpt-4o", {"tool_choice": {"type": "tool", "name": "get_weather"}}, {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}),
        ("gpt-4o", {"tool_choice": {"type": "none"}}, {"tool_choice": "none"}),
        ("gpt-4o", {"tool_choice": {"type": "auto"}}, {"tool_choice": "auto", "parallel_tool_calls": None}),
    ],
)
def test_reverse_parameters(model: str, extra: dict, expected: dict) -> None:
    body = {"messages": USER, "max_tokens": 500, "tools": ANTHROPIC_REQUEST["tools"], **extra}
    out = anthropic_to_openai_request(body, model)
    for key, value in expected.items():
        assert out.get(key) == value, key


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": USER, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "server tool"),
        ({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "nope", "content": "x"}]}]}, "no earlier assistant"),
        ({"messages": [{"role": "system", "content": "x"}]}, "is not user or assistant"),
        ({"messages": USER, "system": [{"type": "image"}]}, "list of text blocks"),
    ],
)
def test_reverse_bad_requests(body: dict, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        anthropic_to_openai_request(body, "gpt-4o")


# -- OpenAI response / stream -> Anthropic --------------------------------------------------------

OPENAI_RESPONSE = {
    "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "gpt-4.1-2025-04-14",
    "choices": [{
        "index": 0,
        "message": {"role": "assistant", "content": "Checking.", "refusal": None, "tool_calls": [_call("call_Z", "Oslo")]},
        "finish_reason": "tool_calls",
        "logprobs": None,
    }],
    "usage": {
        "prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 128, "audio_tokens": 0},
    },
}


def test_openai_response_to_anthropic_message() -> None:
    ChatCompletion.model_validate(OPENAI_RESPONSE)
    out = openai_to_anthropic_response(OPENAI_RESPONSE, "gpt-4.1")
    message = at.Message.model_validate(out)
    assert message.id == "msg_B9MBs8CjcvOU2jLn4n570S5qMJKcT"
    assert message.stop_reason == "tool_use"
    assert out["content"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_Z", "name": "get_weather", "input": {"city": "Oslo"}},
    ]
    # Anthropic's input_tokens exclude cache reads
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens, message.usage.output_tokens) == (176, 1024, 300)


@pytest.mark.parametrize(
    ("finish", "stop"), [("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal"), (None, "end_turn")]
)
def test_openai_finish_reasons(finish: str | None, stop: str) -> None:
    choice = {"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": finish}
    out = openai_to_anthropic_response({**OPENAI_RESPONSE, "choices": [choice]}, "m")
    assert at.Message.model_validate(out).stop_reason == stop


def _chunk(delta: dict, finish: str | None = None, **extra) -> dict:
    choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
    return {"id": "chatcmpl-s1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1", "choices": [choice], "usage": None, **extra}


OPENAI_STREAM = [
    _chunk({"role": "assistant", "content": "", "refusal": None}),
    _chunk({"content": "Let me "}),
    _chunk({"content": "check."}),
    _chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
    _chunk({"tool_calls": [{"index": 1, "id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]}),
    _chunk({}, "tool_calls"),
    {"id": "chatcmpl-s1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1", "choices": [],
     "usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940, "prompt_tokens_details": {"cached_tokens": 512}}},
]
OPENAI_SSE = b"".join(encode_event(c) for c in OPENAI_STREAM) + b"data: [DONE]\n\n"
EVENT_TYPES = {
    "message_start": at.RawMessageStartEvent,
    "content_block_start": at.RawContentBlockStartEvent,
    "content_block_delta": at.RawContentBlockDeltaEvent,
    "content_block_stop": at.RawContentBlockStopEvent,
    "message_delta": at.RawMessageDeltaEvent,
    "message_stop": at.RawMessageStopEvent,
}


def test_openai_stream_to_anthropic_events() -> None:
    for chunk in OPENAI_STREAM:
        ChatCompletionChunk.model_validate(chunk)
    t = OpenAIStreamToAnthropic("gpt-4.1")
    events = _feed_events(t, OPENAI_SSE)
    for name, data in events:
        assert data["type"] == name
        EVENT_TYPES[name].model_validate(data)
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]
    assert events[0][1]["message"]["id"] == "msg_s1"
    assert [d["index"] for n, d in events if n == "content_block_start"] == [0, 1, 2]
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert events[-2][1]["usage"]["input_tokens"] == 388 and events[-2][1]["usage"]["cache_read_input_tokens"] == 512
    assert t.done and t.usage == Usage(input_tokens=388, cache_read_tokens=512, output_tokens=40)
    for cut in range(0, len(OPENAI_SSE) + 1, 7):
        assert _feed_events(OpenAIStreamToAnthropic("gpt-4.1"), OPENAI_SSE, cut) == events


def test_openai_stream_without_usage_chunk_closes_on_done_or_finish() -> None:
    raw = b"".join(encode_event(c) for c in OPENAI_STREAM[:3] + [_chunk({}, "stop")])
    t = OpenAIStreamToAnthropic("m")
    events = _feed_events(t, raw)
    assert [n for n, _ in events][-2:] == ["content_block_delta", "content_block_stop"]
    tail = t.finish()
    assert [n for n, _ in tail] == ["message_delta", "message_stop"] and tail[0][1]["delta"]["stop_reason"] == "end_turn"
    assert t.finish() == [] and t.feed(SSEEvent(b"[DONE]")) == []


def test_openai_stream_error_chunk_raises() -> None:
    t = OpenAIStreamToAnthropic("m")
    with pytest.raises(UpstreamStatus, match="server had an error"):
        t.feed(SSEEvent(b'{"error": {"message": "The server had an error", "type": "server_error"}}'))


def test_anthropic_sdk_reads_the_translated_stream() -> None:
    events = _feed_events(OpenAIStreamToAnthropic("gpt-4.1"), OPENAI_SSE)
    sse = b"".join(encode_event(data, name) for name, data in events)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=sse, headers={"content-type": "text/event-stream"})

    client = anthropic.Anthropic(api_key="k", base_url="http://gw", http_client=httpx.Client(transport=httpx.MockTransport(answer)))
    with client.messages.stream(model="gpt-4.1", max_tokens=100, messages=USER) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use", "tool_use"]
    assert final.content[0].text == "Let me check."
    assert [(b.id, b.input) for b in final.content[1:]] == [("call_1", {"city": "Paris"}), ("call_2", {"city": "Oslo"})]
    assert final.stop_reason == "tool_use"
    assert (final.usage.input_tokens, final.usage.cache_read_input_tokens, final.usage.output_tokens) == (388, 512, 40)
