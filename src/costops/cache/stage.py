"""The exact response cache as a gateway stage.

``before``: parse the client's cache controls, choose the TTL and namespace, decide whether the
request may be read from and stored in the cache (all pure, in :mod:`costops.cache.keys`), then
look the key up in L1, then L2. A hit answers the call (JSON, or the stream replayed in the
client's API); a miss asks the gateway to capture a streamed answer. ``after``: store a
successful answer in its neutral JSON form in both tiers.

Every response carries ``x-costops-cache`` (``exact``, ``miss`` or ``bypass``: no lookup was
made) and the ledger row's ``cache`` column says the same.

A miss that may be stored is single-flight (:mod:`costops.cache.flights`): while one request for
a key is upstream, the others for the same key wait for its answer (``single_flight_wait_s``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from costops.cache.config import ENDPOINTS, ExactCacheConfig, parse_exact
from costops.cache.control import (
    BODY_FIELD,
    NO_CONTROL,
    CacheControl,
    control_text,
    parse_control,
    set_cache_header,
)
from costops.cache.flights import TIMED_OUT, Claims, Flights, poll, wait_header
from costops.cache.keys import choose_namespace, choose_ttl, decide, entry_key, request_hash
from costops.cache.replay import json_from_sse, sse_from_json
from costops.cache.tiers import Entry, MemoryTier, RedisTier, Selector
from costops.config import Config
from costops.errors import BadRequest
from costops.gateway.http import Receive, Scope, Send, read_body, respond
from costops.pipeline.admin import admin_doc
from costops.pipeline.contract import Call, Reply

log = logging.getLogger("costops.cache")
STATE = "exact"
MEMO_MAX = 1024
"""Entries each per-(model, ...) memo keeps before it starts over: model names come from clients."""
FLIGHT = "exact-flight"
SELECTOR_SCHEMA = {
    "type": "object",
    "description": "What to drop; {\"pattern\": \"*\"} drops everything. Give namespace or tenant, not both.",
    "properties": {
        "namespace": {"type": ["string", "null"], "description": "tenant:<tenant> or shared:<name>"},
        "tenant": {"type": ["string", "null"]},
        "model": {"type": ["string", "null"], "description": "A model name or glob, e.g. gpt-4o*"},
        "pattern": {"type": ["string", "null"], "description": "A glob over the whole key namespace|model|hash; * is all"},
    },
    "additionalProperties": False,
    "minProperties": 1,
}
INVALIDATED_SCHEMA = {
    "type": "object",
    "required": ["invalidated", "removed"],
    "properties": {
        "invalidated": {"type": "object"},
        "removed": {"type": "object", "additionalProperties": {"type": "integer"},
                    "description": "Entries removed per cache tier: l1, l2, semantic"},
    },
}


class ExactCacheStage:
    name = "exact-cache"

    def __init__(self, cfg: ExactCacheConfig, clock: Callable[[], float]) -> None:
        self.cfg = cfg
        self.clock = clock
        self.l1 = MemoryTier(cfg.max_memory_bytes, clock)
        self.l2 = RedisTier(cfg.redis_url, on_invalidate=self.l1.invalidate) if cfg.redis_url else None
        self.counts: Counter[str] = Counter()
        self.flights = Flights()
        self.claims: Claims | None = None
        if self.l2 is not None:
            client = self.l2.client
            self.claims = Claims(lambda: client, self.l2.prefix + "flight:")
        self._ttl_cfg: ExactCacheConfig | None = None
        self._ttls: dict[tuple[str, str], int] = {}
        self._prefixes: dict[tuple[str, str], str] = {}
        self.also_invalidate: list[Callable[[Selector], Awaitable[int]]] = []
        """Other caches one invalidation must clear too (the semantic cache), wired in build_stages."""
        self.admin_routes = {
            ("POST", "/admin/cache/invalidate"): self.admin_invalidate,
            ("GET", "/admin/cache/stats"): self.admin_stats,
            ("GET", "/admin/cache/exact/stats"): self.admin_stats,
        }

    async def start(self) -> None:
        if self.l2 is not None:
            await self.l2.start()

    async def stop(self) -> None:
        if self.l2 is not None:
            await self.l2.stop()

    # -- the request path ----------------------------------------------------------------------

    async def before(self, call: Call) -> Reply | None:
        if call.endpoint not in ENDPOINTS:
            self._mark(call, "bypass")
            return None
        if "x-costops-cache" not in call.headers and BODY_FIELD not in call.body:
            control = NO_CONTROL  # what nearly every request says: nothing
        else:
            text, where = control_text(call.headers, call.body)
            control = parse_control(text, where=where) if text is not None else NO_CONTROL
            if BODY_FIELD in call.body:  # costops' own field never reaches the provider
                call.body = {k: v for k, v in call.body.items() if k != BODY_FIELD}
                call.raw = orjson.dumps(call.body)
        model = str(call.body.get("model"))
        ttl = self._ttl(control, call.record.tags, model, call.endpoint)
        decision = decide(call.endpoint, call.body, control, self.cfg, ttl)
        if decision.bypass:
            self._mark(call, "bypass")
            return None
        key = self._prefix(control, call.key.tenant, model) + request_hash(call.api, call.endpoint, call.body)
        if decision.read:
            entry = self._lookup_l1(key) if self.l2 is None else await self._lookup(key)
            if entry is None and decision.store and self.cfg.single_flight_wait_s > 0:
                if self.claims is None and self.flights.try_lead(key):  # lead here, with no await in between
                    call.state[FLIGHT] = (key, None)
                else:
                    started = time.perf_counter()
                    entry = await self._follow_or_lead(call, key)
                    if entry is not None:
                        self.counts["followers"] += 1
                        call.response_headers.append(wait_header(started))
            if entry is not None:
                self._mark(call, "exact")
                age = max(0, int(self.clock() - entry.stored_at))
                call.response_headers.append((b"x-costops-cache-age", str(age).encode()))
                return Reply(self._render(entry, call), entry.usage, "exact")
        self._mark(call, "miss" if decision.read else "bypass")
        if decision.store:
            call.state[STATE] = (key, ttl)
            if call.stream:
                call.capture_stream = True
        return None

    def _ttl(self, control: CacheControl, tags: Mapping[str, str], model: str, endpoint: str) -> int:
        """:func:`choose_ttl`, remembered per (model, endpoint) for a request with no controls
        under a config with no per-tag TTLs (then nothing else decides it)."""
        cfg = self.cfg
        if control is not NO_CONTROL or cfg.ttl_by_tag:
            return choose_ttl(cfg, control, tags, model, endpoint)
        if self._ttl_cfg is not cfg:  # the config was replaced: what was remembered may be wrong
            self._ttl_cfg, self._ttls = cfg, {}
        ttl = self._ttls.get((model, endpoint))
        if ttl is None:
            if len(self._ttls) >= MEMO_MAX:
                self._ttls.clear()
            ttl = self._ttls[model, endpoint] = choose_ttl(cfg, control, tags, model, endpoint)
        return ttl

    def _prefix(self, control: CacheControl, tenant: str, model: str) -> str:
        """``namespace|model|`` of the key (:func:`entry_key` less the digest), remembered per
        (tenant, model) for a request that names no namespace (then nothing else decides it: the
        namespace is the tenant's own, whatever the config says)."""
        if control.namespace is not None:
            return entry_key(choose_namespace(self.cfg, control, tenant), model, "")
        prefix = self._prefixes.get((tenant, model))
        if prefix is None:
            if len(self._prefixes) >= MEMO_MAX:
                self._prefixes.clear()
            prefix = self._prefixes[tenant, model] = entry_key(choose_namespace(self.cfg, control, tenant), model, "")
        return prefix

    async def _follow_or_lead(self, call: Call, key: str) -> Entry | None:
        """The answer of the request for ``key`` already in flight (here, or on another replica
        through Redis), or None: then this request goes upstream, leading when no one else does."""
        wait = self.cfg.single_flight_wait_s
        if key in self.flights:
            entry = await self.flights.follow(key, wait)
            if entry is None:
                self.counts["followers_upstream"] += 1
                call.state[TIMED_OUT] = True
            return entry
        self.flights.lead(key)
        token = None
        claims = self.claims
        if claims is not None:
            token = call.record.request_id or uuid.uuid4().hex
            if not await claims.claim(key, token, wait):  # another replica leads: wait for its answer
                entry = await self.flights.waiting_for(poll(lambda: self._lookup(key), lambda: claims.held(key), wait))
                if entry is not None:
                    self.flights.land(key, entry)
                    return entry
                self.counts["followers_upstream"] += 1
                call.state[TIMED_OUT] = True
                token = None
        call.state[FLIGHT] = (key, token)
        return None

    async def after(self, call: Call) -> None:
        flight = call.state.pop(FLIGHT, None)
        entry = None
        try:
            pending = call.state.pop(STATE, None)
            if pending is not None and call.record.status == 200 and call.response_body:
                entry = self._keep(call, pending) if self.l2 is None else await self._store(call, pending)
        finally:
            if flight is not None:  # followers get the answer even when it is too large to keep
                key, token = flight
                self.flights.land(key, entry)
                if token is not None and self.claims is not None:
                    await self.claims.release(key, token)

    async def _store(self, call: Call, pending: tuple[str, int]) -> Entry | None:
        entry = self._keep(call, pending)
        if entry is not None and self.l2 is not None and len(entry.body) <= self.cfg.max_entry_bytes:
            await self.l2.put(pending[0], entry.encode(), pending[1])
        return entry

    def _keep(self, call: Call, pending: tuple[str, int]) -> Entry | None:
        """The answer as an entry, kept in L1 when it fits (``_store`` then puts it in L2 too)."""
        key, ttl = pending
        body = call.response_body
        assert body is not None  # after() keeps only a call with an answer
        if call.stream:
            folded = json_from_sse(call.api, body, call.record.usage)
            if folded is None:
                return None
            body = folded
        now = self.clock()
        entry = Entry(call.api, body, call.record.usage, now, now + ttl)
        if len(body) > self.cfg.max_entry_bytes:
            self.counts["too_large"] += 1
            return entry
        self.l1.put(key, entry)
        self.counts["stores"] += 1
        return entry

    def _lookup_l1(self, key: str) -> Entry | None:
        entry = self.l1.get(key)
        if entry is not None:
            self.counts["hits_l1"] += 1
        return entry

    async def _lookup(self, key: str) -> Entry | None:
        entry = self._lookup_l1(key)
        if entry is not None or self.l2 is None:
            return entry
        found = await self.l2.get(key)
        if found is None:
            return None
        data, remaining = found
        try:
            entry = Entry.decode(data, self.clock() + remaining)
        except (ValueError, KeyError, TypeError) as exc:  # written by another version: a miss
            log.warning("exact cache: unreadable entry %s: %s", key, exc)
            return None
        self.l1.put(key, entry)
        self.counts["hits_l2"] += 1
        return entry

    def _render(self, entry: Entry, call: Call) -> bytes:
        if not call.stream:
            return entry.body
        options = call.body.get("stream_options")
        include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
        replays = entry.sse
        if replays is None:
            replays = entry.sse = {}
        replay = replays.get(include_usage)
        if replay is None:
            replay = replays[include_usage] = sse_from_json(entry.api, entry.body, include_usage=include_usage)
        return replay

    def _mark(self, call: Call, kind: str) -> None:
        self.counts[kind] += 1
        call.record.cache = kind
        set_cache_header(call.response_headers, kind)

    # -- admin ---------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        c = self.counts
        lookups = c["exact"] + c["miss"]
        return {
            "hits": c["exact"],
            "hits_l1": c["hits_l1"],
            "hits_l2": c["hits_l2"],
            "misses": c["miss"],
            "bypass": c["bypass"],
            "stores": c["stores"],
            "too_large": c["too_large"],
            "followers": c["followers"],
            "followers_upstream": c["followers_upstream"],
            "waiting": self.flights.waiting,
            "hit_rate": round(c["exact"] / lookups, 4) if lookups else None,
            "entries": len(self.l1),
            "bytes": self.l1.bytes,
            "max_bytes": self.l1.max_bytes,
            "evictions": self.l1.evictions,
            "redis": None if self.l2 is None else {"errors": self.l2.errors},
        }

    async def invalidate(self, selector: Selector) -> dict[str, int]:
        removed = {"l1": self.l1.invalidate(selector)}
        if self.l2 is not None:
            removed["l2"] = await self.l2.invalidate(selector)
        for other in self.also_invalidate:
            removed["semantic"] = await other(selector)
        return removed

    @admin_doc("Exact cache counters: hits, misses, entries, bytes",
               response={"type": "object", "required": ["exact"], "properties": {"exact": {"type": "object"}}})
    async def admin_stats(self, scope: Scope, receive: Receive, send: Send) -> None:
        await respond(send, 200, orjson.dumps({"exact": self.stats()}))

    @admin_doc("Drop cache entries (exact and semantic, on every replica)",
               request=SELECTOR_SCHEMA, response=INVALIDATED_SCHEMA, errors=(400, 413))
    async def admin_invalidate(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = await read_body(scope, receive, 64 * 1024)
        selector = parse_selector(raw)
        removed = await self.invalidate(selector)
        await respond(send, 200, orjson.dumps({"invalidated": selector.to_json(), "removed": removed}))


def parse_selector(raw: bytes) -> Selector:
    """``{namespace?, tenant?, model?, pattern?}``; ``tenant: acme`` means ``namespace: tenant:acme``,
    ``{"pattern": "*"}`` clears everything. An empty selector is refused, not read as 'all'."""
    try:
        data = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"invalidate: the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("invalidate: send a JSON object such as {\"tenant\": \"acme\", \"model\": \"gpt-4o*\"}")
    unknown = set(data) - {"namespace", "tenant", "model", "pattern"}
    if unknown:
        raise BadRequest(f"invalidate: unknown field(s) {', '.join(sorted(unknown))}; use namespace, tenant, model, pattern")
    if any(v is not None and not isinstance(v, str) for v in data.values()):
        raise BadRequest("invalidate: every field is a string")
    namespace = data.get("namespace")
    if data.get("tenant"):
        if namespace:
            raise BadRequest("invalidate: give namespace or tenant, not both")
        namespace = f"tenant:{data['tenant']}"
    if namespace and not namespace.startswith(("tenant:", "shared:")):
        raise BadRequest(f"invalidate: namespace {namespace!r} must read tenant:<tenant> or shared:<name>")
    selector = Selector(namespace or None, data.get("model") or None, data.get("pattern") or None)
    if not selector.to_json():
        raise BadRequest("invalidate: say what to drop (namespace, tenant, model or pattern); {\"pattern\": \"*\"} drops all")
    return selector


def exact_cache_stage(config: Config, clock: Callable[[], float]) -> ExactCacheStage:
    return ExactCacheStage(parse_exact(config.sections, config.redis_url), clock)
