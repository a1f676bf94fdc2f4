"""Entries shared across gateway replicas through one Redis stream.

Each replica appends the entries it stores (``XADD``, capped near ``max_entries``) and follows
the stream (``XREAD BLOCK``), adding other replicas' entries to its own index: every replica
ends up with the same entries while lookups stay in process. A replica that starts reads the
stream from the beginning, so it sees what was stored before it came up. Vectors are not sent:
each replica embeds the text itself (tens of microseconds). If Redis is down the cache works
alone and the follower retries with a growing pause.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson

from costops.cache.semantic.index import Entry
from costops.cache.tiers import Selector

log = logging.getLogger("costops.cache.semantic")


class SharedEntries:
    def __init__(self, url: str, key: str, origin: str, max_len: int, ingest: Callable[[Entry], None],
                 invalidate: Callable[[Selector], object] | None = None) -> None:
        self.url, self.key, self.origin, self.max_len, self.ingest = url, key, origin, max_len, ingest
        self.invalidate = invalidate
        self._client: Any = None
        self._reader: Any = None
        self._task: asyncio.Task[None] | None = None
        self._last_id = "0-0"

    async def start(self) -> None:
        import redis.asyncio as redis

        self._client = redis.from_url(self.url, socket_timeout=2.0, socket_connect_timeout=2.0)
        # a blocking XREAD holds its connection: give the follower its own
        self._reader = redis.from_url(self.url, socket_connect_timeout=2.0)
        try:
            await self._catch_up()
        except Exception as exc:
            log.warning("semantic cache: Redis at %s unavailable at start (%s); working alone until it is back", self.url, exc)
        self._task = asyncio.create_task(self._follow(), name="semantic-cache-follow")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        for client in (self._client, self._reader):
            if client is not None:
                await client.aclose()

    @property
    def client(self) -> Any:
        """The connection for short commands (single-flight claims use it too)."""
        return self._client

    async def publish(self, entry: Entry) -> None:
        try:
            payload = orjson.dumps({**entry.to_json(), "origin": self.origin})
            await self._client.xadd(self.key, {b"e": payload}, maxlen=self.max_len, approximate=True)
        except Exception as exc:  # sharing is best effort: this replica still has the entry
            log.warning("semantic cache: could not share an entry through Redis: %s", exc)

    async def publish_invalidation(self, selector: Selector) -> None:
        """Into the same stream as the entries: a replica replaying it applies the invalidation
        to exactly the entries stored before it, in order."""
        try:
            payload = orjson.dumps({"invalidate": selector.to_json(), "origin": self.origin})
            await self._client.xadd(self.key, {b"e": payload}, maxlen=self.max_len, approximate=True)
        except Exception as exc:
            log.warning("semantic cache: could not share an invalidation through Redis: %s", exc)

    async def _catch_up(self) -> None:
        while True:
            batch = await self._reader.xread({self.key: self._last_id}, count=1000)
            if not batch:
                return
            self._take(batch)

    async def _follow(self) -> None:
        pause = 0.5
        while True:
            try:
                batch = await self._reader.xread({self.key: self._last_id}, count=1000, block=1000)
                pause = 0.5
                if batch:
                    self._take(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("semantic cache: Redis stream read failed (%s); retrying in %.1fs", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)

    def _take(self, batch: list[Any]) -> None:
        for _stream, messages in batch:
            for message_id, fields in messages:
                self._last_id = message_id.decode() if isinstance(message_id, bytes) else message_id
                try:
                    data = orjson.loads(fields[b"e"])
                    if data.get("origin") == self.origin:
                        continue
                    if "invalidate" in data:
                        if self.invalidate is not None:
                            self.invalidate(Selector(**data["invalidate"]))
                        continue
                    self.ingest(Entry.from_json(data))
                except Exception as exc:
                    log.warning("semantic cache: skipped a malformed shared entry %s: %s", message_id, exc)
