"""The HTTP edge: header cap, read timeouts, connection cap, a body cut short, browsers and DNS
rebinding, admin keys, refused-key floods, 405, and what `costops serve` prints.

Raw sockets where an SDK cannot say it (a huge header, a stalled request, a half-sent body);
the SDKs where the behaviour is what a user's application sees.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from costops.config import ConfigError, load_config
from costops.gateway.app import create_app
from costops.gateway.edge import RowBudget
from costops.providers.simulator import SimConfig, create_simulator
from costops.serving import BackgroundServer, fit_fd_limit, free_port
from tests import rawhttp
from tests.conftest import RunningGateway, provider_env

HI = [{"role": "user", "content": "hi"}]
CHAT = orjson.dumps({"model": "gpt-4o-mini", "messages": HI})


# -- raw HTTP ---------------------------------------------------------------------------------


def connect(url: str, timeout: float = 20) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes; a server that never closes fails on the socket timeout."""
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def parse(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, orjson.loads(body) if body else None


def exchange(url: str, data: bytes) -> tuple[int, dict[str, str], Any]:
    with connect(url) as sock:
        sock.sendall(data)
        return parse(read_all(sock))


def request_bytes(method: str, path: str, extra: str = "", body: bytes = b"") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def eventually(check: Any, what: str, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.02)


def health(gw: RunningGateway) -> dict[str, Any]:
    return rawhttp.get(f"{gw.url}/health").json()


class CountingUpstream:
    """The simulator, counting what reaches it: proof of what the gateway forwarded."""

    def __init__(self) -> None:
        self.app, self.chats = create_simulator(SimConfig(latency_scale=0)), 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/chat/completions"):
            self.chats += 1
        await self.app(scope, receive, send)


@pytest.fixture
def upstream():
    counting = CountingUpstream()
    with BackgroundServer(counting) as server:
        counting.url = server.url
        yield counting


def counted_env(upstream: CountingUpstream) -> dict[str, str]:
    return {"OPENAI_BASE_URL": f"{upstream.url}/v1"}


# -- header cap -------------------------------------------------------------------------------


def test_headers_over_the_cap_get_431_in_the_api_shape_and_under_it_are_served(gateway) -> None:
    status, _, _ = exchange(gateway.url, request_bytes("GET", "/health", f"X-Big: {'a' * 60_000}\r\n"))
    assert status == 200, "60 KB of headers is under the 64 KiB default"

    status, headers, body = exchange(gateway.url, request_bytes("GET", "/health", f"X-Big: {'a' * 100_000}\r\n"))
    assert status == 431 and headers["connection"] == "close"
    assert body["error"]["code"] == "request_header_fields_too_large"
    assert "server.max_header_bytes" in body["error"]["message"]

    status, _, body = exchange(gateway.url, request_bytes("POST", "/v1/messages", f"X-Big: {'a' * 100_000}\r\n"))
    assert status == 431 and body["type"] == "error" and body["error"]["type"] == "request_too_large"
    assert health(gateway)["edge"]["headers_too_large"] == 2


def test_a_huge_header_is_refused_after_the_cap_not_parsed_whole(make_gateway) -> None:
    """8 MiB was served, 32 MiB cost 2.5 s of CPU: now the parser never sees more than the cap, and
    the client, still sending, reads the 431 instead of a reset."""
    gw = make_gateway("server: {max_header_bytes: 4096}\n")
    with connect(gw.url) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        try:
            for _ in range(8 * 16):  # 8 MiB in 64 KiB pieces; the server drains them after answering
                sock.sendall(b"a" * 65536)
        except OSError:
            pass  # the server closed once its linger ran out
        status, _, body = parse(read_all(sock))
    assert status == 431 and "4096" in body["error"]["message"]


# -- read timeouts ----------------------------------------------------------------------------


def test_headers_that_stall_get_408_and_a_silent_connection_is_closed(make_gateway) -> None:
    gw = make_gateway("server: {header_timeout_s: 0.3}\n")
    with connect(gw.url) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # ... and nothing more
        status, headers, body = parse(read_all(sock))
    assert status == 408 and headers["connection"] == "close"
    assert body["error"]["code"] == "request_timeout" and "server.header_timeout_s" in body["error"]["message"]
    with connect(gw.url) as sock:
        assert read_all(sock) == b"", "a connection that never speaks is closed without an answer"
    assert health(gw)["edge"]["header_timeouts"] == 2
    assert gw.records() == [], "nothing reached the app"


def test_a_body_that_stalls_gets_408_is_not_forwarded_and_is_recorded(make_gateway, upstream) -> None:
    gw = make_gateway("server: {body_timeout_s: 0.3}\n", env=counted_env(upstream))
    with connect(gw.url) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % (len(CHAT) + 10) + CHAT)  # 10 bytes short, forever
        status, _, body = parse(read_all(sock))
    assert status == 408 and "server.body_timeout_s" in body["error"]["message"]
    (row,) = gw.records(1)
    assert (row.status, row.error_type) == (408, "request_timeout")
    assert upstream.chats == 0 and row.cost.total == 0


