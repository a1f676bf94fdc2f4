"""One client call against one deployment: the upstream request, and the way back.

The client speaks one API (OpenAI or Anthropic), the deployment another or the same. An
``Exchange`` hides which: it builds the upstream body, turns the upstream answer into the
client's shape, and reads the usage on the way. Same-API exchanges forward bytes untouched
where they can; streams are relayed chunk by chunk, parsing only the events that carry usage.
A translated answer names the model that answered (the one called), never the client's alias,
as a same-API answer does with the provider's own name for it.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from costops.errors import BadRequest, UpstreamError
from costops.providers.anthropic_client_format import is_reasoning_model
from costops.providers.sse import SSEEvent, SSEParser, encode_event
from costops.providers.validate import opt_obj
from costops.usage import Usage


class StreamRelay(Protocol):
    @property
    def usage(self) -> Usage:
        """What the provider reported so far (the last report wins: providers send running totals)."""
        ...

    def feed(self, chunk: bytes) -> bytes:
        """Upstream bytes in, bytes for the client out (possibly empty)."""
        ...

    def close(self) -> bytes:
        """Whatever the client still needs once the upstream stream has ended."""
        ...

    def delivered(self) -> str:
        """The text passed to the client so far (answer, reasoning, tool calls), for pricing a
        stream that broke off before the provider's final count; "" when the provider's own
        counts run as the stream goes (Gemini's), so they already cover it."""
        ...


class Exchange(Protocol):
    path: str
    stream: bool

    def request_body(self) -> bytes: ...

    def response(self, body: bytes) -> tuple[bytes, Usage]: ...

    def relay(self) -> StreamRelay: ...


def make_exchange(
    api: str, endpoint: str, kind: str, body: dict[str, Any], raw: bytes, model: str, request_id: str
) -> Exchange:
    """The exchange for a client ``api`` (openai | anthropic) calling a deployment of ``kind``."""
    if endpoint == "embeddings":
        if kind == "gemini":
            return OpenAIToGeminiEmbeddings(body, model)
        if kind != "openai":
            raise BadRequest(f"{model!r} is on an {kind} deployment, which has no embeddings API")
        return OpenAIPassthrough(body, raw, model, "/embeddings")
    if api == "openai":
        if kind == "openai":
            return OpenAIPassthrough(body, raw, model, "/chat/completions")
        if kind == "anthropic":
            return OpenAIToAnthropic(body, model)
        if kind == "gemini":
            return OpenAIToGemini(body, model, request_id)
    if api == "anthropic":
        if kind == "anthropic":
            return AnthropicPassthrough(body, raw, model)
        if kind == "openai":
            return AnthropicToOpenAI(body, model)
        if kind == "gemini":
            return AnthropicToGemini(body, model, request_id)
    raise BadRequest(f"cannot send a {api} request to a {kind} deployment")


_UNREADABLE = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError, RecursionError)


def _reads_upstream(response: Callable[[Any, bytes], tuple[bytes, Usage]]) -> Callable[[Any, bytes], tuple[bytes, Usage]]:
    """An answer that does not read as the provider's API (not JSON, a list, a block without its
    id) is the provider failing us: an :class:`UpstreamError` (502), never a crash."""

    @functools.wraps(response)
    def read(self: Any, body: bytes) -> tuple[bytes, Usage]:
        try:
            return response(self, body)
        except _UNREADABLE as exc:
            raise UpstreamError(f"unreadable response from the provider ({type(exc).__name__}: {exc})") from None

    return read


def _include_usage(body: dict[str, Any]) -> bool:
    """``stream_options.include_usage``; a ``stream_options`` that is not an object is the client's 400."""
    return bool(opt_obj(body.get("stream_options"), "stream_options").get("include_usage"))


# -- OpenAI client, OpenAI-compatible deployment ---------------------------------------------


class OpenAIPassthrough:
    def __init__(self, body: dict[str, Any], raw: bytes, model: str, path: str) -> None:
        self.path = path
        self.stream = bool(body.get("stream"))
        self.client_wants_usage = _include_usage(body)
        self._body, self._raw, self._model = body, raw, model

    def request_body(self) -> bytes:
        body, changed = self._body, self._body.get("model") != self._model
        if b"cache_control" in self._raw:  # marked for Claude, sent to OpenAI (fallback, route): unmark
            from costops.cache.prompt import without_cache_control

            body, changed = without_cache_control(body), True
        if changed and "max_tokens" in body and "max_completion_tokens" not in body and is_reasoning_model(self._model):
            # routed to an o-series or gpt-5 model, which refuses max_tokens: the same cap, in its name
            body = {k: v for k, v in body.items() if k != "max_tokens"} | {"max_completion_tokens": body["max_tokens"]}
        if self.stream and not self.client_wants_usage:  # ask for usage; the relay hides it again
            body = {**body, "stream_options": {**(body.get("stream_options") or {}), "include_usage": True}}
            changed = True
        if not changed:
            return self._raw
        return orjson.dumps({**body, "model": self._model})

    @_reads_upstream
    def response(self, body: bytes) -> tuple[bytes, Usage]:
        data = orjson.loads(body)
        return body, Usage.from_openai(data.get("usage") if isinstance(data, dict) else None)

    def relay(self) -> StreamRelay:
        return _OpenAIRelay(hide_usage=not self.client_wants_usage)


