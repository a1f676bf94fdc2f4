"""OpenAI Chat Completions <-> Anthropic Messages, both ways: pure functions and stream translators.

    OpenAI client -> Claude     openai_to_anthropic_request, then
                                anthropic_to_openai_response | AnthropicStreamToOpenAI
    Anthropic client -> GPT     anthropic_to_openai_request, then
                                openai_to_anthropic_response | OpenAIStreamToAnthropic
                                (written in anthropic_client_format.py, re-exported here)

The two APIs group a conversation differently: Anthropic wants strictly alternating user and
assistant turns with tool results *inside* a user turn (before any text), OpenAI wants each tool
result as its own ``tool`` message right after the assistant's call. So messages are regrouped,
not mapped one to one. Nothing here does I/O or mutates its input; bad input raises
:class:`~costops.errors.BadRequest` with the offending message's index.

Stream errors (Anthropic's ``error`` event, an OpenAI chunk ``{"error": ...}``) are *raised* as
:class:`~costops.errors.UpstreamStatus`, so the gateway sends its own error event in the client's shape.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from costops.errors import BadRequest
from costops.providers import validate as check
from costops.providers.anthropic_client_format import (
    OpenAIStreamToAnthropic,
    anthropic_to_openai_request,
    is_reasoning_model,
    openai_to_anthropic_response,
)
from costops.providers.errors_format import stream_error
from costops.providers.sse import SSEEvent
from costops.usage import Usage

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "THINKING_BUDGETS",
    "openai_to_anthropic_request",
    "anthropic_to_openai_response",
    "AnthropicStreamToOpenAI",
    "anthropic_to_openai_request",
    "openai_to_anthropic_response",
    "OpenAIStreamToAnthropic",
    "is_reasoning_model",
]

DEFAULT_MAX_TOKENS = 4096
"""Anthropic requires ``max_tokens``; OpenAI clients usually leave it out."""
THINKING_BUDGETS = {"low": 1024, "medium": 4096, "high": 16384, "xhigh": 32768, "max": 32768}
JSON_INSTRUCTION = "Respond with a single valid JSON object and nothing else: no prose, no Markdown code fences."

_TO_OPENAI_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


# -- OpenAI request -> Anthropic request ----------------------------------------------------------


def openai_to_anthropic_request(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    n = body.get("n")
    if n not in (None, 1):
        raise BadRequest(f"n={n} is not supported for {model}: Anthropic returns one choice per request; send {n} requests instead")
    system, messages = _anthropic_messages(body.get("messages"))
    if instruction := _json_instruction(check.opt_obj(body.get("response_format"), "response_format")):
        system.append({"type": "text", "text": instruction})
    limit_key = next((k for k in ("max_completion_tokens", "max_tokens") if body.get(k) is not None), "max_tokens")
    max_tokens = check.opt_int(body.get(limit_key), limit_key)
    out: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens}
    if system:
        out["system"] = system
    for src, dst in (("temperature", "temperature"), ("top_p", "top_p"), ("top_k", "top_k")):
        if body.get(src) is not None:
            out[dst] = body[src]
    if stop := check.str_list(body.get("stop"), "stop", single=True):
        out["stop_sequences"] = stop
    if body.get("stream"):
        out["stream"] = True
    if user := check.opt_str(body.get("user"), "user"):
        out["metadata"] = {"user_id": user}
    tools = [_anthropic_tool(t, path) for path, t in check.objects(body.get("tools"), "tools")]
    if tools:
        out["tools"] = tools
        if choice := _anthropic_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls")):
            out["tool_choice"] = choice
    budget = THINKING_BUDGETS.get(str(body.get("reasoning_effort")))
    forced = out.get("tool_choice", {}).get("type") in ("any", "tool")
    if budget and not forced:  # Anthropic refuses thinking with a forced tool: the tool choice wins
        out["thinking"] = {"type": "enabled", "budget_tokens": budget}
        if out["max_tokens"] <= budget:  # the budget counts inside max_tokens; keep room for the answer
            out["max_tokens"] += budget
        out.pop("temperature", None)  # thinking accepts neither
        out.pop("top_k", None)
        out.pop("top_p", None)
    return out


_ROLES = ("system", "developer", "user", "assistant", "tool")


def _anthropic_messages(messages: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not isinstance(messages, list) or not messages:
        raise check.invalid("messages", "a non-empty list", messages)
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    calls: set[str] = set()
    for where, msg in check.objects(messages, "messages"):
        role, content = check.one_of(msg.get("role"), f"{where}.role", _ROLES), msg.get("content")
        if role in ("system", "developer"):
            system.extend(_text_blocks(content, where, allow={"text"}))
        elif role == "user":
            _add_turn(turns, "user", _user_blocks(content, where))
        elif role == "assistant":
            blocks = _text_blocks(content, where, allow={"text", "refusal"})
            for path, call in check.objects(msg.get("tool_calls"), f"{where}.tool_calls"):
                blocks.append(_tool_use_block(call, path))
                calls.add(blocks[-1]["id"])
            _add_turn(turns, "assistant", blocks)
        else:  # tool
            call_id = check.string(msg.get("tool_call_id"), f"{where}.tool_call_id")
            if call_id not in calls:
                raise BadRequest(
                    f"{where}: tool message answers tool_call_id {call_id!r}, but no earlier assistant message has a tool call with that id"
                )
            result = content if isinstance(content, str) else _text_blocks(content, where, allow={"text"})
            _add_turn(turns, "user", [{"type": "tool_result", "tool_use_id": call_id, "content": result or ""}])
    if not turns:
        raise BadRequest("messages has no user or assistant message; Anthropic needs at least one")
    for turn in turns:  # Anthropic: tool_result blocks come first in their user turn
        turn["content"].sort(key=lambda b: b["type"] != "tool_result")
    last = turns[-1]
    if last["role"] == "assistant" and last["content"][-1]["type"] == "text":  # a prefill may not end in whitespace
        last["content"][-1]["text"] = last["content"][-1]["text"].rstrip()
        if not last["content"][-1]["text"]:
            last["content"].pop()
            if not last["content"]:
                turns.pop()
    return system, turns


def _add_turn(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    if not blocks:  # Anthropic rejects empty turns and empty text blocks
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _text_blocks(content: Any, where: str, *, allow: set[str]) -> list[dict[str, Any]]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    blocks = []
    for path, part, kind in check.content_parts(content, where):
        if kind not in allow:
            raise BadRequest(f"{path}: content part of type {kind!r} is not allowed here (only {', '.join(sorted(allow))})")
        if text := check.opt_str(part.get(kind), f"{path}.{kind}"):
            blocks.append(_with_cache_control({"type": "text", "text": text}, part))
    return blocks


def _user_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return _text_blocks(content, where, allow={"text"})
    blocks = []
    for path, part, kind in check.content_parts(content, where):
        if kind == "text":
            if text := check.opt_str(part.get("text"), f"{path}.text"):
                blocks.append(_with_cache_control({"type": "text", "text": text}, part))
        elif kind == "image_url":
            image = part.get("image_url")
            url = check.obj(image, f"{path}.image_url", "an object with a url").get("url") if not isinstance(image, str) else image
            blocks.append(_with_cache_control({"type": "image", "source": _image_source(url, f"{path}.image_url.url")}, part))
        elif kind == "file":
            data = check.opt_obj(part.get("file"), f"{path}.file").get("file_data")
            source = _image_source(check.string(data, f"{path}.file.file_data", "a data: URL"), f"{path}.file.file_data")
            if source.get("media_type") != "application/pdf":
                raise BadRequest(f"{path}: only PDF files given inline as file_data can be sent to Claude")
            blocks.append(_with_cache_control({"type": "document", "source": source}, part))
        else:
            raise BadRequest(f"{path}: content part of type {kind!r} cannot be sent to Claude (text, image_url, file only)")
    return blocks


def _image_source(url: Any, path: str) -> dict[str, Any]:
    url = check.string(url, path, "a data: URL or an http(s) URL")
    if url.startswith("data:"):
        media_type, data = _parse_data_url(url, path)
        return {"type": "base64", "media_type": media_type, "data": data}
    if url.startswith(("http://", "https://")):
        return {"type": "url", "url": url}
    raise BadRequest(f"{path}: image url must be a data: URL or an http(s) URL")


def _parse_data_url(url: str, path: str) -> tuple[str, str]:
    head, sep, data = url.partition(",")
    if not sep or not head.endswith(";base64"):
        raise BadRequest(f"{path}: data URLs must be base64 encoded (data:<type>;base64,<data>)")
    return head[5:].split(";")[0] or "application/octet-stream", data


def _tool_use_block(call: Mapping[str, Any], path: str) -> dict[str, Any]:
    call_id, name, args = check.function_call(call, path)
    return {"type": "tool_use", "id": call_id, "name": name, "input": args}


def _with_cache_control(block: dict[str, Any], part: Mapping[str, Any]) -> dict[str, Any]:
    # Clients that know they talk to Claude put Anthropic's cache_control on OpenAI parts: keep it,
    # prompt caching is most of the saving on long prompts.
    if part.get("cache_control"):
        block["cache_control"] = part["cache_control"]
    return block


def _anthropic_tool(tool: Mapping[str, Any], path: str) -> dict[str, Any]:
    name, description, parameters = check.function_tool(tool, path, "Claude")
    out: dict[str, Any] = {"name": name}
    if description:
        out["description"] = description
    out["input_schema"] = parameters or {"type": "object", "properties": {}}
    return _with_cache_control(out, tool)


def _anthropic_tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    name = check.tool_choice_name(choice)
    if name is not None:
        out: dict[str, Any] | None = {"type": "tool", "name": name}
    elif choice is None:
        out = {"type": "auto"} if parallel is False else None
    elif choice == "none":
        return {"type": "none"}
    else:
        out = {"type": "auto" if choice == "auto" else "any"}
    if out is not None and parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


def _json_instruction(fmt: Mapping[str, Any]) -> str | None:
    # Anthropic has no JSON mode: ask in the system prompt instead.
    kind = fmt.get("type")
    if kind == "json_object":
        return JSON_INSTRUCTION
    if kind == "json_schema":
        schema = check.opt_obj(fmt.get("json_schema"), "response_format.json_schema").get("schema")
        if schema:
            return f"{JSON_INSTRUCTION} The object must validate against this JSON Schema:\n{orjson.dumps(schema).decode()}"
        return JSON_INSTRUCTION
    return None


# -- Anthropic response -> OpenAI response --------------------------------------------------------


def anthropic_to_openai_response(resp: Mapping[str, Any], model: str, *, created: int | None = None) -> dict[str, Any]:
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in resp.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            text.append(block.get("text") or "")
        elif kind == "thinking":
            reasoning.append(block.get("thinking") or "")
        elif kind == "tool_use":
            args = orjson.dumps(block.get("input") or {}).decode()
            calls.append({"id": block["id"], "type": "function", "function": {"name": block["name"], "arguments": args}})
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text or not calls else None}
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    return {
        "id": f"chatcmpl-{resp.get('id', '')}",
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": _TO_OPENAI_FINISH.get(resp.get("stop_reason") or "", "stop"),
                "logprobs": None,
            }
        ],
        "usage": Usage.from_anthropic(resp.get("usage")).to_openai(),
    }


class AnthropicStreamToOpenAI:
    """Anthropic stream events in, OpenAI ``chat.completion.chunk`` dicts out, one event at a time."""

    def __init__(self, model: str, *, include_usage: bool, created: int | None = None) -> None:
        self.model = model
        self.include_usage = include_usage
        self.created = int(time.time()) if created is None else created
        self.id = "chatcmpl-"
        self.done = False
        self._usage: dict[str, Any] = {}
        self._tools: dict[int, int] = {}  # content block index -> OpenAI tool call index

    @property
    def usage(self) -> Usage:
        return Usage.from_anthropic(self._usage)

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        if self.done or not event.data.strip():
            return []
        data = event.json()
        if not isinstance(data, dict):
            return []
        kind = data.get("type") or event.event
        if kind == "error":
            raise stream_error("anthropic", data)
        if kind == "message_start":
            message = data.get("message") or {}
            self.id = f"chatcmpl-{message.get('id', '')}"
            self._usage = dict(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") != "tool_use":
                return []
            self._tools[data["index"]] = n = len(self._tools)
            call = {"index": n, "id": block["id"], "type": "function", "function": {"name": block["name"], "arguments": ""}}
            return [self._chunk({"tool_calls": [call]})]
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta" and delta.get("text"):
                return [self._chunk({"content": delta["text"]})]
            if dtype == "thinking_delta" and delta.get("thinking"):
                return [self._chunk({"reasoning_content": delta["thinking"]})]
            if dtype == "input_json_delta" and delta.get("partial_json") and data.get("index") in self._tools:
                call = {"index": self._tools[data["index"]], "function": {"arguments": delta["partial_json"]}}
                return [self._chunk({"tool_calls": [call]})]
            return []
        if kind == "message_delta":
            # output_tokens here is cumulative; other counters appear only when the server sends them
            self._usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
            reason = (data.get("delta") or {}).get("stop_reason")
            return [self._chunk({}, _TO_OPENAI_FINISH.get(reason or "", "stop"))]
        if kind == "message_stop":
            self.done = True
            if self.include_usage:
                return [self._base() | {"choices": [], "usage": self.usage.to_openai()}]
        return []  # ping, content_block_stop, signature deltas, unknown future events

    def _base(self) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        chunk = self._base() | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
        if self.include_usage:
            chunk["usage"] = None
        return chunk
