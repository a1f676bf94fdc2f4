"""OpenAI Chat Completions -> Gemini ``generateContent`` and back: pure functions, a stream translator.

    OpenAI client -> Gemini     openai_to_gemini_request + gemini_path, then
                                gemini_to_openai_response | GeminiStreamToOpenAI
    embeddings                  openai_to_gemini_embed_request, gemini_to_openai_embeddings

Gemini has no tool call ids: a ``functionResponse`` names its function instead, so a ``tool``
message's name is looked up from the assistant tool call it answers, and the ids handed to
clients are generated (``call_<n>``, per response). The same id may therefore appear in two
turns of one conversation; the lookup takes the latest call with that id, which is the one
being answered. Nothing here does I/O or mutates its input.
"""

from __future__ import annotations

import base64
import mimetypes
import sys
import time
from array import array
from collections.abc import Mapping
from typing import Any

import orjson

from costops.errors import BadRequest
from costops.providers import validate as check
from costops.providers.errors_format import stream_error
from costops.providers.sse import SSEEvent
from costops.usage import Usage

__all__ = [
    "SKIP_SIGNATURE",
    "gemini_path",
    "gemini_schema",
    "openai_to_gemini_request",
    "gemini_to_openai_response",
    "GeminiStreamToOpenAI",
    "openai_to_gemini_embed_request",
    "gemini_to_openai_embeddings",
]

SKIP_SIGNATURE = "skip_thought_signature_validator"
"""Google's documented stand-in for a lost ``thoughtSignature``: Gemini 3 rejects a replayed
``functionCall`` without one, and OpenAI clients have nowhere to keep the real one."""
THINKING_BUDGETS = {"low": 1024, "medium": 8192, "high": 24576}
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "MALFORMED_FUNCTION_CALL": "stop", "OTHER": "stop"}
_FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE"}
# JSON Schema keys Gemini's OpenAPI-subset Schema rejects.
_SCHEMA_DROP = {
    "$schema", "$id", "$comment", "$defs", "definitions", "additionalProperties", "unevaluatedProperties",
    "patternProperties", "strict", "examples", "if", "then", "else", "not", "dependentRequired",
    "dependentSchemas", "contentEncoding", "contentMediaType", "readOnly", "writeOnly",
}  # fmt: skip
_STRING_FORMATS = {"enum", "date-time"}


def gemini_path(model: str, stream: bool) -> str:
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"/v1beta/models/{model}:{action}"


# -- request ---------------------------------------------------------------------------------------


def openai_to_gemini_request(body: Mapping[str, Any]) -> dict[str, Any]:
    system, contents = _gemini_contents(body.get("messages"))
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": [{"text": t} for t in system]}
    declarations = [_declaration(t, path) for path, t in check.objects(body.get("tools"), "tools")]
    if declarations:
        out["tools"] = [{"functionDeclarations": declarations}]
        if (config := _calling_config(body.get("tool_choice"))) is not None:
            out["toolConfig"] = {"functionCallingConfig": config}
    gen: dict[str, Any] = {}
    for src, dst in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("n", "candidateCount"),
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        if body.get(src) is not None:
            gen[dst] = body[src]
    limit = next((body[k] for k in ("max_completion_tokens", "max_tokens") if body.get(k) is not None), None)
    if limit is not None:
        gen["maxOutputTokens"] = limit
    if stop := check.str_list(body.get("stop"), "stop", single=True):
        gen["stopSequences"] = stop
    fmt = check.opt_obj(body.get("response_format"), "response_format")
    if fmt.get("type") in ("json_object", "json_schema"):
        gen["responseMimeType"] = "application/json"
        json_schema = check.opt_obj(fmt.get("json_schema"), "response_format.json_schema")
        if schema := check.opt_obj(json_schema.get("schema"), "response_format.json_schema.schema"):
            gen["responseSchema"] = gemini_schema(schema, where="response_format.json_schema.schema")
    if budget := THINKING_BUDGETS.get(str(body.get("reasoning_effort"))):
        gen["thinkingConfig"] = {"thinkingBudget": budget}
    if body.get("logprobs") is True:
        gen["responseLogprobs"] = True
    if gen:
        out["generationConfig"] = gen
    return out


