"""Run an ASGI app on uvicorn: in the foreground (``costops serve``) or on a background thread
(the demo, the tests, the benchmarks), always on a real socket so clients speak real HTTP.

Every server speaks through :mod:`costops.guarded_http` (header cap, read timeouts, connection
cap). An app with an ``edge`` (the gateway) brings its own limits and counters from its
``server:`` settings; others (the simulator) get the defaults without a connection cap.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import threading
import time
from typing import Any

import uvicorn

from costops.guarded_http import EdgeCounters, EdgeLimits, guarded_protocol

log = logging.getLogger("costops.serving")
FD_RESERVE = 128
"""Descriptors kept for what is not a client connection: the ledger, Redis, logs, the journal."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _loop() -> str:
    try:
        import uvloop  # noqa: F401

        return "uvloop"
    except ImportError:  # pragma: no cover - Windows
        return "asyncio"


def fds_needed(max_connections: int) -> int:
    """Each client connection may hold one upstream connection too."""
    return 2 * max_connections + FD_RESERVE


def fit_fd_limit(max_connections: int, rlimit: Any = None) -> int:
    """Raise the soft file-descriptor limit so ``max_connections`` fit (up to the hard limit) and
    return the connection cap that does fit: past the limit ``accept()`` fails and every
    connection suffers, so the cap must stay below it."""
    if rlimit is None:
        try:
            import resource as rlimit
        except ImportError:  # pragma: no cover - Windows
            return max_connections
    soft, hard = rlimit.getrlimit(rlimit.RLIMIT_NOFILE)
    need = fds_needed(max_connections)
    if soft != rlimit.RLIM_INFINITY and soft < need:
        target = need if hard == rlimit.RLIM_INFINITY else min(need, hard)
        try:
            rlimit.setrlimit(rlimit.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %s to %s: %s", soft, target, exc)
    if soft != rlimit.RLIM_INFINITY and soft < need:
        return max(1, (soft - FD_RESERVE) // 2)
    return max_connections


def uvicorn_config(app: Any, host: str, port: int, **kw: Any) -> uvicorn.Config:
    edge = getattr(app, "edge", None)
    limits: EdgeLimits = getattr(edge, "limits", None) or EdgeLimits()
    counters: EdgeCounters = getattr(edge, "transport", None) or EdgeCounters()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=_loop(),
        http=guarded_protocol(limits, counters),
        ws="none",
        lifespan="on",
        access_log=False,
        log_level=kw.pop("log_level", "warning"),
        timeout_keep_alive=kw.pop("timeout_keep_alive", 30),
        **kw,
    )


GC_THRESHOLDS = (20_000, 10, 10)
"""The collector's thresholds in a serving process. CPython's default starts a young collection
every 700 net allocations of containers: 32 requests in flight keep more than that alive, so
under load a young collection ran every request or two, promoted what was in flight, and full
collections walked the exact cache's entries every second or two (~80 us of CPU per request in
the stages benchmark). At 20,000 what a request allocates is freed by reference counting before
a collection looks at it; reference cycles (rare on the request path) still get collected."""


class ServingServer(uvicorn.Server):
    """uvicorn's server for a process that does nothing but serve (``costops serve``): the
    collector tuned (:data:`GC_THRESHOLDS`), and once the app has started, what start-up built
    (modules, config, price tables, tokenizer) frozen out of the collector's sight, so a full
    collection walks only what serving made. Not for a process that embeds the gateway (tests,
    the demo): the thresholds and the frozen set are the whole process's."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        gc.set_threshold(*GC_THRESHOLDS)
        await super().startup(sockets=sockets)
        if self.started:
            gc.collect()
            gc.freeze()


class BackgroundServer:
    """``with BackgroundServer(app) as srv: srv.url`` serves ``app`` until the block ends."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int | None = None, **kw: Any) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.server = uvicorn.Server(uvicorn_config(app, host, self.port, **kw))
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"asgi:{self.port}")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        if _loop() == "uvloop":
            import uvloop

            uvloop.run(self.server.serve())
        else:
            asyncio.run(self.server.serve())

    def start(self, timeout: float = 60.0) -> BackgroundServer:
        """Wait for the app's start-up; on a loaded machine that can take many seconds. A server
        that does not start in time is stopped before the error is raised, so its app's
        shutdown still closes what start-up opened (a chdb session is one per process)."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
