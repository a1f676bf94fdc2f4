"""The gateway's edge: what is refused before a request reaches its route, and what a refused
request may cost the books. Decisions are plain functions; :class:`Edge` holds the counters.

- browsers: a request that carries ``Origin`` is refused (403) unless the origin is in
  ``server.allowed_origins`` or is the gateway's own: otherwise any web page the operator visits
  could spend money through a keyless loopback gateway with a "simple" cross-origin POST
  (``text/plain`` needs no CORS preflight), or create a budget through the admin API;
- DNS rebinding: on a loopback gateway, or wherever ``server.allowed_hosts`` is set, ``Host`` must
  be the bound address, a loopback name, or an allowed host (a rebound attacker's name is refused);
- admin keys: compared in constant time; a call that changes state needs a key even on loopback
  (``server.admin_key``, or the per-start token ``costops serve`` prints);
- a known path called with the wrong method: 405 with ``Allow``;
- refused keys: counted; their ledger rows limited to ``server.unauthenticated_rows_per_s`` (the
  rest only counted: a flood of junk keys must not fill the ledger's disk).
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from costops.config import ServerConfig
from costops.control.bucket import Bucket, refill
from costops.errors import CostopsError, Forbidden, MethodNotAllowed, NotFound, Unauthorized
from costops.guarded_http import EdgeCounters, EdgeLimits

READ_METHODS = frozenset({"GET", "HEAD"})
EXPOSED = b"x-costops-request-id, x-costops-cost-usd, x-costops-attempt-cost-usd, x-costops-cache, retry-after"


def api_of(path: str) -> str:
    return "anthropic" if path.startswith("/v1/messages") else "openai"


def hostname(host: str) -> str:
    """``Host`` without its port, lower-case: ``[::1]:4000`` -> ``::1``, ``a.b:80`` -> ``a.b``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, sep, port = host.rpartition(":")
    return name if sep and port.isdigit() and ":" not in name else host


def is_loopback_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):  # browsers resolve these to loopback themselves
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def checks_host(server: ServerConfig) -> bool:
    return server.loopback or bool(server.allowed_hosts)


def host_allowed(server: ServerConfig, host: str) -> bool:
    name = hostname(host)
    return (
        is_loopback_name(name)
        or name == server.host.lower()
        or name in {hostname(h) for h in server.allowed_hosts}
    )


def origin_allowed(server: ServerConfig, origin: str, host: str | None) -> bool:
    """An origin in ``allowed_origins``, or the gateway's own (when its Host was checked)."""
    origin = origin.strip().lower().rstrip("/")
    if origin in server.allowed_origins or "*" in server.allowed_origins:
        return True
    return host is not None and checks_host(server) and origin in (f"http://{host.lower()}", f"https://{host.lower()}")


def screen(server: ServerConfig, host: str | None, origin: str | None) -> CostopsError | None:
    """Why a request with these headers is refused, or None. A missing Host (HTTP/1.0 tools) passes:
    browsers always send one."""
    if host is not None and checks_host(server) and not host_allowed(server, host):
        return Forbidden(
            f"Host {host!r} is not this gateway's address; if it is a name for this gateway, add it to "
            "server.allowed_hosts (refused so that a web page cannot reach the gateway by DNS rebinding)",
            code="host_not_allowed",
        )
    if origin is not None and not origin_allowed(server, origin, host):
        return Forbidden(
            f"a browser page at origin {origin!r} may not call this gateway; add the origin to "
            "server.allowed_origins if it should",
            code="origin_not_allowed",
        )
    return None


def admin_refusal(server: ServerConfig, method: str, given: str | None) -> CostopsError | None:
    """Who may use the admin API. With ``admin_key`` every call needs it; without, a loopback
    gateway answers reads to anyone on the machine and changes to the holder of the per-start
    token; a gateway reachable from other machines refuses without ``admin_key``."""
    if server.admin_key:
        if not same_secret(given, server.admin_key):
            return Unauthorized("admin API: send the admin key (server.admin_key) as 'Authorization: Bearer <key>'")
        return None
    if not server.loopback:
        return Forbidden("admin API: set server.admin_key to use it on a gateway reachable from other machines")
    if method in READ_METHODS:
        return None
    if server.admin_token is None:
        return Unauthorized(
            f"admin API: {method} changes state and needs the admin key even on loopback; set server.admin_key "
            "(or COSTOPS_ADMIN_KEY) and send it as 'Authorization: Bearer <key>'"
        )
    if not same_secret(given, server.admin_token):
        return Unauthorized(
            f"admin API: {method} changes state and needs the admin token `costops serve` printed at start "
            "(or set server.admin_key); send it as 'Authorization: Bearer <token>' or --admin-key"
        )
    return None