def test_a_kept_alive_connection_idles_between_requests_without_a_header_timeout(make_gateway) -> None:
    """The header clock starts at a request's first byte: an SDK's pooled connection is not cut."""
    gw = make_gateway("server: {header_timeout_s: 0.2}\n")
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=HI)
    time.sleep(0.5)  # longer than the header timeout, shorter than keep-alive: the pooled connection stays
    client.chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert health(gw)["edge"].get("header_timeouts", 0) == 0


# -- connection cap ---------------------------------------------------------------------------


def test_connections_past_the_cap_get_503_at_once_and_the_served_ones_go_on(make_gateway) -> None:
    gw = make_gateway("server: {max_connections: 8, header_timeout_s: 120}\n")
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=HI)  # one pooled, kept-alive connection
    idle = [connect(gw.url) for _ in range(7)]  # slowloris: open, silent; 8 now
    try:
        started = time.monotonic()
        status, headers, body = exchange(gw.url, request_bytes("GET", "/health"))
        assert status == 503 and headers["connection"] == "close"
        assert body["error"]["code"] == "server_busy" and "server.max_connections" in body["error"]["message"]
        assert time.monotonic() - started < 5, "refused at once, not after a timeout"
        assert client.chat.completions.create(model="gpt-4o-mini", messages=HI).usage.total_tokens > 0
    finally:
        for sock in idle:
            sock.close()
    eventually(lambda: rawhttp.get(f"{gw.url}/health").status == 200, "a new connection is served again")
    assert health(gw)["edge"]["connections_refused"] >= 1


class FakeRlimit:
    RLIMIT_NOFILE, RLIM_INFINITY = 7, -1

    def __init__(self, soft: int, hard: int, settable: bool = True) -> None:
        self.limits, self.settable = (soft, hard), settable

    def getrlimit(self, _: int) -> tuple[int, int]:
        return self.limits

    def setrlimit(self, _: int, limits: tuple[int, int]) -> None:
        if not self.settable or limits[0] > self.limits[1]:
            raise ValueError("not allowed")
        self.limits = limits


def test_the_fd_limit_is_raised_to_fit_the_cap_or_the_cap_lowered_below_it() -> None:
    raised = FakeRlimit(1024, 65536)
    assert fit_fd_limit(1000, raised) == 1000 and raised.limits == (2128, 65536)
    capped = FakeRlimit(1024, 1500)
    assert fit_fd_limit(1000, capped) == (1500 - 128) // 2 and capped.limits == (1500, 1500)
    stuck = FakeRlimit(1024, 4096, settable=False)
    assert fit_fd_limit(1000, stuck) == (1024 - 128) // 2
    assert fit_fd_limit(100, FakeRlimit(1024, 1024)) == 100


# -- a body cut short -------------------------------------------------------------------------


class BodySeen:
    """Wraps the gateway only to tell the test when its first body chunk was read."""

    def __init__(self, app: Any) -> None:
        self.app, self.edge, self.seen = app, app.edge, threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def watched() -> Any:
            message = await receive()
            if message.get("body"):
                self.seen.set()
            return message

        await self.app(scope, watched if scope["type"] == "http" else receive, send)


def test_a_client_that_disconnects_mid_body_is_not_forwarded_or_billed(simulator, upstream, tmp_path: Path) -> None:
    """The first part parses as JSON by itself: before, the disconnect read as the end of the body."""
    config = load_config(env={**provider_env(simulator.url), **counted_env(upstream)}, db=f"sqlite:///{tmp_path}/l.db")
    gateway = create_app(config)
    watched = BodySeen(gateway)
    with BackgroundServer(watched) as server:
        gw = RunningGateway(server, gateway)
        with connect(gw.url) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % (len(CHAT) + 100) + CHAT)
            assert watched.seen.wait(15), "the gateway read the first part"
        (row,) = gw.records(1)
    assert (row.status, row.error_type) == (499, "client_disconnected")
    assert f"disconnected after {len(CHAT)} bytes" in row.error_message
    assert upstream.chats == 0 and row.cost.total == 0


