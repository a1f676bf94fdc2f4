"""Fuzzed bodies through every exchange: a 400 for the client's mistakes, a 502 for the provider's.

Building the upstream request from any JSON body either succeeds or raises ``BadRequest``;
reading any JSON answer from the provider either succeeds or raises ``UpstreamError``. Any other
exception is a costops bug that a client would see as a 500 (and, before the request edge caught
it, as a false success in the ledger). Bodies come three ways: every field of a realistic request
replaced by a random value (or removed), a realistic request with one nested field mutated, and
loosely shaped random requests whose keys and words are the APIs' own, so they reach deep.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costops.errors import BadRequest, UpstreamError
from costops.providers.exchange import make_exchange
from costops.usage import Usage

# Deterministic (CI sees the same examples every run) and a few seconds in all: hypothesis spends
# most of the time drawing nested values, so the counts are what a 10 s budget buys.
FUZZ = settings(
    max_examples=200, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# (client api, endpoint, deployment kind, model)
EXCHANGES = [
    ("openai", "chat", "anthropic", "claude-sonnet-4-6"),
    ("openai", "chat", "gemini", "gemini-2.5-flash"),
    ("anthropic", "chat", "openai", "gpt-4o"),
    ("anthropic", "chat", "openai", "gpt-5"),
    ("anthropic", "chat", "gemini", "gemini-2.5-flash"),
    ("openai", "chat", "openai", "gpt-4o"),
    ("anthropic", "chat", "anthropic", "claude-sonnet-4-6"),
    ("openai", "embeddings", "gemini", "text-embedding-004"),
]
PNG = "data:image/png;base64,iVBORw0KGgo="
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": ["string", "null"]}, "item": {"$ref": "#/$defs/Item"}, "n": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
    "required": ["city"],
    "$defs": {"Item": {"type": "object", "properties": {"sku": {"type": "string"}}, "allOf": [{"properties": {"q": {"type": "integer"}}, "required": ["q"]}]}},
}
OPENAI_BODY: dict[str, Any] = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "What is in these?", "cache_control": {"type": "ephemeral"}},
            {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}},
        ]},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 3}'},
        {"role": "user", "content": "Thanks."},
        {"role": "assistant", "content": [{"type": "text", "text": "It is "}, {"type": "refusal", "refusal": "no"}]},
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": SCHEMA}}],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "parallel_tool_calls": False,
    "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": SCHEMA}},
    "stop": ["\n\n"], "temperature": 0.2, "top_p": 0.9, "max_tokens": 300, "n": 1, "seed": 7, "user": "u-1",
    "reasoning_effort": "low", "stream": False, "stream_options": {"include_usage": True},
}
OPENAI_THINKING = {**OPENAI_BODY, "tool_choice": "auto", "max_completion_tokens": 100, "stop": "END"}
OPENAI_AUDIO = {**OPENAI_BODY, "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}}]}]}
ANTHROPIC_BODY: dict[str, Any] = {
    "model": "m",
    "max_tokens": 300,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "What is in these?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}, "title": "a"},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
        ]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": False, "content": [
                {"type": "text", "text": "3 C"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            ]},
            {"type": "text", "text": "Thanks."},
        ]},
        {"role": "assistant", "content": "You are welcome."},
        {"role": "user", "content": "More?"},
    ],
    "tools": [{"name": "get_weather", "description": "Weather", "input_schema": SCHEMA}],
    "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
    "stop_sequences": ["END"], "temperature": 0.2, "top_p": 0.9, "metadata": {"user_id": "u-1"},
    "thinking": {"type": "enabled", "budget_tokens": 4000}, "stream": False,
}
EMBED_BODY: dict[str, Any] = {"model": "m", "input": ["a", "b"], "dimensions": 8, "encoding_format": "base64"}
BODIES = {"openai": [OPENAI_BODY, OPENAI_THINKING, OPENAI_AUDIO], "anthropic": [ANTHROPIC_BODY], "embeddings": [EMBED_BODY]}

# The APIs' own keys and words, so random structures reach past the first check.
KEYS = sorted({
    "type", "text", "role", "content", "id", "name", "function", "arguments", "url", "image_url", "source", "data",
    "media_type", "input", "tool_use_id", "tool_calls", "tool_call_id", "file", "file_data", "input_audio", "format",
    "properties", "items", "$ref", "$defs", "anyOf", "allOf", "oneOf", "required", "schema", "json_schema",
    "parameters", "input_schema", "messages", "tools", "tool_choice", "system", "stop", "stop_sequences", "refusal",
    "cache_control", "budget_tokens", "thinking", "metadata", "user_id", "response_format", "is_error", "title",
    "max_tokens", "reasoning_effort", "n", "choices", "candidates", "parts", "usage", "message",
})
WORDS = [
    "text", "image_url", "file", "input_audio", "refusal", "image", "document", "tool_use", "tool_result", "thinking",
    "redacted_thinking", "function", "tool", "auto", "any", "none", "required", "base64", "url", "json_object",
    "json_schema", "enabled", "system", "developer", "user", "assistant", "model", "call_1", "toolu_1", PNG,
    "https://example.com/a.png", "data:x", "#/$defs/Item", "low", "high", "null", "string", "object", "{}", "[1]",
]
SCALARS = [None, True, False, 0, 1, -1, 3, 2**63 - 1, 0.5, -2.5, 1e300, "", " ", "x", "ü\u0000"]
# One sampled_from per leaf: hypothesis draws these far faster than text() or floats(), and the
# translators only care about a value's type and a few words anyway.
leaves = st.sampled_from(SCALARS + WORDS) | st.integers(-(2**63), 2**63 - 1)
keys = st.sampled_from([*KEYS, "", "x"])
json_values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3), max_leaves=6)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a nested body a value can be swapped: dict keys and list indices."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, sub in value.items():
            out += _paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            out += _paths(sub, (*prefix, i))
    return out


def mutated(bases: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A realistic body with one field (at any depth) replaced by a random value, or removed."""
    return st.sampled_from([(base, path) for base in bases for path in _paths(base)]).flatmap(_mutate)


