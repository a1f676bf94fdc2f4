"""An Anthropic Messages client on an OpenAI-compatible deployment: request, response, stream.

    anthropic_to_openai_request, then openai_to_anthropic_response | OpenAIStreamToAnthropic

Re-exported by :mod:`costops.providers.anthropic_format`, which holds the other direction. Each
Anthropic user turn becomes its ``tool`` messages (one per ``tool_result``, right after the call
they answer, as OpenAI requires) followed by one user message with the rest of the turn.
Stream errors (an OpenAI chunk ``{"error": ...}``) are raised as
:class:`~costops.errors.UpstreamStatus`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from costops.errors import BadRequest
from costops.providers import validate as check
from costops.providers.errors_format import stream_error
from costops.providers.sse import SSEEvent
from costops.usage import Usage

__all__ = [
    "anthropic_to_openai_request",
    "openai_to_anthropic_response",
    "OpenAIStreamToAnthropic",
    "is_reasoning_model",
]

_TO_ANTHROPIC_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


# -- Anthropic request -> OpenAI request ----------------------------------------------------------

_REASONING = re.compile(r"^(o\d+(-|$)|gpt-5)")


def is_reasoning_model(model: str) -> bool:
    """o-series and gpt-5 take ``max_completion_tokens`` and ``reasoning_effort``, not temperature."""
    return bool(_REASONING.match(model.rsplit("/", 1)[-1].lower()))


def anthropic_to_openai_request(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    reasoning = is_reasoning_model(model)
    messages: list[dict[str, Any]] = []
    if system := _join_text(body.get("system"), "system"):
        messages.append({"role": "system", "content": system})
    messages.extend(_openai_messages(body.get("messages")))
    out: dict[str, Any] = {"model": model, "messages": messages}
    if body.get("max_tokens") is not None:
        out["max_completion_tokens" if reasoning else "max_tokens"] = body["max_tokens"]
    if not reasoning:  # reasoning models accept only the default temperature and top_p
        for key in ("temperature", "top_p"):
            if body.get(key) is not None:
                out[key] = body[key]
    if stop := check.str_list(body.get("stop_sequences"), "stop_sequences"):
        out["stop"] = stop
    if user := check.opt_str(check.opt_obj(body.get("metadata"), "metadata").get("user_id"), "metadata.user_id"):
        out["user"] = user
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    thinking = check.opt_obj(body.get("thinking"), "thinking")
    budget = check.opt_int(thinking.get("budget_tokens"), "thinking.budget_tokens") or 0
    if reasoning and thinking.get("type") == "enabled":
        out["reasoning_effort"] = "low" if budget <= 2048 else "medium" if budget <= 8192 else "high"
    tools = [_openai_tool(t, path, model) for path, t in check.objects(body.get("tools"), "tools")]
    if tools:
        out["tools"] = tools
        choice = check.opt_obj(body.get("tool_choice"), "tool_choice", "an object such as {\"type\": \"auto\"}")
        kind = choice.get("type")
        if kind in ("auto", "none"):
            out["tool_choice"] = kind
        elif kind == "any":
            out["tool_choice"] = "required"
        elif kind == "tool":
            out["tool_choice"] = {"type": "function", "function": {"name": check.string(choice.get("name"), "tool_choice.name")}}
        if choice.get("disable_parallel_tool_use") and kind != "none":
            out["parallel_tool_calls"] = False
    return out


def _openai_messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise check.invalid("messages", "a non-empty list", messages)
    out: list[dict[str, Any]] = []
    calls: set[str] = set()
    for where, msg in check.objects(messages, "messages"):
        role, content = check.one_of(msg.get("role"), f"{where}.role", ("user", "assistant")), msg.get("content")
        if isinstance(content, str):
            out.append({"role": role, "content": content})
            continue
        blocks = _blocks(content, f"{where}.content")
        if role == "assistant":
            out.append(_openai_assistant(blocks, calls))
            continue
        parts: list[dict[str, Any]] = []
        for path, block, kind in blocks:
            if kind == "tool_result":
                call_id = check.string(block.get("tool_use_id"), f"{path}.tool_use_id")
                if call_id not in calls:
                    raise BadRequest(
                        f"{path}: tool_result answers tool_use_id {call_id!r}, but no earlier assistant message has a tool_use with that id"
                    )
                result, extra = _tool_result_text(block, path)
                out.append({"role": "tool", "tool_call_id": call_id, "content": result})
                parts.extend(extra)  # images in a tool result: OpenAI tool messages carry only text
            else:
                parts.append(_openai_part(block, kind, path))
        if parts:
            only_text = len(parts) == 1 and parts[0]["type"] == "text"
            out.append({"role": "user", "content": parts[0]["text"] if only_text else parts})
    return out


def _blocks(content: Any, path: str) -> list[tuple[str, Mapping[str, Any], str]]:
    """(path, block, type) of each content block."""
    blocks = check.objects(content, path, "a string or a list of content blocks")
    return [(where, block, check.string(block.get("type"), f"{where}.type")) for where, block in blocks]


def _openai_assistant(blocks: list[tuple[str, Mapping[str, Any], str]], calls: set[str]) -> dict[str, Any]:
    text, tool_calls = [], []
    for path, block, kind in blocks:
        if kind == "text":
            text.append(check.opt_str(block.get("text"), f"{path}.text") or "")
        elif kind == "tool_use":
            call_id, name = check.string(block.get("id"), f"{path}.id"), check.string(block.get("name"), f"{path}.name")
            calls.add(call_id)
            args = orjson.dumps(check.opt_obj(block.get("input"), f"{path}.input")).decode()
            tool_calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": args}})
        elif kind not in ("thinking", "redacted_thinking"):  # Claude's own reasoning means nothing to GPT
            raise BadRequest(f"{path}: assistant content block of type {kind!r} cannot be sent to an OpenAI model")
    msg: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text or not tool_calls else None}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    return msg


def _openai_part(block: Mapping[str, Any], kind: str, path: str) -> dict[str, Any]:
    if kind == "text":
        return {"type": "text", "text": check.opt_str(block.get("text"), f"{path}.text") or ""}
    if kind not in ("image", "document"):
        raise BadRequest(f"{path}: content block of type {kind!r} cannot be sent to an OpenAI model")
    source = check.obj(block.get("source"), f"{path}.source", "an object such as {\"type\": \"base64\", ...}")
    source_type = source.get("type")
    if source_type == "base64":
        media_type = check.string(source.get("media_type"), f"{path}.source.media_type")
        url = f"data:{media_type};base64,{check.string(source.get('data'), f'{path}.source.data', 'base64 data')}"
        if kind == "image":
            return {"type": "image_url", "image_url": {"url": url}}
        title = check.opt_str(block.get("title"), f"{path}.title")
        return {"type": "file", "file": {"filename": title or "document.pdf", "file_data": url}}
    if kind == "image" and source_type == "url":
        return {"type": "image_url", "image_url": {"url": check.string(source.get("url"), f"{path}.source.url")}}
    if kind == "document" and source_type == "text":
        return {"type": "text", "text": check.opt_str(source.get("data"), f"{path}.source.data") or ""}
    raise BadRequest(f"{path}: {kind} block with source type {source_type!r} cannot be sent to an OpenAI model")


def _tool_result_text(block: Mapping[str, Any], path: str) -> tuple[str, list[dict[str, Any]]]:
    content = block.get("content")
    extra: list[dict[str, Any]] = []
    if content is None or isinstance(content, str):
        text = content or ""
    else:
        texts = []
        for where, part, kind in _blocks(content, f"{path}.content"):
            if kind == "text":
                texts.append(check.opt_str(part.get("text"), f"{where}.text") or "")
            else:
                extra.append(_openai_part(part, kind, where))
        text = "\n".join(texts)
    return (f"Error: {text}" if block.get("is_error") else text), extra


def _openai_tool(tool: Mapping[str, Any], path: str, model: str) -> dict[str, Any]:
    kind = tool.get("type")
    if kind not in (None, "custom"):
        raise BadRequest(f"{path} of type {check.shown(kind)} is an Anthropic server tool; {model} can only call client tools")
    fn: dict[str, Any] = {"name": check.string(tool.get("name"), f"{path}.name")}
    if description := check.opt_str(tool.get("description"), f"{path}.description"):
        fn["description"] = description
    schema = check.opt_obj(tool.get("input_schema"), f"{path}.input_schema", "a JSON Schema object")
    fn["parameters"] = schema or {"type": "object", "properties": {}}
    return {"type": "function", "function": fn}


def _join_text(content: Any, where: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for path, block in check.objects(content, where, "a string or a list of text blocks"):
        if block.get("type") != "text":
            raise BadRequest(f"{path}: {where} must be a string or a list of text blocks")
        texts.append(check.opt_str(block.get("text"), f"{path}.text") or "")
    return "\n\n".join(texts)


# -- OpenAI response -> Anthropic response --------------------------------------------------------


def openai_to_anthropic_response(resp: Mapping[str, Any], model: str) -> dict[str, Any]:
    choice = (resp.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if msg.get("reasoning_content"):
        content.append({"type": "thinking", "thinking": msg["reasoning_content"], "signature": ""})
    for text in (msg.get("content"), msg.get("refusal")):
        if text:
            content.append({"type": "text", "text": text})
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") or {}
        content.append({"type": "tool_use", "id": call["id"], "name": fn.get("name"), "input": _loads_args(fn.get("arguments"))})
    stop = _TO_ANTHROPIC_STOP.get(choice.get("finish_reason") or "", "end_turn")
    if msg.get("tool_calls"):
        stop = "tool_use"  # some OpenAI-compatible servers say "stop" after a tool call
    elif msg.get("refusal"):
        stop = "refusal"
    return {
        "id": _message_id(resp.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": Usage.from_openai(resp.get("usage")).to_anthropic(),
    }


def _loads_args(raw: Any) -> dict[str, Any]:
    # A model can emit broken JSON; a Messages response must still carry an object.
    try:
        args = orjson.loads(raw) if isinstance(raw, str) and raw else {}
    except orjson.JSONDecodeError:
        return {"_raw_arguments": raw}
    return args if isinstance(args, dict) else {"_raw_arguments": raw}


def _message_id(openai_id: Any) -> str:
    return "msg_" + str(openai_id or "").removeprefix("chatcmpl-")


class OpenAIStreamToAnthropic:
    """OpenAI chunks in, Anthropic ``(event name, data)`` pairs out, in Messages stream order.

    ``message_delta`` (stop reason and usage) waits for the usage chunk that follows the finish
    chunk when ``stream_options.include_usage`` is set, then ``message_stop`` closes the stream;
    ``[DONE]`` or :meth:`finish` close it with what is known if usage never came.
    """

    def __init__(self, model: str) -> None:
        self.model = model
        self.done = False
        self._started = False
        self._open: tuple[str, int] | None = None  # (kind, block index) of the open content block
        self._blocks = 0
        self._tools: dict[int, int] = {}  # OpenAI tool call index -> content block index
        self._stop: str | None = None
        self._usage: dict[str, Any] | None = None

    @property
    def usage(self) -> Usage:
        return Usage.from_openai(self._usage)

    def feed(self, event: SSEEvent) -> list[tuple[str, dict[str, Any]]]:
        if self.done:
            return []
        data = event.data.strip()
        if data == b"[DONE]":
            return self.finish()
        if not data:
            return []
        chunk = event.json()
        if not isinstance(chunk, dict):
            return []
        if "error" in chunk:
            raise stream_error("openai", chunk)
        out = self._start(chunk)
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content"):
                out += self._block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                out.append(self._delta({"type": "thinking_delta", "thinking": delta["reasoning_content"]}))
            if delta.get("content"):
                out += self._block("text", {"type": "text", "text": ""})
                out.append(self._delta({"type": "text_delta", "text": delta["content"]}))
            for call in delta.get("tool_calls") or []:
                out += self._tool_delta(call)
            if choice.get("finish_reason"):
                self._stop = _TO_ANTHROPIC_STOP.get(choice["finish_reason"], "end_turn")
                if self._tools:
                    self._stop = "tool_use"
                out += self._close()
        if chunk.get("usage"):
            self._usage = chunk["usage"]
            if self._stop is not None:  # the usage chunk follows the finish chunk: the end
                out += self.finish()
        return out

    def finish(self) -> list[tuple[str, dict[str, Any]]]:
        """Closing events when the upstream stream ends (``[DONE]`` or connection closed)."""
        if self.done:
            return []
        self.done = True
        out = self._start({}) + self._close()
        usage = {k: v for k, v in self.usage.to_anthropic().items() if k != "cache_creation"}
        delta = {"stop_reason": self._stop or "end_turn", "stop_sequence": None}
        out.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        out.append(("message_stop", {"type": "message_stop"}))
        return out

    def _start(self, chunk: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        if self._started:
            return []
        self._started = True
        message: dict[str, Any] = {
            "id": _message_id(chunk.get("id")),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},  # OpenAI tells usage only at the end
        }
        return [("message_start", {"type": "message_start", "message": message})]

    def _block(self, kind: str, block: dict[str, Any], key: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        if self._open is not None and self._open[0] == kind and key is None:
            return []
        out = self._close()
        self._open = (kind, self._blocks)
        self._blocks += 1
        return out + [("content_block_start", {"type": "content_block_start", "index": self._open[1], "content_block": block})]

    def _close(self) -> list[tuple[str, dict[str, Any]]]:
        if self._open is None:
            return []
        index, self._open = self._open[1], None
        return [("content_block_stop", {"type": "content_block_stop", "index": index})]

    def _delta(self, delta: dict[str, Any], index: int | None = None) -> tuple[str, dict[str, Any]]:
        index = self._open[1] if index is None and self._open else index
        return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})

    def _tool_delta(self, call: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        n = call.get("index", len(self._tools))
        fn = call.get("function") or {}
        out: list[tuple[str, dict[str, Any]]] = []
        if n not in self._tools:
            block: dict[str, Any] = {"type": "tool_use", "id": call.get("id") or f"toolu_{n}", "name": fn.get("name") or "", "input": {}}
            out += self._block("tool_use", block, key=n)
            self._tools[n] = self._blocks - 1
        if fn.get("arguments"):
            out.append(self._delta({"type": "input_json_delta", "partial_json": fn["arguments"]}, self._tools[n]))
        return out
