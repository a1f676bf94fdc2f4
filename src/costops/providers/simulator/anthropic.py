"""Anthropic's Messages shape: request parsing, explicit prompt caching at ``cache_control``
breakpoints, the message, the event stream, token counting and the error body.

Usage follows the real API: ``input_tokens`` excludes cache reads and writes, which are reported
apart, the writes also split by TTL in ``cache_creation``.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from costops.providers.simulator.behaviour import make_id, parse_markers
from costops.providers.simulator.generate import Answer, Tool, Turn
from costops.providers.simulator.prompt_cache import CacheUse, MemoCounter, PrefixStore, Segment, explicit_use
from costops.providers.simulator.wire import (
    Meta,
    PromptUsage,
    SimError,
    int_or_none,
    list_or_empty,
    pieces,
    require,
    snippet,
)
from costops.tokens import content_text

ID_PREFIX = "msg_01"
TOOL_ID_PREFIX = "toolu_01"
_STOP = {"stop": "end_turn", "stop_sequence": "stop_sequence", "length": "max_tokens", "tool": "tool_use"}
_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_MEDIA_TOKENS = 1600  # an image or PDF page, roughly what the API bills for a mid-size one
_MAX_BREAKPOINTS = 4


def error_body(err: SimError) -> bytes:
    kind = _ERRORS.get(err.status, "api_error" if err.status >= 500 else "invalid_request_error")
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": err.message}})


def parse(body: dict[str, Any], model: str | None = None, *, count_only: bool = False) -> Turn:
    model = require(body, "model", str, "model: Field required")
    messages = require(body, "messages", list, "messages: Field required")
    if not all(isinstance(m, dict) and m.get("role") in ("user", "assistant") for m in messages):
        raise SimError(400, "messages: each message needs a role of 'user' or 'assistant'")
    limit = None
    if not count_only:
        if body.get("max_tokens") is None:
            raise SimError(400, "max_tokens: Field required")
        limit = int_or_none(body.get("max_tokens"), "max_tokens")
    last = messages[-1]
    last_user = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    turn = Turn(
        model=model,
        last_user=last_user,
        user_text="\n".join(_text(m.get("content")) for m in messages if m.get("role") == "user"),
        context=snippet(_text(body.get("system")))[:1000] + "\n" + snippet(last_user),
        tools=[
            Tool(str(t["name"]), t.get("input_schema") or {})
            for t in list_or_empty(body.get("tools"), "tools")
            if isinstance(t, dict) and "name" in t and "input_schema" in t
        ],
        tool_choice=_tool_choice(body.get("tool_choice")),
        after_tool_result=last.get("role") == "user" and _has(last.get("content"), "tool_result"),
        max_tokens=limit,
        stop=tuple(s for s in list_or_empty(body.get("stop_sequences"), "stop_sequences") if isinstance(s, str)),
        markers=parse_markers(last_user),
    )
    thinking = body.get("thinking") or {}
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            raise SimError(400, "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        if limit is not None and budget >= limit:
            raise SimError(400, "`max_tokens` must be greater than `thinking.budget_tokens`.")
        turn.reasoning, turn.reasoning_budget, turn.visible_reasoning = "medium", budget, True
    fmt = body.get("output_format") or {}
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        turn.json_mode, turn.json_schema = True, fmt["schema"]
    return turn


def _text(content: Any) -> str:
    """Text the user typed: text blocks only (tool results and media are not instructions)."""
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return content if isinstance(content, str) else ""


def _has(content: Any, kind: str) -> bool:
    return isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == kind for b in content)


def _tool_choice(choice: Any) -> str:
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "tool" and choice.get("name"):
        return "tool:" + str(choice["name"])
    return {"any": "required", "none": "none"}.get(kind or "", "auto")


def _segment(memo: MemoCounter, block: Any, extra: int = 0, role: str = "") -> Segment:
    if isinstance(block, dict):
        cc = block.get("cache_control")
        plain = {k: v for k, v in block.items() if k != "cache_control"} if cc else block
        media = block.get("type") in ("image", "document")
        tokens = _MEDIA_TOKENS if media else memo.count(content_text(plain) or orjson.dumps(plain).decode())
        ttl = (cc.get("ttl") or "5m") if isinstance(cc, dict) else None
        return Segment(role.encode() + orjson.dumps(plain), tokens + extra, ttl)
    text = block if isinstance(block, str) else ""
    return Segment(role.encode() + text.encode(), memo.count(text) + extra)


def segments(body: dict[str, Any], memo: MemoCounter) -> list[Segment]:
    """The prompt in cache order: tools, then system, then messages, block by block; each
    message's first block also carries its few framing tokens."""
    out = [_segment(memo, t) for t in body.get("tools") or ()]
    system = body.get("system")
    if isinstance(system, list):
        out += [_segment(memo, b, role="system:") for b in system]
    elif system:
        out.append(_segment(memo, system, role="system:"))
    for m in body["messages"]:
        content, role = m.get("content"), str(m.get("role")) + ":"
        blocks = content if isinstance(content, list) and content else [content]
        out += [_segment(memo, b, 3 if i == 0 else 0, role) for i, b in enumerate(blocks)]
    return out


