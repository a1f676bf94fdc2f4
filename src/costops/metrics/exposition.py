"""``GET /metrics``: the gateway's counters in Prometheus's text format (or OpenMetrics, when the
scraper asks for it), computed at scrape time.

Nothing here runs on the request path, and this module (and prometheus-client) is imported by the
first scrape. A scrape folds the rows the :class:`~costops.metrics.tally.Tally`
holds, then reads what the gateway already keeps: the ledger writer's backlog, the budgets'
levels (the same figures as ``GET /admin/budgets/status``), the wait queues' depths, the edge's
refusal counters. Money leaves integer nano-dollars only here, as the float Prometheus stores.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector

from costops.gateway.surface import Served
from costops.metrics.tally import (
    ATTEMPTS,
    AVOIDED_NANOS,
    COST_NANOS,
    LATENCY_BUCKETS_S,
    LIST_NANOS,
    REQUESTS,
    TOKEN_KINDS,
    UNPRICED,
    Histogram,
    Tally,
)
from costops.money import NANOS_PER_USD


class Families:
    """A one-shot collector: what prometheus-client's encoders read (``collect()``)."""

    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> Iterator[Any]:
        yield from self.families


async def scrape(gateway: Served, accept: str | None) -> tuple[bytes, str]:
    """(body, content type) of one scrape."""
    tally: Tally = gateway.tally
    tally.fold()
    families = [*tally_families(tally), *writer_families(gateway.writer), *edge_families(gateway.edge.status())]
    for stage in gateway.stages:
        if stage.name == "budgets":
            families += await budget_families(stage)
        if getattr(stage, "queue", None) is not None:
            families.append(_gauge("costops_queue_depth", "Requests waiting in a priority queue now",
                                   ["queue"], [((stage.name,), len(stage.queue))]))  # type: ignore[attr-defined]
    families += list(ProcessCollector(registry=None).collect())
    encoder, content_type = choose_encoder(accept or "")
    return encoder(Families(families)), content_type


def _counter(name: str, doc: str, labels: list[str], samples: Any) -> Any:
    family = CounterMetricFamily(name, doc, labels=labels)
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


def _gauge(name: str, doc: str, labels: list[str], samples: Any) -> Any:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


def _usd(nanos: int) -> float:
    return nanos / NANOS_PER_USD


def tally_families(t: Tally) -> list[Any]:
    requests: dict[tuple[str, ...], int] = defaultdict(int)
    attempts: dict[tuple[str, ...], int] = defaultdict(int)
    tokens: dict[tuple[str, ...], int] = defaultdict(int)
    cost: dict[tuple[str, ...], int] = defaultdict(int)
    avoided: dict[tuple[str, ...], int] = defaultdict(int)
    unpriced: dict[tuple[str, ...], int] = defaultdict(int)
    for (tenant, endpoint, model, deployment, provider, code), c in t.series.items():
        target = (tenant, model, deployment, provider)
        if c[REQUESTS]:
            requests[(tenant, endpoint, model, deployment, provider, code)] += c[REQUESTS]
        if c[ATTEMPTS] > c[REQUESTS]:
            attempts[(tenant, endpoint, model, deployment, provider, code)] += c[ATTEMPTS] - c[REQUESTS]
        for i, kind in enumerate(TOKEN_KINDS):
            if c[2 + i]:
                tokens[(*target, kind)] += c[2 + i]
        if deployment:  # a refused request costs nothing: no zero series for every refusal's labels
            cost[(*target, "effective")] += c[COST_NANOS]
            cost[(*target, "list")] += c[LIST_NANOS]
        if c[AVOIDED_NANOS]:
            avoided[target] += c[AVOIDED_NANOS]
        if c[UNPRICED]:
            unpriced[target] += c[UNPRICED]
    target_labels = ["tenant", "model", "deployment", "provider"]
    request_labels = ["tenant", "endpoint", "model", "deployment", "provider", "code"]
    return [
        _counter("costops_requests", "Requests answered or refused, by who paid, where they went and the HTTP status",
                 request_labels, requests.items()),
        _counter("costops_retried_attempts", "Provider attempts that were not the answer (retries, fallbacks, "
                 "a cascade's cheaper tries); their tokens and cost are in the totals", request_labels, attempts.items()),
        _counter("costops_tokens", "Tokens by kind, as the provider billed them (input excludes cached tokens)",
                 [*target_labels, "kind"], tokens.items()),
        _counter("costops_cost_usd", "Spend in US dollars: effective (after discounts and negotiated prices, what the "
                 "ledger's cost is) and list", [*target_labels, "price"],
                 ((k, _usd(v)) for k, v in cost.items())),
        _counter("costops_cache_avoided_cost_usd", "What cache hits would have cost at the provider",
                 target_labels, ((k, _usd(v)) for k, v in avoided.items())),
        _counter("costops_unpriced_requests", "Successful calls recorded without a known price (not free: "
                 "`costops reprice` prices them)", target_labels, unpriced.items()),
        _counter("costops_cache_requests", "Requests by how the response cache served them "
                 "(exact and semantic hits, misses, bypasses)", ["result"], [((k,), v) for k, v in t.cache.items()]),
        _counter("costops_prompt_cache_hits", "Provider calls that read from the provider's prompt cache",
                 ["deployment"], [((k,), v) for k, v in t.prompt_cache_hits.items()]),
        _counter("costops_refused_requests", "Requests the gateway refused itself, by reason: rate_limit_exceeded, "
                 "budget_exceeded, budget_paced, queue_full, invalid_api_key, model_not_found...",
                 ["reason"], [((k,), v) for k, v in t.refused.items()]),
        _counter("costops_upstream_errors", "Failed provider attempts, retried ones included, by deployment",
                 ["deployment", "code", "type"], t.upstream_errors.items()),
        _histogram("costops_request_duration_seconds", "From a request's arrival to its answer's last byte",
                   t.latency),
        _histogram("costops_time_to_first_token_seconds", "From a request's arrival to its answer's first byte "
                   "(a streamed answer's first event; a JSON answer's body)", t.ttft),
    ]


