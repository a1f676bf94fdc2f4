"""The provider client (costops.providers.http1) against raw loopback servers that misbehave on
purpose: each case is what a real provider or a proxy in front of one can do to a connection."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable

import pytest

from costops.providers.http1 import ConnectTimeout, HttpError, Pool, ReadTimeout
from costops.serving import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    return head + await reader.readexactly(length)


async def serving(handler: Handler) -> tuple[asyncio.Server, Pool]:
    port = free_port()
    server = await asyncio.start_server(handler, "127.0.0.1", port)
    return server, Pool(f"http://127.0.0.1:{port}/v1", connect_timeout_s=2, read_timeout_s=0.5)


def run(case: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(case(), 20))


def test_a_connection_is_kept_alive_and_the_request_is_what_was_asked() -> None:
    seen: list[bytes] = []
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while not reader.at_eof():
            try:
                seen.append(await read_request(reader))
            except asyncio.IncompleteReadError:
                break
            writer.write(OK)

    async def case() -> None:
        server, pool = await serving(handler)
        for _ in range(3):
            resp = await pool.post("/chat/completions", b'{"a": 1}', {"authorization": "Bearer k"})
            assert (resp.status, resp.content_type, await resp.read()) == (200, "application/json", b"{}")
            resp.release()
        await pool.close()
        server.close()

    run(case)
    assert connections == 1
    assert seen[0].startswith(b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:")
    assert b"authorization: Bearer k\r\n" in seen[0] and seen[0].endswith(b'content-length: 8\r\n\r\n{"a": 1}')


def test_a_kept_connection_the_server_closed_is_replaced_at_once() -> None:
    """The keep-alive race: the server drops an idle connection just as the next request goes out
    on it. Nothing of an answer came back, so the request goes again at once on a new connection."""
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        mine = connections
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        if mine == 1:
            await read_request(reader)  # the next request on the kept connection...
            writer.close()  # ... dropped without an answer

    async def case() -> None:
        server, pool = await serving(handler)
        for _ in range(2):
            resp = await pool.post("/x", b"{}", {})
            assert await resp.read() == b"{}"
            resp.release()
        await pool.close()
        server.close()

    run(case)
    assert connections == 2


def test_chunked_stream_arrives_in_pieces_and_ends() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ntransfer-encoding: chunked\r\n\r\n")
        for piece in (b"data: 1\n\n", b"data: 2\n\n"):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def case() -> None:
        server, pool = await serving(handler)
        resp = await pool.post("/x", b"{}", {})
        assert resp.content_type == "text/event-stream"
        parts = [chunk async for chunk in resp.content.iter_any()]
        assert b"".join(parts) == b"data: 1\n\ndata: 2\n\n" and len(parts) == 2
        resp.release()
        await pool.close()
        server.close()

    run(case)


def test_a_body_cut_short_is_an_error_not_an_answer() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"partial\":")
        await writer.drain()
        writer.close()

    async def case() -> None:
        server, pool = await serving(handler)
        resp = await pool.post("/x", b"{}", {})
        with pytest.raises(HttpError, match="closed the connection before its answer ended"):
            await resp.read()
        resp.release()
        await pool.close()
        server.close()

    run(case)


def test_silence_is_a_read_timeout_and_a_refused_port_a_connection_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async def case() -> None:
        server, pool = await serving(handler)
        with pytest.raises(ReadTimeout):
            await pool.post("/x", b"{}", {})
        await pool.close()
        server.close()
        closed = Pool(f"http://127.0.0.1:{free_port()}", connect_timeout_s=2, read_timeout_s=1)
        with pytest.raises(HttpError, match="cannot connect"):
            await closed.post("/x", b"{}", {})
        assert issubclass(ConnectTimeout, TimeoutError) and not issubclass(ConnectTimeout, HttpError)

    run(case)


def test_a_gzip_answer_is_decoded_and_a_header_with_a_line_break_is_refused() -> None:
    body = gzip.compress(b'{"ok": true}')

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()

    async def case() -> None:
        server, pool = await serving(handler)
        resp = await pool.post("/x", b"{}", {})
        assert await resp.read() == b'{"ok": true}'
        resp.release()
        with pytest.raises(ValueError, match="line break"):
            await pool.post("/x", b"{}", {"x-evil": "a\r\nhost: elsewhere"})
        await pool.close()
        server.close()

    run(case)
