"""Gemini's generateContent shape: request parsing (camelCase, and snake_case as the REST API
also accepts), implicit prompt caching, the response, SSE chunks and the error body.

Usage follows the real API: ``promptTokenCount`` includes ``cachedContentTokenCount``;
``thoughtsTokenCount`` is billed as output but is not inside ``candidatesTokenCount``.
"""

from __future__ import annotations

from typing import Any

import orjson

from costops.providers.simulator.behaviour import parse_markers
from costops.providers.simulator.generate import Answer, Tool, Turn
from costops.providers.simulator.openai import logprobs as openai_logprobs
from costops.providers.simulator.prompt_cache import MemoCounter, PrefixStore, implicit_shared
from costops.providers.simulator.wire import Meta, PromptUsage, SimError, pieces, snippet
from costops.tokens import content_text

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_FINISH = {"stop": "STOP", "stop_sequence": "STOP", "length": "MAX_TOKENS", "tool": "STOP"}
TOOL_ID_PREFIX = ""  # Gemini function calls carry no id


def error_body(err: SimError) -> bytes:
    status = _STATUS.get(err.status, "INTERNAL" if err.status >= 500 else "INVALID_ARGUMENT")
    return orjson.dumps({"error": {"code": err.status, "message": err.message, "status": status}})


def get(obj: Any, camel: str, default: Any = None) -> Any:
    """A field by its camelCase name or its snake_case twin."""
    if not isinstance(obj, dict):
        return default
    if camel in obj:
        return obj[camel]
    snake = "".join("_" + c.lower() if c.isupper() else c for c in camel)
    return obj.get(snake, default)


def is_thinking(model: str) -> bool:
    bare = model.rsplit("/", 1)[-1].lower()
    return bare.startswith(("gemini-2.5", "gemini-3"))


def _parts(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"text": content}]
    parts = get(content, "parts") or []
    return parts if isinstance(parts, list) else []


def _text(parts: list[Any]) -> str:
    return "\n".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def parse(body: dict[str, Any], model: str | None = None) -> Turn:
    contents = body.get("contents")
    if isinstance(contents, dict):
        contents = body["contents"] = [contents]
    if not isinstance(contents, list) or not contents:
        raise SimError(400, "* GenerateContentRequest.contents: contents is not specified")
    if not all(isinstance(c, dict) for c in contents):
        raise SimError(400, "* GenerateContentRequest.contents: each content must be an object")
    model = model or ""
    config = get(body, "generationConfig") or {}
    last_user = next((_text(_parts(c)) for c in reversed(contents) if c.get("role", "user") == "user"), "")
    tools = [
        Tool(str(fd.get("name", "")), get(fd, "parameters") or get(fd, "parametersJsonSchema") or {})
        for t in get(body, "tools") or ()
        for fd in get(t, "functionDeclarations") or ()
        if isinstance(fd, dict)
    ]
    calling = get(get(body, "toolConfig"), "functionCallingConfig") or {}
    mode, allowed = str(calling.get("mode", "AUTO")).upper(), get(calling, "allowedFunctionNames") or []
    choice = {"NONE": "none", "ANY": "required"}.get(mode, "auto")
    if mode == "ANY" and len(allowed) == 1:
        choice = "tool:" + str(allowed[0])
    limit = get(config, "maxOutputTokens")
    stops = get(config, "stopSequences") or ()
    turn = Turn(
        model=model,
        last_user=last_user,
        user_text="\n".join(_text(_parts(c)) for c in contents if c.get("role", "user") == "user"),
        context=snippet(_text(_parts(get(body, "systemInstruction"))))[:1000] + "\n" + snippet(last_user),
        tools=tools,
        tool_choice=choice,
        after_tool_result=any(isinstance(p, dict) and get(p, "functionResponse") for p in _parts(contents[-1])),
        max_tokens=limit if isinstance(limit, int) and limit > 0 else None,
        stop=tuple(s for s in stops if isinstance(s, str)),
        n=max(1, int(get(config, "candidateCount") or 1)),
        markers=parse_markers(last_user),
    )
    thinking = get(config, "thinkingConfig") or {}
    budget = get(thinking, "thinkingBudget")
    if is_thinking(model) and budget != 0:
        level = str(get(thinking, "thinkingLevel") or "medium").lower()
        turn.reasoning = level if level in ("low", "high") else "medium"
        turn.reasoning_budget = budget if isinstance(budget, int) and budget > 0 else None
    schema = get(config, "responseJsonSchema") or get(config, "responseSchema")
    if get(config, "responseMimeType") == "application/json" or isinstance(schema, dict):
        turn.json_mode, turn.json_schema = True, schema if isinstance(schema, dict) else None
    return turn


