"""The gateway's ASGI app: one request's way, top to bottom, in ``Gateway.call``.

    authenticate -> parse -> resolve the deployment -> provider call -> respond -> settle

Settling prices the usage with the same ``quote()`` the re-pricer uses and hands the record
to the ledger writer's in-memory queue; nothing on this path waits for a disk.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import aiohttp
import orjson

from costops.cache.replay import json_from_sse, sse_from_json
from costops.config import Config
from costops.control.estimate import input_tokens
from costops.errors import (
    CostopsError,
    Forbidden,
    InternalError,
    InvalidJSON,
    UpstreamError,
)
from costops.gateway import edge
from costops.gateway.fields import check_fields
from costops.gateway.http import Receive, Scope, Send, header, read_body, respond, start_stream
from costops.gateway.principal import authenticate, credential, request_tags
from costops.gateway.resolve import resolve_model
from costops.gateway.response import ClientResponse, stream_error
from costops.gateway.stages import Call, Reply, Stage, build_stages
from costops.ledger.journal import Journal, default_directory
from costops.ledger.record import UsageRecord
from costops.money import usd_str
from costops.pricing import PriceCatalog
from costops.pricing.quote import Pricer
from costops.providers.exchange import Exchange, interrupted_usage, make_exchange, new_request_id
from costops.providers.upstream import Upstream
from costops.usage import ESTIMATED, NO_USAGE, Usage

log = logging.getLogger("costops.gateway")

ROUTES = {
    ("POST", "/v1/chat/completions"): ("openai", "chat.completions"),
    ("POST", "/chat/completions"): ("openai", "chat.completions"),
    ("POST", "/v1/embeddings"): ("openai", "embeddings"),
    ("POST", "/embeddings"): ("openai", "embeddings"),
    ("POST", "/v1/messages"): ("anthropic", "messages"),
}
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
        self.upstreams = {d.name: Upstream(d) for d in config.deployments}
        self.stages: list[Stage] = build_stages(config, clock) if stages is None else stages
        self.admin_routes: dict[tuple[str, str], Any] = {}
        for stage in self.stages:
            self.admin_routes.update(getattr(stage, "admin_routes", None) or {})
        self._models_body: bytes | None = None
        self._routes: dict[str, tuple[Any, str]] = {}

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
            elif scope["path"].startswith("/admin/"):
                await self.admin(scope, receive, send)
            elif scope["path"] == "/health" and scope["method"] in edge.READ_METHODS:
                await respond(send, 200, self.health())
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

    def route_table(self) -> list[tuple[str, str]]:
        """Every (method, path) the gateway answers: for 405's Allow and CORS preflights."""
        small = [(m, p) for p in ("/health", "/v1/models", "/models") for m in sorted(edge.READ_METHODS)]
        return [*ROUTES, *self.admin_routes, *small, ("GET", "/openapi.json")]

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
        for stage in self.stages:
            await stage.start()

    async def shutdown(self) -> None:
        for stage in self.stages:
            await stage.stop()
        if self.writer is not None:
            await self.writer.close()
        if self.store is not None:
            await asyncio.to_thread(self.store.close)
        for upstream in self.upstreams.values():
            await upstream.close()

    # -- the request's way -----------------------------------------------------------------

    async def call(self, scope: Scope, receive: Receive, send: Send, api: str, endpoint: str) -> None:
        started = time.perf_counter()
        record = UsageRecord(request_id=new_request_id(), ts=self.clock(), endpoint=endpoint, model_requested="")
        ids = [(b"x-costops-request-id", record.request_id.encode())]
        out = ClientResponse(send, partial(self.journal.append, record) if self.journal is not None else None)
        call: Call | None = None
        entered: list[Stage] = []
        try:
            # 1. authenticate: the virtual key says who pays
            secret = credential(header(scope, b"authorization"), header(scope, b"x-api-key"), header(scope, b"x-goog-api-key"))
            key, client_credential = authenticate(self.config, secret)
            record.tenant, record.team, record.project, record.key_id = key.tenant, key.team, key.project, key.id
            # 2. parse only what routing and accounting need; the body's bytes go on as they are
            raw = await read_body(scope, receive, self.config.server.max_body_bytes)
            body = _parse(raw)
            model = check_fields(body, endpoint)
            record.model_requested = record.model = model
            record.stream = bool(body.get("stream"))
            record.tags, record.user = request_tags(key, header(scope, b"x-costops-tags"), body)
            tier = body.get("service_tier")
            record.service_tier = tier if isinstance(tier, str) else None
            # 3. resolve the deployment
            if not key.allows(model):
                raise Forbidden(f"key {key.id!r} may not use model {model!r}")
            deployment, upstream_model = self._resolve(model)
            call = Call(api, endpoint, body, raw, key, record, _control_headers(scope), record.ts, deployment, upstream_model)
            # 4. stages: admission, caches... any may refuse, redirect or answer the call
            for stage in self.stages:
                entered.append(stage)
                reply = await stage.before(call)
                if reply is not None:
                    await self._answer_from_stage(call, reply, out, ids, started)
                    return
            # 5. provider call (retries and error mapping live in Upstream), 6. respond and settle
            await self._attempt(call, scope, client_credential, out, ids, started)
        except CostopsError as error:
            record.status, record.error_type, record.error_message = error.status, error.code or error.type, error.message
            if call is not None and isinstance(error, UpstreamError):  # adaptive limits honour the provider's hint
                call.state["upstream_retry_after"] = error.retry_after
                self._price_failure(record, call, error)
            await out.fail(api, error, [*ids, *(call.response_headers if call else ())])
        except Exception as exc:  # a bug in costops: the client and the books still get the truth
            log.exception("request %s: costops failed while serving it", record.request_id)
            internal = InternalError(
                f"costops failed while serving this request ({type(exc).__name__}); "
                f"the gateway's log has the details under request id {record.request_id}"
            )
            record.status, record.error_type = internal.status, internal.code
            record.error_message = f"{type(exc).__name__}: {exc}"[:1000]
            await out.fail(api, internal, [*ids, *(call.response_headers if call else ())])
        finally:
            record.latency_ms = (time.perf_counter() - started) * 1000
            if call is not None:
                for stage in reversed(entered):
                    try:
                        await stage.after(call)
                    except Exception:  # a stage's bookkeeping must never lose the ledger record
                        log.exception("stage %s failed after request %s", stage.name, record.request_id)
            if self.writer is not None and self.edge.keep_row(record.status):  # refused keys: rate-limited rows
                self.writer.submit(record)
            elif self.journal is not None:  # a row not kept must not be replayed from the journal either
                self.journal.done((record,))

    async def _attempt(
        self,
        call: Call,
        scope: Scope,
        client_credential: str | None,
        send: Send,
        ids: list[tuple[bytes, bytes]],
        started: float,
    ) -> None:
        """One provider attempt, answered in the shape the client asked for.

        Whether the answer streams is read from the upstream's content-type, not assumed from the
        request: a provider that answers a streamed request with JSON (or the reverse) is converted,
        so the client always gets the kind of response it asked for and the books its usage."""
        record, deployment = call.record, call.deployment
        assert deployment is not None
        record.deployment, record.provider, record.model = deployment.name, deployment.kind, call.model
        exchange = make_exchange(call.api, call.endpoint, deployment.kind, call.body, call.raw, call.model, record.request_id)
        upstream = self.upstreams[deployment.name]
        client_headers = {k.decode(): v.decode("latin-1") for k, v in scope["headers"] if k in FORWARDED_CLIENT_HEADERS}
        resp = await upstream.post(
            exchange.path,
            exchange.request_body(),
            upstream.auth_headers(client_credential, client_headers),
            on_retry=partial(self._retried, call),
        )
        upstream_streams = resp.content_type == "text/event-stream"
        if exchange.stream and upstream_streams:
            await self._relay(resp, exchange, call, send, ids, started)
            return
        try:
            if upstream_streams:  # asked for JSON, got a stream: fold it into the JSON answer
                relay = exchange.relay()
                parts = [relay.feed(chunk) async for chunk in resp.content.iter_any()]
                parts.append(relay.close())
                usage = relay.usage
                folded = json_from_sse(call.api, b"".join(parts), usage)
                if folded is None:
                    raise UpstreamError(f"{deployment.name}: the provider's stream ended in an error")
                out = folded
            else:
                upstream_body = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamError(f"{deployment.name}: the response broke off: {exc}") from None
        finally:
            resp.release()
        record.ttft_ms = (time.perf_counter() - started) * 1000
        if not upstream_streams:
            try:
                out, usage = exchange.response(upstream_body)
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
                raise UpstreamError(f"{deployment.name}: unreadable response from the provider ({exc})") from None
        self.settle(record, usage, reported=usage != Usage())
        if getattr(exchange, "estimated", False) and record.price_source:
            record.price_source += "; tokens estimated (the provider reports none)"
        headers = [*ids, *call.response_headers]
        if exchange.stream:  # asked for a stream, got JSON: replay the answer as a well-formed stream
            options = call.body.get("stream_options") or {}
            call.response_body = body = sse_from_json(call.api, out, include_usage=bool(options.get("include_usage")))
            await start_stream(send, resp.status, headers)
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        if record.priced:
            headers.append((b"x-costops-cost-usd", usd_str(record.cost.total).encode()))
        call.response_body = out
        await respond(send, resp.status, out, headers)

    def _retried(self, call: Call, number: int, error: CostopsError, duration_ms: float) -> None:
        """A failed attempt that is being retried: a row of its own, under the logical request's id."""
        r = call.record
        attempt = dataclasses.replace(
            r, request_id=f"{r.request_id}.{number}", parent_id=r.request_id, attempt=number,
            attempt_reason="retry", status=error.status, error_type=error.code or error.type,
            error_message=error.message, latency_ms=duration_ms, ttft_ms=None,
        )
        self._price_failure(attempt, call, error)
        r.attempt = number + 1
        if self.journal is not None:
            self.journal.append(attempt)
        if self.writer is not None:
            self.writer.submit(attempt)

    def _price_failure(self, record: UsageRecord, call: Call, error: CostopsError) -> None:
        """What a failed attempt may cost. A provider that refused (4xx / 5xx) or was never reached
        bills nothing; one that timed out while reading had the prompt and may bill it: its input is
        counted and priced as an estimate, a lower bound (any output it generated is unknown)."""
        if not getattr(error, "may_be_billed", False):
            return
        tokens = input_tokens(call.api, call.endpoint, call.body, call.model)
        self.settle(
            record,
            Usage(input_tokens=tokens),
            estimated="the attempt timed out after the provider had the request: it may bill the input, "
            "counted here, and any output it generated, unknown",
        )

    async def _answer_from_stage(
        self, call: Call, reply: Reply, send: Send, ids: list[tuple[bytes, bytes]], started: float
    ) -> None:
        """A stage answered (a cache hit): no provider cost; the cost it avoided is recorded."""
        record = call.record
        deployment = call.deployment
        if deployment is not None:
            record.deployment, record.provider, record.model = deployment.name, deployment.kind, call.model
        record.cache, record.status = reply.kind, reply.status
        avoided = self.pricer.quote(deployment, call.model, reply.usage, service_tier=record.service_tier)
        record.avoided_cost = avoided.cost.total
        record.priced, record.price_source = True, f"served by {reply.kind}"
        record.ttft_ms = (time.perf_counter() - started) * 1000
        call.response_body = reply.body
        headers = [*ids, *call.response_headers, (b"x-costops-cost-usd", b"0")]
        if call.stream:
            await start_stream(send, reply.status, headers)
            await send({"type": "http.response.body", "body": reply.body, "more_body": False})
        else:
            await respond(send, reply.status, reply.body, headers)

    async def _relay(
        self,
        resp: aiohttp.ClientResponse,
        exchange: Exchange,
        call: Call,
        send: Send,
        ids: list[tuple[bytes, bytes]],
        started: float,
    ) -> None:
        record, relay = call.record, exchange.relay()
        captured: list[bytes] | None = [] if call.capture_stream else None
        await start_stream(send, resp.status, [*ids, *call.response_headers])
        try:
            async for chunk in resp.content.iter_any():
                if record.ttft_ms is None:
                    record.ttft_ms = (time.perf_counter() - started) * 1000
                out = relay.feed(chunk)
                if out:
                    if captured is not None:
                        captured.append(out)
                    await send({"type": "http.response.body", "body": out, "more_body": True})
            tail = relay.close()
        except (aiohttp.ClientError, TimeoutError, CostopsError) as exc:
            # the client already has a 200: the failure travels as an error event in its API's shape
            error = exc if isinstance(exc, CostopsError) else UpstreamError(
                f"{record.deployment}: the stream broke off: {exc or type(exc).__name__}"
            )
            record.status, record.error_type, record.error_message = error.status, "stream_interrupted", error.message
            tail = _stream_error(call.api, error)
        finally:
            resp.release()
        # settled before the last byte: the record is complete (and journaled) when the client has it all
        usage, estimated = relay.usage, None
        if record.status >= 400:  # broke off: the provider bills what it generated, not the counts parsed so far
            from costops.control.estimate import call_input_tokens

            usage, estimated = interrupted_usage(usage, relay.delivered(), call.model, lambda: call_input_tokens(call))
        self.settle(record, usage, reported=usage != Usage() or record.status >= 400, estimated=estimated)
        await send({"type": "http.response.body", "body": tail, "more_body": False})
        if captured is not None and record.status < 400:
            captured.append(tail)
            call.response_body = b"".join(captured)

    def _resolve(self, model: str) -> tuple[Any, str]:
        """``resolve_model`` memoized: the config is immutable, so a model's route never changes."""
        route = self._routes.get(model)
        if route is None:
            route = resolve_model(self.config, model)
            if len(self._routes) < 10_000:
                self._routes[model] = route
        return route

    def settle(self, record: UsageRecord, usage: Usage, *, reported: bool = True, estimated: str | None = None) -> None:
        """Price the usage at the deployment that served it. A successful call that reported no
        usage is left *unpriced* (visible in reports), never counted as free. ``estimated`` says
        which tokens costops counted itself; the price source carries it."""
        record.usage = usage
        if not reported:
            record.priced, record.price_source = False, NO_USAGE
            return
        deployment = self.config.deployment(record.deployment) if record.deployment else None
        q = self.pricer.quote(deployment, record.model, usage, service_tier=record.service_tier)
        record.priced, record.list_cost, record.cost, record.price_source = q.priced, q.list_cost, q.cost, q.source
        if estimated:
            mark = f"{ESTIMATED} ({estimated})"
            record.price_source = f"{q.source}; {mark}" if q.source else mark

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


def _control_headers(scope: Scope) -> dict[str, str]:
    return {k.decode(): v.decode("latin-1") for k, v in scope["headers"] if k.startswith(b"x-costops-")}


_stream_error = stream_error


def create_app(config: Config, **kw: Any) -> Gateway:
    """The gateway as an ASGI app; everything it needs is built here, nothing at import time."""
    return Gateway(config, **kw)