def _mutate(case: tuple[dict[str, Any], tuple[Any, ...]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(st.just(case), json_values, st.integers(0, 3)).map(_mutated)


def _mutated(drawn: tuple[tuple[dict[str, Any], tuple[Any, ...]], Any, int]) -> dict[str, Any]:
    (base, path), value, how = drawn
    body = copy.deepcopy(base)
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and how == 0:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return body


@st.composite
def top_level(draw: st.DrawFn, bases: list[dict[str, Any]]) -> dict[str, Any]:
    """A realistic body with a few of its top-level fields replaced by random values or dropped."""
    body = dict(draw(st.sampled_from(bases)))
    for key in draw(st.lists(st.sampled_from(sorted(body)), min_size=1, max_size=4, unique=True)):
        if draw(st.booleans()):
            body[key] = draw(json_values)
        else:
            del body[key]
    return body


def loose(api: str) -> st.SearchStrategy[dict[str, Any]]:
    """Random bodies in roughly the API's shape: real roles and part types, random everything else."""
    part_keys = ("text", "image_url", "source", "id", "name", "input", "tool_use_id", "content", "file", "input_audio", "refusal")
    part = st.fixed_dictionaries({"type": st.sampled_from(WORDS)}, optional={k: json_values for k in part_keys})
    content = st.sampled_from(["", "hi", None, 5]) | st.lists(part | json_values, max_size=3) | json_values
    roles = ("system", "developer", "user", "assistant", "tool") if api == "openai" else ("user", "assistant")
    call = st.fixed_dictionaries({"id": st.sampled_from(["call_1", "toolu_1"]), "function": json_values})
    message = st.fixed_dictionaries(
        {"role": st.sampled_from(roles), "content": content},
        optional={"tool_calls": st.lists(call | json_values, max_size=2), "tool_call_id": st.sampled_from(["call_1", "toolu_1"]) | json_values},
    )
    fields = ("tools", "tool_choice", "stop", "stop_sequences", "system", "response_format", "thinking", "metadata")
    return st.fixed_dictionaries({"model": st.just("m"), "messages": st.lists(message, min_size=1, max_size=4)}, optional={k: json_values for k in fields})


def _bodies(api: str, endpoint: str) -> st.SearchStrategy[dict[str, Any]]:
    bases = BODIES["embeddings" if endpoint == "embeddings" else api]
    return st.one_of(mutated(bases), top_level(bases))


def _request(exchange: tuple[str, str, str, str], body: dict[str, Any]) -> None:
    api, endpoint, kind, model = exchange
    body = orjson.loads(orjson.dumps(body))  # exactly what the gateway would have parsed
    try:
        built = make_exchange(api, endpoint, kind, body, orjson.dumps(body), model, "req-fuzz")
        out = built.request_body()
    except BadRequest as error:
        assert error.status in (400, 413) and error.message
        return
    assert isinstance(orjson.loads(out), dict)


# Built once: one strategy per exchange, each pairing it with its own kind of bodies.
REQUESTS = st.one_of([st.tuples(st.just(x), _bodies(x[0], x[1])) for x in EXCHANGES])
LOOSE = st.one_of([st.tuples(st.just(x), loose(x[0])) for x in EXCHANGES[:5]])


@FUZZ
@given(REQUESTS)
def test_any_request_body_is_translated_or_refused_as_a_400(case: tuple[tuple[str, str, str, str], dict[str, Any]]) -> None:
    _request(*case)


@settings(FUZZ, max_examples=100)
@given(LOOSE)
def test_loosely_shaped_requests_are_translated_or_refused_as_a_400(case: tuple[tuple[str, str, str, str], dict[str, Any]]) -> None:
    _request(*case)


# -- the way back: odd answers from the provider -----------------------------------------------

ANTHROPIC_ANSWER = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6",
    "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "s"},
        {"type": "text", "text": "Hello"},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
    ],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 2, "cache_creation_input_tokens": 3,
              "cache_creation": {"ephemeral_5m_input_tokens": 3, "ephemeral_1h_input_tokens": 0}},
}
OPENAI_ANSWER = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Hello", "reasoning_content": "hmm", "refusal": None,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}],
    }}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
              "prompt_tokens_details": {"cached_tokens": 2}, "completion_tokens_details": {"reasoning_tokens": 1}},
}
GEMINI_ANSWER = {
    "candidates": [{"index": 0, "finishReason": "STOP", "content": {"role": "model", "parts": [
        {"text": "hmm", "thought": True}, {"text": "Hello"}, {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
    ]}}],
    "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 2, "cachedContentTokenCount": 1},
    "promptFeedback": {"blockReason": None},
}
EMBED_ANSWER = {"embeddings": [{"values": [0.25, -1.5, 3]}, {"values": [1, 2, 3]}]}
ANSWERS = {"anthropic": ANTHROPIC_ANSWER, "openai": OPENAI_ANSWER, "gemini": GEMINI_ANSWER}


def _answers(exchange: tuple[str, str, str, str]) -> st.SearchStrategy[Any]:
    base = EMBED_ANSWER if exchange[1] == "embeddings" else ANSWERS[exchange[2]]
    return st.one_of(mutated([base]), top_level([base]), json_values)


ANSWERS_BY_EXCHANGE = st.one_of([st.tuples(st.just(x), _answers(x)) for x in EXCHANGES])


@FUZZ
@given(ANSWERS_BY_EXCHANGE)
def test_any_provider_answer_is_translated_or_an_upstream_error(case: tuple[tuple[str, str, str, str], Any]) -> None:
    (api, endpoint, kind, model), answer = case
    body = BODIES["embeddings" if endpoint == "embeddings" else api][0]
    built = make_exchange(api, endpoint, kind, body, orjson.dumps(body), model, "req-fuzz")
    try:
        out, usage = built.response(orjson.dumps(answer))
    except UpstreamError as error:
        assert error.status >= 500 and "response" in error.message
        return
    translated = orjson.loads(out)
    assert isinstance(usage, Usage)
    assert isinstance(translated, dict) or api == kind  # a passthrough forwards the provider's bytes as they are


def test_a_null_content_or_no_usage_reads_as_an_empty_answer() -> None:
    """Odd but valid answers translate: null content, null usage, no candidates."""
    cases = [
        (("openai", "chat", "anthropic", "claude-sonnet-4-6"), {**ANTHROPIC_ANSWER, "content": None, "usage": None}),
        (("anthropic", "chat", "openai", "gpt-4o"), {**OPENAI_ANSWER, "choices": [{"index": 0, "message": {"role": "assistant", "content": None}}], "usage": None}),
        (("openai", "chat", "gemini", "gemini-2.5-flash"), {"candidates": None, "usageMetadata": None}),
    ]
    for (api, endpoint, kind, model), answer in cases:
        body = BODIES[api][0]
        out, usage = make_exchange(api, endpoint, kind, body, orjson.dumps(body), model, "r").response(orjson.dumps(answer))
        assert usage == Usage() and isinstance(orjson.loads(out), dict)


def test_an_unreadable_answer_is_an_upstream_error_not_a_crash() -> None:
    body = BODIES["openai"][0]
    built = make_exchange("openai", "chat", "anthropic", body, orjson.dumps(body), "claude-sonnet-4-6", "r")
    for answer in (b"not json", b"[]", b'{"content": [{"type": "tool_use"}]}', b'{"content": 5}'):
        try:
            built.response(answer)
        except UpstreamError as error:
            assert error.status == 502
        else:
            raise AssertionError(f"{answer!r} was read as an answer")
