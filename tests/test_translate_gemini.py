"""OpenAI <-> Gemini generateContent translation, checked against the OpenAI SDK's own types."""

from __future__ import annotations

import base64
import copy
import struct

import orjson
import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from costops.errors import BadRequest, UpstreamStatus
from costops.providers.gemini_format import (
    SKIP_SIGNATURE,
    GeminiStreamToOpenAI,
    gemini_path,
    gemini_schema,
    gemini_to_openai_embeddings,
    gemini_to_openai_response,
    openai_to_gemini_embed_request,
    openai_to_gemini_request,
)
from costops.providers.sse import SSEEvent, SSEParser, encode_event
from costops.usage import Usage

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
PARAMS = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"city": {"type": "string", "format": "uri"}, "days": {"type": ["integer", "null"]}},
    "required": ["city"],
    "additionalProperties": False,
}
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": PARAMS, "strict": True}}
USER = [{"role": "user", "content": "hi"}]


def _call(id_: str, name: str, args: dict) -> dict:
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": orjson.dumps(args).decode()}}


def test_conversation_to_contents() -> None:
    body = {
        "model": "gemini-2.5-flash",
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": [
                {"type": "text", "text": "Weather here?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            ]},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                _call("call_0", "get_weather", {"city": "Paris"}), _call("call_1", "get_time", {"tz": "CET"}),
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "14:00"},
            {"role": "tool", "tool_call_id": "call_0", "content": '{"temp": 18}'},
            {"role": "user", "content": "Thanks!"},
        ],
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "max_tokens": 256,
        "temperature": 0.4,
        "top_p": 0.9,
        "stop": "END",
        "n": 2,
        "seed": 3,
    }
    before = copy.deepcopy(body)
    out = openai_to_gemini_request(body)
    assert body == before
    assert out == {
        "systemInstruction": {"parts": [{"text": "Be terse."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Weather here?"}, {"inlineData": {"mimeType": "image/png", "data": PNG}}]},
            {"role": "model", "parts": [
                {"text": "Checking."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SKIP_SIGNATURE},
                {"functionCall": {"name": "get_time", "args": {"tz": "CET"}}},
            ]},
            {"role": "user", "parts": [  # responses found by call id; JSON objects passed as objects
                {"functionResponse": {"name": "get_time", "response": {"result": "14:00"}}},
                {"functionResponse": {"name": "get_weather", "response": {"temp": 18}}},
                {"text": "Thanks!"},
            ]},
        ],
        "tools": [{"functionDeclarations": [{
            "name": "get_weather",
            "description": "Weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer", "nullable": True}},
                "required": ["city"],
            },
        }]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
        "generationConfig": {
            "temperature": 0.4, "topP": 0.9, "candidateCount": 2, "seed": 3, "maxOutputTokens": 256, "stopSequences": ["END"],
        },
    }


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"tools": [WEATHER], "tool_choice": "auto"}, {"functionCallingConfig": {"mode": "AUTO"}}),
        ({"tools": [WEATHER], "tool_choice": "none"}, {"functionCallingConfig": {"mode": "NONE"}}),
        ({"tools": [WEATHER], "tool_choice": "required"}, {"functionCallingConfig": {"mode": "ANY"}}),
        ({"tools": [WEATHER]}, None),
        ({"tool_choice": "required"}, None),
    ],
)
def test_tool_choice(extra: dict, expected: dict | None) -> None:
    assert openai_to_gemini_request({"messages": USER, **extra}).get("toolConfig") == expected


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"max_completion_tokens": 99, "max_tokens": 5}, {"maxOutputTokens": 99}),
        ({"stop": ["a", "b"]}, {"stopSequences": ["a", "b"]}),
        ({"response_format": {"type": "json_object"}}, {"responseMimeType": "application/json"}),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": PARAMS}}},
            {"responseMimeType": "application/json", "responseSchema": gemini_schema(PARAMS)},
        ),
        ({"presence_penalty": 0.5, "frequency_penalty": 0.1}, {"presencePenalty": 0.5, "frequencyPenalty": 0.1}),
        ({"reasoning_effort": "low"}, {"thinkingConfig": {"thinkingBudget": 1024}}),
    ],
)
def test_generation_config(extra: dict, expected: dict) -> None:
    assert openai_to_gemini_request({"messages": USER, **extra})["generationConfig"] == expected


