"""The innermost handler: one provider attempt against the call's deployment.

It builds the upstream request (an :class:`~costops.providers.exchange.Exchange` hides whether
formats are translated), sends it (retries and error mapping live in
:class:`~costops.providers.upstream.Upstream`), prices what came back, and answers in the shape
the client asked for. Whether the answer streams is read from the upstream's content-type, not
assumed from the request: a provider that answers a streamed request with JSON (or the reverse)
is converted, so the client always gets the kind of response it asked for and the books its
usage. Every failed attempt that is retried becomes a ledger row of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from costops.cache.replay import json_from_sse, sse_from_json
from costops.config import Config
from costops.control.estimate import call_input_tokens
from costops.errors import CostopsError, UpstreamError
from costops.gateway.http import respond, start_stream
from costops.gateway.response import stream_error
from costops.ledger.record import UsageRecord
from costops.money import from_nanos, usd_str
from costops.pipeline.attempts import EARLIER, close_failed_attempt, spent_nanos
from costops.pipeline.contract import Call, Next, Reply
from costops.pricing.quote import Pricer
from costops.providers.exchange import Exchange, interrupted_usage, make_exchange
from costops.providers.http1 import HttpError, Response
from costops.providers.upstream import Upstream
from costops.usage import ESTIMATED, NO_USAGE, Usage, counted


class Settler:
    """Prices usage at the deployment that served it, at the moment the call was made."""

    def __init__(self, config: Config, pricer: Pricer) -> None:
        self.config, self.pricer = config, pricer

    def __call__(self, record: UsageRecord, usage: Usage, *, reported: bool = True, estimated: str | None = None) -> None:
        """A successful call that reported no usage is left *unpriced* (visible in reports),
        never counted as free. ``estimated`` says which tokens costops counted itself."""
        record.usage = usage
        if not reported:
            record.priced, record.price_source = False, NO_USAGE
            return
        deployment = self.config.deployment(record.deployment) if record.deployment else None
        q = self.pricer.quote(deployment, record.model, usage, service_tier=record.service_tier, at=record.ts)
        record.priced, record.list_cost, record.cost, record.price_source = q.priced, q.list_cost, q.cost, q.source
        if estimated:
            mark = f"{ESTIMATED} ({estimated})"
            record.price_source = f"{q.source}; {mark}" if q.source else mark

    def failure(self, record: UsageRecord, call: Call, error: CostopsError) -> None:
        """What a failed attempt may cost. A provider that refused (4xx / 5xx) or was never reached
        bills nothing; one that timed out while reading had the prompt and may bill it: its input is
        counted and priced as an estimate, a lower bound (any output it generated is unknown)."""
        if not getattr(error, "may_be_billed", False):
            return
        self(
            record,
            Usage(input_tokens=call_input_tokens(call)),
            estimated="the attempt timed out after the provider had the request: it may bill the input, "
            "counted here, and any output it generated, unknown",
        )


class ProviderAttempt:
    name = "attempt"

    def __init__(
        self, upstreams: dict[str, Upstream], settle: Settler, record_attempt: Callable[[UsageRecord], None]
    ) -> None:
        self.upstreams = upstreams
        self.settle = settle
        self.record_attempt = record_attempt
        """Hands an earlier attempt's row to the books (the gateway journals and queues it)."""

    async def start(self) -> None: ...

    async def stop(self) -> None:
        for upstream in self.upstreams.values():
            await upstream.close()

    async def handle(self, call: Call, next: Next | None = None) -> Reply | None:
        record, deployment = call.record, call.deployment
        assert deployment is not None
        record.deployment, record.provider, record.model = deployment.name, deployment.kind, call.model
        exchange = make_exchange(call.api, call.endpoint, deployment.kind, call.body, call.raw, call.model, record.request_id)
        upstream = self.upstreams[deployment.name]
        resp = await upstream.post(
            exchange.path,
            exchange.request_body(),
            upstream.auth_headers(call.client_credential, call.client_headers),
            on_retry=lambda number, error, ms: self._retried(call, number, error, ms),
        )
        upstream_streams = resp.content_type == "text/event-stream"
        if exchange.stream and upstream_streams and call.deliver:
            await self._relay(resp, exchange, call)
            return None
        try:
            if upstream_streams:  # a stream that is not relayed as it comes: fold it into the JSON answer
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
        except (HttpError, TimeoutError) as exc:
            raise UpstreamError(f"{deployment.name}: the response broke off: {exc}") from None
        finally:
            resp.release()
        record.ttft_ms = (time.perf_counter() - call.started) * 1000
        if not upstream_streams:
            out, usage = exchange.response(upstream_body)
        self.settle(record, usage, reported=counted(usage))
        if getattr(exchange, "estimated", False) and record.price_source:
            record.price_source += "; tokens estimated (the provider reports none)"
        if not call.deliver:
            return Reply(out, usage, "provider", resp.status)
        await deliver_priced(call, out, resp.status)
        return None

    def _retried(self, call: Call, number: int, error: CostopsError, duration_ms: float) -> None:
        """A failed attempt that is being retried: a row of its own, under the logical request's id."""
        attempt = close_failed_attempt(call, error, duration_ms, "retry")
        self.settle.failure(attempt, call, error)
        self.record_attempt(attempt)

    async def _relay(self, resp: Response, exchange: Exchange, call: Call) -> None:
        record, relay, send = call.record, exchange.relay(), call.out
        captured: list[bytes] | None = [] if call.capture_stream else None
        await start_stream(send, resp.status, [*request_id_header(call), *call.response_headers])
        try:
            async for chunk in resp.content.iter_any():
                if record.ttft_ms is None:
                    record.ttft_ms = (time.perf_counter() - call.started) * 1000
                out = relay.feed(chunk)
                if out:
                    if captured is not None:
                        captured.append(out)
                    await send({"type": "http.response.body", "body": out, "more_body": True})
            tail = relay.close()
        except (HttpError, TimeoutError, CostopsError) as exc:
            # the client already has a 200: the failure travels as an error event in its API's shape
            error = exc if isinstance(exc, CostopsError) else UpstreamError(
                f"{record.deployment}: the stream broke off: {exc or type(exc).__name__}"
            )
            record.status, record.error_type, record.error_message = error.status, "stream_interrupted", error.message
            tail = stream_error(call.api, error)
        finally:
            resp.release()
        # settled before the last byte: the record is complete (and journaled) when the client has it all
        usage, estimated = relay.usage, None
        if record.status >= 400:  # broke off: the provider bills what it generated, not the counts parsed so far
            usage, estimated = interrupted_usage(usage, relay.delivered(), call.model, lambda: call_input_tokens(call))
        self.settle(record, usage, reported=counted(usage) or record.status >= 400, estimated=estimated)
        await send({"type": "http.response.body", "body": tail, "more_body": False})
        if captured is not None and record.status < 400:
            captured.append(tail)
            call.response_body = b"".join(captured)


