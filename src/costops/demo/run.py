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

from costops.demo.policies import POLICIES, Policy
from costops.demo.workload import WorkItem


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
    scores: list[float] = field(default_factory=list)
    """The simulator's grade (the score a user would give, 0-1) of every answer the client got."""
    passed: int = 0

    @property
    def quality(self) -> float | None:
        """Mean score of the answers, in points (0-100)."""
        return 100 * sum(self.scores) / len(self.scores) if self.scores else None


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


def response_id(body: bytes) -> str | None:
    """The provider response id in a JSON answer or an SSE stream (its first event that has one)."""
    import orjson

    try:
        if body[:1] == b"{":
            value = orjson.loads(body).get("id")
            return value if isinstance(value, str) else None
        for line in body.split(b"\n"):
            if line.startswith(b"data: {"):
                data = orjson.loads(line[6:])
                found = data.get("id") or (data.get("message") or {}).get("id")
                if isinstance(found, str):
                    return found
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return None


def served_model(body: bytes) -> str | None:
    """The model named in an answer (JSON, or an SSE stream's first event that names one)."""
    import re

    found = re.search(rb'"model":"([^"]+)"', body[:4096])
    return found.group(1).decode() if found else None


async def replay(
    url: str, items: Sequence[WorkItem], keys: dict[tuple[str, str], str], run_tags: str, concurrency: int,
    progress: Any, *, sim_url: str | None = None, run: PolicyRun | None = None, grades: Any = None,
) -> Counter[int]:
    """Send every item; with ``sim_url`` and the simulator's ``grades`` (its grade book), read each
    answer's grade into ``run.scores`` and, when the policy asks, report it as feedback."""
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
                        body = await resp.read()
                        statuses[resp.status] += 1
                        request_id = resp.headers.get("x-costops-request-id")
                    if sim_url is not None and run is not None and grades is not None and resp.status == 200:
                        await grade(session, sim_url, url, headers, body, request_id, run, path, item.body,
                                    served_model(body), grades)
                except aiohttp.ClientError:
                    statuses[0] += 1
                progress(sum(statuses.values()), statuses)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


async def grade(session: Any, sim_url: str, url: str, headers: dict[str, str], body: bytes, request_id: str | None,
                run: PolicyRun, path: str, request: dict[str, Any], model: str | None, book: Any) -> None:
    """The answer's grade from the simulator; as feedback to the gateway when the policy learns from it."""
    answer = response_id(body)
    if answer is None:
        return
    found = book.get(answer)  # what GET /sim/grade?id= answers, read in process (30,000 fewer requests)
    if found is None and model is not None:
        # an answer translated from Gemini carries the gateway's id, not the simulator's: grade the
        # request for the model that answered instead (the same pure draw gives the same grade)
        api = "anthropic" if path.endswith("/messages") else "openai"
        async with session.post(f"{sim_url}/sim/grade", json={"api": api, "model": model, "request": request}) as resp:
            found = await resp.json() if resp.status == 200 else None
    if found is None:
        return
    run.scores.append(found["score"])
    run.passed += bool(found["passed"])
    if run.policy.feedback and request_id:
        auth = {"authorization": headers["authorization"]}
        async with session.post(f"{url}/v1/feedback", json={"request_id": request_id, "score": found["score"]},
                                headers=auth) as resp:
            await resp.read()


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
        policies = POLICIES
    keys = demo_keys(items)
    run_id = uuid.uuid4().hex[:8]
    runs: list[PolicyRun] = []
    from costops.demo.workload import difficulties
    from costops.providers.simulator.grading import Grading

    # the simulator grades every answer against each prompt's hidden difficulty; the gateway never sees it
    sim = create_simulator(SimConfig(seed=seed, latency_scale=latency_scale, error_rate_429=0.01, error_rate_5xx=0.004,
                                     grading=Grading(difficulties=difficulties(items, seed=seed))))
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
                    replay(gateway.url, items, keys, f"policy={policy.name},demo_run={run_id}", concurrency, progress,
                           sim_url=simulator.url, run=run, grades=sim.grades)
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
    base_quality = runs[0].quality if runs else None
    rows = []
    for run in runs:
        spend = Decimal(run.report["total_cost_usd"])
        saved = (base - spend) / base * 100 if base else Decimal(0)
        quality = run.quality
        rows.append([
            run.policy.name, f"{run.report['requests']:,}", f"{run.report['errors']:,}", money(spend),
            money(spend / max(run.report["requests"], 1)), f"{saved:.1f}%",
            "-" if quality is None else f"{quality:.1f}",
            "-" if quality is None or base_quality is None else f"{quality - base_quality:+.1f}",
            f"{100 * run.passed / len(run.scores):.1f}%" if run.scores else "-", *_cache_cells(run.report),
            f"{run.requests / run.seconds:,.0f}", f"{run.blocked:,}", f"{run.downgraded:,}",
        ])
    headers = ["policy", "requests", "errors", "spend", "per request", "saved vs baseline", "quality", "Δ quality",
               "good answers", "exact hits", "semantic hits", "prompt-cache hits", "cache saved", "req/s",
               "budget-blocked", "downgraded"]
    return table(headers, rows)


TARGET_SAVED_PCT = 60
TARGET_QUALITY_POINTS = 1.0


def routing_targets(runs: Sequence[PolicyRun]) -> list[str]:
    """One line per routing policy: its spend cut and quality change against the baseline, and
    whether it meets the target (at least 60 % cheaper, quality at most one point lower)."""
    if not runs or runs[0].quality is None:
        return []
    base, base_quality = Decimal(runs[0].report["total_cost_usd"]), runs[0].quality
    lines = []
    for run in runs[1:]:
        if "routing" not in run.policy.config or run.quality is None or not base:
            continue
        saved = float((base - Decimal(run.report["total_cost_usd"])) / base * 100)
        change = run.quality - base_quality
        met = saved >= TARGET_SAVED_PCT and change >= -TARGET_QUALITY_POINTS
        lines.append(f"{run.policy.name}: {saved:.1f}% less spend, quality {change:+.1f} points -> "
                     f"{'meets' if met else 'misses'} the target (>= {TARGET_SAVED_PCT}% cut, "
                     f"quality within {TARGET_QUALITY_POINTS:g} point)")
    return lines


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