_ROLES = ("system", "developer", "user", "assistant", "tool")


def _gemini_contents(messages: Any) -> tuple[list[str], list[dict[str, Any]]]:
    if not isinstance(messages, list) or not messages:
        raise check.invalid("messages", "a non-empty list", messages)
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id -> function name, latest call wins
    for where, msg in check.objects(messages, "messages"):
        role, content = check.one_of(msg.get("role"), f"{where}.role", _ROLES), msg.get("content")
        if role in ("system", "developer"):
            system.extend(p["text"] for p in _parts(content, where, media=False))
        elif role == "user":
            _add(contents, "user", _parts(content, where, media=True))
        elif role == "assistant":
            parts = _parts(content, where, media=False)
            first = True
            for path, call in check.objects(msg.get("tool_calls"), f"{where}.tool_calls"):
                call_id, name, args = check.function_call(call, path)
                names[call_id] = name
                part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
                if first:  # Gemini signs the first call of a turn only (parallel calls share it)
                    part["thoughtSignature"] = SKIP_SIGNATURE
                    first = False
                parts.append(part)
            _add(contents, "model", parts)
        else:  # tool
            call_id = check.string(msg.get("tool_call_id"), f"{where}.tool_call_id")
            if call_id not in names:
                raise BadRequest(
                    f"{where}: tool message answers tool_call_id {call_id!r}, but no earlier assistant message has a tool call with that id"
                )
            text = "".join(p["text"] for p in _parts(content, where, media=False))
            response = {"name": names[call_id], "response": _tool_response(text)}
            _add(contents, "user", [{"functionResponse": response}])
    if not contents:
        raise BadRequest("messages has no user or assistant message; Gemini needs at least one")
    return system, contents


def _add(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    if not parts:
        return
    if contents and contents[-1]["role"] == role:  # parallel function responses belong in one turn
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def _parts(content: Any, where: str, *, media: bool) -> list[dict[str, Any]]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"text": content}]
    parts: list[dict[str, Any]] = []
    for path, part, kind in check.content_parts(content, where):
        if kind in ("text", "refusal"):
            if text := check.opt_str(part.get(kind), f"{path}.{kind}"):
                parts.append({"text": text})
        elif media and kind == "image_url":
            image = part.get("image_url")
            url = check.obj(image, f"{path}.image_url", "an object with a url").get("url") if not isinstance(image, str) else image
            parts.append(_media_part(url, f"{path}.image_url.url"))
        elif media and kind == "file":
            parts.append(_media_part(check.opt_obj(part.get("file"), f"{path}.file").get("file_data"), f"{path}.file.file_data"))
        elif media and kind == "input_audio":
            audio = check.obj(part.get("input_audio"), f"{path}.input_audio", "an object with data and format")
            data = check.string(audio.get("data"), f"{path}.input_audio.data", "base64 audio")
            fmt = check.opt_str(audio.get("format"), f"{path}.input_audio.format") or "wav"
            parts.append({"inlineData": {"mimeType": f"audio/{fmt}", "data": data}})
        else:
            raise BadRequest(f"{path}: content part of type {kind!r} cannot be sent to Gemini here")
    return parts


def _media_part(url: Any, path: str) -> dict[str, Any]:
    url = check.string(url, path, "a data: URL or a file URL")
    if url.startswith("data:"):
        head, sep, data = url.partition(",")
        if not sep or not head.endswith(";base64"):
            raise BadRequest(f"{path}: data URLs must be base64 encoded (data:<type>;base64,<data>)")
        return {"inlineData": {"mimeType": head[5:].split(";")[0], "data": data}}
    mime = mimetypes.guess_type(url.split("?")[0])[0] or "image/jpeg"
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _tool_response(text: str) -> dict[str, Any]:
    # functionResponse.response must be an object: a JSON object result goes as is, the rest wrapped.
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"result": text}
    return value if isinstance(value, dict) else {"result": value}