# -- browsers and DNS rebinding ---------------------------------------------------------------


def test_a_cross_origin_browser_post_to_a_keyless_loopback_gateway_is_refused(make_gateway, upstream) -> None:
    gw = make_gateway("cache: {exact: {default_ttl_s: 60}}\n", env=counted_env(upstream))
    page = {"origin": "https://evil.example", "content-type": "text/plain"}  # a "simple" request: no preflight
    resp = rawhttp.post(f"{gw.url}/v1/chat/completions", CHAT, headers=page)
    assert resp.status == 403 and resp.json()["error"]["code"] == "origin_not_allowed"
    assert "server.allowed_origins" in resp.json()["error"]["message"]
    resp = rawhttp.post(f"{gw.url}/v1/messages", b"{}", headers=page)
    assert resp.status == 403 and resp.json()["error"]["type"] == "permission_error"
    assert rawhttp.post(f"{gw.url}/admin/cache/invalidate", b'{"pattern": "*"}', headers=page).status == 403
    assert upstream.chats == 0 and gw.records() == []
    same_origin = rawhttp.post(f"{gw.url}/v1/chat/completions", CHAT, headers={"origin": gw.url})
    assert same_origin.status == 200, "the gateway's own origin is not a foreign page"
    assert health(gw)["edge"]["origin_not_allowed"] == 3


def test_an_allowed_origin_gets_cors_and_its_preflight_answered(make_gateway) -> None:
    gw = make_gateway("server: {allowed_origins: ['https://app.example']}\n")
    pre = rawhttp.request("OPTIONS", f"{gw.url}/v1/chat/completions", headers={
        "origin": "https://app.example", "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type"})
    assert pre.status == 204 and pre.headers["access-control-allow-origin"] == "https://app.example"
    assert pre.headers["access-control-allow-methods"] == "POST"
    assert pre.headers["access-control-allow-headers"] == "authorization, content-type"
    resp = rawhttp.post(f"{gw.url}/v1/chat/completions", CHAT, headers={"origin": "https://app.example"})
    assert resp.status == 200 and resp.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-costops-cost-usd" in resp.headers["access-control-expose-headers"]
    other = rawhttp.post(f"{gw.url}/v1/chat/completions", CHAT, headers={"origin": "https://other.example"})
    assert other.status == 403


def test_a_rebound_host_name_is_refused_and_loopback_and_allowed_names_are_not(make_gateway) -> None:
    gw = make_gateway("server: {allowed_hosts: [gateway.internal]}\n")
    port = gw.server.port
    rebound = rawhttp.post(f"{gw.url}/v1/chat/completions", CHAT, headers={"host": f"attacker.example:{port}"})
    assert rebound.status == 403 and rebound.json()["error"]["code"] == "host_not_allowed"
    assert "server.allowed_hosts" in rebound.json()["error"]["message"]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "gateway.internal", f"[::1]:{port}"):
        assert rawhttp.post(f"{gw.url}/v1/chat/completions", CHAT, headers={"host": host}).status == 200, host


# -- admin keys -------------------------------------------------------------------------------


def test_mutating_admin_calls_need_a_key_even_on_loopback(make_gateway) -> None:
    gw = make_gateway("cache: {exact: {default_ttl_s: 60}}\n")
    refused = rawhttp.post(f"{gw.url}/admin/cache/invalidate", json={"pattern": "*"})
    assert refused.status == 401 and "server.admin_key" in refused.json()["error"]["message"]
    assert rawhttp.get(f"{gw.url}/admin/cache/stats").status == 200, "reads stay open on loopback"

    server = dataclasses.replace(gw.gateway.config.server, admin_token="tok-123")
    gw.gateway.config = dataclasses.replace(gw.gateway.config, server=server)
    assert rawhttp.post(f"{gw.url}/admin/cache/invalidate", json={"pattern": "*"},
                        headers={"authorization": "Bearer tok-12"}).status == 401
    ok = rawhttp.post(f"{gw.url}/admin/cache/invalidate", json={"pattern": "*"}, headers={"authorization": "Bearer tok-123"})
    assert ok.status == 200


