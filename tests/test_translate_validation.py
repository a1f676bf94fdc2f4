"""Wrong-typed fields in a translated request are the client's mistake: a 400 naming the field.

Each case below crashed with a TypeError / AttributeError / KeyError before (a 500, and a ledger
row saying 200); the message must point at the field to fix, by its path in the client's body.
"""

from __future__ import annotations

import re

import pytest

from costops.errors import BadRequest
from costops.providers.exchange import make_exchange

USER = [{"role": "user", "content": "hi"}]
CALL = {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string"}}}}}
A_TOOL_USE = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]}

# (the client's body without "model", the path the message must name)
OPENAI_CASES = [
    ({"messages": "hi"}, "messages"),
    ({"messages": [5]}, "messages[0]"),
    ({"messages": [{"content": "hi"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": {"text": "hi"}}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": ["hi"]}]}, "messages[0].content[0]"),
    ({"messages": [{"role": "user", "content": [{"text": "hi"}]}]}, "messages[0].content[0].type"),
    ({"messages": [{"role": "user", "content": [{"type": ["text"]}]}]}, "messages[0].content[0].type"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages[0].content[0].text"),
    ({"messages": [{"role": "system", "content": [7]}, *USER]}, "messages[0].content[0]"),
    ({"messages": [*USER, {"role": "assistant", "content": [{"type": "text", "text": ["x"]}]}]}, "messages[1].content[0].text"),
    ({"messages": [{"role": "user", "content": [{"type": "file", "file": "data:application/pdf;base64,AA"}]}]}, "messages[0].content[0].file"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 5}]}]}, "messages[0].content[0].image_url"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": ["x"]}}]}]}, "messages[0].content[0].image_url.url"),
    ({"messages": [*USER, {"role": "assistant", "tool_calls": 5}]}, "messages[1].tool_calls"),
    ({"messages": [*USER, {"role": "assistant", "tool_calls": ["c1"]}]}, "messages[1].tool_calls[0]"),
    ({"messages": [*USER, {"role": "assistant", "tool_calls": [{"id": ["c1"], "function": {"name": "f"}}]}]}, "messages[1].tool_calls[0].id"),
    ({"messages": [*USER, {"role": "assistant", "tool_calls": [{"id": "c1", "function": "f"}]}]}, "messages[1].tool_calls[0].function"),
    ({"messages": [*USER, CALL, {"role": "tool", "tool_call_id": ["c1"], "content": "x"}]}, "messages[2].tool_call_id"),
    ({"messages": USER, "tools": {"type": "function"}}, "tools"),
    ({"messages": USER, "tools": ["get_weather"]}, "tools[0]"),
    ({"messages": USER, "tools": [{"type": "function", "function": {"name": "f", "parameters": "{}"}}]}, "tools[0].function.parameters"),
    ({"messages": USER, "tools": [TOOL], "tool_choice": {"type": "function", "function": "f"}}, "tool_choice.function"),
    ({"messages": USER, "tools": [TOOL], "tool_choice": 5}, "tool_choice"),
    ({"messages": USER, "stop": 5}, "stop"),
    ({"messages": USER, "stop": [1, 2]}, "stop[0]"),
    ({"messages": USER, "response_format": "json_object"}, "response_format"),
    ({"messages": USER, "response_format": {"type": "json_schema", "json_schema": "x"}}, "response_format.json_schema"),
    ({"messages": USER, "stream_options": "yes"}, "stream_options"),
]