def _declaration(tool: Mapping[str, Any], path: str) -> dict[str, Any]:
    name, description, parameters = check.function_tool(tool, path, "Gemini")
    out: dict[str, Any] = {"name": name}
    if description:
        out["description"] = description
    params = gemini_schema(parameters, where=f"{path}.function.parameters")
    if params.get("properties"):  # Gemini rejects an OBJECT with empty properties: omit it
        out["parameters"] = params
    return out


def _calling_config(choice: Any) -> dict[str, Any] | None:
    name = check.tool_choice_name(choice)
    if name is not None:
        return {"mode": "ANY", "allowedFunctionNames": [name]}
    if choice is None:
        return None
    return {"mode": "ANY"} if choice == "required" else {"mode": choice.upper()}


def gemini_schema(schema: Any, *, where: str = "schema") -> dict[str, Any]:
    """A JSON Schema cut down to what Gemini's Schema accepts: local $refs inlined, nullable types.

    ``where`` names the schema in the client's request, for the message when it is malformed."""
    if not isinstance(schema, Mapping):
        return {}
    defs: dict[str, Any] = {}
    for key in ("definitions", "$defs"):
        defs.update(check.opt_obj(schema.get(key), f"{where}.{key}"))
    return _clean(schema, defs, 0, where)


def _clean(node: Mapping[str, Any], defs: Mapping[str, Any], depth: int, where: str) -> dict[str, Any]:
    if depth > 32:
        raise BadRequest(f"{where} nests too deep (a recursive $ref?); Gemini needs a finite schema")
    if isinstance(ref := node.get("$ref"), str):
        name = ref.rsplit("/", 1)[-1]
        if not isinstance(defs.get(name), Mapping):
            raise BadRequest(f"{where}: $ref {ref!r} does not point to a schema in the schema's own $defs")
        return _clean({**defs[name], **{k: val for k, val in node.items() if k != "$ref"}}, defs, depth + 1, where)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SCHEMA_DROP:
            continue
        if key == "properties":
            props = check.obj(value, f"{where}: properties", "an object of schemas")
            out[key] = {name: _clean(sub, defs, depth + 1, where) for name, sub in props.items() if isinstance(sub, Mapping)}
        elif key == "items" and isinstance(value, Mapping):
            out[key] = _clean(value, defs, depth + 1, where)
        elif key in ("anyOf", "oneOf", "allOf"):
            subs = check.opt_list(value, f"{where}: {key}", "a list of schemas")
            out[key] = [_clean(sub, defs, depth + 1, where) for sub in subs if isinstance(sub, Mapping)]
        elif key == "required":
            out[key] = check.str_list(value, f"{where}: required")
        else:
            out[key] = value
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if isinstance(types := out.get("type"), list):  # ["string", "null"] -> string, nullable
        kept = [t for t in types if t != "null"]
        if len(kept) < len(types):
            out["nullable"] = True
        if len(kept) == 1:
            out["type"] = kept[0]
        else:
            del out["type"]
            out["anyOf"] = [{"type": t} for t in kept]
    variants = out.pop("oneOf", None) or out.pop("anyOf", None)
    if variants is not None:
        kept_variants = [sub for sub in variants if sub.get("type") != "null"]
        if len(kept_variants) < len(variants):
            out["nullable"] = True
        if len(kept_variants) == 1:
            out = {**kept_variants[0], **out}
        elif kept_variants:
            out["anyOf"] = kept_variants
    if (all_of := out.pop("allOf", None)) is not None:
        for sub in all_of:  # Gemini has no allOf: merge the parts
            out = {**sub, **out, "properties": {**sub.get("properties", {}), **out.get("properties", {})}}
            out["required"] = [*sub.get("required", []), *out.get("required", [])]
        for key in ("properties", "required"):
            if not out.get(key):
                out.pop(key, None)
    if out.get("type") == "string" and out.get("format") not in (None, *_STRING_FORMATS):
        del out["format"]
    if out.get("properties") == {}:
        del out["properties"]
    return out


