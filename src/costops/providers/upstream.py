"""Pooled HTTP to one deployment, with timeouts and retries; failures become costops errors here.

One aiohttp session per deployment keeps connections alive across calls. Retries happen only
before the response starts (a 429 / 5xx status or a failed connection), with exponential
backoff that honours ``retry-after``; a wait longer than ``MAX_RETRY_WAIT_S`` is not waited
out but handed back to the client, whose own retry logic knows better.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping

import aiohttp

from costops.config import Deployment
from costops.errors import CostopsError, UpstreamTimeout, UpstreamUnavailable
from costops.providers.errors_format import upstream_error

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
MAX_RETRY_WAIT_S = 20.0
BASE_BACKOFF_S = 0.25
# a connect timeout reached no provider, so nothing was billed (aiohttp 3.10+ tells the two apart)
_CONNECT_TIMEOUT: type[BaseException] = getattr(aiohttp, "ConnectionTimeoutError", type("_Never", (Exception,), {}))

Retried = Callable[[int, CostopsError, float], None]
"""Told of each failed attempt that is retried: (its number from 1, the error, its duration in ms)."""


class Upstream:
    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            d = self.deployment
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=d.connect_timeout_s, sock_read=d.timeout_s),
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def url(self, path: str) -> str:
        return self.deployment.base_url + path

    def auth_headers(self, client_credential: str | None, client_headers: Mapping[str, str]) -> dict[str, str]:
        d = self.deployment
        key = d.api_key or client_credential
        headers = {"content-type": "application/json"}
        if d.kind == "anthropic":
            headers["anthropic-version"] = client_headers.get("anthropic-version", "2023-06-01")
            if "anthropic-beta" in client_headers:
                headers["anthropic-beta"] = client_headers["anthropic-beta"]
            if key:
                headers["x-api-key"] = key
        elif d.kind == "gemini":
            if key:
                headers["x-goog-api-key"] = key
        elif key:
            headers["authorization"] = f"Bearer {key}"
        headers.update(d.headers)
        return headers

    async def post(
        self, path: str, body: bytes, headers: Mapping[str, str], on_retry: Retried | None = None
    ) -> aiohttp.ClientResponse:
        """A 2xx response whose body the caller reads (and must release), or a costops error.
        Each failed attempt that is retried is reported to ``on_retry``: the books record every
        attempt, since a provider may bill one that timed out."""
        d = self.deployment
        attempt = 0
        while True:
            began = time.perf_counter()
            try:
                resp = await self.session().post(self.url(path), data=body, headers=headers)
            except (TimeoutError, asyncio.TimeoutError) as exc:
                timeout = UpstreamTimeout(
                    f"deployment {d.name!r} ({d.base_url}) did not answer within its timeout "
                    f"(connect {d.connect_timeout_s:g}s, read {d.timeout_s:g}s)"
                )
                timeout.may_be_billed = not isinstance(exc, _CONNECT_TIMEOUT)
                error: CostopsError = timeout
            except aiohttp.ClientConnectionError as exc:
                error = UpstreamUnavailable(f"cannot reach deployment {d.name!r} at {d.base_url}: {exc}")
            else:
                if resp.status < 400:
                    return resp
                raw = await resp.read()
                resp.release()
                error = upstream_error(d.kind, resp.status, raw, resp.headers)
                error.message = f"{d.name}: {error.message}"
                wait = error.retry_after
                if resp.status not in RETRY_STATUSES or (wait is not None and wait > MAX_RETRY_WAIT_S):
                    raise error
            if attempt >= d.max_retries:
                raise error
            attempt += 1
            if on_retry is not None:
                on_retry(attempt, error, (time.perf_counter() - began) * 1000)
            wait = getattr(error, "retry_after", None)
            if wait is None:
                wait = BASE_BACKOFF_S * (2 ** (attempt - 1)) * (0.5 + random.random())
            await asyncio.sleep(min(wait, MAX_RETRY_WAIT_S))