class _OpenAIRelay:
    """Relays OpenAI chunks; reads usage from the chunk that has it; hides what the client didn't ask for."""

    def __init__(self, hide_usage: bool) -> None:
        self.usage = Usage()
        self._hide = hide_usage
        self._parser = SSEParser()
        self._text = _Delivered()

    def feed(self, chunk: bytes) -> bytes:
        events = self._parser.feed(chunk)
        if not self._hide:
            for event in events:
                if event.data != b"[DONE]":
                    self._read(event)
            return chunk
        out: list[bytes] = []
        for event in events:
            data = self._read(event) if event.data != b"[DONE]" else None
            if b'"usage"' not in event.data or not isinstance(data, dict):
                out.append(encode_event(event.data, event.event))
                continue
            data.pop("usage", None)
            if data.get("choices") == [] and "error" not in data:
                continue  # the usage-only chunk the client did not ask for
            out.append(encode_event(orjson.dumps(data), event.event))
        return b"".join(out)

    def _read(self, event: SSEEvent) -> Any:
        """The chunk's JSON (None if it is not JSON); its usage and its text noted."""
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return None
        if isinstance(data, dict):
            if isinstance(data.get("usage"), dict):
                self.usage = Usage.from_openai(data["usage"])
            self._text.openai(data)
        return data

    def close(self) -> bytes:
        if not self._hide:
            return b""
        return b"".join(encode_event(e.data, e.event) for e in self._parser.close())

    def delivered(self) -> str:
        return self._text.text()


# -- Anthropic client, Anthropic deployment ---------------------------------------------------


class AnthropicPassthrough:
    path = "/v1/messages"

    def __init__(self, body: dict[str, Any], raw: bytes, model: str) -> None:
        self.stream = bool(body.get("stream"))
        self._body, self._raw, self._model = body, raw, model

    def request_body(self) -> bytes:
        if self._body.get("model") == self._model:
            return self._raw
        return orjson.dumps({**self._body, "model": self._model})

    @_reads_upstream
    def response(self, body: bytes) -> tuple[bytes, Usage]:
        data = orjson.loads(body)
        return body, Usage.from_anthropic(data.get("usage") if isinstance(data, dict) else None)

    def relay(self) -> StreamRelay:
        return _AnthropicRelay()


class _AnthropicRelay:
    """Input and cache counts arrive in ``message_start``, cumulative output in ``message_delta``."""

    def __init__(self) -> None:
        self.usage = Usage()
        self._start: dict[str, Any] = {}
        self._parser = SSEParser()
        self._text = _Delivered()

    def feed(self, chunk: bytes) -> bytes:
        for event in self._parser.feed(chunk):
            if b'"usage"' not in event.data and b'"content_block_' not in event.data:
                continue
            try:
                data = orjson.loads(event.data)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(data, dict):
                continue
            self._text.anthropic(data)
            if data.get("type") == "message_start":
                self._start = dict((data.get("message") or {}).get("usage") or {})
                self.usage = Usage.from_anthropic(self._start)
            elif data.get("type") == "message_delta" and isinstance(data.get("usage"), dict):
                merged = {**self._start, **{k: v for k, v in data["usage"].items() if v is not None}}
                self.usage = Usage.from_anthropic(merged)
        return chunk

    def close(self) -> bytes:
        return b""

    def delivered(self) -> str:
        return self._text.text()


# -- translating exchanges ---------------------------------------------------------------------


class OpenAIToAnthropic:
    path = "/v1/messages"

    def __init__(self, body: dict[str, Any], model: str) -> None:
        from costops.providers import anthropic_format

        self._fmt = anthropic_format
        self.stream = bool(body.get("stream"))
        self._include_usage = _include_usage(body)
        self._upstream = anthropic_format.openai_to_anthropic_request(body, model)
        self._model = model

    def request_body(self) -> bytes:
        return orjson.dumps(self._upstream)

    @_reads_upstream
    def response(self, body: bytes) -> tuple[bytes, Usage]:
        data = orjson.loads(body)
        out = self._fmt.anthropic_to_openai_response(data, self._model)
        return orjson.dumps(out), Usage.from_anthropic(data.get("usage"))

    def relay(self) -> StreamRelay:
        return _TranslatingRelay(
            self._fmt.AnthropicStreamToOpenAI(self._model, include_usage=self._include_usage), openai_sse
        )


