"""OpenAI's Chat Completions shape: request parsing, implicit prompt caching, the response, the
stream chunks and the error body.

Usage follows the real API: ``prompt_tokens`` includes ``cached_tokens``, and
``completion_tokens`` includes ``reasoning_tokens``.
"""

from __future__ import annotations

import math
import random
import re
from typing import Any

import orjson

from costops.providers.simulator.behaviour import fingerprint, parse_markers
from costops.providers.simulator.generate import Answer, Tool, Turn
from costops.providers.simulator.prompt_cache import MemoCounter, PrefixStore, implicit_shared
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

ID_PREFIX = "chatcmpl-"
TOOL_ID_PREFIX = "call_"
_REASONING = ("o1", "o3", "o4", "gpt-5")
_FINISH = {"stop": "stop", "stop_sequence": "stop", "length": "length", "tool": "tool_calls"}
_ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}


def is_reasoning(model: str) -> bool:
    bare = model.rsplit("/", 1)[-1].lower()
    return bare.startswith(_REASONING) and "chat" not in bare


def error_body(err: SimError) -> bytes:
    kind, code = _ERRORS.get(err.status, ("server_error" if err.status >= 500 else "invalid_request_error", None))
    return orjson.dumps({"error": {"message": err.message, "type": kind, "param": err.param, "code": code}})