def min_cacheable(model: str) -> int:
    return 2048 if "haiku" in model.lower() else 1024


def prompt_usage(body: dict[str, Any], memo: MemoCounter, store: PrefixStore | None, scope: object, now: float) -> PromptUsage:
    """Input tokens, and the cache reads and writes the breakpoints cause (none without a store:
    ``count_tokens`` must not touch the cache)."""
    parts = segments(body, memo)
    marked = sum(1 for s in parts if s.ttl)
    if marked > _MAX_BREAKPOINTS:
        raise SimError(400, f"A maximum of {_MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {marked}.")
    total = 1 + sum(s.tokens for s in parts)
    use = explicit_use(store, scope, parts, now, minimum=min_cacheable(body["model"])) if store is not None and marked else CacheUse()
    return PromptUsage(total, use.read, use.write_5m, use.write_1h)


def usage(prompt: PromptUsage, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": prompt.uncached,
        "cache_creation_input_tokens": prompt.write_5m + prompt.write_1h,
        "cache_read_input_tokens": prompt.cached,
        "cache_creation": {"ephemeral_5m_input_tokens": prompt.write_5m, "ephemeral_1h_input_tokens": prompt.write_1h},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _blocks(a: Answer, signature: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if a.reasoning_text:
        blocks.append({"type": "thinking", "thinking": a.reasoning_text, "signature": signature})
    if a.tool_calls:
        blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in a.tool_calls]
    elif a.text or not blocks:
        blocks.append({"type": "text", "text": a.text})
    return blocks


def render(body: dict[str, Any], answers: list[Answer], prompt: PromptUsage, meta: Meta) -> bytes:
    a = answers[0]
    return orjson.dumps({
        "id": meta.id,
        "type": "message",
        "role": "assistant",
        "model": meta.model,
        "content": _blocks(a, _signature(meta)),
        "stop_reason": _STOP[a.finish],
        "stop_sequence": a.stop_sequence,
        "usage": usage(prompt, a.output_tokens),
    })


def _signature(meta: Meta) -> str:
    return "Eq" + make_id(random.Random(meta.id), 86)


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def stream(body: dict[str, Any], answers: list[Answer], prompt: PromptUsage, meta: Meta) -> list[tuple[bytes, int]]:
    """message_start, then per block start / deltas / stop (a ping after the first start),
    message_delta with the stop reason and cumulative usage, message_stop."""
    a = answers[0]
    start: dict[str, Any] = {
        "id": meta.id, "type": "message", "role": "assistant", "model": meta.model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": usage(prompt, min(1, a.output_tokens)),
    }
    events = [(_event("message_start", {"type": "message_start", "message": start}), 0)]
    per_piece = max(1, a.output_tokens // max(1, len(pieces(a.text)) + len(a.tool_calls)))
    for index, block in enumerate(_blocks(a, _signature(meta))):
        kind = block["type"]
        opened: dict[str, Any]
        deltas: list[dict[str, Any]]
        if kind == "text":
            opened, deltas = {"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in pieces(block["text"])]
        elif kind == "thinking":
            opened = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        else:
            opened = {**block, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces(orjson.dumps(block["input"]).decode())]
        events.append((_event("content_block_start", {"type": "content_block_start", "index": index, "content_block": opened}), 0))
        if index == 0:
            events.append((_event("ping", {"type": "ping"}), 0))
        for delta in deltas:
            events.append((_event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}), per_piece))
        events.append((_event("content_block_stop", {"type": "content_block_stop", "index": index}), 0))
    final = usage(prompt, a.output_tokens)
    del final["cache_creation"], final["service_tier"]
    events.append((_event("message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": _STOP[a.finish], "stop_sequence": a.stop_sequence},
        "usage": final,
    }), 0))
    events.append((_event("message_stop", {"type": "message_stop"}), 0))
    return events


def count_tokens_body(prompt: PromptUsage) -> bytes:
    return orjson.dumps({"input_tokens": prompt.total})


def request_id(meta: Meta) -> str:
    return "req_01" + meta.id[len(ID_PREFIX):]
