"""Small HTTP helpers for the simulator tests: raw POSTs (for what an SDK hides: headers, exact
bytes, Gemini, which has no SDK here) and a clock the test moves by hand."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from costops.providers.sse import SSEParser


class FakeClock:
    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def post(url: str, body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, body bytes); HTTP errors are returned, not raised."""
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def post_json(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    status, _, payload = post(url, body, headers)
    return status, json.loads(payload)


def sse(payload: bytes) -> list[tuple[str | None, Any]]:
    """(event name, decoded data) of every event; ``[DONE]`` is kept as the string."""
    parser = SSEParser()
    events = parser.feed(payload) + parser.close()
    return [(e.event, e.data.decode() if e.data == b"[DONE]" else e.json()) for e in events]


def gemini(base: str, model: str, body: Any, op: str = "generateContent", query: str = "", key: str | None = "k") -> tuple[int, Any]:
    headers = {"x-goog-api-key": key} if key else {}
    return post_json(f"{base}/v1beta/models/{model}:{op}{query}", body, headers)