def parse(body: dict[str, Any], model: str | None = None) -> Turn:
    model = require(body, "model", str, "you must provide a model parameter")
    messages = require(body, "messages", list, "Missing required parameter: 'messages'.")
    if not all(isinstance(m, dict) and "role" in m for m in messages):
        raise SimError(400, "Invalid 'messages': each message must be an object with a 'role'.", "messages")
    reasoning = is_reasoning(model)
    if reasoning and body.get("max_tokens") is not None:
        raise SimError(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            "max_tokens",
        )
    limit = int_or_none(body.get("max_completion_tokens"), "max_completion_tokens")
    if limit is None:
        limit = int_or_none(body.get("max_tokens"), "max_tokens")
    last_user = next((content_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    system = " ".join(content_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer"))
    turn = Turn(
        model=model,
        last_user=last_user,
        user_text="\n".join(content_text(m.get("content")) for m in messages if m.get("role") == "user"),
        context=snippet(system)[:1000] + "\n" + snippet(last_user),
        tools=[
            Tool(str(fn.get("name", "")), fn.get("parameters") or {})
            for t in list_or_empty(body.get("tools"), "tools")
            if isinstance(t, dict) and isinstance(fn := t.get("function"), dict)
        ],
        tool_choice=_tool_choice(body.get("tool_choice")),
        after_tool_result=messages[-1].get("role") in ("tool", "function"),
        max_tokens=limit,
        stop=_stop(body.get("stop")),
        n=_choices(body.get("n")),
        markers=parse_markers(last_user),
    )
    if reasoning:
        effort = body.get("reasoning_effort") or (body.get("reasoning") or {}).get("effort") or "medium"
        turn.reasoning = None if effort == "none" else str(effort)
    fmt = body.get("response_format") or {}
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_object":
            turn.json_mode = True
        elif fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema")
            turn.json_mode, turn.json_schema = True, schema if isinstance(schema, dict) else None
    return turn


def _choices(value: Any) -> int:
    n = int_or_none(value, "n") or 1
    if n > 128:  # OpenAI's own limit
        raise SimError(400, f"Invalid 'n': integer above maximum value. Expected a value <= 128, but got {n} instead.", "n")
    return n


def _tool_choice(choice: Any) -> str:
    if isinstance(choice, str) and choice in ("none", "auto", "required"):
        return choice
    if isinstance(choice, dict) and isinstance(fn := choice.get("function"), dict) and fn.get("name"):
        return "tool:" + str(fn["name"])
    return "auto"


def _stop(stop: Any) -> tuple[str, ...]:
    if isinstance(stop, str):
        return (stop,)
    return tuple(s for s in stop if isinstance(s, str)) if isinstance(stop, list) else ()


def prompt_usage(body: dict[str, Any], memo: MemoCounter, store: PrefixStore, scope: object, now: float) -> PromptUsage:
    """Prompt tokens by OpenAI's message framing; cached tokens from the implicit prefix cache,
    in 128-token steps, for prompts of 1,024 tokens or more."""
    messages, tools = body["messages"], body.get("tools")
    total = memo.count_messages(messages, tools)
    if total < 1024:
        return PromptUsage(total)
    stream = [memo.tokens(orjson.dumps(tools).decode())] if tools else []
    for m in messages:
        stream.append(memo.tokens(f"<{m.get('role')}>"))
        stream.append(memo.tokens(content_text(m.get("content"))))
        if m.get("tool_calls"):
            stream.append(memo.tokens(content_text(m["tool_calls"])))
    shared = implicit_shared(store, scope, b"".join(stream), now, block=128)
    return PromptUsage(total, cached=min(shared, total // 128 * 128))


def usage(prompt: PromptUsage, answers: list[Answer]) -> dict[str, Any]:
    completion = sum(a.output_tokens + a.reasoning_tokens for a in answers)
    return {
        "prompt_tokens": prompt.total,
        "completion_tokens": completion,
        "total_tokens": prompt.total + completion,
        "prompt_tokens_details": {"cached_tokens": prompt.cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": sum(a.reasoning_tokens for a in answers),
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _tier(body: dict[str, Any]) -> str:
    return body["service_tier"] if body.get("service_tier") in ("flex", "priority") else "default"


def _message(a: Answer) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None if a.tool_calls else a.text, "refusal": None, "annotations": []}
    if a.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json}}
            for c in a.tool_calls
        ]
    return message


_PIECE = re.compile(r"\S+\s*|\s+")


def logprobs(a: Answer, response_id: str, choice: int) -> dict[str, Any]:
    """``logprobs.content`` in OpenAI's shape, one entry per word-piece, with the answer's
    confidence following its hidden grade: a passing answer's tokens average a probability drawn
    from 0.70-0.95 (so does every answer with grading off), a failing one's from 0.45-0.80, so confidence carries
    signal without telling the grade outright (the ranges overlap). A pure function of the
    response id and choice: the same answer has the same logprobs."""
    rng = random.Random(f"logprobs:{response_id}:{choice}")
    low, span = (0.70, 0.25) if a.flaw is None else (0.45, 0.35)
    base = low + span * rng.random()
    content = []
    for piece in _PIECE.findall(a.text or ""):
        p = min(0.999, max(0.01, base + 0.1 * (2 * rng.random() - 1)))
        content.append({"token": piece, "logprob": round(math.log(p), 6), "bytes": list(piece.encode()), "top_logprobs": []})
    return {"content": content, "refusal": None}


def render(body: dict[str, Any], answers: list[Answer], prompt: PromptUsage, meta: Meta) -> bytes:
    return orjson.dumps({
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [
            {"index": i, "message": _message(a), "logprobs": logprobs(a, meta.id, i) if body.get("logprobs") is True else None,
             "finish_reason": _FINISH[a.finish]}
            for i, a in enumerate(answers)
        ],
        "usage": usage(prompt, answers),
        "service_tier": _tier(body),
        "system_fingerprint": fingerprint(meta.model),
    })


def stream(body: dict[str, Any], answers: list[Answer], prompt: PromptUsage, meta: Meta) -> list[tuple[bytes, int]]:
    """SSE events with the visible tokens each carries: a role chunk, content (or tool-call
    argument) chunks, a finish chunk per choice, the usage chunk if asked for, ``[DONE]``."""
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    head = {
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "service_tier": _tier(body),
        "system_fingerprint": fingerprint(meta.model),
    }

    def chunk(choices: list[dict[str, Any]], last: dict[str, Any] | None = None) -> bytes:
        payload = {**head, "choices": choices}
        if with_usage:
            payload["usage"] = last
        return b"data: " + orjson.dumps(payload) + b"\n\n"

    def choice(i: int, delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"index": i, "delta": delta, "logprobs": None, "finish_reason": finish}]

    events: list[tuple[bytes, int]] = []
    for i, a in enumerate(answers):
        if a.tool_calls:
            for k, c in enumerate(a.tool_calls):
                start = {"index": k, "id": c.id, "type": "function", "function": {"name": c.name, "arguments": ""}}
                delta: dict[str, Any] = {"tool_calls": [start]}
                if k == 0:
                    delta = {"role": "assistant", "content": None, "refusal": None, **delta}
                events.append((chunk(choice(i, delta)), 0))
                parts = pieces(c.arguments_json)
                for part in parts:
                    args = {"tool_calls": [{"index": k, "function": {"arguments": part}}]}
                    events.append((chunk(choice(i, args)), max(1, a.output_tokens // max(1, len(parts)))))
        else:
            events.append((chunk(choice(i, {"role": "assistant", "content": "", "refusal": None})), 0))
            parts = pieces(a.text) if a.text else []
            for part in parts:
                events.append((chunk(choice(i, {"content": part})), max(1, a.output_tokens // max(1, len(parts)))))
        events.append((chunk(choice(i, {}, _FINISH[a.finish])), 0))
    if with_usage:
        events.append((chunk([], usage(prompt, answers)), 0))
    events.append((b"data: [DONE]\n\n", 0))
    return events


def models_list(created: int) -> bytes:
    data = [{"id": m, "object": "model", "created": created, "owned_by": "system"} for m in MODELS]
    return orjson.dumps({"object": "list", "data": data})


def model_object(model: str, created: int) -> bytes:
    return orjson.dumps({"id": model, "object": "model", "created": created, "owned_by": "system"})


MODELS = (
    "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-5", "gpt-5-mini", "gpt-5-nano",
    "o3", "o3-mini", "o4-mini", "text-embedding-3-small", "text-embedding-3-large",
)