def test_schema_cleaning() -> None:
    schema = {
        "type": "object",
        "$defs": {"Item": {"type": "object", "properties": {"sku": {"type": "string", "format": "date-time"}}, "additionalProperties": False}},
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
            "kind": {"const": "order"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "strict": {"type": "boolean"},  # a property *named* like a dropped key stays
        },
    }
    assert gemini_schema(schema) == {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string", "format": "date-time"}}}},
            "kind": {"enum": ["order"]},
            "note": {"type": "string", "default": None, "nullable": True},
            "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "strict": {"type": "boolean"},
        },
    }
    with pytest.raises(BadRequest, match="too deep"):
        gemini_schema({"$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}}, "$ref": "#/$defs/N"})


def test_tool_without_parameters_and_http_image() -> None:
    tool = {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}
    body = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x.org/a.png?s=1"}}]}], "tools": [tool]}
    out = openai_to_gemini_request(body)
    assert out["tools"] == [{"functionDeclarations": [{"name": "now"}]}]
    assert out["contents"][0]["parts"] == [{"fileData": {"mimeType": "image/png", "fileUri": "https://x.org/a.png?s=1"}}]


def test_repeated_ids_across_turns_answer_the_latest_call() -> None:
    # Gemini ids are call_<n> per response, so a long conversation reuses them
    msgs = [
        *USER,
        {"role": "assistant", "tool_calls": [_call("call_0", "first", {})]},
        {"role": "tool", "tool_call_id": "call_0", "content": "1"},
        {"role": "assistant", "tool_calls": [_call("call_0", "second", {})]},
        {"role": "tool", "tool_call_id": "call_0", "content": "2"},
    ]
    contents = openai_to_gemini_request({"messages": msgs})["contents"]
    names = [p["functionResponse"]["name"] for c in contents for p in c["parts"] if "functionResponse" in p]
    assert names == ["first", "second"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": [*USER, {"role": "tool", "tool_call_id": "call_7", "content": "x"}]}, "no earlier assistant message has a tool call"),
        ({"messages": [{"role": "system", "content": "x"}]}, "no user or assistant message"),
        ({"messages": USER, "tool_choice": {"type": "function"}, "tools": [WEATHER]}, "tool_choice"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,raw"}}]}]}, "base64"),
        ({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1]"}}]}]}, "JSON object"),
    ],
)
def test_bad_requests(body: dict, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        openai_to_gemini_request(body)


def test_path() -> None:
    assert gemini_path("gemini-2.5-pro", False) == "/v1beta/models/gemini-2.5-pro:generateContent"
    assert gemini_path("gemini-2.5-pro", True) == "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"


# -- response ----------------------------------------------------------------------------------------

USAGE = {
    "promptTokenCount": 1500, "candidatesTokenCount": 40, "thoughtsTokenCount": 200, "cachedContentTokenCount": 1024,
    "totalTokenCount": 1740, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1500}],
}
GEMINI_RESPONSE = {
    "candidates": [{
        "content": {"role": "model", "parts": [
            {"text": "Plan: call the tool.", "thought": True},
            {"text": "Checking ", "thoughtSignature": "CiQB"},
            {"text": "now."},
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
        ]},
        "finishReason": "STOP",
        "index": 0,
        "safetyRatings": [],
    }],
    "usageMetadata": USAGE,
    "modelVersion": "gemini-2.5-flash",
    "responseId": "Il0taoSYJ5Cez7",
}


def test_response_with_thoughts_text_and_calls() -> None:
    out = gemini_to_openai_response(GEMINI_RESPONSE, "gemini-2.5-flash", "req1", created=5)
    ChatCompletion.model_validate(out)
    assert out["id"] == "chatcmpl-Il0taoSYJ5Cez7" and out["created"] == 5  # Gemini's own id, found again at the provider
    without = {k: v for k, v in GEMINI_RESPONSE.items() if k != "responseId"}
    assert gemini_to_openai_response(without, "gemini-2.5-flash", "req1")["id"] == "chatcmpl-req1"
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Checking now."
    assert choice["message"]["reasoning_content"] == "Plan: call the tool."
    assert [(c["id"], orjson.loads(c["function"]["arguments"])) for c in choice["message"]["tool_calls"]] == [
        ("call_0", {"city": "Paris"}), ("call_1", {"city": "Oslo"}),
    ]
    # thoughts are billed output: inside completion_tokens and reported as reasoning_tokens
    assert out["usage"] == {
        "prompt_tokens": 1500, "completion_tokens": 240, "total_tokens": 1740,
        "prompt_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 0, "cache_write_1h_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 200},
    }
    assert gemini_to_openai_response(without, "m", "chatcmpl-abc")["id"] == "chatcmpl-abc"


@pytest.mark.parametrize(
    ("reason", "finish"),
    [("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("RECITATION", "content_filter"),
     ("PROHIBITED_CONTENT", "content_filter"), ("SPII", "content_filter"), ("BLOCKLIST", "content_filter"),
     ("OTHER", "stop"), ("MALFORMED_FUNCTION_CALL", "stop"), (None, "stop")],
)
def test_finish_reasons(reason: str | None, finish: str) -> None:
    cand = {"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": reason}
    out = gemini_to_openai_response({"candidates": [cand]}, "m", "r")
    ChatCompletion.model_validate(out)
    assert out["choices"][0]["finish_reason"] == finish


def test_blocked_prompt_and_several_candidates() -> None:
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}}
    out = gemini_to_openai_response(blocked, "m", "r")
    ChatCompletion.model_validate(out)
    assert out["choices"][0]["finish_reason"] == "content_filter" and out["usage"]["prompt_tokens"] == 9
    two = {"candidates": [
        {"content": {"parts": [{"text": "A"}]}, "finishReason": "STOP", "index": 0},
        {"content": {"parts": [{"text": "B"}]}, "finishReason": "MAX_TOKENS", "index": 1},
    ]}
    out = gemini_to_openai_response(two, "m", "r")
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in out["choices"]] == [(0, "A", "stop"), (1, "B", "length")]


