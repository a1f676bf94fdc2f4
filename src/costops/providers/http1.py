"""A lean HTTP/1.1 client for provider calls: keep-alive connections per deployment, one request
at a time on each, the response parsed by httptools (the C parser uvicorn already uses).

Why not aiohttp: measured in process (``bench/path_cost.py --opcodes``), aiohttp's request and
response machinery was ~3,500 of the ~6,700 Python opcodes a whole gateway request cost, more
than all of costops's own code. A provider call needs little of it: a POST with a few headers,
a body read whole or relayed chunk by chunk, connect and read timeouts, TLS. That is all this
does; what it does not do (proxies from the environment, cookies, redirects, HTTP/2) aiohttp was
not asked to do here either.

1. ``Pool.post()`` takes an idle connection (or opens one) and writes the request in one write.
2. The answer's status and headers resolve the request; the body arrives chunk by chunk into the
   :class:`Response`, which ``read()`` joins or ``iter_any()`` hands on as it comes.
3. ``release()`` puts a connection whose answer ended cleanly back in the pool (kept for
   ``keepalive_s``), and closes any other.
4. A read timeout (no byte for ``read_timeout_s`` while an answer is awaited) and a connect
   timeout are :class:`ReadTimeout` and :class:`ConnectTimeout` (both ``TimeoutError``); a
   refused, reset or early-closed connection, or a malformed answer, is :class:`HttpError`.
   A reused connection that the server had closed before answering (keep-alive race) is retried
   once at once on a new connection; the caller's own retries handle the rest.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httptools


class HttpError(Exception):
    """The connection failed, broke off, or the answer was not HTTP."""


class ConnectTimeout(TimeoutError):
    """No connection within the connect timeout: no provider saw the request."""


class ReadTimeout(TimeoutError):
    """The provider went silent for the read timeout while an answer was due."""


class Response:
    """One answer: ``status``, ``headers`` (lower-case names), ``content_type``; the body through
    ``read()`` or ``iter_any()``; ``release()`` when done with it."""

    __slots__ = ("status", "headers", "content_type", "_conn", "_chunks", "_done", "_error", "_wake", "_decoder")

    def __init__(self, conn: _Connection, status: int, headers: dict[str, str]) -> None:
        self.status, self.headers, self._conn = status, headers, conn
        ctype = headers.get("content-type", "application/json")
        self.content_type = ctype.partition(";")[0].strip().lower()
        self._chunks: list[bytes] = []
        self._done = False
        self._error: BaseException | None = None
        self._wake: asyncio.Future[None] | None = None
        encoding = headers.get("content-encoding", "identity").strip().lower()
        self._decoder: Any = None
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._decoder = zlib.decompressobj(47)  # gzip or zlib, by the header
        elif encoding not in ("identity", ""):
            self._error = HttpError(f"the provider answered in an encoding costops does not read ({encoding})")

    @property
    def content(self) -> Response:
        """The body as a stream (``resp.content.iter_any()``, as aiohttp spells it)."""
        return self

    # -- fed by the connection ------------------------------------------------------------

    def _feed(self, chunk: bytes) -> None:
        if self._decoder is not None:
            try:
                chunk = self._decoder.decompress(chunk)
            except zlib.error as exc:
                self._fail(HttpError(f"the provider's compressed body is corrupt: {exc}"))
                return
        if chunk:
            self._chunks.append(chunk)
            self._signal()

    def _finish(self) -> None:
        if self._decoder is not None:
            tail = self._decoder.flush()
            if tail:
                self._chunks.append(tail)
        self._done = True
        self._signal()

    def _fail(self, error: BaseException) -> None:
        if not self._done and self._error is None:
            self._error = error
            self._signal()

    def _signal(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def _wait(self) -> None:
        self._wake = asyncio.get_running_loop().create_future()
        try:
            await self._wake
        finally:
            self._wake = None

    # -- the caller's side ------------------------------------------------------------------

    async def read(self) -> bytes:
        while not self._done:
            if self._error is not None:
                raise self._error
            await self._wait()
        chunks = self._chunks
        self._chunks = []
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def iter_any(self) -> AsyncIterator[bytes]:
        while True:
            if self._chunks:
                chunks = self._chunks
                self._chunks = []
                for chunk in chunks:
                    yield chunk
                continue
            if self._done:
                return
            if self._error is not None:
                raise self._error
            await self._wait()

    def release(self) -> None:
        conn, self._conn = self._conn, None  # type: ignore[assignment]
        if conn is not None:
            conn.pool._release(conn, clean=self._done and self._error is None)


class _Connection(asyncio.Protocol):
    __slots__ = (
        "pool", "transport", "parser", "waiter", "response", "headers", "closed", "got_bytes",
        "keep_alive", "last_read", "timer", "idle_since",
    )

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Response] | None = None
        self.response: Response | None = None
        self.headers: dict[str, str] = {}
        self.closed = False
        self.got_bytes = False
        self.keep_alive = False
        self.last_read = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.idle_since = 0.0

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        self.last_read = time.monotonic()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._broken(HttpError(f"the provider's answer is not valid HTTP: {exc}"))

    def eof_received(self) -> bool | None:
        return None  # the transport closes; connection_lost says what that means

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._stop_timer()
        response = self.response
        if response is not None and not response._done and self.headers_read_to_eof():
            response._finish()  # a body delimited by the end of the connection
            return
        why = f": {exc}" if exc else ""
        self._broken(HttpError(f"the provider closed the connection before its answer ended{why}"))

    def headers_read_to_eof(self) -> bool:
        h = self.headers
        return "content-length" not in h and "chunked" not in h.get("transfer-encoding", "").lower()

    # -- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.headers = {}

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        seen = self.headers.get(key)
        self.headers[key] = text if seen is None else f"{seen}, {text}"

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # an interim answer (100 Continue): the real one follows
            return
        self.response = Response(self, status, self.headers)
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(self.response)

    def on_body(self, body: bytes) -> None:
        if self.response is not None:
            self.response._feed(body)

    def on_message_complete(self) -> None:
        if self.response is None:  # the end of an interim answer
            return
        self.keep_alive = self.parser.should_keep_alive()
        self._stop_timer()
        self.response._finish()

    # -- the request ------------------------------------------------------------------------

    def send(self, data: bytes) -> asyncio.Future[Response]:
        assert self.transport is not None
        loop = self.pool.loop()
        self.waiter = waiter = loop.create_future()
        self.response, self.got_bytes, self.keep_alive = None, False, False
        self.last_read = time.monotonic()
        self.transport.write(data)
        timeout = self.pool.read_timeout_s
        if timeout:
            self.timer = loop.call_later(timeout, self._check_timeout)
        return waiter

    def _check_timeout(self) -> None:
        """Fires at the read timeout after the last byte; re-armed while bytes keep coming."""
        self.timer = None
        timeout = self.pool.read_timeout_s
        assert timeout
        silent = time.monotonic() - self.last_read
        if silent < timeout:
            self.timer = self.pool.loop().call_later(timeout - silent, self._check_timeout)
            return
        self._broken(ReadTimeout(f"no answer for {timeout:g}s"))

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _broken(self, error: BaseException) -> None:
        self._stop_timer()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        if self.response is not None:
            self.response._fail(error)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class Pool:
    """Keep-alive connections to one origin (``scheme://host:port``) with the given timeouts."""

    def __init__(
        self, base_url: str, *, connect_timeout_s: float | None, read_timeout_s: float | None, keepalive_s: float = 30.0,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = ssl.create_default_context() if parts.scheme == "https" else None
        default_port = self.port == (443 if parts.scheme == "https" else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if default_port else f"{host}:{self.port}"
        self.prefix = parts.path.rstrip("/")
        self.connect_timeout_s, self.read_timeout_s, self.keepalive_s = connect_timeout_s, read_timeout_s, keepalive_s
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._heads: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}

    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> Response:
        """The answer's status and headers; its body follows through the :class:`Response`."""
        data = self._head(path, headers, len(body)).encode("latin-1") + body
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # first use, or the app now runs on another loop: its connections are not ours
            self._loop = loop
            self._idle.clear()
            self._open.clear()
        conn, reused = await self._acquire()
        try:
            return await self._exchange(conn, data)
        except HttpError:
            if not (reused and not conn.got_bytes):
                raise
        # the server closed a kept-alive connection as the request went out: once more, on a new one
        return await self._exchange(await self._connect(), data)

    async def _exchange(self, conn: _Connection, data: bytes) -> Response:
        try:
            return await conn.send(data)
        except BaseException:  # failed, timed out, or the caller was cancelled: the connection goes
            self._discard(conn)
            raise

    def _head(self, path: str, headers: Mapping[str, str], length: int) -> str:
        key = (path, tuple(headers.items()))
        head = self._heads.get(key)
        if head is None:
            lines = [f"POST {self.prefix}{path} HTTP/1.1", f"host: {self.host_header}"]
            for name, value in headers.items():
                if "\r" in name or "\n" in name or "\r" in value or "\n" in value or ":" in name:
                    raise ValueError(f"header {name!r} has a line break or a colon in its name or value")
                lines.append(f"{name}: {value}")
            head = "\r\n".join(lines) + "\r\ncontent-length: "
            if len(self._heads) >= 256:
                self._heads.clear()
            self._heads[key] = head
        return f"{head}{length}\r\n\r\n"

    async def _acquire(self) -> tuple[_Connection, bool]:
        idle = self._idle
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self.keepalive_s:
                return conn, True
            self._discard(conn)
        return await self._connect(), False

    async def _connect(self) -> _Connection:
        loop = self.loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(self), self.host, self.port, ssl=self.ssl,
                                       server_hostname=self.host if self.ssl else None),
                self.connect_timeout_s,
            )
        except (TimeoutError, asyncio.TimeoutError):
            raise ConnectTimeout(f"no connection to {self.host}:{self.port} within {self.connect_timeout_s:g}s") from None
        except (OSError, ssl.SSLError) as exc:
            raise HttpError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        self._open.add(conn)
        return conn

    def _release(self, conn: _Connection, *, clean: bool) -> None:
        if clean and conn.keep_alive and not conn.closed:
            conn.idle_since = time.monotonic()
            conn.response = None
            self._idle.append(conn)
        else:
            self._discard(conn)

    def _discard(self, conn: _Connection) -> None:
        conn._stop_timer()
        conn.close()
        self._open.discard(conn)

    async def close(self) -> None:
        for conn in list(self._open):
            self._discard(conn)
        self._idle.clear()
