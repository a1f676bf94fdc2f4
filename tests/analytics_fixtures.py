"""A varied ledger for the analytics tests: every dimension takes several values (and NULL),
tags carry quotes, backslashes and non-ASCII text, some calls took several attempts, some are
unpriced, cached, failed or rejected, some have feedback. Seeded, so a failure reproduces."""

from __future__ import annotations

import random
from decimal import Decimal

from costops.ledger.record import UsageRecord
from costops.ledger.store import LedgerStore
from costops.pricing import CostBreakdown
from costops.usage import Usage
from tests.ledger_fixtures import DAY, T0, make_record

HOSTILE = ["it's", "back\\slash", "naïve ☃", "x' OR '1'='1", "tab\tcr\r", "%s{x:String}"]


def varied_records(n: int, seed: int = 7, start: int = 0, t0: float = T0, days: int = 21) -> list[UsageRecord]:
    rnd = random.Random(seed)
    out: list[UsageRecord] = []
    for i in range(start, start + n):
        tags: dict[str, str] = {}
        if rnd.random() < 0.7:
            tags["feature"] = rnd.choice(["search", "chat", "summarize", *HOSTILE[:2]])
        if rnd.random() < 0.3:
            tags[rnd.choice(["env", "o'k", "naïve"])] = rnd.choice(HOSTILE)
        status = rnd.choice([200] * 12 + [429, 500])
        priced = status < 400 and rnd.random() > 0.05
        nanos = rnd.randrange(1, 50_000_000)
        cost = CostBreakdown(input=Decimal(nanos) / 10**9, output=Decimal(rnd.randrange(0, 9_000_000)) / 10**9) if priced else CostBreakdown()
        cache = rnd.choice([None, None, "miss", "exact", "semantic", "bypass"])
        if cache in ("exact", "semantic"):
            cost = CostBreakdown()
        out.append(make_record(
            i,
            ts=t0 + rnd.random() * days * DAY,
            model=rnd.choice(["gpt-4o", "gpt-4o-mini", "claude-haiku-4", "acme-private"]),
            provider=rnd.choice(["openai", "anthropic", None]),
            deployment=rnd.choice(["openai", "azure-east", "anthropic"]),
            tenant=rnd.choice(["acme", "beta", "gamma", "default"]),
            team=rnd.choice([None, "core", "growth"]),
            project=rnd.choice([None, "search", "support"]),
            user=rnd.choice([None, "u1", "u2", "u3", "u4"]),
            key_id=rnd.choice([None, "k1", "k2"]),
            status=status,
            error_type={429: rnd.choice(["budget_exceeded", "rate_limited"]), 500: "upstream_error"}.get(status),
            priced=priced,
            price_source="test" if priced else rnd.choice(["no_usage", None]),
            cost=cost,
            list_cost=cost,
            cache=cache,
            avoided_cost=Decimal(rnd.randrange(0, 3_000_000)) / 10**9 if cache in ("exact", "semantic") else Decimal(0),
            usage=Usage(input_tokens=rnd.randrange(0, 5000), cache_read_tokens=rnd.randrange(0, 800),
                        cache_write_5m_tokens=rnd.choice([0, 0, 300]), output_tokens=rnd.randrange(0, 900)),
            tags=tags,
            parent_id=f"req-{i - 1}" if i > start and rnd.random() < 0.1 else None,
            attempt_reason=rnd.choice(["primary", "retry", None]),
            route=rnd.choice([None, "cheap", "strong"]),
            policy=rnd.choice([None, "cascade"]),
            arm=rnd.choice([None, "a", "b"]),
            latency_ms=rnd.choice([None, rnd.random() * 900]),
        ))
    return out


def fill(store: LedgerStore, n: int = 400, seed: int = 7) -> list[UsageRecord]:
    records = varied_records(n, seed)
    store.write(records)
    rnd = random.Random(seed + 1)
    for r in records[::9]:
        store.write_feedback(r.request_id, r.ts + 60, rnd.choice([0.0, 0.2, 0.8, 1.0]), None, "test")
    return records
