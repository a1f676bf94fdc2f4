"""The gateway's ASGI app: HTTP only. It unpacks a request, runs the chain of handlers
(:mod:`costops.pipeline.chain`: route, admit, cache, shape, attempt), answers what the chain held
back, turns every failure into the client's own API shape, and books the record.

Settling prices the usage with the same ``quote()`` the re-pricer uses and hands the record to
the ledger writer's in-memory queue (journaled first, before the answer's last byte); nothing on
this path waits for a disk.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import orjson

from costops.config import Config
from costops.errors import CostopsError, InternalError, InvalidJSON, UpstreamError
from costops.gateway import edge
from costops.gateway.feedback import RecentRequests, parse_feedback
from costops.gateway.feedback import unknown as unknown_request
from costops.gateway.fields import check_fields
from costops.gateway.http import Receive, Scope, Send, header, read_body, respond, start_stream
from costops.gateway.principal import caller, credential, request_tags
from costops.gateway.response import ClientResponse
from costops.gateway.surface import ROUTES
from costops.ledger.journal import Journal, default_directory
from costops.ledger.record import UsageRecord
from costops.metrics.tally import Tally
from costops.money import from_nanos, usd_str
from costops.pipeline.attempt import ProviderAttempt, Settler, deliver_priced, request_id_header
from costops.pipeline.attempts import spent_nanos
from costops.pipeline.chain import build_chain, build_stages
from costops.pipeline.contract import UPSTREAM_RETRY_AFTER, Call, Reply, Shared, Stage
from costops.pricing import PriceCatalog
from costops.pricing.quote import Pricer
from costops.providers.exchange import new_request_id
from costops.providers.upstream import Upstream

log = logging.getLogger("costops.gateway")

FORWARDED_CLIENT_HEADERS = (b"anthropic-version", b"anthropic-beta")


class Gateway:
    def __init__(
        self,
        config: Config,
        *,
        store: Any = None,
        catalog: PriceCatalog | None = None,
        clock: Callable[[], float] = time.time,
        stages: list[Stage] | None = None,
    ) -> None:
        self.config = config
        self.edge = edge.Edge(config.server)
        self.catalog = catalog or PriceCatalog(config.prices)
        self.pricer = Pricer(self.catalog)
        self.clock = clock
        self.store = store
        self.writer: Any = None
        self.journal: Journal | None = None
        self.settle = Settler(config, self.pricer)
        self._redis: Any = None
        shared = Shared(pricer=self.pricer, store=lambda: self.store, redis=self.redis if config.redis_url else None,
                        attempt=lambda: self.attempt, record_attempt=self._record_attempt)
        self.stages: list[Stage] = build_stages(config, clock, shared) if stages is None else stages
        self.attempt = ProviderAttempt({d.name: Upstream(d) for d in config.deployments}, self.settle, self._record_attempt)
        self.handlers, self.chain = build_chain(
            config, self.stages, self.attempt,
            record_attempt=self._record_attempt, record_failed_attempt=self._record_failed_attempt, shared=shared,
        )
        self.admin_routes: dict[tuple[str, str], Any] = {}
        for handler in self.handlers:  # a stage's (through its handler) or a handler's own
            self.admin_routes.update(getattr(getattr(handler, "stage", handler), "admin_routes", None) or {})
        self.feedback_hooks = [getattr(h, "feedback") for h in self.handlers if callable(getattr(h, "feedback", None))]  # noqa: B009
        """Handlers that learn from feedback (a bandit's arms): told each score before it is stored."""
        self._models_body: bytes | None = None
        self.recent = RecentRequests()
        self.tally = Tally()
        """What ``/metrics`` counts: every finished row, appended (see :mod:`costops.metrics`)."""
        self._dashboard: Any = None
        self._engine: Any = None

    # -- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused, cross_origin = self.edge.screen(scope)  # browsers and DNS rebinding: see gateway/edge.py
            if refused is not None:
                await respond(send, refused.status, refused.render(edge.api_of(scope["path"])))
                return
            if cross_origin is not None:
                if scope["method"] == "OPTIONS" and header(scope, b"access-control-request-method"):
                    methods = [m for m, p in self.route_table() if p == scope["path"]]
                    requested = header(scope, b"access-control-request-headers")
                    await respond(send, 204, b"", edge.preflight_headers(cross_origin, methods, requested))
                    return
                send = edge.cors_send(send, cross_origin)
            route = ROUTES.get((scope["method"], scope["path"]))
            if route is not None:
                await self.call(scope, receive, send, *route)
            elif scope["method"] == "POST" and scope["path"] == "/v1/feedback":
                await self.feedback(scope, receive, send)
            elif scope["path"].startswith("/admin/"):
                await self.admin(scope, receive, send)
            elif scope["path"] == "/dashboard" or scope["path"].startswith("/dashboard/"):
                await self.dashboard()(scope, receive, send)
            elif scope["path"] == "/health" and scope["method"] in edge.READ_METHODS:
                await respond(send, 200, self.health())
            elif scope["path"] == "/metrics" and scope["method"] in edge.READ_METHODS:
                await self.metrics(scope, send)
            elif scope["method"] == "GET" and scope["path"] == "/openapi.json":
                from costops.gateway.openapi import document_bytes  # built on the first request, then kept

                await respond(send, 200, document_bytes(self))
            elif scope["method"] in edge.READ_METHODS and scope["path"] in ("/v1/models", "/models"):
                await respond(send, 200, self.models())
            else:
                error = edge.no_route(scope["method"], scope["path"], self.route_table())
                await respond(send, error.status, error.render(edge.api_of(scope["path"])), edge.error_headers(error))
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Admin API of the stages (cache invalidation, budgets...), behind ``server.admin_key``."""
        handler = self.admin_routes.get((scope["method"], scope["path"]))
        try:
            given = credential(header(scope, b"authorization"), header(scope, b"x-api-key"), None)
            refused = edge.admin_refusal(self.config.server, scope["method"], given)
            if refused is not None:
                raise refused
            if handler is None:
                raise edge.no_route(scope["method"], scope["path"], self.admin_routes)
            await handler(scope, receive, send)
        except CostopsError as error:
            await respond(send, error.status, error.render("openai"), edge.error_headers(error))

    async def metrics(self, scope: Scope, send: Send) -> None:
        """``GET /metrics`` for Prometheus, behind ``server.metrics_key`` or the admin key."""
        try:
            given = credential(header(scope, b"authorization"), header(scope, b"x-api-key"), None)
            refused = edge.metrics_refusal(self.config.server, given)
            if refused is not None:
                raise refused
            try:
                from costops.metrics.exposition import scrape
            except ImportError as exc:
                raise InternalError(f"GET /metrics needs prometheus-client ({exc}): pip install 'costops[metrics]'",
                                    status=501, code="metrics_unavailable") from None
            body, content_type = await scrape(self, header(scope, b"accept"))
            await respond(send, 200, b"" if scope["method"] == "HEAD" else body, content_type=content_type.encode())
        except CostopsError as error:
            await respond(send, error.status, error.render("openai"), edge.error_headers(error))

    def route_table(self) -> list[tuple[str, str]]:
        """Every (method, path) the gateway answers: for 405's Allow and CORS preflights."""
        small = [(m, p) for p in ("/health", "/v1/models", "/models", "/metrics") for m in sorted(edge.READ_METHODS)]
        return [*ROUTES, ("POST", "/v1/feedback"), *self.admin_routes, *small, ("GET", "/openapi.json"), ("GET", "/dashboard"), ("HEAD", "/dashboard")]

    def dashboard(self) -> Any:
        """The dashboard (:mod:`costops.web.app`), built on its first visit: its engine (the
        ClickHouse the ledger streams into, or DuckDB over the ledger) costs nothing until then."""
        if self._dashboard is None:
            from costops.web.app import Dashboard

            self._dashboard = Dashboard(self.config.server, self._analytics_reader, budgets=self._budgets,
                                        clock=self.clock, catalog=self.catalog)
        return self._dashboard

    def _analytics_reader(self) -> Any:
        """A synced engine (it syncs at most every few seconds); runs in a worker thread."""
        if self._engine is None:
            from costops.analysis.engine import open_engine

            self._engine = open_engine(self.config.ledger.analytics, self.config.ledger.db, min_sync_interval_s=5.0)
        self._engine.sync()
        return self._engine

    def _budgets(self) -> list[Any]:
        return [b for stage in self.stages if type(stage).__name__ == "BudgetsStage"
                for b in getattr(stage, "budgets", {}).values()]

    async def feedback(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/feedback``: a score for an answered call (see :mod:`costops.gateway.feedback`)."""
        try:
            key, _ = caller(self.config, read_headers(scope["headers"])[0])
            given = parse_feedback(_parse(await read_body(scope, receive, 64 * 1024)))
            tenant = self.recent.tenant(given.request_id)
            if tenant is None and self.store is not None:
                tenant = await asyncio.to_thread(self.store.request_tenant, given.request_id)
            if tenant is None or tenant != key.tenant:
                raise unknown_request(given.request_id)
            if self.store is None:
                raise InternalError("the ledger is not open yet")
            for hook in self.feedback_hooks:
                try:
                    await hook(given.request_id, given.score)
                except Exception:  # learning from a score must never lose the score itself
                    log.exception("feedback for %s: a handler failed to learn from it", given.request_id)
            await asyncio.to_thread(
                self.store.write_feedback, given.request_id, self.clock(), given.score, given.comment, given.source
            )
            body = orjson.dumps({"request_id": given.request_id, "score": given.score, "recorded": True})
            await respond(send, 200, body)
        except CostopsError as error:
            await respond(send, error.status, error.render("openai"), edge.error_headers(error))

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # report, so uvicorn exits with the reason
                    await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        from costops.ledger.store import open_store
        from costops.ledger.writer import LedgerWriter

        if self.store is None:
            self.store = open_store(self.config.ledger.db)
        await asyncio.to_thread(self.store.migrate)
        analytics = self.config.ledger.analytics
        if analytics and analytics.startswith(("clickhouse://", "clickhouses://", "chdb://")):
            from costops.analysis.clickhouse import ClickHouseEngine, StreamingStore

            self._engine = await asyncio.to_thread(ClickHouseEngine, analytics, self.config.ledger.db, min_sync_interval_s=5.0)
            self.store = StreamingStore(self.store, self._engine)  # type: ignore[assignment]
        ledger = self.config.ledger
        directory = default_directory(self.store, ledger.journal_dir, ledger.db) if ledger.journal else None
        self.journal = Journal(directory) if directory else None
        self.writer = LedgerWriter(
            self.store,
            batch_size=ledger.batch_size,
            flush_interval_s=ledger.flush_interval_s,
            max_buffer=ledger.max_buffer,
            spill_path=ledger.spill_path,
            journal=self.journal,
        )
        await self.writer.start()
        for handler in self.handlers:  # a stage starts through its handler
            await handler.start()

    def redis(self) -> Any:
        """The one asyncio Redis client the budgets and the rate limits share (a bounded pool:
        :mod:`costops.redis_client`), made on first use."""
        if self._redis is None:
            from costops.redis_client import async_redis

            assert self.config.redis_url is not None
            self._redis = async_redis(self.config.redis_url)
        return self._redis

    async def shutdown(self) -> None:
        for handler in self.handlers:
            await handler.stop()
        if self._redis is not None:
            await self._redis.aclose()
        if self.writer is not None:
            await self.writer.close()
        if self.store is not None:
            await asyncio.to_thread(self.store.close)
        if self._engine is not None:
            await asyncio.to_thread(self._engine.close)
            self._engine = None
        await self.attempt.stop()

    # -- the request's way -----------------------------------------------------------------

    async def call(self, scope: Scope, receive: Receive, send: Send, api: str, endpoint: str) -> None:
        """The HTTP edge of one request: unpack it, run the chain, answer, and book it.

        1. authenticate: the virtual key says who pays (headers only: refused before the body is read)
        2. read and parse the body; check the few fields the gateway itself reads
        3. the chain (:mod:`costops.pipeline.chain`): route, admit, cache, shape, attempt
        4. an answer the chain returned undelivered (a cache hit) is sent here
        5. whatever failed is answered in the client's API shape; the record tells the truth
        6. the stages' ``after`` (budgets settle, caches store), then the record to the ledger
        """
        record = UsageRecord(request_id=new_request_id(), ts=self.clock(), endpoint=endpoint, model_requested="")
        out = ClientResponse(send, partial(self.journal.append, record) if self.journal is not None else None)
        call: Call | None = None
        try:
            read, control, forwarded = read_headers(scope["headers"])
            key, client_credential = caller(self.config, read)
            record.tenant, record.team, record.project, record.key_id = key.tenant, key.team, key.project, key.id
            raw = await read_body(scope, receive, self.config.server.max_body_bytes, read.get(b"content-length"))
            body = _parse(raw)
            record.model_requested, rewritten = check_fields(body, endpoint)
            record.model = record.model_requested
            if rewritten:  # an integral float (max_tokens: 1629.0) goes on as the integer it is
                raw = orjson.dumps(body)
            record.stream = bool(body.get("stream"))
            record.tags, record.user = request_tags(key, read.get(b"x-costops-tags"), body)
            tier = body.get("service_tier")
            record.service_tier = tier if isinstance(tier, str) else None
            call = Call(
                api, endpoint, body, raw, key, record, control, record.ts,
                client_credential=client_credential, client_headers=forwarded, out=out,
                started=time.perf_counter(),
            )
            reply = await self.chain(call)
            if reply is not None:
                await self._deliver(call, reply)
        except CostopsError as error:
            record.status, record.error_type, record.error_message = error.status, error.code or error.type, error.message
            if call is not None and isinstance(error, UpstreamError):  # adaptive limits honour the provider's hint
                call.state[UPSTREAM_RETRY_AFTER] = error.retry_after
                self.settle.failure(record, call, error)
            await out.fail(api, error, _error_headers(record, call))
        except Exception as exc:  # a bug in costops: the client and the books still get the truth
            log.exception("request %s: costops failed while serving it", record.request_id)
            internal = InternalError(
                f"costops failed while serving this request ({type(exc).__name__}); "
                f"the gateway's log has the details under request id {record.request_id}"
            )
            record.status, record.error_type = internal.status, internal.code
            record.error_message = f"{type(exc).__name__}: {exc}"[:1000]
            await out.fail(api, internal, _error_headers(record, call))
        finally:
            if call is not None:
                record.latency_ms = (time.perf_counter() - call.started) * 1000
                for stage in reversed(call.entered):
                    try:
                        await stage.after(call)
                    except Exception:  # a stage's bookkeeping must never lose the ledger record
                        log.exception("stage %s failed after request %s", stage.name, record.request_id)
            self.tally.add(record)
            if self.writer is not None and self.edge.keep_row(record.status):  # refused keys: rate-limited rows
                self.writer.submit(record)
                if record.status < 400:
                    self.recent.add(record.request_id, record.tenant)
            elif self.journal is not None:  # a row not kept must not be replayed from the journal either
                self.journal.done((record,))

    async def _deliver(self, call: Call, reply: Reply) -> None:
        """An answer the chain held back. From a cache: no provider cost, the avoided cost is
        recorded. From a provider (a cascade's accepted try): already priced, sent as it is."""
        if not reply.from_cache:
            await deliver_priced(call, reply.body, reply.status)
            return
        record, deployment = call.record, call.deployment
        if deployment is not None:
            record.deployment, record.provider, record.model = deployment.name, deployment.kind, call.model
        record.cache, record.status = reply.kind, reply.status
        avoided = self.pricer.quote(deployment, call.model, reply.usage, service_tier=record.service_tier, at=record.ts)
        record.avoided_cost = avoided.cost.total
        record.priced, record.price_source = True, f"served by {reply.kind}"
        record.ttft_ms = (time.perf_counter() - call.started) * 1000
        call.response_body = reply.body
        spent = usd_str(from_nanos(spent_nanos(call))).encode()  # 0, or what the semantic cache's LLM check cost
        headers = [*request_id_header(call), *call.response_headers, (b"x-costops-cost-usd", spent)]
        if call.stream:
            await start_stream(call.out, reply.status, headers)
            await call.out({"type": "http.response.body", "body": reply.body, "more_body": False})
        else:
            await respond(call.out, reply.status, reply.body, headers)

    def _record_failed_attempt(self, record: UsageRecord, call: Call, error: CostopsError) -> None:
        self.settle.failure(record, call, error)
        self._record_attempt(record)

    def _record_attempt(self, record: UsageRecord) -> None:
        self.tally.add(record)
        if self.journal is not None:
            self.journal.append(record)
        if self.writer is not None:
            self.writer.submit(record)

    # -- small endpoints -------------------------------------------------------------------

    def health(self) -> bytes:
        ledger = self.writer.status() if self.writer is not None else {"pending": 0, "behind": False}
        status = "degraded" if ledger.get("behind") else "ok"
        return orjson.dumps({"status": status, "ledger": ledger, "edge": self.edge.status()}, default=str)

    def models(self) -> bytes:
        if self._models_body is None:
            seen: dict[str, str] = {}
            for alias in self.config.aliases:
                seen.setdefault(alias, "costops")
            for policy in (self.config.sections.get("routing") or {}).get("policies") or {}:
                seen.setdefault(str(policy), "costops")  # a virtual model: a routing policy picks the model
            for deployment in self.config.deployments:
                for pattern in deployment.models:
                    if not any(c in pattern for c in "*?["):
                        seen.setdefault(pattern, deployment.name)
            provider_ids = {d.catalog_provider: d for d in self.config.deployments}
            for provider, model in self.catalog.known_models():
                d = provider_ids.get(provider)
                if d is not None and d.serves(model):
                    seen.setdefault(model, d.name)
            data = [{"id": m, "object": "model", "created": 0, "owned_by": owner} for m, owner in seen.items()]
            self._models_body = orjson.dumps({"object": "list", "data": data})
        return self._models_body


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidJSON(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidJSON("the request body must be a JSON object")
    return body


READ_HEADERS = frozenset({b"authorization", b"x-api-key", b"x-goog-api-key", b"x-costops-tags", b"content-length"})
"""The request headers the edge itself reads (the first of each, as ``http.header`` reads it)."""


def read_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[dict[bytes, str], dict[str, str], dict[str, str]]:
    """One pass over the request's headers: (the ones the edge reads, the ``x-costops-*`` control
    headers for the stages, the client headers forwarded to the provider). A repeated control or
    forwarded header keeps its last value, a read one its first."""
    if type(headers) is not list:
        headers = list(headers)
    names = b"\n".join(dict(headers))  # every name once, joined in C (a name holds no newline)
    if b"x-costops-" not in names and b"anthropic-" not in names:  # only read headers matter: found in C
        first = dict(reversed(headers))  # a repeated header: its first value (the earlier overwrites)
        return {name: first[name].decode("latin-1") for name in READ_HEADERS.intersection(first)}, {}, {}
    read: dict[bytes, str] = {}
    control: dict[str, str] = {}
    forwarded: dict[str, str] = {}
    for name, value in headers:
        if name in READ_HEADERS and name not in read:
            read[name] = value.decode("latin-1")
        if name.startswith(b"x-costops-"):
            control[name.decode()] = value.decode("latin-1")
        elif name in FORWARDED_CLIENT_HEADERS:
            forwarded[name.decode()] = value.decode("latin-1")
    return read, control, forwarded


def _error_headers(record: UsageRecord, call: Call | None) -> list[tuple[bytes, bytes]]:
    return [(b"x-costops-request-id", record.request_id.encode()), *(call.response_headers if call else ())]




def create_app(config: Config, **kw: Any) -> Gateway:
    """The gateway as an ASGI app; everything it needs is built here, nothing at import time."""
    return Gateway(config, **kw)