def prompt_usage(body: dict[str, Any], memo: MemoCounter, store: PrefixStore | None, scope: object, now: float) -> PromptUsage:
    """Prompt tokens (an estimate: Gemini's tokenizer is not offline); the implicit cache reports
    the shared prefix as found, in 32-token blocks, scaled to the estimate."""
    texts = [_text(_parts(get(body, "systemInstruction")))]
    tools = get(body, "tools")
    if tools:
        texts.append(orjson.dumps(tools).decode())
    for c in body["contents"]:
        texts.append(f"<{c.get('role', 'user')}>")
        texts.extend(content_text(p) if isinstance(p, dict) else "" for p in _parts(c))
    total = sum(memo.count(t) for t in texts if t)
    if total < 1024 or store is None:
        return PromptUsage(total)
    stream = b"".join(memo.tokens(t) for t in texts if t)
    shared = implicit_shared(store, scope, stream, now, block=32)
    raw = len(stream) // 4 or 1
    return PromptUsage(total, cached=min(total, round(shared * total / raw)))


def usage(prompt: PromptUsage, answers: list[Answer], candidates: int | None = None) -> dict[str, Any]:
    out = sum(a.output_tokens for a in answers) if candidates is None else candidates
    thoughts = sum(a.reasoning_tokens for a in answers)
    meta: dict[str, Any] = {
        "promptTokenCount": prompt.total,
        "candidatesTokenCount": out,
        "totalTokenCount": prompt.total + out + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt.total}],
    }
    if prompt.cached:
        meta["cachedContentTokenCount"] = prompt.cached
        meta["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt.cached}]
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
    return meta


def _content(a: Answer) -> dict[str, Any]:
    if a.tool_calls:
        parts: list[dict[str, Any]] = [{"functionCall": {"name": c.name, "args": c.arguments}} for c in a.tool_calls]
    else:
        parts = [{"text": a.text}] if a.text else []
    return {"parts": parts, "role": "model"} if parts else {"role": "model"}


def _logprobs(a: Answer, meta: Meta, index: int) -> dict[str, Any]:
    """``avgLogprobs`` and ``logprobsResult`` as Gemini gives them with ``responseLogprobs``: the
    same per-token probabilities as the OpenAI simulator's (they follow the hidden grade)."""
    tokens = openai_logprobs(a, meta.id, index)["content"]
    chosen = [{"token": t["token"], "logProbability": t["logprob"]} for t in tokens]
    average = sum(c["logProbability"] for c in chosen) / len(chosen) if chosen else 0.0
    return {"avgLogprobs": average, "logprobsResult": {"topCandidates": [], "chosenCandidates": chosen}}


def render(body: dict[str, Any], answers: list[Answer], prompt: PromptUsage, meta: Meta) -> bytes:
    asked = get(get(body, "generationConfig") or {}, "responseLogprobs") is True
    return orjson.dumps({
        "candidates": [
            {"content": _content(a), "finishReason": _FINISH[a.finish], "index": i}
            | (_logprobs(a, meta, i) if asked else {})
            for i, a in enumerate(answers)
        ],
        "usageMetadata": usage(prompt, answers),
        "modelVersion": meta.model,
        "responseId": meta.id,
    })


def stream(body: dict[str, Any], answers: list[Answer], prompt: PromptUsage, meta: Meta) -> list[tuple[bytes, int]]:
    """One ``data:`` chunk per few words; usage cumulative in each, complete in the last."""
    events: list[tuple[bytes, int]] = []
    total_out = sum(a.output_tokens for a in answers)
    done = 0.0
    for i, a in enumerate(answers):
        calls = [{"functionCall": {"name": c.name, "args": c.arguments}} for c in a.tool_calls]
        chunks: list[list[dict[str, Any]]]
        if calls:
            chunks = [[p] for p in calls]
        else:
            chunks = [[{"text": t}] for t in pieces(a.text)] if a.text else [[]]
        size = sum(len(orjson.dumps(c)) for c in chunks) or 1
        for k, chunk_parts in enumerate(chunks):
            share = a.output_tokens * len(orjson.dumps(chunk_parts)) / size
            done += share
            last = i == len(answers) - 1 and k == len(chunks) - 1
            candidate: dict[str, Any] = {"content": {"parts": chunk_parts, "role": "model"}, "index": i}
            if k == len(chunks) - 1:
                candidate["finishReason"] = _FINISH[a.finish]
            so_far = usage(prompt, answers, None if last else min(total_out, round(done)))
            payload = {"candidates": [candidate], "usageMetadata": so_far, "modelVersion": meta.model, "responseId": meta.id}
            events.append((b"data: " + orjson.dumps(payload) + b"\r\n\r\n", int(share)))
    return events


def count_tokens_body(prompt: PromptUsage) -> bytes:
    return orjson.dumps({"totalTokens": prompt.total, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt.total}]})