class OpenAIToGemini:
    def __init__(self, body: dict[str, Any], model: str, request_id: str) -> None:
        from costops.providers import gemini_format

        self._fmt = gemini_format
        self.stream = bool(body.get("stream"))
        self._include_usage = _include_usage(body)
        self._upstream = gemini_format.openai_to_gemini_request(body)
        self.path = gemini_format.gemini_path(model, self.stream)
        self._model = model
        self._id = f"chatcmpl-{request_id}"

    def request_body(self) -> bytes:
        return orjson.dumps(self._upstream)

    @_reads_upstream
    def response(self, body: bytes) -> tuple[bytes, Usage]:
        data = orjson.loads(body)
        out = self._fmt.gemini_to_openai_response(data, self._model, self._id)
        return orjson.dumps(out), Usage.from_gemini(data.get("usageMetadata"))

    def relay(self) -> StreamRelay:
        return _TranslatingRelay(
            self._fmt.GeminiStreamToOpenAI(self._model, self._id, include_usage=self._include_usage), openai_sse
        )


class AnthropicToOpenAI:
    path = "/chat/completions"

    def __init__(self, body: dict[str, Any], model: str) -> None:
        from costops.providers import anthropic_format

        self._fmt = anthropic_format
        self.stream = bool(body.get("stream"))
        self._upstream = anthropic_format.anthropic_to_openai_request(body, model)
        self._model = model

    def request_body(self) -> bytes:
        return orjson.dumps(self._upstream)

    @_reads_upstream
    def response(self, body: bytes) -> tuple[bytes, Usage]:
        data = orjson.loads(body)
        out = self._fmt.openai_to_anthropic_response(data, self._model)
        return orjson.dumps(out), Usage.from_openai(data.get("usage"))

    def relay(self) -> StreamRelay:
        return _TranslatingRelay(self._fmt.OpenAIStreamToAnthropic(self._model), anthropic_sse)


class AnthropicToGemini:
    """Anthropic client on a Gemini deployment: through the OpenAI shape both sides already speak."""

    def __init__(self, body: dict[str, Any], model: str, request_id: str) -> None:
        from costops.providers import anthropic_format

        self._fmt = anthropic_format
        self._model = model
        as_openai = anthropic_format.anthropic_to_openai_request(body, model)
        self._inner = OpenAIToGemini(as_openai, model, request_id)
        self.path, self.stream = self._inner.path, self._inner.stream

    def request_body(self) -> bytes:
        return self._inner.request_body()

    @_reads_upstream
    def response(self, body: bytes) -> tuple[bytes, Usage]:
        openai_body, usage = self._inner.response(body)
        return orjson.dumps(self._fmt.openai_to_anthropic_response(orjson.loads(openai_body), self._model)), usage

    def relay(self) -> StreamRelay:
        return _ChainedRelay(self._inner.relay(), self._fmt.OpenAIStreamToAnthropic(self._model))