def test_serve_prints_a_per_start_admin_token_and_masks_the_ledger_password(simulator, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("cache: {exact: {default_ttl_s: 60}}\n")
    port = free_port()
    env = {**os.environ, **provider_env(simulator.url)}
    serve = [str(Path(sys.executable).parent / "costops"), "serve", "--config", str(config), "--port", str(port),
             "--log-level", "warning"]
    # a PostgreSQL URL nothing listens on: the start line is printed, then the start fails
    failed = subprocess.run([*serve, "--db", "postgresql://app:s3cret-pw@127.0.0.1:1/x"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert "s3cret-pw" not in failed.stderr and "postgresql://app:***@127.0.0.1:1/x" in failed.stderr

    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([*serve, "--db", f"sqlite:///{tmp_path}/l.db"], env=env, stderr=out, stdout=out)
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return rawhttp.get(f"{url}/health", timeout=1).status == 200
            except OSError:
                return proc.poll() is not None  # exited: fail below with its log
        eventually(up, "costops serve started", timeout=60)
        assert proc.poll() is None, log.read_text()
        (line,) = [ln for ln in log.read_text().splitlines() if ln.startswith("admin token for this start")]
        token = line.rsplit(" ", 1)[1]
        body = {"pattern": "*"}
        assert rawhttp.post(f"{url}/admin/cache/invalidate", json=body).status == 401
        assert rawhttp.post(f"{url}/admin/cache/invalidate", json=body, headers={"authorization": f"Bearer {token}"}).status == 200
    finally:
        proc.terminate()
        proc.wait(20)


# -- refused keys -----------------------------------------------------------------------------


def test_refused_keys_are_counted_and_only_a_few_rows_written(make_gateway) -> None:
    gw = make_gateway("keys: [{id: app, key: sk-good}]\nserver: {unauthenticated_rows_per_s: 5}\n")
    gw.gateway.edge.rows = RowBudget(5, clock=lambda: 0.0)  # a stopped clock: the bucket never refills
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-junk", max_retries=0)
    for _ in range(40):
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model="gpt-4o-mini", messages=HI)
    edge = eventually(lambda: (e := health(gw)["edge"]).get("unauthenticated") == 40 and e, "all 40 counted")
    assert edge["unauthenticated_rows_skipped"] == 35
    good = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-good", max_retries=0)
    good.chat.completions.create(model="gpt-4o-mini", messages=HI)
    rows = gw.records(6)
    assert [r.status for r in rows].count(401) == 5 and rows[-1].status == 200


# -- 405 ----------------------------------------------------------------------------------------


def test_a_wrong_method_on_a_known_path_gets_405_with_allow(make_gateway) -> None:
    gw = make_gateway("server: {admin_key: adm}\ncache: {exact: {default_ttl_s: 60}}\n")
    wrong = rawhttp.get(f"{gw.url}/v1/chat/completions")
    assert wrong.status == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    anthropic_shape = rawhttp.get(f"{gw.url}/v1/messages")
    assert anthropic_shape.status == 405 and anthropic_shape.json()["error"]["type"] == "invalid_request_error"
    assert rawhttp.post(f"{gw.url}/v1/models", b"{}").headers["allow"] == "GET, HEAD"
    admin = rawhttp.get(f"{gw.url}/admin/cache/invalidate", headers={"authorization": "Bearer adm"})
    assert admin.status == 405 and admin.headers["allow"] == "POST"
    assert rawhttp.get(f"{gw.url}/v1/nothing-here").status == 404
    assert rawhttp.request("HEAD", f"{gw.url}/health").status == 200


# -- settings -----------------------------------------------------------------------------------


def test_edge_settings_load_strictly_with_errors_that_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"

    def load(text: str) -> Any:
        path.write_text(text)
        return load_config(path, env={}).server

    server = load("server: {max_header_bytes: 8192, header_timeout_s: 2.5, body_timeout_s: 30, max_connections: 50,"
                  " allowed_origins: ['https://App.example/'], allowed_hosts: [gw.internal], unauthenticated_rows_per_s: 1}\n")
    assert (server.max_header_bytes, server.header_timeout_s, server.body_timeout_s, server.max_connections) == (8192, 2.5, 30, 50)
    assert server.allowed_origins == ("https://app.example",) and server.allowed_hosts == ("gw.internal",)
    for text, named in [
        ("server: {max_connections: 0}", "server.max_connections"),
        ("server: {header_timeout_s: soon}", "server.header_timeout_s"),
        ("server: {max_header_bytes: 1.5}", "server.max_header_bytes"),
        ("server: {allowed_origins: [app.example]}", "server.allowed_origins"),
        ("server: {allowed_hosts: [3]}", "server.allowed_hosts"),
        ("server: {admin_token: x}", "server.admin_token"),
    ]:
        with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
            load(text)
