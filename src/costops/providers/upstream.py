"""Pooled HTTP to one deployment, with timeouts and retries; failures become costops errors here.

One connection pool per deployment (:mod:`costops.providers.http1`) keeps connections alive
across calls. Retries happen only
before the response starts (a 429 / 5xx status or a failed connection), with exponential
backoff that honours ``retry-after``; a wait longer than ``MAX_RETRY_WAIT_S`` is not waited
out but handed back to the client, whose own retry logic knows better.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping

from costops.config import Deployment
from costops.errors import CostopsError, UpstreamTimeout, UpstreamUnavailable
from costops.providers.errors_format import upstream_error
from costops.providers.http1 import ConnectTimeout, HttpError, Pool, Response

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
MAX_RETRY_WAIT_S = 20.0
BASE_BACKOFF_S = 0.25

Retried = Callable[[int, CostopsError, float], None]
"""Told of each failed attempt that is retried: (its number from 1, the error, its duration in ms)."""


class Upstream:
    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self._pool: Pool | None = None

    def pool(self) -> Pool:
        if self._pool is None:
            d = self.deployment
            self._pool = Pool(d.base_url, connect_timeout_s=d.connect_timeout_s, read_timeout_s=d.timeout_s)
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

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
    ) -> Response:
        """A 2xx response whose body the caller reads (and must release), or a costops error.
        Each failed attempt that is retried is reported to ``on_retry``: the books record every
        attempt, since a provider may bill one that timed out."""
        d = self.deployment
        attempt = 0
        while True:
            began = time.perf_counter()
            try:
                resp = await self.pool().post(path, body, headers)
            except (TimeoutError, asyncio.TimeoutError) as exc:
                timeout = UpstreamTimeout(
                    f"deployment {d.name!r} ({d.base_url}) did not answer within its timeout "
                    f"(connect {d.connect_timeout_s:g}s, read {d.timeout_s:g}s)"
                )
                timeout.may_be_billed = not isinstance(exc, ConnectTimeout)  # a connect timeout reached no provider
                error: CostopsError = timeout
            except HttpError as exc:
                error = UpstreamUnavailable(f"cannot reach deployment {d.name!r} at {d.base_url}: {exc}")
            else:
                if resp.status < 400:
                    return resp
                try:
                    raw = await resp.read()
                except (HttpError, TimeoutError):
                    raw = b""
                finally:
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