def _histogram(name: str, doc: str, per_deployment: dict[str, Histogram]) -> Any:
    family = HistogramMetricFamily(name, doc, labels=["deployment"])
    bounds = [*(repr(b) for b in LATENCY_BUCKETS_S), "+Inf"]
    for deployment, hist in sorted(per_deployment.items()):
        running, buckets = 0, []
        for bound, count in zip(bounds, hist.counts, strict=True):
            running += count
            buckets.append((bound, running))
        family.add_metric([deployment], buckets, hist.total)
    return family


def writer_families(writer: Any) -> list[Any]:
    if writer is None:
        return []
    status = writer.status()
    return [
        _gauge("costops_ledger_pending_records", "Rows waiting in memory for the ledger store", [],
               [((), status["pending"])]),
        _gauge("costops_ledger_write_lag_seconds", "How long the oldest unwritten row has waited (0: all written)",
               [], [((), status["oldest_pending_s"])]),
        _gauge("costops_ledger_spilled_records", "Rows kept in the spill file while the store refused writes", [],
               [((), status["spilled"])]),
        _counter("costops_ledger_written_records", "Rows the ledger store has accepted since start", [],
                 [((), status["written"])]),
        _gauge("costops_ledger_behind", "1 when the ledger writer is behind or failing (as /health says)", [],
               [((), int(status["behind"]))]),
    ]


def edge_families(counts: dict[str, int]) -> list[Any]:
    return [_counter("costops_edge_events", "What the edge refused or skipped before a route: bad hosts and "
                     "origins, refused keys, their ledger rows skipped", ["event"],
                     [((k,), v) for k, v in sorted(counts.items())])]


async def budget_families(stage: Any) -> list[Any]:
    from costops.control import monitor

    rows = [r for r in await monitor.status(stage) if r.get("_level") is not None]
    levels = [((r["name"],), r["_level"]) for r in rows]
    return [
        _gauge("costops_budget_spent_usd", "Spent in each budget's current window", ["budget"],
               ((k, _usd(level.spent)) for k, level in levels)),
        _gauge("costops_budget_reserved_usd", "Reserved by admitted requests still running", ["budget"],
               ((k, _usd(level.reserved)) for k, level in levels)),
        _gauge("costops_budget_limit_usd", "Each budget's limit", ["budget"],
               ((k, _usd(level.limit)) for k, level in levels)),
        _gauge("costops_budget_used_ratio", "(spent + reserved) / limit: 1 is the limit", ["budget"],
               ((k, level.pct / 100) for k, level in levels)),
        _gauge("costops_budget_forecast_usd", "Each budget's forecast spend at its window's end", ["budget"],
               (((r["name"],), _usd(r["_forecast"])) for r in rows)),
    ]