# -- response --------------------------------------------------------------------------------------


def _finish(reason: str | None, has_calls: bool) -> str:
    if reason in _FILTERED:
        return "content_filter"
    if has_calls:
        return "tool_calls"
    return _FINISH.get(reason or "STOP", "stop")


def _completion_id(request_id: str) -> str:
    return request_id if request_id.startswith("chatcmpl-") else f"chatcmpl-{request_id}"


def _response_id(resp: Mapping[str, Any], fallback: str) -> str:
    """Gemini's own ``responseId`` when it gives one (so the answer can be found again at the
    provider: feedback, the simulator's grades), else the gateway's request id."""
    given = resp.get("responseId")
    return _completion_id(given) if isinstance(given, str) and given else fallback


def _tool_call(call: Mapping[str, Any], n: int) -> dict[str, Any]:
    args = orjson.dumps(call.get("args") or {}).decode()
    return {"id": call.get("id") or f"call_{n}", "type": "function", "function": {"name": call.get("name", ""), "arguments": args}}


def _logprobs(result: Any) -> dict[str, Any] | None:
    """Gemini's ``logprobsResult.chosenCandidates`` (asked for with ``responseLogprobs``) in
    OpenAI's ``logprobs.content`` shape, so a client, and the cascade's confidence check, read one
    shape whichever provider answered. None when the provider gave none."""
    if not isinstance(result, Mapping) or not isinstance(chosen := result.get("chosenCandidates"), list):
        return None
    content = [
        {"token": token, "logprob": c["logProbability"], "bytes": list(token.encode()), "top_logprobs": []}
        for c in chosen
        if isinstance(c, Mapping) and isinstance(token := c.get("token"), str)
        and isinstance(c.get("logProbability"), (int, float))
    ]
    return {"content": content, "refusal": None}


def gemini_to_openai_response(resp: Mapping[str, Any], model: str, request_id: str, *, created: int | None = None) -> dict[str, Any]:
    choices = []
    calls_made = 0
    for i, cand in enumerate(resp.get("candidates") or []):
        text, reasoning, calls = [], [], []
        for part in (cand.get("content") or {}).get("parts") or []:
            if "functionCall" in part:
                calls.append(_tool_call(part["functionCall"], calls_made))
                calls_made += 1
            elif part.get("thought"):
                reasoning.append(part.get("text") or "")
            elif "text" in part:
                text.append(part["text"])
        message: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text or not calls else None}
        if calls:
            message["tool_calls"] = calls
        if reasoning:
            message["reasoning_content"] = "".join(reasoning)
        finish = _finish(cand.get("finishReason"), bool(calls))
        choices.append({"index": cand.get("index", i), "message": message, "finish_reason": finish,
                        "logprobs": _logprobs(cand.get("logprobsResult"))})
    if not choices:  # the prompt itself was blocked (promptFeedback.blockReason): no candidates at all
        message = {"role": "assistant", "content": ""}
        choices.append({"index": 0, "message": message, "finish_reason": "content_filter", "logprobs": None})
    return {
        "id": _response_id(resp, _completion_id(request_id)),
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "choices": choices,
        "usage": Usage.from_gemini(resp.get("usageMetadata")).to_openai(),
    }