def request_id_header(call: Call) -> list[tuple[bytes, bytes]]:
    return [(b"x-costops-request-id", call.record.request_id.encode())]


async def deliver_priced(call: Call, body: bytes, status: int) -> None:
    """A whole provider answer (``body`` is client-format JSON), in the shape the client asked for."""
    record, send = call.record, call.out
    headers = [*request_id_header(call), *call.response_headers]
    if call.stream:  # asked for a stream, got JSON: replay the answer as a well-formed stream
        options = call.body.get("stream_options") or {}
        call.response_body = sse = sse_from_json(call.api, body, include_usage=bool(options.get("include_usage")))
        await start_stream(send, status, headers)
        await send({"type": "http.response.body", "body": sse, "more_body": False})
        return
    if record.priced:
        earlier = call.state.get(EARLIER)
        if not earlier:
            headers.append((b"x-costops-cost-usd", usd_str(record.cost.total).encode()))
        elif all(r.priced for r in earlier):  # the logical request's total; the answering attempt's apart
            headers.append((b"x-costops-cost-usd", usd_str(from_nanos(spent_nanos(call))).encode()))
            headers.append((b"x-costops-attempt-cost-usd", usd_str(record.cost.total).encode()))
    call.response_body = body
    await respond(send, status, body, headers)
