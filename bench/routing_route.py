"""What the Route step costs per request, in process: CPU microseconds of one routing decision
for each way a name can be routed (the name's plain route, arbitrage over two deployments, and
the fixed, cheapest-capable, tiered and budget-aware policies over four models, an A/B
experiment of two, a Thompson bandit of four with learned statistics), on a short
chat request; then what a cascade's pure acceptance decision costs per held-back answer (the
default checks, and with logprob confidence over a 200-token answer). Thread CPU time, so it
stays usable on a busy machine; interleaved repeats.

    .venv/bin/python bench/routing_route.py            # 20,000 decisions per case, 3 repeats
    .venv/bin/python bench/routing_route.py -n 5000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

CONFIG = """
deployments:
  - {name: azure, kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: k, models: [gpt-4o, gpt-4o-mini], discount_pct: 20}
routing:
  arbitrage: {latency_target_ms: 2000}
  policies:
    fixed: {kind: fixed, model: gpt-4o}
    cheapest: {kind: cheapest-capable, models: [gpt-4o-mini, gpt-4.1, gpt-4o, claude-sonnet-4-5]}
    tiered: {kind: tiered, models: [gpt-4o-mini, gpt-4.1, gpt-4o, claude-sonnet-4-5], tiers: {code: premium, default: balanced}}
    thrifty: {kind: budget-aware, models: [gpt-4o-mini, gpt-4.1, gpt-4o, claude-sonnet-4-5]}
    ab: {kind: experiment, arms: {control: gpt-4o, cheap: gpt-4o-mini}}
    bandit: {kind: bandit, arms: [gpt-4o-mini, gpt-4.1, gpt-4o, claude-sonnet-4-5], lambda: 20}
"""
CASES = {"plain route": "gpt-4.1", "arbitrage": "gpt-4o-mini", "fixed": "fixed", "cheapest-capable": "cheapest",
         "tiered": "tiered", "budget-aware": "thrifty", "experiment": "ab", "bandit": "bandit"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from costops.config import load_config
    from costops.gateway.app import create_app
    from costops.gateway.principal import ANONYMOUS
    from costops.ledger.record import UsageRecord
    from costops.pipeline.contract import Call

    path = Path(tempfile.mkdtemp()) / "c.yaml"
    path.write_text(CONFIG)
    config = load_config(path, env={"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k"})
    gateway = create_app(config)
    route = gateway.handlers[0]
    key = ANONYMOUS
    from costops.routing.bandit import ArmStats

    bandit = route.policies["bandit"]  # a bandit that has learned: every arm with evidence
    bandit.snapshot = {"default": {arm: ArmStats(200, 150.0, 120.0, 200, 200, 200 * (i + 1) * 10**6)
                                   for i, arm in enumerate(bandit.arms)}}

    async def done(call: Call) -> None:
        return None

    async def run(name: str, n: int) -> float:
        body = {"model": name, "messages": [{"role": "user", "content": "Write a haiku about the sea, please."}],
                "max_tokens": 100}
        started = time.thread_time()
        for i in range(n):
            record = UsageRecord(request_id=f"r{i}", ts=1_764_000_000.0, endpoint="chat.completions", model_requested=name)
            call = Call("openai", "chat.completions", body, b"", key, record, {}, record.ts)
            await route.handle(call, done)
        return (time.thread_time() - started) / n * 1e6

    async def all_cases() -> dict[str, list[float]]:
        out: dict[str, list[float]] = {case: [] for case in CASES}
        for name in CASES.values():  # warm the memos (catalog, prices, capabilities)
            await run(name, 50)
        for _ in range(args.repeats):
            for case, name in CASES.items():
                out[case].append(await run(name, args.n))
        return out

    results = asyncio.run(all_cases())
    print(f"Route step, CPU us per request ({args.n:,} requests x {args.repeats}, best of repeats):")
    base = min(results["plain route"])
    for case, values in results.items():
        print(f"  {case:<18} {min(values):8.1f} us   x{min(values) / base:5.1f} of the plain route")
    acceptance(args.n, args.repeats)


def acceptance(n: int, repeats: int) -> None:
    import orjson

    from costops.routing.acceptance import Acceptance, judge

    words = [f"word{i} " for i in range(200)]
    content = [{"token": w, "logprob": -0.2, "bytes": list(w.encode()), "top_logprobs": []} for w in words]

    def answer(logprobs: dict | None) -> bytes:
        return orjson.dumps({"id": "c", "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "".join(words)}, "logprobs": logprobs}]})

    request = {"messages": [{"role": "user", "content": "Explain it."}]}
    cases = {"default checks": (Acceptance(), answer(None)),
             "+ min_confidence": (Acceptance(min_confidence=0.6), answer({"content": content, "refusal": None}))}
    best: dict[str, float] = {}
    for _ in range(repeats):
        for case, (checks, body) in cases.items():
            started = time.thread_time()
            for _ in range(n):
                judge(checks, "openai", request, body)
            best[case] = min(best.get(case, 1e9), (time.thread_time() - started) / n * 1e6)
    print("Cascade acceptance, CPU us per held-back answer of 200 tokens (with their logprobs for min_confidence):")
    for case, us in best.items():
        print(f"  {case:<18} {us:8.1f} us")


if __name__ == "__main__":
    main()
