"""Plain HTTP for the cases an SDK hides (malformed bodies, raw SSE lines), with the stdlib only."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    def sse_data(self) -> list[str]:
        return [line[6:] for line in self.body.decode().splitlines() if line.startswith("data: ")]


def request(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            json: Any = None, timeout: float = 30) -> Response:
    if json is not None:
        body = orjson.dumps(json)
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        return Response(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


def post(url: str, body: bytes | None = None, **kw: Any) -> Response:
    return request("POST", url, body, **kw)


def get(url: str, **kw: Any) -> Response:
    return request("GET", url, **kw)
