"""What the limits stage costs per request, in process: no rule applies, one RPM rule, RPM+TPM.

    .venv/bin/python bench/limits.py
"""

from __future__ import annotations

import asyncio
import time

from costops.config import load_config
from costops.control.limits import limits_stage
from costops.ledger.record import UsageRecord
from costops.pipeline.contract import Call


async def per_call_us(limits_yaml: str, n: int = 20_000, *, run_stage: bool = True) -> float:
    import pathlib
    import tempfile

    path = pathlib.Path(tempfile.mkdtemp()) / "c.yaml"
    path.write_text("keys:\n  - {id: bot, key: sk-bot, tenant: acme}\n" + limits_yaml)
    config = load_config(path, env={})
    stage = limits_stage(config, time.time)
    key = config.keys[0]
    deployment = config.deployment("openai")
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there " * 20}], "max_tokens": 1}
    start = time.perf_counter()
    for _ in range(n):
        record = UsageRecord(request_id="r", ts=0.0, endpoint="chat.completions", model_requested="gpt-4o-mini")
        call = Call("openai", "chat.completions", body, b"", key, record, {}, 0.0, deployment, "gpt-4o-mini")
        if run_stage:
            await stage.before(call)
            await stage.after(call)
    return (time.perf_counter() - start) / n * 1e6


async def main() -> None:
    cases = {
        "no rule applies": "limits:\n  - {scope: tenant, id: other, rpm: 10}\n",
        "one rpm rule": "limits:\n  - {scope: key, id: bot, rpm: 100000000}\n",
        "rpm + tpm + concurrent": "limits:\n  - {scope: key, id: bot, rpm: 100000000, tpm: 100000000000, concurrent: 10}\n",
    }
    base = await per_call_us(cases["no rule applies"], run_stage=False)
    print(f"{'baseline':>24}: {base:6.2f} us per request (building the Call alone; subtract it)")
    for name, text in cases.items():
        print(f"{name:>24}: {await per_call_us(text):6.2f} us per request (before + after)")


if __name__ == "__main__":
    asyncio.run(main())