# -- stream ------------------------------------------------------------------------------------------


def _event(parts: list, finish: str | None = None, usage: dict | None = None) -> dict:
    cand = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    return {"candidates": [cand], "usageMetadata": usage or {"promptTokenCount": 1500, "totalTokenCount": 1500}, "modelVersion": "gemini-2.5-flash"}


GEMINI_STREAM = [
    _event([{"text": "Thinking about it", "thought": True}]),
    _event([{"text": "Hel"}]),
    _event([{"text": "lo ✓"}], usage={"promptTokenCount": 1500, "candidatesTokenCount": 3, "totalTokenCount": 1503}),
    _event([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "Cj"}]),
    _event([{"text": ""}], "STOP", USAGE),
]
GEMINI_SSE = b"".join(encode_event(e) for e in GEMINI_STREAM)


def _run(raw: bytes, cut: int | None = None, *, include_usage: bool = True) -> tuple[list, GeminiStreamToOpenAI]:
    t = GeminiStreamToOpenAI("gemini-2.5-flash", "req9", include_usage=include_usage, created=3)
    parser, out = SSEParser(), []
    for piece in [raw] if cut is None else [raw[:cut], raw[cut:]]:
        for event in parser.feed(piece):
            out += t.feed(event)
    for event in parser.close():
        out += t.feed(event)
    return out + t.finish(), t


