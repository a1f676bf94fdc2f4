"""The gateway streams its ledger into ClickHouse (``ledger: {analytics: ...}``; chdb here) and its
dashboard reads what the calls just cost, over real HTTP with the official SDK."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import openai

from costops.ledger.query import Filters


def test_calls_stream_into_clickhouse_and_reach_the_dashboard(make_gateway, tmp_path: Path) -> None:
    gw = make_gateway(f"ledger:\n  analytics: chdb://{tmp_path}/clickhouse\n")
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    for i in range(3):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"hello {i}"}])
    records = gw.records(expected=3)
    engine = gw.gateway._engine
    assert engine is not None and engine.name == "clickhouse"
    deadline = time.monotonic() + 10
    while engine.totals(Filters())["requests"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    streamed = engine.totals(Filters())  # no sync asked: the writer's batches were sent on
    assert streamed["requests"] == 3
    assert streamed["cost_nanos"] == gw.gateway.store.totals(Filters())["cost_nanos"] > 0
    with urllib.request.urlopen(f"{gw.url}/dashboard/api/panels?since=", timeout=30) as r:  # loopback, no admin key: reads
        panels = json.loads(r.read())
    assert panels["totals"]["requests"] == 3
    assert {row["value"] for row in panels["top"]["model"]["rows"]} == {r.model for r in records}