def metrics_refusal(server: ServerConfig, given: str | None) -> CostopsError | None:
    """Who may read ``/metrics``: the holder of ``server.metrics_key`` (a read-only token for a
    scraper), or whoever may read the admin API."""
    if server.metrics_key and same_secret(given, server.metrics_key):
        return None
    refused = admin_refusal(server, "GET", given)
    if refused is not None and server.metrics_key:
        return Unauthorized("GET /metrics: send server.metrics_key (or the admin key) as 'Authorization: Bearer <key>'")
    return refused


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time: the time taken says nothing about how much of the key was right."""
    return hmac.compare_digest((given or "").encode(), expected.encode())


def no_route(method: str, path: str, routes: Iterable[tuple[str, str]]) -> CostopsError:
    """405 with the methods the path takes, or 404 when no method does."""
    allow = sorted({m for m, p in routes if p == path})
    if allow:
        return MethodNotAllowed(f"{method} is not allowed on {path}; use {', '.join(allow)}", allow=tuple(allow))
    return NotFound(f"no route {method} {path}; see GET /v1/models and the README")


def error_headers(error: CostopsError) -> list[tuple[bytes, bytes]]:
    allow = getattr(error, "allow", None)
    return [(b"allow", ", ".join(allow).encode())] if allow else []


class RowBudget:
    """A token bucket (the rate limits' own :func:`~costops.control.bucket.refill`): ``rate``
    rows a second, bursts up to ``rate``."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.bucket, self.clock = Bucket("edge:refused-rows", "refused-key rows", rate, rate), clock
        self.tokens, self.last = rate, clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens, self.last = refill(self.tokens, self.last, now, self.bucket), max(now, self.last)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Edge:
    """The edge of one gateway: its limits (enforced by the server's protocol, see
    :mod:`costops.guarded_http`), its request screen, and the counters ``/health`` shows."""

    def __init__(self, server: ServerConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.server = server
        self.limits = EdgeLimits(server.max_header_bytes, server.header_timeout_s, server.body_timeout_s,
                                 server.max_connections)
        self.transport = EdgeCounters()
        self.counts = self.transport.counts
        self.rows = RowBudget(server.unauthenticated_rows_per_s, clock)
        self._good_hosts: set[bytes] = set()

    def screen(self, scope: MutableMapping[str, Any]) -> tuple[CostopsError | None, str | None]:
        """(refusal, allowed cross-origin to answer CORS for). The last Host and Origin; a Host
        seen good once is not parsed again."""
        last = dict(scope["headers"])  # built in C; a repeated header keeps its last value, as the loop did
        host, origin = last.get(b"host"), last.get(b"origin")
        if origin is None and (host is None or host in self._good_hosts):
            return None, None
        host_s = host.decode("latin-1") if host is not None else None
        origin_s = origin.decode("latin-1") if origin is not None else None
        error = screen(self.server, host_s, origin_s)
        if error is not None:
            self.counts[error.code or "refused"] += 1
            return error, None
        if host is not None and len(self._good_hosts) < 64:
            self._good_hosts.add(host)
        return None, origin_s

    def keep_row(self, status: int) -> bool:
        """Whether a finished request's ledger row is written: always, except refused keys past
        their budget."""
        if status != Unauthorized.status:
            return True
        self.counts["unauthenticated"] += 1
        if self.rows.take():
            return True
        self.counts["unauthenticated_rows_skipped"] += 1
        return False

    def status(self) -> dict[str, int]:
        return dict(self.counts)


def preflight_headers(origin: str, methods: Iterable[str], requested: str | None) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-methods", ", ".join(sorted(set(methods)) or ["POST"]).encode()),
        (b"access-control-max-age", b"600"),
        (b"vary", b"origin"),
    ]
    if requested:
        headers.append((b"access-control-allow-headers", requested.encode("latin-1")))
    return headers


def cors_send(send: Send, origin: str) -> Send:
    """``send`` that marks the response readable by ``origin`` (an allowed one)."""
    extra = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"origin"),
             (b"access-control-expose-headers", EXPOSED)]

    async def wrapped(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return wrapped
