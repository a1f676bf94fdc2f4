"""Where exact-cache entries live: a bounded in-process LRU (L1) and Redis shared by every
gateway replica (L2). Both hold the same bytes: a one-line JSON header (API, usage, when stored)
then the answer's JSON, so an entry moves between tiers without re-encoding the answer.

L1 expiry follows the injected clock (tests move time); Redis expires entries itself. An L1
miss that hits L2 fills L1 for the time Redis has left. Invalidations are published on a Redis
channel so every replica drops its L1 copies too.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import orjson

from costops.usage import Usage

log = logging.getLogger("costops.cache")
_USAGE_FIELDS = tuple(f.name for f in fields(Usage))
_OVERHEAD = 200
"""Bytes an entry costs beyond its key and value (the dict slot, the dataclass, the tuple)."""


@dataclass(slots=True)
class Entry:
    api: str
    body: bytes
    """The client API's JSON answer (the neutral form; streams are replayed from it)."""
    usage: Usage
    stored_at: float
    expires_at: float = 0.0
    sse: dict[bool, bytes] | None = None
    """Replays already rendered, by ``include_usage``: a hot entry is rendered once (None until
    one is: most stored answers are never replayed as a stream)."""

    def encode(self) -> bytes:
        head = {"api": self.api, "usage": [getattr(self.usage, n) for n in _USAGE_FIELDS], "at": self.stored_at}
        return orjson.dumps(head) + b"\n" + self.body

    @classmethod
    def decode(cls, data: bytes, expires_at: float) -> Entry:
        head, _, body = data.partition(b"\n")
        meta = orjson.loads(head)
        return cls(meta["api"], body, Usage(*meta["usage"]), float(meta["at"]), expires_at)

    @property
    def size(self) -> int:
        return len(self.body) + _OVERHEAD


@dataclass(frozen=True, slots=True)
class Selector:
    """Which entries an invalidation removes: all given parts must match."""

    namespace: str | None = None
    model: str | None = None
    """A glob over the requested model name."""
    pattern: str | None = None
    """A glob over the whole key, ``namespace|model|hash``."""

    def redis_match(self, prefix: str) -> str:
        from costops.cache.keys import escape

        ns = _glob_escape(escape(self.namespace)) if self.namespace else "*"
        model = self.model or "*"
        base = f"{prefix}{ns}|{model}|*"
        return base if self.pattern is None else prefix + self.pattern

    def matches(self, key: str) -> bool:
        from costops.cache.keys import escape

        ns, model, _ = key.split("|", 2)
        if self.namespace is not None and ns != escape(self.namespace):
            return False
        if self.model is not None and not fnmatch.fnmatchcase(model, self.model):
            return False
        return self.pattern is None or fnmatch.fnmatchcase(key, self.pattern)

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("namespace", "model", "pattern") if getattr(self, k) is not None}


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class MemoryTier:
    """LRU bounded by bytes; ``clock`` decides expiry."""

    def __init__(self, max_bytes: int, clock: Callable[[], float]) -> None:
        self.max_bytes = max_bytes
        self.clock = clock
        self.bytes = 0
        self.evictions = 0
        self._entries: OrderedDict[str, Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self.clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: Entry) -> None:
        size = entry.size
        if size > self.max_bytes:
            return
        entries = self._entries
        if key in entries:
            self._drop(key)
        entries[key] = entry
        self.bytes += size + len(key)
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
            self.evictions += 1

    def invalidate(self, selector: Selector) -> int:
        doomed = [k for k in self._entries if selector.matches(k)]
        for key in doomed:
            self._drop(key)
        return len(doomed)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self.bytes -= entry.size + len(key)


class RedisTier:
    """The shared tier. Every Redis failure is logged and treated as a miss: the cache must never
    fail a call that the provider could answer."""

    def __init__(self, url: str, prefix: str = "costops:exact:v1:", on_invalidate: Callable[[Selector], object] | None = None) -> None:
        import redis.asyncio as redis

        self.prefix = prefix
        self.channel = prefix + "invalidate"
        self.url = url
        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.errors = 0
        self._on_invalidate = on_invalidate
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._on_invalidate is not None:
            self._listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            try:
                await self._listener
            except (asyncio.CancelledError, Exception):
                pass
        await self.client.aclose()

    async def get(self, key: str) -> tuple[bytes, float] | None:
        """The stored bytes and the seconds Redis still keeps them."""
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.get(self.prefix + key)
                pipe.pttl(self.prefix + key)
                value, pttl = await pipe.execute()
        except Exception as exc:
            self._failed("read", exc)
            return None
        if value is None or pttl is None or pttl <= 0:
            return None
        return value, pttl / 1000.0

    async def put(self, key: str, data: bytes, ttl_s: float) -> None:
        try:
            await self.client.set(self.prefix + key, data, px=max(1, int(ttl_s * 1000)))
        except Exception as exc:
            self._failed("write", exc)

    async def invalidate(self, selector: Selector) -> int:
        removed = 0
        try:
            batch: list[bytes] = []
            async for name in self.client.scan_iter(match=selector.redis_match(self.prefix), count=1000):
                key = name.decode()[len(self.prefix):]
                if "|" in key and selector.matches(key):
                    batch.append(name)
                if len(batch) >= 500:
                    removed += await self.client.unlink(*batch)
                    batch = []
            if batch:
                removed += await self.client.unlink(*batch)
            await self.client.publish(self.channel, orjson.dumps(selector.to_json()))
        except Exception as exc:
            self._failed("invalidate", exc)
        return removed

    async def _listen(self) -> None:
        """Apply other replicas' invalidations to this replica's L1; reconnect after failures."""
        import redis.asyncio as redis

        while True:
            # its own connection, without a read timeout: a quiet channel is not a failure
            listener = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, health_check_interval=30)
            try:
                async with listener.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message" and self._on_invalidate is not None:
                            self._on_invalidate(Selector(**orjson.loads(message["data"])))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed("subscribe", exc)
                await asyncio.sleep(1.0)
            finally:
                await listener.aclose()

    def _failed(self, what: str, exc: Exception) -> None:
        self.errors += 1
        if self.errors == 1 or self.errors % 1000 == 0:
            log.warning("exact cache: Redis %s failed (%s errors so far): %s", what, self.errors, exc)
