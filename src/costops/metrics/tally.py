"""What ``/metrics`` counts, kept as plain integers the gateway folds its finished rows into.

The request path pays one list append per row (:meth:`Tally.add`): no lock, no label lookup, no
histogram search. The rows are folded into the counters in batches, on the event loop's thread,
when :data:`FOLD_AT` of them are waiting or when a scrape asks (:meth:`Tally.fold`), so the cost
per row is a few dictionary updates spent off the answer's way, and a gateway nobody scrapes
holds at most :data:`FOLD_AT` rows more than it would anyway. prometheus-client is imported by
the scrape only (:mod:`costops.metrics.exposition`); its own counters take a lock per increment.

Money is summed in integer nano-dollars (the same rounding as the ledger row), so a counter
equals the ledger's sum exactly until it is written out as Prometheus's float.

Labels are bounded: ``model`` is the model sent upstream (a client's unknown model name is
never a label: the row of a refused request has no deployment), tenants come from the config's
keys, and past :data:`MAX_SERIES` label sets new ones are counted under ``(other)``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from costops.ledger.record import UsageRecord
from costops.money import to_nanos

FOLD_AT = 1024
MAX_SERIES = 5000
OTHER = "(other)"

LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
)
"""Upper bounds (seconds) of the latency histograms; ``+Inf`` is implied. From a cache hit
(milliseconds) to a long reasoning answer (minutes)."""

TOKEN_KINDS = ("input", "cache_read", "cache_write_5m", "cache_write_1h", "output", "reasoning")

# the columns of one series' counters
REQUESTS, ATTEMPTS, *_TOKENS = range(2 + len(TOKEN_KINDS))
LIST_NANOS, COST_NANOS, AVOIDED_NANOS, UNPRICED = range(2 + len(TOKEN_KINDS), 6 + len(TOKEN_KINDS))
WIDTH = UNPRICED + 1

SeriesKey = tuple[str, str, str, str, str, str]
"""(tenant, endpoint, model, deployment, provider, code)."""


@dataclass(slots=True)
class Histogram:
    """Counts per bucket (not cumulative; the exposition accumulates) and the sum, in seconds."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_S) + 1))
    total: float = 0.0

    def add(self, seconds: float) -> None:
        self.counts[bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
        self.total += seconds


@dataclass(slots=True)
class Tally:
    series: dict[SeriesKey, list[int]] = field(default_factory=dict)
    latency: dict[str, Histogram] = field(default_factory=dict)
    """Per deployment (``""``: refused before one was chosen): request start to last byte."""
    ttft: dict[str, Histogram] = field(default_factory=dict)
    """Per deployment: request start to the answer's first byte (a JSON answer: its body)."""
    cache: Counter[str] = field(default_factory=Counter)
    """Logical requests by how the response cache served them: exact, semantic, miss, bypass."""
    prompt_cache_hits: Counter[str] = field(default_factory=Counter)
    """Per deployment: rows that read from the provider's prompt cache."""
    refused: Counter[str] = field(default_factory=Counter)
    """Requests the gateway refused itself, by error code (rate limits, budgets, queue, keys...)."""
    upstream_errors: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """(deployment, code, error type) of failed provider attempts, retried ones included."""
    _pending: list[UsageRecord] = field(default_factory=list)

    def add(self, record: UsageRecord) -> None:
        """The request path's whole cost: remember the finished row."""
        pending = self._pending
        pending.append(record)
        if len(pending) >= FOLD_AT:
            self.fold()

    def fold(self) -> None:
        """Count every row waiting since the last fold."""
        pending, self._pending = self._pending, []
        fold_rows(self, pending)


def fold_rows(t: Tally, rows: Iterable[UsageRecord]) -> None:
    series = t.series
    for r in rows:
        deployment = r.deployment or ""
        status = r.status
        key = (r.tenant, r.endpoint, r.model if deployment else "", deployment, r.provider or "", str(status))
        counts = series.get(key)
        if counts is None:
            if len(series) >= MAX_SERIES:
                key = (OTHER, OTHER, OTHER, OTHER, OTHER, OTHER)
                counts = series.get(key)
            if counts is None:
                counts = series[key] = [0] * WIDTH
        u = r.usage
        counts[ATTEMPTS] += 1
        counts[2] += u.input_tokens
        counts[3] += u.cache_read_tokens
        counts[4] += u.cache_write_5m_tokens
        counts[5] += u.cache_write_1h_tokens
        counts[6] += u.output_tokens
        counts[7] += u.reasoning_tokens
        cost = r.cost
        cost_nanos = cost.total_nanos()
        counts[COST_NANOS] += cost_nanos
        counts[LIST_NANOS] += cost_nanos if r.list_cost is cost else r.list_cost.total_nanos()
        if r.avoided_cost:
            counts[AVOIDED_NANOS] += to_nanos(r.avoided_cost)
        if not r.priced and status < 400:
            counts[UNPRICED] += 1
        if u.cache_read_tokens:
            t.prompt_cache_hits[deployment] += 1
        if status >= 400:
            if deployment:
                t.upstream_errors[deployment, str(status), r.error_type or ""] += 1
            elif r.parent_id is None:
                t.refused[r.error_type or str(status)] += 1
        if r.parent_id is not None:  # an earlier attempt: its tokens and cost count, not as a request
            continue
        counts[REQUESTS] += 1
        if r.cache is not None:
            t.cache[r.cache] += 1
        if r.latency_ms is not None:
            hist = t.latency.get(deployment)
            if hist is None:
                hist = t.latency[deployment] = Histogram()
            hist.add(r.latency_ms / 1000)
        if r.ttft_ms is not None:
            hist = t.ttft.get(deployment)
            if hist is None:
                hist = t.ttft[deployment] = Histogram()
            hist.add(r.ttft_ms / 1000)
