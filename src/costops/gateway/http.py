"""The little ASGI plumbing the gateway needs, with no framework in between."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from costops.errors import BodyTooLarge, ClientDisconnected, RequestTimeout
from costops.guarded_http import BODY_TIMED_OUT

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = b"application/json"
SSE = b"text/event-stream; charset=utf-8"


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of request header ``name`` (lower-case bytes)."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


_UNREAD: Any = object()


async def read_body(scope: Scope, receive: Receive, limit: int, declared: str | None = _UNREAD) -> bytes:
    """The whole request body, refused early when it is over ``limit`` bytes; ``declared``: the
    content-length header when the caller has read the headers already.

    A disconnect before the last chunk is an error, never the end of the body: a truncated
    request that still parses as JSON must not be forwarded and billed."""
    if declared is _UNREAD:
        declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body is {declared} bytes; the limit is {limit} (server.max_body_bytes)")
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):  # the whole body at once
        chunk = message.get("body", b"")
        if len(chunk) > limit:
            raise BodyTooLarge(f"request body is over the limit of {limit} bytes (server.max_body_bytes)")
        return chunk
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            timed_out = scope.get(BODY_TIMED_OUT)
            if timed_out is not None:
                raise RequestTimeout(f"the request body did not arrive within {timed_out:g} s (server.body_timeout_s)")
            raise ClientDisconnected(f"the client disconnected after {size} bytes of the request body, before its end")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body is over the limit of {limit} bytes (server.max_body_bytes)")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
        message = await receive()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _headers(content_type: bytes, extra: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", content_type), *extra]


async def respond(
    send: Send, status: int, body: bytes, extra: Iterable[tuple[bytes, bytes]] = (), content_type: bytes = JSON
) -> None:
    headers = _headers(content_type, extra)
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def start_stream(send: Send, status: int, extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
    headers = _headers(SSE, extra)
    headers.append((b"cache-control", b"no-cache"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