def test_stream_to_chunks() -> None:
    chunks, t = _run(GEMINI_SSE)
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    assert [c["choices"][0]["delta"] for c in chunks[:-2]] == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "Thinking about it"},
        {"content": "Hel"},
        {"content": "lo ✓"},
        {"tool_calls": [{"index": 0, "id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 240
    assert all(c["usage"] is None for c in chunks[:-1])
    assert t.done and t.usage == Usage.from_gemini(USAGE) == Usage(
        input_tokens=476, cache_read_tokens=1024, output_tokens=240, reasoning_tokens=200
    )
    assert t.finish() == []


def test_stream_cut_at_every_byte_gives_the_same_chunks() -> None:
    whole, _ = _run(GEMINI_SSE, include_usage=False)
    assert all("usage" not in c for c in whole)
    for cut in range(len(GEMINI_SSE) + 1):
        assert _run(GEMINI_SSE, cut, include_usage=False)[0] == whole


def test_stream_that_ends_without_finish_reason() -> None:
    chunks, _ = _run(encode_event(_event([{"text": "partial"}])), include_usage=False)
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, "stop"]


def test_stream_error_raises() -> None:
    t = GeminiStreamToOpenAI("m", "r", include_usage=False)
    body = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    with pytest.raises(UpstreamStatus, match="overloaded") as info:
        t.feed(SSEEvent(orjson.dumps(body)))
    assert info.value.status == 503


# -- embeddings --------------------------------------------------------------------------------------


def test_embeddings() -> None:
    req = openai_to_gemini_embed_request({"input": ["a", "b"], "model": "x", "dimensions": 3}, "gemini-embedding-001")
    assert req == {"requests": [
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 3},
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}, "outputDimensionality": 3},
    ]}
    resp = {"embeddings": [{"values": [0.5, -1.0, 0.25]}, {"values": [1.0, 2.0, 3.0]}]}
    out = gemini_to_openai_embeddings(resp, "gemini-embedding-001")
    CreateEmbeddingResponse.model_validate(out)
    assert out["data"][1] == {"object": "embedding", "index": 1, "embedding": [1.0, 2.0, 3.0]}
    packed = gemini_to_openai_embeddings(resp, "m", encoding_format="base64")["data"][0]["embedding"]
    assert struct.unpack("<3f", base64.b64decode(packed)) == (0.5, -1.0, 0.25)
    with pytest.raises(BadRequest, match="token arrays"):
        openai_to_gemini_embed_request({"input": [[1, 2, 3]]}, "m")


def test_anthropic_client_on_gemini_through_the_openai_shape() -> None:
    from anthropic import types as at

    from costops.providers.anthropic_format import OpenAIStreamToAnthropic, anthropic_to_openai_request

    body = {"model": "g", "max_tokens": 100, "stream": True, "messages": [{"role": "user", "content": "Weather?"}]}
    as_openai = anthropic_to_openai_request(body, "gemini-2.5-flash")
    assert openai_to_gemini_request(as_openai)["generationConfig"] == {"maxOutputTokens": 100}
    chunks, _ = _run(GEMINI_SSE, include_usage=as_openai["stream_options"]["include_usage"])
    second, events = OpenAIStreamToAnthropic("g"), []
    for chunk in chunks:
        events += second.feed(SSEEvent(orjson.dumps(chunk)))
    events += second.feed(SSEEvent(b"[DONE]"))
    kinds = {"message_start": at.RawMessageStartEvent, "content_block_start": at.RawContentBlockStartEvent,
             "content_block_delta": at.RawContentBlockDeltaEvent, "content_block_stop": at.RawContentBlockStopEvent,
             "message_delta": at.RawMessageDeltaEvent, "message_stop": at.RawMessageStopEvent}
    for name, data in events:
        kinds[name].model_validate(data)
    blocks = [d["content_block"]["type"] for n, d in events if n == "content_block_start"]
    assert blocks == ["thinking", "text", "tool_use"]
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert events[-2][1]["usage"]["output_tokens"] == 240 and events[-1][0] == "message_stop"