ANTHROPIC_CASES = [
    ({"max_tokens": 10, "messages": {"role": "user"}}, "messages"),
    ({"max_tokens": 10, "messages": [{"content": "hi"}]}, "messages[0].role"),
    ({"max_tokens": 10, "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"max_tokens": 10, "messages": [{"role": "user", "content": ["hi"]}]}, "messages[0].content[0]"),
    ({"max_tokens": 10, "messages": [{"role": "user", "content": [{"text": "hi"}]}]}, "messages[0].content[0].type"),
    ({"max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "image", "source": "https://x/a.png"}]}]}, "messages[0].content[0].source"),
    ({"max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": 5}}]}]}, "messages[0].content[0].source.data"),
    ({"max_tokens": 10, "messages": [*USER, {"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {}}]}]}, "messages[1].content[0].id"),
    ({"max_tokens": 10, "messages": [*USER, {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "input": {}}]}]}, "messages[1].content[0].name"),
    ({"max_tokens": 10, "messages": [*USER, {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": "{}"}]}]}, "messages[1].content[0].input"),
    ({"max_tokens": 10, "messages": [*USER, A_TOOL_USE, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": {}, "content": "x"}]}]}, "messages[2].content[0].tool_use_id"),
    ({"max_tokens": 10, "messages": [*USER, A_TOOL_USE, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": 5}]}]}, "messages[2].content[0].content"),
    ({"max_tokens": 10, "messages": [*USER, A_TOOL_USE, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [5]}]}]}, "messages[2].content[0].content[0]"),
    ({"max_tokens": 10, "messages": USER, "system": 5}, "system"),
    ({"max_tokens": 10, "messages": USER, "system": ["be brief"]}, "system[0]"),
    ({"max_tokens": 10, "messages": USER, "system": [{"type": "text", "text": 5}]}, "system[0].text"),
    ({"max_tokens": 10, "messages": USER, "tools": {"name": "f"}}, "tools"),
    ({"max_tokens": 10, "messages": USER, "tools": ["f"]}, "tools[0]"),
    ({"max_tokens": 10, "messages": USER, "tools": [{"name": "f", "input_schema": []}]}, "tools[0].input_schema"),
    ({"max_tokens": 10, "messages": USER, "tools": [{"name": "f"}], "tool_choice": "auto"}, "tool_choice"),
    ({"max_tokens": 10, "messages": USER, "tools": [{"name": "f"}], "tool_choice": {"type": "tool"}}, "tool_choice.name"),
    ({"max_tokens": 10, "messages": USER, "stop_sequences": "END"}, "stop_sequences"),
    ({"max_tokens": 10, "messages": USER, "stop_sequences": [5]}, "stop_sequences[0]"),
    ({"max_tokens": 10, "messages": USER, "metadata": "u1"}, "metadata"),
    ({"max_tokens": 10, "messages": USER, "thinking": "on"}, "thinking"),
    ({"max_tokens": 10, "messages": USER, "thinking": {"type": "enabled", "budget_tokens": "2k"}}, "thinking.budget_tokens"),
]


def _build(api: str, kind: str, body: dict, model: str) -> bytes:
    exchange = make_exchange(api, "chat", kind, {"model": model, **body}, b"{}", model, "req")
    return exchange.request_body()


def _names(path: str) -> str:
    """The message names the path as a whole (``messages[0]`` must not match ``messages[0].role``)."""
    return rf"(^|[\s:(]){re.escape(path)}($|[\s:,;)])"


@pytest.mark.parametrize(("kind", "model"), [("anthropic", "claude-sonnet-4-6"), ("gemini", "gemini-2.5-flash")])
@pytest.mark.parametrize(("body", "path"), OPENAI_CASES)
def test_openai_client_wrong_types_are_a_400_naming_the_field(kind: str, model: str, body: dict, path: str) -> None:
    with pytest.raises(BadRequest, match=_names(path)) as info:
        _build("openai", kind, body, model)
    assert info.value.status == 400


@pytest.mark.parametrize(("kind", "model"), [("openai", "gpt-4o"), ("openai", "gpt-5"), ("gemini", "gemini-2.5-flash")])
@pytest.mark.parametrize(("body", "path"), ANTHROPIC_CASES)
def test_anthropic_client_wrong_types_are_a_400_naming_the_field(kind: str, model: str, body: dict, path: str) -> None:
    with pytest.raises(BadRequest, match=_names(path)) as info:
        _build("anthropic", kind, body, model)
    assert info.value.status == 400


def test_the_message_says_what_was_expected_and_what_came() -> None:
    with pytest.raises(BadRequest) as info:
        _build("openai", "anthropic", {"messages": [*USER, *USER, {"role": "user", "content": 5}]}, "claude-sonnet-4-6")
    assert info.value.message == "messages[2].content must be a string or a list of content parts, not a number 5"
    with pytest.raises(BadRequest) as info:
        _build("anthropic", "openai", {"max_tokens": 5, "messages": [{"content": "hi"}]}, "gpt-4o")
    assert info.value.message.startswith("messages[0].role is missing")


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "string"}}, "$defs": [1]},
        {"type": "object", "properties": {"a": {"$ref": "#/$defs/x"}}, "$defs": {"x": "string"}},
        {"type": "object", "properties": [{"a": 1}]},
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": "a"},
        {"type": "object", "properties": {"a": {"anyOf": {"type": "string"}}}},
        {"allOf": [{"properties": {"a": {"type": "string"}}, "required": "a"}]},
    ],
)
def test_a_malformed_tool_schema_for_gemini_is_a_400(schema: dict) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": schema}}
    with pytest.raises(BadRequest, match=r"tools\[0\]\.function\.parameters"):
        _build("openai", "gemini", {"messages": USER, "tools": [tool]}, "gemini-2.5-flash")


def test_well_formed_requests_still_translate() -> None:
    body = {"messages": [*USER, CALL, {"role": "tool", "tool_call_id": "c1", "content": "ok"}], "tools": [TOOL], "stop": "END"}
    for kind, model in (("anthropic", "claude-sonnet-4-6"), ("gemini", "gemini-2.5-flash")):
        assert b"END" in _build("openai", kind, body, model)
    reverse = {"max_tokens": 9, "system": "s", "messages": USER, "tools": [{"name": "f"}], "tool_choice": {"type": "tool", "name": "f"}}
    assert b'"tool_choice"' in _build("anthropic", "openai", reverse, "gpt-4o")
