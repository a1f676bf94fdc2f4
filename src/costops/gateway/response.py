"""The client's side of one response: ``send`` that remembers how far the answer got.

An error can strike before the response starts (answer it whole, in the client's API shape),
after a stream has started (the client already has a 200: the error travels as the stream's last
event) or after the last byte (nothing more to say). The request's edge asks this object which.
"""

from __future__ import annotations

from collections.abc import Callable

from costops.errors import CostopsError
from costops.gateway.http import Message, Send, respond
from costops.providers.sse import encode_event


class ClientResponse:
    """``before_end`` runs just before the response's last byte is handed over: the gateway journals
    the call's record there, so an answer the client has is never missing from the books."""

    __slots__ = ("_send", "_before_end", "started", "ended", "streaming")

    def __init__(self, send: Send, before_end: Callable[[], None] | None = None) -> None:
        self._send = send
        self._before_end = before_end
        self.started = False
        self.ended = False
        self.streaming = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            for name, value in message["headers"]:  # content-type comes first (see gateway.http)
                if name == b"content-type":
                    self.streaming = value.startswith(b"text/event-stream")
                    break
        elif not message.get("more_body", False) and not self.ended:
            self.ended = True
            if self._before_end is not None:
                self._before_end()
        await self._send(message)

    async def fail(self, api: str, error: CostopsError, headers: list[tuple[bytes, bytes]]) -> None:
        """Tell the client about ``error`` in the one way still open to us."""
        if not self.started:
            if error.retry_after is not None:
                headers = [*headers, (b"retry-after", str(max(1, round(error.retry_after))).encode())]
            await respond(self, error.status, error.render(api), headers)
        elif not self.ended:
            tail = stream_error(api, error) if self.streaming else b""
            await self({"type": "http.response.body", "body": tail, "more_body": False})


def stream_error(api: str, error: CostopsError) -> bytes:
    """An error as the last event of a stream, in the client's API shape."""
    if api == "anthropic":
        return encode_event(error.anthropic_body(), "error")
    return encode_event(error.openai_body()) + b"data: [DONE]\n\n"
