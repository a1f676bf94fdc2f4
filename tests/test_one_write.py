"""A whole JSON answer leaves in one write (head and body), a stream's head at once."""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.flow_control import FlowControl

from costops.guarded_http import OneWriteCycle


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def cycle(method: str = "POST", keep_alive: bool = True) -> tuple[OneWriteCycle, Transport, list[int]]:
    transport, done = Transport(), []
    c = OneWriteCycle(
        scope={"type": "http", "method": method, "path": "/v1/chat/completions", "query_string": b"",
               "http_version": "1.1", "client": ("127.0.0.1", 1)},
        transport=transport,  # type: ignore[arg-type]
        flow=FlowControl(transport),  # type: ignore[arg-type]
        logger=logging.getLogger("t"),
        access_logger=logging.getLogger("t.access"),
        access_log=False,
        default_headers=[],
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=keep_alive,
        on_response=lambda: done.append(1),
    )
    return c, transport, done


def start(*headers: tuple[bytes, bytes]) -> dict:
    return {"type": "http.response.start", "status": 200, "headers": list(headers)}


def test_a_response_with_a_length_is_one_write_of_head_and_body() -> None:
    async def go() -> None:
        c, t, done = cycle()
        await c.send(start((b"content-type", b"application/json"), (b"content-length", b"2")))
        assert t.writes == []  # held until the body
        await c.send({"type": "http.response.body", "body": b"{}", "more_body": False})
        assert len(t.writes) == 1
        head, _, body = t.writes[0].partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK") and b"content-length: 2" in head and body == b"{}"
        assert done == [1] and c.response_complete and not t.closed

    asyncio.run(go())


def test_a_closing_response_still_closes_after_its_one_write() -> None:
    async def go() -> None:
        c, t, _ = cycle(keep_alive=False)
        await c.send(start((b"Content-Length", b"3")))
        await c.send({"type": "http.response.body", "body": b"abc"})
        assert len(t.writes) == 1 and t.writes[0].endswith(b"\r\n\r\nabc") and t.closed

    asyncio.run(go())


def test_a_stream_and_a_head_answer_send_the_head_at_once() -> None:
    async def go() -> None:
        c, t, _ = cycle()
        await c.send(start((b"content-type", b"text/event-stream")))
        assert len(t.writes) == 1 and t.writes[0].startswith(b"HTTP/1.1 200")  # the client sees the 200 now
        await c.send({"type": "http.response.body", "body": b"data: x\n\n", "more_body": True})
        assert len(t.writes) == 2
        h, th, _ = cycle("HEAD")
        await h.send(start((b"content-length", b"2")))
        assert len(th.writes) == 1  # a HEAD answer writes no body: its head cannot wait for one

    asyncio.run(go())
