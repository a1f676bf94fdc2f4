"""A webhook receiver on a real socket: what the gateways' alert sinks delivered, in order."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class HookSink:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                sink.received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, budget: str, event: str | None = None) -> list[dict[str, Any]]:
        return [a for a in self.received if a.get("budget") == budget and (event is None or a.get("event") == event)]

    def wait_for(self, budget: str, event: str, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events(budget, event)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events(budget, event)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
