"""uvicorn's httptools protocol with the limits a public edge needs, which uvicorn lacks for it:

- header bytes: the request line and headers are counted in ``data_received``, before the parser
  sees them (httptools joins a header's pieces with ``bytes +=``, so a 32 MiB header cost 2.5 s of
  CPU); past ``max_header_bytes`` the client gets 431 and the parser is never fed more;
- read timeouts: headers must be whole ``header_timeout_s`` after the connection opened (or after
  the first byte of the next request on a kept-alive one), the body ``body_timeout_s`` after the
  headers; a slow client gets 408 and is closed (the idle wait between requests is uvicorn's own
  ``timeout_keep_alive``);
- a connection cap: past ``max_connections`` a new connection is answered 503 at once and closed,
  without being read, so the served ones keep their file descriptors.

And one thing for speed: uvicorn writes a response's head as soon as the app starts it and the body
in a second ``write()``; on loopback each write is a trip through the kernel's TCP stack (and
wakes the client), the largest single cost of a request. A response that declares its length (a
whole JSON answer, never a stream, whose head must go out at once) is written head and body in one.

A refusal is written raw in the gateway's error shape with ``connection: close``, then the
connection lingers: output is shut, input read and dropped for ``LINGER_S``, so the client reads
the answer instead of a reset. In the common case (a request in one read) no timer is touched.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from costops.errors import CostopsError, HeadersTooLarge, RequestTimeout, ServerBusy

LINGER_S = 2.0
MAX_LINGERING = 256
"""Refused connections allowed to linger at once; past it a refusal closes at once."""
BODY_TIMED_OUT = "costops.body_timed_out"
"""Scope key the protocol sets when it gave up on a body, so the app records a 408, not a 499."""


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    max_header_bytes: int = 64 * 1024
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    max_connections: int | None = None
    """None: no cap (the simulator, which stands in for a provider)."""


@dataclass(slots=True)
class EdgeCounters:
    """What the transport refused, for ``/health``; one per server, shared by its connections."""

    counts: Counter[str] = field(default_factory=Counter)
    lingering: int = 0


def guarded_protocol(limits: EdgeLimits, counters: EdgeCounters) -> type[HttpToolsProtocol]:
    """A protocol class bound to one server's limits and counters (uvicorn builds one per connection)."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"limits": limits, "counters": counters})


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[EdgeLimits] = EdgeLimits()
    counters: ClassVar[EdgeCounters]

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._header_bytes = 0
        self._headers_done = False
        self._body_pending = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_kind: str | None = None
        self._refused = False
        self._lingering = False

    # -- connection --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        cap = self.limits.max_connections
        if cap is not None and len(self.connections) >= cap:
            self.transport = transport  # never joins ``connections``: it holds no place
            self.counters.counts["connections_refused"] += 1
            self._refuse(ServerBusy(
                f"the gateway has {cap} open connections (server.max_connections); retry shortly"
            ))
            return
        super().connection_made(transport)
        self._arm("headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        if self._lingering:
            self._lingering = False
            self.counters.lingering -= 1
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._headers_done:  # in a body: nothing to count
            HttpToolsProtocol.data_received(self, data)
        elif self._header_bytes + len(data) <= self.limits.max_header_bytes:  # the usual case: one read
            self._header_bytes += len(data)
            HttpToolsProtocol.data_received(self, data)
        else:
            self._split_at_cap(data)
            return
        if not self._headers_done:
            if self._header_bytes and self._timer_kind != "headers":
                self._arm("headers")  # a request begun and not whole: its header clock runs
        elif self._body_pending and self._timer_kind != "body":
            self._arm("body")

    def _split_at_cap(self, data: bytes) -> None:
        """Feed up to the cap (the headers may end in it); refuse if they do not, else go on with
        the rest (a body) under the new state."""
        room = self.limits.max_header_bytes - self._header_bytes
        self._header_bytes += room
        HttpToolsProtocol.data_received(self, data[:room])
        if self.transport.is_closing():
            return
        if not self._headers_done:
            self.counters.counts["headers_too_large"] += 1
            self._refuse(HeadersTooLarge(
                f"the request's headers are over {self.limits.max_header_bytes} bytes (server.max_header_bytes); "
                "send less in them"
            ), cycle_running=True)
            return
        self.data_received(data[room:])

    # -- parser callbacks (httptools calls them inside ``feed_data``) ------------------------

    def on_headers_complete(self) -> None:
        self._headers_done = self._body_pending = True
        if self._timer is not None:
            self._cancel()
        HttpToolsProtocol.on_headers_complete(self)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        # uvicorn names its cycle class inside on_headers_complete; the subclass only changes send
        if type(cycle) is RequestResponseCycle:
            cycle.__class__ = OneWriteCycle
        HttpToolsProtocol._start_asgi_task(self, cycle, app)

    def on_message_complete(self) -> None:
        self._headers_done = self._body_pending = False
        self._header_bytes = 0
        if self._timer is not None:
            self._cancel()
        HttpToolsProtocol.on_message_complete(self)

    # -- timers ------------------------------------------------------------------------------

    def _arm(self, kind: str) -> None:
        self._cancel()
        delay = self.limits.header_timeout_s if kind == "headers" else self.limits.body_timeout_s
        self._timer = self.loop.call_later(delay, self._expired, kind)
        self._timer_kind = kind

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_kind = None

    def _expired(self, kind: str) -> None:
        self._timer = self._timer_kind = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if kind == "headers":
            self.counters.counts["header_timeouts"] += 1
            if self._header_bytes == 0:  # opened and never spoke: nothing to answer
                self.transport.close()
                return
            self._refuse(RequestTimeout(
                f"the request's headers did not arrive within {self.limits.header_timeout_s:g} s "
                "(server.header_timeout_s)"
            ), cycle_running=True)
            return
        self.counters.counts["body_timeouts"] += 1
        if cycle is None or cycle.response_started:  # answered already (a 401 before the body): just close
            if cycle is not None and not cycle.response_complete:
                cycle.disconnected = True
                cycle.message_event.set()
            self.transport.close()
            return
        cycle.scope[BODY_TIMED_OUT] = self.limits.body_timeout_s  # type: ignore[literal-required]
        cycle.disconnected = True  # the app's receive() now returns http.disconnect; its sends are dropped
        cycle.message_event.set()
        self._refuse(RequestTimeout(
            f"the request body did not arrive within {self.limits.body_timeout_s:g} s (server.body_timeout_s)"
        ))

    # -- refusing ----------------------------------------------------------------------------

    def _refuse(self, error: CostopsError, *, cycle_running: bool = False) -> None:
        """Answer ``error`` raw and close gently. A pipelined request still being answered
        (``cycle_running``) cannot be interleaved with: that connection is just closed."""
        self._refused = True
        self._cancel()
        transport = self.transport
        if cycle_running and self.cycle is not None and not self.cycle.response_complete:
            transport.close()
            return
        url = getattr(self, "url", b"") or b""
        body = error.render("anthropic" if url.startswith(b"/v1/messages") else "openai")
        head = [STATUS_LINE[error.status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        transport.write(b"".join(head) + body)
        if self.counters.lingering >= MAX_LINGERING or not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        try:
            transport.resume_reading()  # flow control may have paused it; we drain until the client closes
        except (AttributeError, RuntimeError):  # pragma: no cover - transports without it
            pass
        self._lingering = True
        self.counters.lingering += 1
        self._timer = self.loop.call_later(LINGER_S, transport.close)


class _Held:
    """Stands in for the transport while uvicorn writes a response's head: keeps the bytes."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data


class _Prefixed:
    """Stands in for the transport for the body's first write: the held head goes with it."""

    __slots__ = ("transport", "head")

    def __init__(self, transport: asyncio.Transport, head: bytes) -> None:
        self.transport, self.head = transport, head

    def write(self, data: bytes) -> None:
        head, self.head = self.head, b""
        self.transport.write(head + data if head else data)

    def __getattr__(self, name: str) -> Any:  # close(), is_closing(): the real transport's
        return getattr(self.transport, name)


class OneWriteCycle(RequestResponseCycle):
    """uvicorn's request cycle, but a response with a ``content-length`` goes out in one
    ``write()``: its head is held until the first body message. Streams (no length) and HEAD
    answers (no body is written) keep uvicorn's way. If the app fails between the two messages
    the head is never sent; uvicorn closes the connection, as it would after a sent head."""

    _head: bytes | None = None

    async def send(self, message: Any) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if not self.response_started and self.scope["method"] != "HEAD" and _has_length(message):
                transport, held = self.transport, _Held()
                self.transport = held  # type: ignore[assignment]
                try:
                    await RequestResponseCycle.send(self, message)
                finally:
                    self.transport = transport
                self._head = held.data
                return
        elif kind == "http.response.body" and self._head is not None:
            transport, head, self._head = self.transport, self._head, None
            self.transport = _Prefixed(transport, head)  # type: ignore[assignment]
            try:
                await RequestResponseCycle.send(self, message)
            finally:
                self.transport = transport
            return
        await RequestResponseCycle.send(self, message)


def _has_length(message: Any) -> bool:
    return any(name.lower() == b"content-length" for name, _ in message.get("headers", ()))
