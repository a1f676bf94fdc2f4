"""The one way the tests' scripted ASGI upstreams read a request body: every ``http.request``
message joined, since a client may send the body in several."""

from __future__ import annotations

from typing import Any


async def request_body(receive: Any) -> bytes:
    raw = b""
    while True:
        message = await receive()
        raw += message.get("body", b"")
        if not message.get("more_body"):
            return raw
