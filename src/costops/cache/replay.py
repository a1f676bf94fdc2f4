"""One stored answer, two ways out: the neutral form of a cached answer is the client API's own
JSON response (a ``chat.completion`` or an Anthropic ``message``). A streamed miss is folded into
that JSON (:func:`openai_json_from_sse`, :func:`anthropic_json_from_sse`); a hit for a streaming
request is replayed from it as a well-formed stream in the same API (:func:`openai_sse`,
:func:`anthropic_sse`), so a streamed miss serves a later JSON hit and the reverse.
"""

from __future__ import annotations

from typing import Any

import orjson

from costops.providers.sse import SSEParser, encode_event
from costops.usage import Usage

# -- stream -> JSON ------------------------------------------------------------------------------


def json_from_sse(api: str, stream: bytes, usage: Usage) -> bytes | None:
    """The JSON answer a captured stream amounts to, or ``None`` if it ended in an error."""
    events = SSEParser().feed(stream)
    build = anthropic_json_from_sse if api == "anthropic" else openai_json_from_sse
    body = build([e.data for e in events], usage)
    return None if body is None else orjson.dumps(body)


def openai_json_from_sse(datas: list[bytes], usage: Usage) -> dict[str, Any] | None:
    head: dict[str, Any] = {}
    message: dict[str, Any] = {"role": "assistant"}
    text: list[str] = []
    reasoning: list[str] = []
    refusal: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish: str | None = None
    reported: dict[str, Any] | None = None
    for data in datas:
        if data.strip() == b"[DONE]":
            continue
        chunk = orjson.loads(data)
        if not isinstance(chunk, dict) or "error" in chunk:
            return None
        for name in ("id", "created", "model", "system_fingerprint", "service_tier"):
            if chunk.get(name) is not None:
                head[name] = chunk[name]
        if isinstance(chunk.get("usage"), dict):
            reported = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                return None  # n > 1 is never cached; be safe if one slips through
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            reasoning.append(delta.get("reasoning_content") or "")
            refusal.append(delta.get("refusal") or "")
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(call.get("index", len(calls)), {"type": "function", "function": {"name": "", "arguments": ""}})
                if call.get("id"):
                    slot["id"] = call["id"]
                fn = call.get("function") or {}
                slot["function"]["name"] += fn.get("name") or ""
                slot["function"]["arguments"] += fn.get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    content = "".join(text)
    message["content"] = content if content or not calls else None
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    message["refusal"] = "".join(refusal) or None
    if any(reasoning):
        message["reasoning_content"] = "".join(reasoning)
    out = {
        "id": head.get("id", ""),
        "object": "chat.completion",
        "created": head.get("created", 0),
        "model": head.get("model", ""),
        "choices": [{"index": 0, "message": message, "finish_reason": finish or "stop", "logprobs": None}],
        "usage": reported or usage.to_openai(),
    }
    for name in ("system_fingerprint", "service_tier"):
        if name in head:
            out[name] = head[name]
    return out


def anthropic_json_from_sse(datas: list[bytes], usage: Usage) -> dict[str, Any] | None:
    message: dict[str, Any] | None = None
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, list[str]] = {}
    for data in datas:
        event = orjson.loads(data)
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "error":
            return None
        if kind == "message_start":
            message = dict(event.get("message") or {})
        elif kind == "content_block_start":
            blocks[event["index"]] = dict(event.get("content_block") or {})
        elif kind == "content_block_delta":
            block, delta = blocks.get(event.get("index", -1)), event.get("delta") or {}
            if block is None:
                continue
            dtype = delta.get("type")
            if dtype == "text_delta":
                block["text"] = block.get("text", "") + (delta.get("text") or "")
            elif dtype == "thinking_delta":
                block["thinking"] = block.get("thinking", "") + (delta.get("thinking") or "")
            elif dtype == "signature_delta":
                block["signature"] = block.get("signature", "") + (delta.get("signature") or "")
            elif dtype == "input_json_delta":
                partial.setdefault(event["index"], []).append(delta.get("partial_json") or "")
        elif kind == "message_delta" and message is not None:
            message.update({k: v for k, v in (event.get("delta") or {}).items()})
            merged = {**(message.get("usage") or {}), **{k: v for k, v in (event.get("usage") or {}).items() if v is not None}}
            message["usage"] = merged
    if message is None:
        return None
    for index, parts in partial.items():
        text = "".join(parts)
        blocks[index]["input"] = orjson.loads(text) if text else {}
    message["content"] = [blocks[i] for i in sorted(blocks)]
    message.setdefault("usage", usage.to_anthropic())
    return message


