"""What each request-path stage costs per request, in process, without HTTP: CPU microseconds
in ``before`` and ``after`` of every stage built from a config (default: the costops-stages
target's bench/costops-stages.yaml), one unique request after another (the exact cache misses
and stores, as in the HTTP benchmark). The ``metrics`` row is what ``/metrics`` costs a request:
the gateway's :class:`~costops.metrics.tally.Tally` taking the finished row (its batched folds
included), as ``Gateway.call`` does.

It measures the thread's CPU time (not wall time), so it stays usable on a busy machine, and is
the before/after check for an optimisation of one stage; bench/gateway.py measures the whole
gateway over HTTP. ``--profile`` prints cProfile's top functions of the loop instead.

    .venv/bin/python bench/stages.py                       # 20,000 requests, 3 repeats
    .venv/bin/python bench/stages.py -n 5000 --profile
    .venv/bin/python bench/stages.py --spent-pct 80      # budgets past their 50/75 % thresholds
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import orjson
from common import HERE, REQUEST, body_bytes

UPSTREAM_BODY = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1733000000, "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Cache repeated prompts."},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 42, "completion_tokens": 38, "total_tokens": 80},
}).encode()


async def run(config_path: Path, n: int, repeat: int, profile: bool, spent_pct: int = 0) -> None:
    from costops.config import load_config
    from costops.gateway.principal import authenticate
    from costops.gateway.resolve import resolve_model
    from costops.ledger.record import UsageRecord
    from costops.ledger.store import open_store
    from costops.metrics.tally import Tally
    from costops.pipeline.chain import build_stages
    from costops.pipeline.contract import Call
    from costops.pricing import PriceCatalog
    from costops.pricing.quote import Pricer
    from costops.usage import Usage

    tmp = Path(tempfile.mkdtemp(prefix="costops-stages-"))
    db = f"sqlite:///{tmp}/ledger.db"
    open_store(db).migrate()
    config = load_config(config_path, env={"OPENAI_API_KEY": "sk-up"}, db=db)
    stages = build_stages(config, time.time)
    for stage in stages:
        await stage.start()
    if spent_pct:  # every budget this far into its limit: the threshold checks then have work to do
        from costops.control.budgets import keep_seconds
        from costops.control.windows import current_window

        for stage in stages:
            for budget in getattr(stage, "budgets", {}).values():
                window = current_window(budget.window, time.time())
                nanos = budget.limit_nanos * spent_pct // 100
                await stage.state.seed(budget.name, window.current, nanos, keep_seconds(budget, window))
    pricer = Pricer(PriceCatalog(config.prices))
    usage = Usage.from_openai(orjson.loads(UPSTREAM_BODY)["usage"])
    template = body_bytes(REQUEST).decode()
    names = ["baseline", *(s.name for s in stages), "metrics"]
    tally = Tally()
    clock = time.thread_time_ns

    async def one(i: int, spent: dict[str, list[int]]) -> None:
        t0 = clock()
        raw = template.replace("#NONCE#", f"r{i}").encode()
        key, _ = authenticate(config, "sk-bench")
        body = orjson.loads(raw)
        record = UsageRecord(request_id=f"req-{i}", ts=time.time(), endpoint="chat.completions",
                             model_requested=body["model"], tenant=key.tenant, key_id=key.id)
        record.model = body["model"]
        record.tags = dict(key.tags)
        deployment, model = resolve_model(config, body["model"])
        call = Call("openai", "chat.completions", body, raw, key, record, {}, record.ts, deployment, model)
        spent["baseline"][0] += clock() - t0
        for stage in stages:
            t = clock()
            await stage.before(call)
            spent[stage.name][0] += clock() - t
        t = clock()
        record.deployment, record.provider = deployment.name, deployment.kind
        record.usage = usage
        q = pricer.quote(deployment, model, usage, at=record.ts)
        record.priced, record.list_cost, record.cost, record.price_source = q.priced, q.list_cost, q.cost, q.source
        call.response_body = UPSTREAM_BODY
        spent["baseline"][1] += clock() - t
        for stage in reversed(stages):
            t = clock()
            await stage.after(call)
            spent[stage.name][1] += clock() - t
        t = clock()
        tally.add(record)
        spent["metrics"][1] += clock() - t

    async def loop(base: int) -> dict[str, list[int]]:
        spent = {name: [0, 0] for name in names}
        for i in range(n):
            await one(base + i, spent)
        return spent

    await loop(10_000_000)  # warm-up: tokenizer loaded, price tables resolved
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        await loop(20_000_000)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
    else:
        runs = [await loop(30_000_000 + r * n) for r in range(repeat)]
        print(f"{config_path.name}: {n} unique requests x {repeat}, budgets {spent_pct}% spent; CPU us per request (best of {repeat})")
        print(f"{'stage':>14s} {'before':>8s} {'after':>8s} {'total':>8s}")
        total = 0.0
        for name in names:
            b = min(r[name][0] for r in runs) / n / 1e3
            a = min(r[name][1] for r in runs) / n / 1e3
            total += a + b
            print(f"{name:>14s} {b:8.1f} {a:8.1f} {a + b:8.1f}")
        print(f"{'all':>14s} {'':8s} {'':8s} {total:8.1f}")
    for stage in stages:
        await stage.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=HERE / "costops-stages.yaml")
    ap.add_argument("-n", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--spent-pct", type=int, default=0, help="seed every budget's spend at this %% of its limit")
    a = ap.parse_args()
    try:
        import uvloop

        uvloop.run(run(a.config, a.n, a.repeat, a.profile, a.spent_pct))
    except ImportError:
        asyncio.run(run(a.config, a.n, a.repeat, a.profile, a.spent_pct))
