"""Replay the workload through the gateway, once per policy, and compare what each spent.

Each policy is a gateway configuration; the baseline sends every request where the app asked.
Later capabilities (caches, routing, budgets) arrive as further policies, so the demo shows
their effect side by side on the same requests.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import yaml

from costops.demo.workload import WorkItem


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    description: str
    config: dict[str, Any] = field(default_factory=dict)
    """Extra config sections merged over the demo's base config."""


BASELINE = Policy("baseline", "every request goes to the model the application asked for")


@dataclass(slots=True)
class PolicyRun:
    policy: Policy
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0
    report: dict[str, Any] = field(default_factory=dict)
    blocked: int = 0
    """Requests a budget refused (429 ``budget_exceeded``)."""
    downgraded: int = 0
    """Requests a budget sent to a cheaper model than the one asked for."""


def demo_keys(items: Sequence[WorkItem]) -> dict[tuple[str, str], str]:
    """One virtual key per (tenant, project), as a team would hand them out."""
    pairs = sorted({(i.tenant, i.project) for i in items})
    return {pair: f"demo-{pair[0]}-{pair[1]}" for pair in pairs}


def base_config(sim_url: str, db: str, keys: dict[tuple[str, str], str]) -> dict[str, Any]:
    return {
        "ledger": {"db": db, "flush_interval_s": 0.1},
        "deployments": [
            {"name": "openai", "kind": "openai", "base_url": f"{sim_url}/v1", "api_key": "sk-sim",
             "models": ["gpt-*", "o1*", "o3*", "o4*", "text-embedding-*"]},
            {"name": "anthropic", "kind": "anthropic", "base_url": sim_url, "api_key": "sk-sim", "models": ["claude-*"]},
            {"name": "gemini", "kind": "gemini", "base_url": sim_url, "api_key": "sim", "models": ["gemini-*"]},
        ],
        "keys": [{"id": secret, "key": secret, "tenant": t, "project": p} for (t, p), secret in keys.items()],
    }


async def replay(
    url: str, items: Sequence[WorkItem], keys: dict[tuple[str, str], str], run_tags: str, concurrency: int,
    progress: Any,
) -> Counter[int]:
    import aiohttp

    statuses: Counter[int] = Counter()
    queue: asyncio.Queue[WorkItem] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:

        async def worker() -> None:
            while not queue.empty():
                item = queue.get_nowait()
                tags = ",".join(f"{k}={v}" for k, v in item.tags.items()) + "," + run_tags
                headers = {"authorization": f"Bearer {keys[(item.tenant, item.project)]}", "x-costops-tags": tags}
                path = "/v1/messages" if item.api == "anthropic" else "/v1/chat/completions"
                if item.api == "anthropic":
                    headers["anthropic-version"] = "2023-06-01"
                try:
                    async with session.post(url + path, json=item.body, headers=headers) as resp:
                        await resp.read()
                        statuses[resp.status] += 1
                except aiohttp.ClientError:
                    statuses[0] += 1
                progress(sum(statuses.values()), statuses)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def run_demo(
    items: Sequence[WorkItem],
    *,
    db: str,
    concurrency: int = 16,
    latency_scale: float = 0.0,
    seed: int = 7,
    policies: Sequence[Policy] | None = None,
    out: TextIO = sys.stderr,
) -> list[PolicyRun]:
    from costops.analysis.report import build_report
    from costops.config import load_config
    from costops.gateway.app import create_app
    from costops.ledger.query import Filters
    from costops.ledger.store import open_store
    from costops.providers.simulator import SimConfig, create_simulator
    from costops.serving import BackgroundServer

    if policies is None:
        from costops.demo.policies import POLICIES

        policies = POLICIES
    keys = demo_keys(items)
    run_id = uuid.uuid4().hex[:8]
    runs: list[PolicyRun] = []
    sim = create_simulator(SimConfig(seed=seed, latency_scale=latency_scale, error_rate_429=0.01, error_rate_5xx=0.004))
    with BackgroundServer(sim) as simulator:
        for policy in policies:
            config_dict = {**base_config(simulator.url, db, keys), **policy.config}
            path = Path(f".costops-demo-{run_id}-{policy.name}.yaml")
            path.write_text(yaml.safe_dump(config_dict))
            try:
                config = load_config(path, env={})
            finally:
                path.unlink()
            run = PolicyRun(policy)
            last = [0.0]
            started = time.perf_counter()
            interval = 0.2 if out.isatty() else 3600.0  # a log file gets the final line only

            def progress(
                done: int, statuses: Counter[int], run: PolicyRun = run, last: list[float] = last,
                started: float = started, interval: float = interval,
            ) -> None:
                now = time.perf_counter()
                if now - last[0] < interval and done < len(items):
                    return
                last[0] = now
                rate = done / max(now - started, 1e-9)
                errors = sum(n for s, n in statuses.items() if s >= 400 or s == 0)
                out.write(f"\r  [{run.policy.name}] {done:>6}/{len(items)} requests  {rate:7.0f} req/s  errors {errors}")
                out.flush()

            out.write(f"{policy.name}: {policy.description}\n")
            with BackgroundServer(create_app(config)) as gateway:
                run.statuses = asyncio.run(
                    replay(gateway.url, items, keys, f"policy={policy.name},demo_run={run_id}", concurrency, progress)
                )
            # leaving the block shut the gateway down, which flushed its ledger
            run.seconds = time.perf_counter() - started
            run.requests = sum(run.statuses.values())
            out.write("\n")
            store = open_store(db)
            try:
                run.report = build_report(
                    store, Filters(tags={"demo_run": run_id, "policy": policy.name}),
                    dims=("model", "provider", "tenant", "project", "tag:feature", "tag:env"),
                )
                if "budgets" in policy.config:
                    run.blocked, run.downgraded = budget_outcomes(
                        store, Filters(tags={"demo_run": run_id, "policy": policy.name})
                    )
            finally:
                store.close()
            runs.append(run)
    return runs