# -- JSON -> stream ------------------------------------------------------------------------------


def sse_from_json(api: str, body: bytes, *, include_usage: bool = False) -> bytes:
    data = orjson.loads(body)
    return anthropic_sse(data) if api == "anthropic" else openai_sse(data, include_usage=include_usage)


def openai_sse(resp: dict[str, Any], *, include_usage: bool) -> bytes:
    """A ``chat.completion`` as the chunk stream OpenAI would have sent: role, content, tool calls,
    the finish chunk, the usage chunk only if the client asked (``stream_options.include_usage``),
    then ``[DONE]``."""
    base = {"id": resp.get("id", ""), "object": "chat.completion.chunk", "created": resp.get("created", 0),
            "model": resp.get("model", "")}
    for name in ("system_fingerprint", "service_tier"):
        if name in resp:
            base[name] = resp[name]
    choice = (resp.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    if msg.get("reasoning_content"):
        deltas.append({"reasoning_content": msg["reasoning_content"]})
    if msg.get("content"):
        deltas.append({"content": msg["content"]})
    if msg.get("refusal"):
        deltas.append({"refusal": msg["refusal"]})
    for i, call in enumerate(msg.get("tool_calls") or []):
        deltas.append({"tool_calls": [{"index": i, **call}]})
    out = []
    for n, delta in enumerate([*deltas, {}]):
        last = n == len(deltas)
        chunk = base | {"choices": [{"index": 0, "delta": delta, "logprobs": None,
                                     "finish_reason": choice.get("finish_reason") or "stop" if last else None}]}
        if include_usage:
            chunk["usage"] = None
        out.append(encode_event(chunk))
    if include_usage:
        out.append(encode_event(base | {"choices": [], "usage": resp.get("usage")}))
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def anthropic_sse(message: dict[str, Any]) -> bytes:
    """An Anthropic ``message`` as its full event sequence: message_start, each content block's
    start / delta / stop, message_delta (stop reason, output usage), message_stop."""
    usage = dict(message.get("usage") or {})
    start_usage = {k: v for k, v in usage.items() if k != "output_tokens"} | {"output_tokens": 1}
    head = {k: v for k, v in message.items() if k not in ("content", "stop_reason", "stop_sequence", "usage")}
    start = head | {"content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
    out = [encode_event({"type": "message_start", "message": start}, "message_start")]
    for i, block in enumerate(message.get("content") or []):
        kind = block.get("type")
        if kind == "text":
            opening, deltas = {"type": "text", "text": ""}, [{"type": "text_delta", "text": block.get("text", "")}]
        elif kind == "thinking":
            opening = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": block.get("thinking", "")},
                      {"type": "signature_delta", "signature": block.get("signature", "")}]
        elif kind == "tool_use":
            opening = {k: v for k, v in block.items() if k != "input"} | {"input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": orjson.dumps(block.get("input") or {}).decode()}]
        else:  # redacted_thinking, server tool results...: whole in the start event
            opening, deltas = block, []
        out.append(encode_event({"type": "content_block_start", "index": i, "content_block": opening}, "content_block_start"))
        for delta in deltas:
            out.append(encode_event({"type": "content_block_delta", "index": i, "delta": delta}, "content_block_delta"))
        out.append(encode_event({"type": "content_block_stop", "index": i}, "content_block_stop"))
    delta = {"stop_reason": message.get("stop_reason") or "end_turn", "stop_sequence": message.get("stop_sequence")}
    out.append(encode_event({"type": "message_delta", "delta": delta, "usage": usage}, "message_delta"))
    out.append(encode_event({"type": "message_stop"}, "message_stop"))
    return b"".join(out)
