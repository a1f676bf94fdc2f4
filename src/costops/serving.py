"""Run an ASGI app on uvicorn: in the foreground (``costops serve``) or on a background thread
(the demo, the tests, the benchmarks), always on a real socket so clients speak real HTTP."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn


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


def uvicorn_config(app: Any, host: str, port: int, **kw: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=_loop(),
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level=kw.pop("log_level", "warning"),
        timeout_keep_alive=kw.pop("timeout_keep_alive", 30),
        **kw,
    )


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

    def start(self, timeout: float = 15.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
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