class GeminiStreamToOpenAI:
    """Gemini ``streamGenerateContent?alt=sse`` events in, OpenAI chunks out.

    Gemini sends whole function calls (never argument fragments) and repeats a cumulative
    ``usageMetadata`` on every event, so the last one is the total. Call :meth:`finish` when the
    upstream stream ends: Gemini has no ``[DONE]``.
    """

    usage_runs = True
    """The usage so far is Gemini's own count of what it sent: a stream that breaks off is priced from it."""

    def __init__(self, model: str, request_id: str, *, include_usage: bool, created: int | None = None) -> None:
        self.model = model
        self.id = _completion_id(request_id)
        self.include_usage = include_usage
        self.created = int(time.time()) if created is None else created
        self.done = False
        self._meta: dict[str, Any] = {}
        self._started: set[int] = set()
        self._finished: set[int] = set()
        self._calls: dict[int, int] = {}  # candidate index -> tool calls sent so far
        self._calls_made = 0

    @property
    def usage(self) -> Usage:
        return Usage.from_gemini(self._meta)

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        if self.done or not event.data.strip():
            return []
        data = event.json()
        if isinstance(data, list) and data:
            data = data[0]
        if not isinstance(data, dict):
            return []
        if "error" in data:
            raise stream_error("gemini", data)
        if data.get("usageMetadata"):
            self._meta = data["usageMetadata"]
        if not self._started:
            self.id = _response_id(data, self.id)
        out: list[dict[str, Any]] = []
        candidates = data.get("candidates") or []
        if not candidates and (data.get("promptFeedback") or {}).get("blockReason"):
            out += self._start(0) + [self._chunk(0, {}, "content_filter")]
            self._finished.add(0)
        for i, cand in enumerate(candidates):
            index = cand.get("index", i)
            if index in self._finished:
                continue
            out += self._start(index)
            for part in (cand.get("content") or {}).get("parts") or []:
                if "functionCall" in part:
                    n = self._calls.get(index, 0)
                    self._calls[index] = n + 1
                    call = {"index": n, **_tool_call(part["functionCall"], self._calls_made)}
                    self._calls_made += 1
                    out.append(self._chunk(index, {"tool_calls": [call]}))
                elif part.get("text"):
                    key = "reasoning_content" if part.get("thought") else "content"
                    out.append(self._chunk(index, {key: part["text"]}))
            if reason := cand.get("finishReason"):
                self._finished.add(index)
                out.append(self._chunk(index, {}, _finish(reason, index in self._calls)))
        return out

    def finish(self) -> list[dict[str, Any]]:
        """The closing chunks: a finish_reason for any choice still open, then usage if asked for."""
        if self.done:
            return []
        self.done = True
        out = self._start(0)
        for index in sorted(self._started - self._finished):
            out.append(self._chunk(index, {}, "tool_calls" if index in self._calls else "stop"))
        if self.include_usage:
            base = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}
            out.append(base | {"choices": [], "usage": self.usage.to_openai()})
        return out

    def _start(self, index: int) -> list[dict[str, Any]]:
        if index in self._started:
            return []
        self._started.add(index)
        return [self._chunk(index, {"role": "assistant", "content": ""})]

    def _chunk(self, index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}
        chunk = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model, "choices": [choice]}
        if self.include_usage:
            chunk["usage"] = None
        return chunk


# -- embeddings ------------------------------------------------------------------------------------


def openai_to_gemini_embed_request(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """An OpenAI ``/v1/embeddings`` body as a ``batchEmbedContents`` body (one request per input)."""
    inputs = body.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(x, str) for x in inputs):
        raise BadRequest("input must be a string or a non-empty list of strings; Gemini cannot embed token arrays")
    name = model if model.startswith("models/") else f"models/{model}"
    extra = {"outputDimensionality": body["dimensions"]} if body.get("dimensions") else {}
    return {"requests": [{"model": name, "content": {"parts": [{"text": text}]}, **extra} for text in inputs]}


def gemini_to_openai_embeddings(resp: Mapping[str, Any], model: str, *, encoding_format: str | None = None) -> dict[str, Any]:
    """``batchEmbedContents``'s answer as OpenAI's list; ``base64`` packs float32 little-endian,
    which is what the OpenAI SDK asks for by default. Gemini reports no token usage here."""
    data = []
    for i, emb in enumerate(resp.get("embeddings") or []):
        values = [float(v) for v in emb.get("values") or []]
        vector: Any = values
        if encoding_format == "base64":
            packed = array("f", values)
            if sys.byteorder == "big":
                packed.byteswap()
            vector = base64.b64encode(packed.tobytes()).decode()
        data.append({"object": "embedding", "index": i, "embedding": vector})
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": 0, "total_tokens": 0}}