def budget_outcomes(store: Any, filters: Any) -> tuple[int, int]:
    """(requests a budget refused, requests a budget downgraded) among the ledger rows selected."""
    blocked = downgraded = 0
    for record in store.iter_records(filters):
        if record.error_type == "budget_exceeded":
            blocked += 1
        elif record.status < 400 and record.model != record.model_requested:
            downgraded += 1
    return blocked, downgraded


def render_comparison(runs: Sequence[PolicyRun]) -> str:
    from costops.analysis.report import money, table

    base = Decimal(runs[0].report["total_cost_usd"]) if runs else Decimal(0)
    rows = []
    for run in runs:
        spend = Decimal(run.report["total_cost_usd"])
        saved = (base - spend) / base * 100 if base else Decimal(0)
        rows.append([
            run.policy.name, f"{run.report['requests']:,}", f"{run.report['errors']:,}", money(spend),
            money(spend / max(run.report["requests"], 1)), f"{saved:.1f}%", *_cache_cells(run.report),
            f"{run.requests / run.seconds:,.0f}", f"{run.blocked:,}", f"{run.downgraded:,}",
        ])
    headers = ["policy", "requests", "errors", "spend", "per request", "saved vs baseline",
               "exact hits", "semantic hits", "prompt-cache hits", "cache saved", "req/s", "budget-blocked", "downgraded"]
    return table(headers, rows)


def _cache_cells(report: dict[str, Any]) -> list[str]:
    """Hit rate per response-cache kind (share of requests), the provider prompt cache's hit rate
    (cache-read share of prompt tokens), and what caching saved: avoided cost plus prompt-cache net saving."""
    from costops.analysis.report import money

    kinds = {k["cache"]: k for k in report.get("cache_kinds") or ()}
    prompt = report.get("prompt_cache") or {}

    def pct(rate: float | None) -> str:
        return "-" if not rate else f"{rate * 100:.1f}%"

    saved = Decimal(report.get("saved_usd") or 0) + Decimal(prompt.get("net_saving_usd") or 0)
    return [pct((kinds.get("exact") or {}).get("share")), pct((kinds.get("semantic") or {}).get("share")),
            pct(prompt.get("hit_rate")), money(saved)]