class OpenAIToGeminiEmbeddings:
    """Gemini's ``batchEmbedContents`` reports no tokens: the input is counted here (an estimate,
    and the ledger row says so) rather than recorded as free."""

    stream = False
    estimated = True

    def __init__(self, body: dict[str, Any], model: str) -> None:
        from costops.providers import gemini_format

        self._fmt = gemini_format
        self._upstream = gemini_format.openai_to_gemini_embed_request(body, model)
        self.path = f"/v1beta/models/{model}:batchEmbedContents"
        self._model, self._format = model, body.get("encoding_format")
        self._texts = [r["content"]["parts"][0]["text"] for r in self._upstream["requests"]]

    def request_body(self) -> bytes:
        return orjson.dumps(self._upstream)

    @_reads_upstream
    def response(self, body: bytes) -> tuple[bytes, Usage]:
        from costops.tokens import counter

        tokens = sum(counter(self._model).count(text) for text in self._texts)
        out = self._fmt.gemini_to_openai_embeddings(orjson.loads(body), self._model, encoding_format=self._format)
        out["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        return orjson.dumps(out), Usage(input_tokens=tokens)

    def relay(self) -> StreamRelay:  # pragma: no cover - embeddings never stream
        raise BadRequest("embeddings cannot stream")


def openai_sse(items: list[Any]) -> bytes:
    return b"".join(encode_event(item) for item in items)


def anthropic_sse(items: list[tuple[str, Any]]) -> bytes:
    return b"".join(encode_event(data, name) for name, data in items)


class _TranslatingRelay:
    """Feeds parsed upstream events to a format translator and encodes what it emits."""

    def __init__(self, translator: Any, encode: Any) -> None:
        self._t, self._encode = translator, encode
        self._parser = SSEParser()
        self._text = _Delivered()

    @property
    def usage(self) -> Usage:
        return self._t.usage

    def feed(self, chunk: bytes) -> bytes:
        out: list[Any] = []
        for event in self._parser.feed(chunk):
            out += self._translate(event)
        if not out:
            return b""
        for item in out:  # what the client is sent, in its own API's shape
            self._text.openai(item) if self._encode is openai_sse else self._text.anthropic(item[1])
        return self._encode(out)

    def _translate(self, event: SSEEvent) -> list[Any]:
        """An event the translator cannot read is the provider's malformed stream: a 502, not our 500."""
        try:
            return list(self._t.feed(event))
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise UpstreamError(f"the provider sent a stream event that cannot be read ({type(exc).__name__}: {exc})") from None

    def close(self) -> bytes:
        out: list[Any] = []
        for event in self._parser.close():
            out += self._translate(event)
        finish = getattr(self._t, "finish", None)
        if finish is not None:
            out += finish()
        tail = self._encode(out) if out else b""
        if self._encode is openai_sse:
            tail += b"data: [DONE]\n\n"
        return tail

    def delivered(self) -> str:
        return "" if getattr(self._t, "usage_runs", False) else self._text.text()


class _ChainedRelay:
    """Gemini -> OpenAI chunks -> Anthropic events."""

    def __init__(self, first: StreamRelay, second: Any) -> None:
        self._first, self._second = first, second
        self._parser = SSEParser()

    @property
    def usage(self) -> Usage:
        return self._first.usage

    def _through(self, data: bytes) -> bytes:
        out: list[tuple[str, Any]] = []
        for event in self._parser.feed(data):
            out += self._second.feed(event)
        return anthropic_sse(out) if out else b""

    def feed(self, chunk: bytes) -> bytes:
        return self._through(self._first.feed(chunk))

    def close(self) -> bytes:
        return self._through(self._first.close())

    def delivered(self) -> str:
        return self._first.delivered()


class _Delivered:
    """The text a stream has passed on, kept as its pieces (a few bytes a token, not the events).
    Read from every chunk, so the common delta (plain content) takes the shortest way."""

    __slots__ = ("_pieces",)

    def __init__(self) -> None:
        self._pieces: list[str] = []

    def openai(self, chunk: dict[str, Any]) -> None:
        """A chat.completion.chunk's content, reasoning, refusal and tool calls."""
        try:
            for choice in chunk.get("choices") or ():
                delta = choice["delta"]
                text = delta.get("content")
                if isinstance(text, str) and text:
                    self._pieces.append(text)
                if text is None or len(delta) > 1:
                    self._add(delta, "reasoning_content", "reasoning", "refusal")
                    for call in delta.get("tool_calls") or ():
                        self._add(call.get("function") or {}, "name", "arguments")
        except (AttributeError, KeyError, TypeError):  # not the shape of a chunk: nothing to count
            pass

    def anthropic(self, data: dict[str, Any]) -> None:
        """A Messages stream event's text, thinking, tool input and tool name."""
        kind = data.get("type")
        if kind == "content_block_delta" and isinstance(delta := data.get("delta"), dict):
            self._add(delta, "text", "thinking", "partial_json")
        elif kind == "content_block_start" and isinstance(block := data.get("content_block"), dict):
            self._add(block, "name")

    def _add(self, part: dict[str, Any], *keys: str) -> None:
        for key in keys:
            value = part.get(key)
            if isinstance(value, str) and value:
                self._pieces.append(value)

    def text(self) -> str:
        return "".join(self._pieces)


def interrupted_usage(
    reported: Usage, delivered: str, model: str, prompt_tokens: Callable[[], int]
) -> tuple[Usage, str | None]:
    """What a stream that broke off used. The provider bills what it generated, but its final
    count never came: where its counts stop short of the text delivered, the output is that
    text counted with the model's tokenizer (hidden reasoning it reported is kept), and once
    anything was generated, an input it had not reported is the request's prompt, counted the
    same way. Returns the usage and what was estimated (None when nothing was)."""
    from costops.tokens import counter

    usage, notes = reported, []
    counted = counter(model).count(delivered) if delivered else 0
    if counted > reported.output_tokens - reported.reasoning_tokens:
        usage = dataclasses.replace(usage, output_tokens=reported.reasoning_tokens + counted)
        notes.append("output counted from the text delivered")
    if usage != Usage() and usage.prompt_tokens == 0:
        usage = dataclasses.replace(usage, input_tokens=prompt_tokens())
        notes.append("input from the request")
    return usage, ("the stream broke off: " + ", ".join(notes)) if notes else None


_ID_PREFIX = uuid.uuid4().hex[:16]
_ID_COUNTER = itertools.count()


def new_request_id() -> str:
    """Unique across replicas (a random per-process prefix) and cheap (a counter)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


def now_s() -> int:
    return int(time.time())
